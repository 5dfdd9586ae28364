/*
 * libFuzzer target for priv's decoders of its children's own messages
 * (priv/priv_msg.c): the input's first byte picks the message and whether
 * one was already received, the rest is its payload.
 *
 *	0 IMSG_CHILD_READY	any child
 *	1 IMSG_ENGINE_DONE	the engine
 *	2 IMSG_ENGINE_STATUS	the engine
 *	3 IMSG_ENGINE_PROGRESS	the engine; what it accepts is also made
 *				the progress line's text (priv/progress.c)
 *				for a few durations
 *	4 IMSG_ENGINE_LANES	the engine, in a run of (bit 0x80 ? 8 : 4)
 *				lanes
 *
 * bit 0x80 of the first byte: "sent twice".  A payload outside the
 * catalogue's length bounds never reaches a decoder (ipc_get() refuses
 * it), so such inputs are skipped.  A decoder that accepts must return
 * figures in their ranges; one that refuses must say why.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "priv_msg.h"
#include "progress.h"
#include "fuzz_common.h"
#include "fuzz_msg.h"

static const uint32_t types[] = {
	IMSG_CHILD_READY, IMSG_ENGINE_DONE, IMSG_ENGINE_STATUS,
	IMSG_ENGINE_PROGRESS, IMSG_ENGINE_LANES,
};

static void
fuzz_progress(const struct priv_progress *pr)
{
	static const double secs[] = { 0, 0.5, 1, 59, 3600, 86400 * 365.0,
	    1e18 };
	size_t i;
	char *s;

	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		s = progress_text(pr->done, pr->total, pr->msgs, pr->bytes,
		    pr->expected, secs[i]);
		if (s == NULL || strncmp(s, "mailbox ", 8) != 0)
			abort();
		free(s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg	 msg;
	struct priv_status st;
	uint32_t	 lanes, n;
	struct priv_progress pr;
	const char	*why = NULL;
	int		 twice, code;

	if (size < 1)
		return 0;
	twice = (data[0] & 0x80) != 0;
	if (fuzz_msg(&msg, types[(data[0] & 0x7f) % (sizeof(types) /
	    sizeof(types[0]))], data + 1, size - 1) == -1)
		return 0;
	switch (msg.hdr.type) {
	case IMSG_CHILD_READY:
		why = priv_msg_ready(&msg, twice);
		if (why == NULL && twice)
			abort();
		break;
	case IMSG_ENGINE_DONE:
		code = -1;
		why = priv_msg_engine_done(&msg, twice, &code);
		if (why == NULL && (twice || code < 0 || code > 255))
			abort();
		break;
	case IMSG_ENGINE_STATUS:
		why = priv_msg_engine_status(&msg, &st);
		if (why == NULL && (st.state < ENGINE_ST_SYNCING ||
		    st.state > ENGINE_ST_RECONNECT))
			abort();
		break;
	case IMSG_ENGINE_PROGRESS:
		why = priv_msg_engine_progress(&msg, &pr);
		if (why == NULL) {
			if (pr.done > pr.total)
				abort();
			fuzz_progress(&pr);
		}
		break;
	case IMSG_ENGINE_LANES:
		lanes = twice ? 8 : 4;
		why = priv_msg_engine_lanes(&msg, lanes, &n);
		if ((why == NULL && (n < 2 || n > lanes)) ||
		    (why != NULL && n != 0))
			abort();
		break;
	}
	if (why != NULL && *why == '\0')
		abort();
	ipc_msg_free(&msg);
	return 0;
}
