/*
 * The message catalogue as tables: names, directions and length bounds
 * come from the X-macro in catalogue.h, so the enum and the tables cannot
 * disagree.
 */
#include <stdint.h>
#include <stdio.h>

#include "catalogue.h"
#include "proc.h"

static const struct ipc_catalogue_entry ipc_entries[IMSG_MAX] = {
#define IPC_ENTRY(n, f, t, lo, hi)	[n] = { #n, (f), (t), (lo), (hi) },
	IPC_MESSAGES(IPC_ENTRY)
#undef IPC_ENTRY
};

/*
 * Types that travel with a descriptor.  Every other type must arrive
 * without one: a descriptor where none belongs is a broken peer.
 */
static const struct {
	uint32_t	type;
	int		opt;
} ipc_fd_types[] = {
	{ IMSG_NET_STREAM,	IPC_FDOPT_MUST },
};

const struct ipc_catalogue_entry *
ipc_catalogue(uint32_t type)
{
	if (type == IMSG_NONE || type >= IMSG_MAX)
		return NULL;
	return &ipc_entries[type];
}

const char *
ipc_type_name(uint32_t type)
{
	static char buf[sizeof("IMSG_#4294967295")];
	const struct ipc_catalogue_entry *e;

	if ((e = ipc_catalogue(type)) != NULL)
		return e->name;
	(void)snprintf(buf, sizeof(buf), "IMSG_#%u", type);
	return buf;
}

int
ipc_type_fd(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(ipc_fd_types) / sizeof(ipc_fd_types[0]); i++)
		if (ipc_fd_types[i].type == type)
			return ipc_fd_types[i].opt;
	return IPC_FDOPT_NONE;
}

const char *
ipc_side_name(uint32_t side)
{
	switch (side) {
	case SIDE_LOCAL:
		return "local";
	case SIDE_REMOTE:
		return "remote";
	default:
		return "";
	}
}

const char *
ipc_net_label(uint32_t side, uint32_t lane)
{
	static char label[2][IPC_LANES_MAX][sizeof("net(remote#99)")];

	if ((side != SIDE_LOCAL && side != SIDE_REMOTE) ||
	    lane >= IPC_LANES_MAX)
		return "net";
	if (label[side][lane][0] == '\0') {
		if (lane == 0)
			(void)snprintf(label[side][lane],
			    sizeof(label[side][lane]), "net(%s)",
			    ipc_side_name(side));
		else
			(void)snprintf(label[side][lane],
			    sizeof(label[side][lane]), "net(%s#%u)",
			    ipc_side_name(side), lane + 1);
	}
	return label[side][lane];
}
