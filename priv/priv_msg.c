/*
 * The decoders of the children's own messages to priv (priv_msg.h).
 * Where a message has several faults, the first of layout, "sent twice"
 * and the figures' ranges is the one named.
 */
#include <string.h>

#include "ipc.h"		/* and catalogue.h, ipc/proc.h */
#include "priv_msg.h"

const char *
priv_msg_ready(const struct ipc_msg *msg, int twice)
{
	struct ipc_rd rd;
	uint32_t version;

	ipc_rd_init(&rd, msg);
	version = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	if (twice)
		return "sent twice";
	if (version != IPC_CATALOGUE_VERSION)
		return "catalogue version differs (a stale binary?)";
	return NULL;
}

const char *
priv_msg_engine_done(const struct ipc_msg *msg, int twice, int *code)
{
	struct ipc_rd rd;
	uint32_t v;

	*code = 0;
	ipc_rd_init(&rd, msg);
	v = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	if (twice)
		return "sent twice";
	if (v > 255)
		return "exit code out of range";
	*code = (int)v;
	return NULL;
}

const char *
priv_msg_engine_status(const struct ipc_msg *msg, struct priv_status *st)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	st->state = ipc_get_u32(&rd);
	st->nmbox = ipc_get_u32(&rd);
	st->last = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1 || st->state < ENGINE_ST_SYNCING ||
	    st->state > ENGINE_ST_RECONNECT) {
		memset(st, 0, sizeof(*st));
		return "bad layout";
	}
	return NULL;
}

const char *
priv_msg_engine_progress(const struct ipc_msg *msg, struct priv_progress *pr)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	pr->done = ipc_get_u32(&rd);
	pr->total = ipc_get_u32(&rd);
	pr->msgs = ipc_get_u64(&rd);
	pr->bytes = ipc_get_u64(&rd);
	pr->expected = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1 || pr->done > pr->total) {
		memset(pr, 0, sizeof(*pr));
		return "bad layout";
	}
	return NULL;
}

const char *
priv_msg_engine_lanes(const struct ipc_msg *msg, uint32_t lanes,
    uint32_t *n)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	*n = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1) {
		*n = 0;
		return "bad layout";
	}
	if (*n < 2 || *n > lanes) {
		*n = 0;
		return "lanes out of range";
	}
	return NULL;
}
