/*
 * priv's decoders of its children's own messages (priv/priv_msg.c): the
 * layouts, the order in which faults are named, the ranges; and the
 * progress line's text for whatever figures an engine sends
 * (priv/progress.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "priv_msg.h"
#include "progress.h"
#include "tap.h"

/* A received message of type from buf's bytes (as ipc_get() hands out). */
static void
msg_of(struct ipc_msg *msg, uint32_t type, struct ipc_buf *buf)
{
	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	msg->hdr.type = type;
	msg->hdr.len = (uint32_t)buf->len;
	msg->len = buf->len;
	msg->data = buf->len > 0 ? buf->data : NULL;
}

static const char *
ready(uint32_t version, int extra, int twice)
{
	static struct ipc_buf buf;
	struct ipc_msg msg;

	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, version);
	if (extra)
		ipc_put_u32(&buf, 0);
	msg_of(&msg, IMSG_CHILD_READY, &buf);
	return priv_msg_ready(&msg, twice);
}

static void
test_ready(void)
{
	OK(ready(IPC_CATALOGUE_VERSION, 0, 0) == NULL, "ready: accepted");
	IS_STR(ready(IPC_CATALOGUE_VERSION, 0, 1), "sent twice",
	    "ready: twice");
	IS_STR(ready(IPC_CATALOGUE_VERSION + 1, 0, 0),
	    "catalogue version differs (a stale binary?)",
	    "ready: another version");
	/* Layout first, then twice, then the version. */
	IS_STR(ready(IPC_CATALOGUE_VERSION + 1, 0, 1), "sent twice",
	    "ready: twice and another version");
	IS_STR(ready(IPC_CATALOGUE_VERSION, 1, 1), "bad layout",
	    "ready: too long and twice");
}

static const char *
done(uint32_t v, int extra, int twice, int *code)
{
	static struct ipc_buf buf;
	struct ipc_msg msg;

	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
	if (extra >= 0)
		ipc_put_u32(&buf, v);
	if (extra > 0)
		ipc_put_u32(&buf, 0);
	msg_of(&msg, IMSG_ENGINE_DONE, &buf);
	return priv_msg_engine_done(&msg, twice, code);
}

static void
test_done(void)
{
	int code = -1;

	OK(done(0, 0, 0, &code) == NULL, "done 0: accepted");
	IS_INT(code, 0, "done 0: the code");
	OK(done(255, 0, 0, &code) == NULL, "done 255: accepted");
	IS_INT(code, 255, "done 255: the code");
	IS_STR(done(256, 0, 0, &code), "exit code out of range", "done 256");
	IS_STR(done(UINT32_MAX, 0, 0, &code), "exit code out of range",
	    "done 2^32-1");
	IS_STR(done(256, 0, 1, &code), "sent twice", "done 256, twice");
	IS_STR(done(1, -1, 0, &code), "bad layout", "done: empty");
	IS_STR(done(1, 1, 1, &code), "bad layout", "done: long, twice");
}

static const char *
status(uint32_t state, int len, struct priv_status *st)
{
	static struct ipc_buf buf;
	struct ipc_msg msg;

	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, state);
	ipc_put_u32(&buf, 7);
	ipc_put_u64(&buf, 1700000000);
	buf.len = (size_t)len;		/* shorter, or what follows */
	msg_of(&msg, IMSG_ENGINE_STATUS, &buf);
	return priv_msg_engine_status(&msg, st);
}

static void
test_status(void)
{
	struct priv_status st;
	uint32_t s;

	for (s = ENGINE_ST_SYNCING; s <= ENGINE_ST_RECONNECT; s++) {
		OK(status(s, 16, &st) == NULL, "status %u: accepted", s);
		IS_INT(st.state, s, "status: the state");
		IS_INT(st.nmbox, 7, "status: the mailboxes");
		IS_INT(st.last, 1700000000, "status: the last pass");
	}
	IS_STR(status(0, 16, &st), "bad layout", "status: state 0");
	IS_STR(status(ENGINE_ST_RECONNECT + 1, 16, &st), "bad layout",
	    "status: state past the last");
	IS_STR(status(ENGINE_ST_IDLE, 12, &st), "bad layout",
	    "status: short");
}

static const char *
progress(uint32_t d, uint32_t t, int len, struct priv_progress *pr)
{
	static struct ipc_buf buf;
	struct ipc_msg msg;

	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, d);
	ipc_put_u32(&buf, t);
	ipc_put_u64(&buf, 10);
	ipc_put_u64(&buf, 20);
	ipc_put_u64(&buf, 30);
	ipc_put_u64(&buf, 40);
	buf.len = (size_t)len;
	msg_of(&msg, IMSG_ENGINE_PROGRESS, &buf);
	return priv_msg_engine_progress(&msg, pr);
}

static void
test_progress(void)
{
	struct priv_progress pr;

	OK(progress(2, 3, 32, &pr) == NULL, "progress 2/3: accepted");
	IS_INT(pr.done, 2, "progress: done");
	IS_INT(pr.total, 3, "progress: total");
	IS_INT(pr.msgs, 10, "progress: messages");
	IS_INT(pr.bytes, 20, "progress: bytes");
	IS_INT(pr.expected, 30, "progress: expected");
	OK(progress(3, 3, 32, &pr) == NULL, "progress 3/3: accepted");
	OK(progress(0, 0, 32, &pr) == NULL, "progress 0/0 (over): accepted");
	IS_STR(progress(4, 3, 32, &pr), "bad layout", "progress 4/3");
	IS_STR(progress(1, 3, 31, &pr), "bad layout", "progress: short");
	IS_STR(progress(1, 3, 40, &pr), "bad layout", "progress: long");
}

/*
 * The text for an engine's figures, however absurd: the estimate of the
 * time left is a double made an integer, which must fit (a conversion
 * that does not is undefined; on x86-64 it said "about 0s left").
 */
static void
test_progress_text(void)
{
	char *s;

	s = progress_text(0, 2, 1, 100, 9001, 3600);
	IS_STR(s, "mailbox 1 of 2, 1 message (100 B) copied, "
	    "0 B/s, about 9000h00m left", "text: 9000 hours left");
	free(s);
	s = progress_text(0, 2, 1, 100, 10001, 3600);
	IS_STR(s, "mailbox 1 of 2, 1 message (100 B) copied, 0 B/s",
	    "text: 10000 hours left is no estimate");
	free(s);
	s = progress_text(0, 1, 1, 1, UINT64_MAX, 10);
	IS_STR(s, "mailbox 1 of 1, 1 message (1 B) copied, 0 B/s",
	    "text: 2^64-1 messages expected");
	free(s);
	s = progress_text(1, UINT32_MAX, 0, 0, 0, 1e12);
	IS_STR(s, "mailbox 2 of 4294967295, 0 messages (0 B) copied",
	    "text: 2^32-1 mailboxes, a long time");
	free(s);
}

int
main(void)
{
	test_ready();
	test_done();
	test_status();
	test_progress();
	test_progress_text();
	return tap_done();
}
