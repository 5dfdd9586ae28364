/*
 * Shared by the targets that feed received messages to an unpacker: a
 * message of type built from len bytes, as ipc_get() would hand it out
 * (a copy of its own size, fd -1), or nothing (-1) where the catalogue's
 * length bounds would have refused it before any handler ran.
 */
#ifndef FUZZ_MSG_H
#define FUZZ_MSG_H

#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "ipc.h"

static inline int
fuzz_msg(struct ipc_msg *msg, uint32_t type, const void *p, size_t len)
{
	const struct ipc_catalogue_entry *e = ipc_catalogue(type);

	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	msg->hdr.type = type;
	if (len < e->minlen || len > e->maxlen)
		return -1;
	msg->hdr.len = (uint32_t)len;
	msg->len = len;
	if (len > 0) {
		if ((msg->data = malloc(len)) == NULL)
			abort();
		memcpy(msg->data, p, len);
	}
	return 0;
}

#endif
