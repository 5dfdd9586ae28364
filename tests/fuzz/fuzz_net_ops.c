/*
 * libFuzzer target for a net child's unpackers of the engine's requests
 * (imap_ops_request(), net/imap_ops.c): the input is a sequence of
 * requests, each "u8 type, u16 length, payload" (type modulo the 17
 * IMSG_IMAP_* requests), turned into IMAP commands on a connection that
 * has not started (commands queue, nothing is written).  An odd first
 * byte makes it a session synced with CONDSTORE (imap_conn.h), whose
 * SELECT is three commands and parses the engine's known-uids; with bit
 * 1 set, the server has LIST-EXTENDED, LIST-STATUS and UIDPLUS (else a
 * LIST is one LIST and one LSUB per pattern and a STATUS per mailbox,
 * and an APPEND records its messages' sizes and dates).
 *
 * A broken request is fatal for a net child (fatalx(EXIT_CHILD)): here
 * fatalx is wrapped (-Wl,--wrap=fatalx) to end the input instead, and the
 * connection and the operations are freed.  Memory a fatal path leaves
 * behind would be freed by the exit, so LeakSanitizer is off for this
 * target (__asan_default_options); everything else of ASan and UBSan
 * stays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "imap_conn.h"
#include "imap_conn_int.h"
#include "imap_ops.h"
#include "fuzz_common.h"
#include "fuzz_msg.h"

const char	*__asan_default_options(void);
void		 __wrap_fatalx(int, const char *, ...)
		    __attribute__((noreturn));

static jmp_buf	jb;

const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}

void
__wrap_fatalx(int code, const char *fmt, ...)
{
	(void)code;
	(void)fmt;
	longjmp(jb, 1);
}

static void h_ready(void *a) { }
static void h_untagged(void *a, const struct imap_resp *r) { }
static void h_body(void *a, const struct imap_event *ev) { }
static int h_congested(void *a) { return 0; }
static void h_closed(void *a) { }
static void h_fatal(void *a, int code) { longjmp(jb, 1); }

static const struct imap_conn_hooks hooks = {
	h_ready, h_untagged, h_body, h_congested, h_closed, h_fatal, NULL
};

static const uint32_t types[] = {
	IMSG_IMAP_LIST, IMSG_IMAP_SELECT, IMSG_IMAP_UNSELECT, IMSG_IMAP_NOOP,
	IMSG_IMAP_FETCH, IMSG_IMAP_STORE, IMSG_IMAP_EXPUNGE,
	IMSG_IMAP_MAILBOX, IMSG_IMAP_APPEND, IMSG_IMAP_APPEND_MSG,
	IMSG_IMAP_APPEND_DATA, IMSG_IMAP_APPEND_END, IMSG_IMAP_LOGOUT,
	IMSG_IMAP_NOTIFY, IMSG_IMAP_IDLE, IMSG_IMAP_IDLE_DONE,
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct imap_conn_conf cc;
	static struct ipc_chan eng;
	static struct imap_conn *volatile c;
	static struct imap_ops *volatile o;
	static struct ipc_msg msg;
	static struct fin f;
	uint32_t	 type, peerid, mode;
	const uint8_t	*p;
	size_t		 len;

	log_set_sink(fuzz_sink);
	memset(&cc, 0, sizeof(cc));
	cc.type = IMAP_TYPE_IMAP;
	cc.host = "localhost";
	cc.auth = "PLAIN";
	memset(&eng, 0, sizeof(eng));
	eng.fd = -1;		/* answers are dropped */
	eng.self = PROC_NET;
	eng.peer = PROC_ENGINE;
	f.p = data;
	f.left = size;
	memset(&msg, 0, sizeof(msg));
	if ((o = imap_ops_new(&eng)) == NULL ||
	    (c = imap_conn_new(&cc, &hooks)) == NULL)
		abort();
	imap_ops_set_conn(o, c);
	mode = f.left > 0 ? fin_u8(&f) : 0;
	if (mode & 1)
		c->method = IMAP_METHOD_CONDSTORE;
	if (mode & 2) {
		if ((c->caps = calloc(3, sizeof(*c->caps))) == NULL ||
		    (c->caps[0] = strdup("LIST-EXTENDED")) == NULL ||
		    (c->caps[1] = strdup("LIST-STATUS")) == NULL ||
		    (c->caps[2] = strdup("UIDPLUS")) == NULL)
			abort();
		c->ncaps = 3;
	}
	if (setjmp(jb) == 0) {
		while (f.left > 0) {
			type = types[fin_u8(&f) % NTYPES];
			peerid = fin_u8(&f);
			p = fin_bytes(&f, fin_u16(&f), &len);
			if (fuzz_msg(&msg, type, p, len) == -1)
				continue;	/* ipc_get() refuses it */
			msg.hdr.peerid = peerid;
			imap_ops_request(o, &msg);
			ipc_msg_free(&msg);
		}
	} else
		ipc_msg_free(&msg);
	imap_conn_free(c);
	imap_ops_free(o);
	ipc_chan_close(&eng);
	return 0;
}
