/*
 * The decoders of what priv's children say of themselves: every child's
 * IMSG_CHILD_READY, the engine's IMSG_ENGINE_DONE, IMSG_ENGINE_STATUS and
 * IMSG_ENGINE_PROGRESS (layouts: ipc/catalogue.h).  Bytes in, checked
 * figures out, or why the message is broken (NULL: it is not); nothing
 * else is touched.  priv.c's handlers act on what they return; the fuzz
 * target fuzz_priv_msg feeds them anything.
 */
#ifndef PRIV_MSG_H
#define PRIV_MSG_H

#include <stdint.h>

#include "ipc.h"

/* IMSG_CHILD_READY; twice: the child had already sent one. */
const char	*priv_msg_ready(const struct ipc_msg *, int);

/* IMSG_ENGINE_DONE; twice as above.  *code: the exit status, 0 to 255. */
const char	*priv_msg_engine_done(const struct ipc_msg *, int, int *);

/* IMSG_ENGINE_STATUS: where the run stands (watch mode). */
struct priv_status {
	uint32_t	 state;		/* ENGINE_ST_* (ipc/proc.h) */
	uint32_t	 nmbox;		/* mailboxes synchronised */
	uint64_t	 last;		/* end of the last pass, 0: none */
};
const char	*priv_msg_engine_status(const struct ipc_msg *,
		    struct priv_status *);

/* IMSG_ENGINE_PROGRESS: a pass's progress (done <= total). */
struct priv_progress {
	uint32_t	 done, total;	/* mailboxes */
	uint64_t	 msgs, bytes;	/* copied */
	uint64_t	 expected;	/* messages, an estimate */
};
const char	*priv_msg_engine_progress(const struct ipc_msg *,
		    struct priv_progress *);

/* IMSG_ENGINE_LANES: *n from 2 to lanes, the run's (ipc/proc.h). */
const char	*priv_msg_engine_lanes(const struct ipc_msg *, uint32_t,
		    uint32_t *);

#endif
