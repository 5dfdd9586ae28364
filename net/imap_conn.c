/*
 * One IMAP connection: the read side (stream -> parser -> responses),
 * the session from the greeting to ENABLE QRESYNC (REFERENCE-BEHAVIOUR.md
 * 4.2, 4.3), LOGOUT, and the dead-peer timers.  Commands and the write
 * side are imap_cmd.c's.
 *
 * Until the session is established the parser is fed one line at a
 * time, so that when the answer to STARTTLS or COMPRESS arrives we know
 * exactly which bytes came after it: injected plain text to drop before
 * TLS, or the first compressed bytes to inflate.
 *
 * Differences from the reference, on purpose: CAPABILITY is fetched
 * after a PREAUTH greeting that lacks it (9.4); LITERAL+ is learned from
 * any capability list (9.4); LOGOUT is sent at the end; no fixed socket
 * timeout (9.5): bounds on the set-up phases and on a stalled session
 * instead (imap_conn.h, with the classes of faults).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "ipc.h"
#include "log.h"
#include "imap_proto.h"
#include "imap_conn_int.h"
#include "imap_parse.h"
#include "base64.h"
#include "scram.h"
#include "stream.h"
#include "testhooks.h"
#include "tls.h"

#define LOGOUT_GRACE	3	/* seconds to wait for LOGOUT's answer */

static void	 conn_stream_fail(struct imap_conn *)
		    __attribute__((noreturn));
static void	 conn_end(struct imap_conn *, int) __attribute__((noreturn));
static int	 conn_spare_failed(const struct imap_conn *, int);
static void	 strv_free(char ***, size_t *);
static void	 caps_set(struct imap_conn *, const struct imap_strlist *);
static void	 conn_code(struct imap_conn *, const struct imap_cond *, int);
static void	 conn_pump(struct imap_conn *);
static void	 conn_read(struct imap_conn *);
static void	 conn_event(struct imap_conn *, struct imap_event *);
static void	 conn_response(struct imap_conn *, struct imap_resp *);
static void	 conn_oauth_error(struct imap_conn *, const char *);
static void	 conn_tagged(struct imap_conn *, struct imap_resp *);
static void	 conn_refused(struct imap_conn *, int, const char *,
		    const struct imap_resp *) __attribute__((noreturn));
static void	 conn_greeting(struct imap_conn *, const struct imap_resp *);
static void	 conn_eof(struct imap_conn *);
static void	 conn_setup(struct imap_conn *);
static void	 conn_method(struct imap_conn *);
static void	 conn_auth(struct imap_conn *);
static void	 conn_ready(struct imap_conn *);
static void	 compress_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 conn_close(struct imap_conn *);
static void	 conn_logout_written(struct imap_conn *);
static int	 conn_held(const struct imap_conn *);
static void	 conn_track_io(struct imap_conn *, int64_t);
static void	 conn_timers(struct imap_conn *);
static void	 conn_phase_timeout(struct imap_conn *)
		    __attribute__((noreturn));
static void	 setup_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);

/* Which step a setup command was. */
enum setup_step {
	STEP_CAPABILITY = 1,
	STEP_STARTTLS,
	STEP_AUTH,
	STEP_ENABLE,
};

static const struct {
	const char	*name;
	uint32_t	 bit;
} conn_capbits[] = {
	{ "MULTIAPPEND",	IMAP_CAP_MULTIAPPEND },
	{ "UNSELECT",		IMAP_CAP_UNSELECT },
	{ "LITERAL+",		IMAP_CAP_LITERALPLUS },
	{ "NOTIFY",		IMAP_CAP_NOTIFY },
	{ "IDLE",		IMAP_CAP_IDLE },
	{ "QRESYNC",		IMAP_CAP_QRESYNC },
	{ "CONDSTORE",		IMAP_CAP_CONDSTORE },
	{ "LIST-EXTENDED",	IMAP_CAP_LIST_EXTENDED },
	{ "LIST-STATUS",	IMAP_CAP_LIST_STATUS },
	{ "UIDPLUS",		IMAP_CAP_UIDPLUS },
	{ "MOVE",		IMAP_CAP_MOVE },
};

/* ---- helpers ------------------------------------------------------------- */

const char *
imap_cond_name(int status)
{
	switch (status) {
	case IMAP_COND_OK:
		return "OK";
	case IMAP_COND_NO:
		return "NO";
	case IMAP_COND_BAD:
		return "BAD";
	case IMAP_COND_PREAUTH:
		return "PREAUTH";
	case IMAP_COND_BYE:
		return "BYE";
	}
	return "?";
}

char *
imap_resp_text(const struct imap_resp *r)
{
	const struct imap_cond *cond = &r->cond;
	char *s;
	int n;

	if (cond->code.name == NULL)
		return strdup(cond->text != NULL ? cond->text : "");
	n = asprintf(&s, "[%s%s%s]%s%s", cond->code.name,
	    cond->code.arg != NULL ? " " : "",
	    cond->code.arg != NULL ? cond->code.arg : "",
	    cond->text != NULL && *cond->text != '\0' ? " " : "",
	    cond->text != NULL ? cond->text : "");
	return n == -1 ? NULL : s;
}

static void
strv_free(char ***v, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void
caps_set(struct imap_conn *c, const struct imap_strlist *l)
{
	size_t i;

	strv_free(&c->caps, &c->ncaps);
	if (l->n > 0 && (c->caps = calloc(l->n, sizeof(*c->caps))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < l->n; i++) {
		if ((c->caps[i] = strdup(l->v[i])) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		c->ncaps = i + 1;
	}
	c->caps_known = 1;
}

int
imap_conn_has_cap(const struct imap_conn *c, const char *cap)
{
	size_t i;

	for (i = 0; i < c->ncaps; i++)
		if (strcasecmp(c->caps[i], cap) == 0)
			return 1;
	return 0;
}

int
imap_conn_enabled(const struct imap_conn *c, const char *cap)
{
	size_t i;

	for (i = 0; i < c->nenabled; i++)
		if (strcasecmp(c->enabled[i], cap) == 0)
			return 1;
	return 0;
}

enum imap_method
imap_conn_method(const struct imap_conn *c)
{
	return c->method;
}

uint64_t
imap_conn_appendlimit(const struct imap_conn *c)
{
	unsigned long long v;
	const char *s;
	char *end;
	size_t i;

	for (i = 0; i < c->ncaps; i++) {
		if (strncasecmp(c->caps[i], "APPENDLIMIT=", 12) != 0)
			continue;
		s = c->caps[i] + 12;
		if (*s < '0' || *s > '9')
			continue;
		errno = 0;
		v = strtoull(s, &end, 10);
		/* A limit of its own for each mailbox (no "="): none. */
		if (*end == '\0' && errno == 0 && v > 0)
			return v;
	}
	return 0;
}

uint32_t
imap_conn_capbits(const struct imap_conn *c)
{
	uint32_t bits = 0;
	size_t i;

	for (i = 0; i < sizeof(conn_capbits) / sizeof(conn_capbits[0]); i++)
		if (imap_conn_has_cap(c, conn_capbits[i].name))
			bits |= conn_capbits[i].bit;
	if (c->compress_due ||
	    (c->stream != NULL && stream_is_compressed(c->stream)))
		bits |= IMAP_CAP_COMPRESSED;
	if (c->method == IMAP_METHOD_CONDSTORE)
		bits |= IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE_SYNC;
	if (c->method == IMAP_METHOD_PLAIN)
		bits |= IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE_SYNC |
		    IMAP_CAP_PLAIN_SYNC;
	/* Without it, net STATUSes each mailbox (imap_ops.c). */
	bits |= IMAP_CAP_LIST_STATUS;
	return bits;
}

/* ---- the end of a connection --------------------------------------------- */

static void
conn_end(struct imap_conn *c, int code)
{
	c->hooks.fatal(c->hooks.arg, code);
	abort();	/* NOTREACHED: the hook exits */
}

void
imap_conn_fail(struct imap_conn *c, int code, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (conn_spare_failed(c, code))
		log_warnx("%s", s != NULL ? s : "out of memory");
	else
		log_error("%s", s != NULL ? s : "out of memory");
	free(s);
	conn_end(c, code);
}

/*
 * An extra connection that could not be established: priv goes on
 * without it and says so, the line is a warning.
 */
static int
conn_spare_failed(const struct imap_conn *c, int code)
{
	return c->conf.spare && c->state < CONN_READY &&
	    (code == EXIT_FAIL || code == EXIT_NET_LOST);
}

/* The stream died: the connection's end, or TLS's or zlib's verdict. */
static void
conn_stream_fail(struct imap_conn *c)
{
	const char *why = stream_error(c->stream);
	int code = stream_error_lost(c->stream) ? EXIT_NET_LOST : EXIT_FAIL;

	if (*why == '\0')
		why = "Lost connection";
	/* It said why before it went (a reset may follow a BYE). */
	if (code == EXIT_NET_LOST && c->bye != NULL)
		imap_conn_fail(c, code, "Connection closed by the server: %s "
		    "(then %s)", c->bye, why);
	if (stream_error_is_ssl(c->stream))
		log_msg(LOG_LVL_ERROR, log_get_name(), NULL, "SSL ERROR: %s",
		    why);
	else
		log_error("%s", why);
	tls_log_errors();
	conn_end(c, code);
}

/*
 * Our output failed: the server has gone.  It may have said why first
 * (a BYE: shutting down, a restart), still unread since we write before
 * we read.  What it sent is read now, as far as it goes, so that its
 * end is reported rather than our write's "Broken pipe".
 */
static void
conn_write_fail(struct imap_conn *c)
{
	if (c->state != CONN_HANDSHAKE && stream_write_failed(c->stream)) {
		conn_read(c);
		if (c->state == CONN_CLOSED)
			return;		/* LOGOUT's answer and the end */
		if (c->bye != NULL)
			imap_conn_fail(c, EXIT_NET_LOST, "Connection closed "
			    "by the server: %s", c->bye);
	}
	conn_stream_fail(c);
}

/* Writes what it can; on failure, the connection's end. */
static void
conn_write(struct imap_conn *c)
{
	if (cmd_write(c) == -1)
		conn_write_fail(c);
}

/* ---- the bounds ---------------------------------------------------------- */

/* A bound for messages: "30 s", or "300 ms" under the test hook. */
static const char *
conn_dur(char *buf, size_t len, int64_t ms)
{
	if (ms % 1000 == 0)
		(void)snprintf(buf, len, "%lld s", (long long)(ms / 1000));
	else
		(void)snprintf(buf, len, "%lld ms", (long long)ms);
	return buf;
}

/* ---- life cycle ---------------------------------------------------------- */

void
imap_conn_set_timeout(struct imap_conn *c, int64_t ms)
{
	c->setup_timeout = c->stall_timeout = ms;
	c->idle_probe = ms > 1 ? ms / 2 : 1;
}

struct imap_conn *
imap_conn_new(const struct imap_conn_conf *conf,
    const struct imap_conn_hooks *hooks)
{
	struct imap_conn *c;
	int64_t t;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->conf = *conf;
	c->hooks = *hooks;
	c->state = CONN_NEW;
	c->debug = log_debug_level();
	TAILQ_INIT(&c->wq);
	TAILQ_INIT(&c->fq);
	imap_buf_init(&c->clog);
	imap_buf_init(&c->slog);
	c->careful = 1;
	c->setup_timeout = (int64_t)IMAP_SETUP_TIMEOUT * 1000;
	c->stall_timeout = (int64_t)IMAP_STALL_TIMEOUT * 1000;
	c->idle_probe = (int64_t)IMAP_IDLE_PROBE * 1000;
	if ((t = hook_timeout_ms()) != -1)
		imap_conn_set_timeout(c, t);
	if ((c->rbuf = malloc(CONN_RBUF_SIZE)) == NULL ||
	    (c->parser = imap_parser_new(NULL)) == NULL) {
		free(c->rbuf);
		free(c);
		return NULL;
	}
	return c;
}

void
imap_conn_free(struct imap_conn *c)
{
	struct imap_cmd *cmd;

	if (c == NULL)
		return;
	while ((cmd = TAILQ_FIRST(&c->wq)) != NULL) {
		TAILQ_REMOVE(&c->wq, cmd, wentry);
		if (cmd->inflight)
			TAILQ_REMOVE(&c->fq, cmd, fentry);
		cmd_free(cmd);
	}
	while ((cmd = TAILQ_FIRST(&c->fq)) != NULL) {
		TAILQ_REMOVE(&c->fq, cmd, fentry);
		cmd_free(cmd);
	}
	/* A callback that never returned (a fatal error in it). */
	if (c->in_cb != NULL && !c->in_cb->submitted)
		cmd_free(c->in_cb);
	scram_free(c->scram);
	free(c->sasl_err);
	stream_free(c->stream);
	imap_parser_free(c->parser);
	free(c->rbuf);
	strv_free(&c->caps, &c->ncaps);
	strv_free(&c->enabled, &c->nenabled);
	free(c->bye);
	imap_buf_free(&c->clog);
	imap_buf_free(&c->slog);
	free(c);
}

void
imap_conn_start(struct imap_conn *c, int fd)
{
	if ((c->stream = stream_new(fd)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	c->phase_start = c->last_io = c->last_recv = clock_ms();
	audit("CONNECT type=%s host=%s", c->conf.type == IMAP_TYPE_IMAPS ?
	    "imaps" : c->conf.type == IMAP_TYPE_IMAP ? "imap" : "tunnel",
	    c->conf.host != NULL && c->conf.type != IMAP_TYPE_TUNNEL ?
	    c->conf.host : "-");
	if (c->conf.type == IMAP_TYPE_IMAPS) {
		if (stream_start_tls(c->stream, c->conf.tls,
		    c->conf.host) == -1)
			conn_stream_fail(c);
		c->tls_done = 1;
		c->state = CONN_HANDSHAKE;
	} else
		c->state = CONN_GREETING;
}

int
imap_conn_started(const struct imap_conn *c)
{
	return c->state != CONN_NEW;
}

int
imap_conn_fd(const struct imap_conn *c)
{
	if (c->stream == NULL || c->state == CONN_CLOSED)
		return -1;
	return stream_fd(c->stream);
}

int
imap_conn_ready(const struct imap_conn *c)
{
	return c->state == CONN_READY;
}

int
imap_conn_closed(const struct imap_conn *c)
{
	return c->state == CONN_CLOSED;
}

size_t
imap_conn_queued(const struct imap_conn *c)
{
	return c->queued + (c->stream != NULL ?
	    stream_out_pending(c->stream) : 0);
}

uint64_t
imap_conn_progress(const struct imap_conn *c)
{
	struct traffic_stats st;

	if (c == NULL || c->stream == NULL)
		return 0;
	stream_stats(c->stream, &st);
	return st.recv + st.sent + st.recv_raw + st.sent_raw +
	    (uint64_t)imap_conn_queued(c) + (uint64_t)c->roff +
	    (uint64_t)c->rend;
}

int
imap_conn_busy(const struct imap_conn *c)
{
	return !TAILQ_EMPTY(&c->fq) || !TAILQ_EMPTY(&c->wq);
}

void
imap_conn_stats(const struct imap_conn *c, struct traffic_stats *st)
{
	if (c == NULL || c->stream == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	stream_stats(c->stream, st);
}

/* May the parser take more bytes now? */
static int
conn_can_read(const struct imap_conn *c)
{
	if (c->fed || c->eof || c->state == CONN_CLOSED)
		return 0;
	if (c->state == CONN_READY && c->hooks.congested != NULL &&
	    c->hooks.congested(c->hooks.arg))
		return 0;
	return 1;
}

int
imap_conn_input_pending(const struct imap_conn *c)
{
	if (c->stream == NULL || c->state == CONN_CLOSED ||
	    c->state == CONN_HANDSHAKE)
		return 0;
	if (c->state == CONN_READY && c->hooks.congested != NULL &&
	    c->hooks.congested(c->hooks.arg))
		return 0;
	/* Our buffer, or TLS's, or zlib's: poll(2) would not say so. */
	return c->fed || c->roff < c->rend ||
	    (!c->eof && stream_pending(c->stream) > 0);
}

short
imap_conn_events(const struct imap_conn *c)
{
	int ev;

	if (c->stream == NULL || c->state == CONN_CLOSED)
		return 0;
	/*
	 * Not reading now (the engine is behind): a POLLIN for bytes we
	 * leave unread would wake poll(2) at once, for ever.
	 */
	if (c->state != CONN_HANDSHAKE && !conn_can_read(c))
		ev = stream_write_events(c->stream);
	else
		ev = stream_events(c->stream);
	return (short)ev;
}

/* ---- timers -------------------------------------------------------------- */

/* What the next deadline is for. */
enum conn_timer {
	TIMER_NONE,
	TIMER_PHASE,		/* a set-up phase: IMAP_SETUP_TIMEOUT */
	TIMER_ANSWER,		/* an answer due, nothing received */
	TIMER_WRITE,		/* our output blocked, nothing moved */
	TIMER_PROBE,		/* idle: time for a NOOP */
	TIMER_LOGOUT,		/* LOGOUT's grace is over */
};

/*
 * The server waits for us: we stopped reading because the engine is
 * behind, with or without its bytes in our buffers.  Whoever is slow,
 * it is not the server.
 */
static int
conn_held(const struct imap_conn *c)
{
	if (c->state != CONN_READY)
		return 0;
	return c->fed || c->roff < c->rend || (c->hooks.congested != NULL &&
	    c->hooks.congested(c->hooks.arg));
}

/*
 * Since when the server has owed us the oldest answer it owes: a command
 * it has had whole, or a "+" a command waits for; -1 if none.  A command
 * still being written owes nothing yet (an APPEND whose bytes come at
 * the engine's pace), nor does an IDLE that got its "+" (it waits in the
 * write queue for its DONE).
 */
static int64_t
conn_owed_since(const struct imap_conn *c)
{
	const struct imap_cmd *cmd;
	int64_t since = -1;

	TAILQ_FOREACH(cmd, &c->fq, fentry)
		if ((!cmd->submitted || cmd->waiting) &&
		    (since == -1 || cmd->owed_since < since))
			since = cmd->owed_since;
	return since;
}

static int64_t
conn_max(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/*
 * The next deadline (CLOCK_MONOTONIC ms), -1 if none, and what it is
 * for.  Const, for imap_conn_timeout(): a change conn_track_io() has not
 * seen yet (output just blocked, or just drained) counts from now.
 */
static int64_t
conn_deadline(const struct imap_conn *c, int64_t now, enum conn_timer *what)
{
	int64_t since;

	*what = TIMER_NONE;
	switch (c->state) {
	case CONN_NEW:
	case CONN_CLOSED:
		return -1;
	case CONN_HANDSHAKE:
	case CONN_GREETING:
	case CONN_SETUP:
		*what = TIMER_PHASE;
		return c->phase_start + c->setup_timeout;
	case CONN_LOGOUT:
		*what = TIMER_LOGOUT;
		return c->logout_at + (int64_t)LOGOUT_GRACE * 1000;
	case CONN_READY:
		break;
	}
	if (conn_held(c))
		return -1;
	if (stream_out_pending(c->stream) > 0) {
		*what = TIMER_WRITE;
		since = c->write_blocked ? c->write_since : now;
		return conn_max(since, c->last_io) + c->stall_timeout;
	}
	if ((since = conn_owed_since(c)) != -1) {
		*what = TIMER_ANSWER;
		/* Blocked output that went out counts as we wrote it. */
		since = conn_max(since, conn_max(c->last_recv, c->last_drain));
		if (c->write_blocked)
			since = now;
		return since + c->stall_timeout;
	}
	if (!imap_conn_busy(c) && !c->probing) {
		*what = TIMER_PROBE;
		return c->last_io + c->idle_probe;
	}
	return -1;
}

/* The clocks: bytes moved, output blocked or drained, the engine behind. */
static void
conn_track_io(struct imap_conn *c, int64_t now)
{
	uint64_t in, out;
	int blocked, hs;

	if (c->stream == NULL)
		return;
	stream_raw_counts(c->stream, &in, &out);
	if (in != c->recv_mark) {
		c->recv_mark = in;
		c->last_recv = c->last_io = now;
	}
	if (out != c->sent_mark) {
		c->sent_mark = out;
		c->last_io = now;
	}
	blocked = stream_out_pending(c->stream) > 0;
	if (blocked && !c->write_blocked)
		c->write_since = now;
	if (!blocked && c->write_blocked)
		c->last_drain = now;
	c->write_blocked = blocked;
	/* A held server starts its wait again when we read again. */
	if (conn_held(c) || c->held) {
		c->held = conn_held(c);
		c->last_recv = now;
	}
	/* The TLS handshake is over: the next phase has its own bound. */
	hs = stream_handshaking(c->stream);
	if (c->handshaking && !hs)
		c->phase_start = now;
	c->handshaking = hs;
}

int
imap_conn_timeout(const struct imap_conn *c)
{
	enum conn_timer what;
	int64_t now, deadline, ms;

	if (c->stream == NULL || c->state == CONN_CLOSED)
		return -1;
	/*
	 * Bytes already read from the socket (in our buffer, or decrypted
	 * or inflated and waiting in the stream) will not make the socket
	 * readable again: after a pause for a congested engine channel,
	 * poll must not wait for them.
	 */
	if (c->state != CONN_HANDSHAKE && c->read_paused && conn_can_read(c))
		return 0;
	now = clock_ms();
	if ((deadline = conn_deadline(c, now, &what)) == -1)
		return -1;
	ms = deadline <= now ? 0 : deadline - now;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* A set-up phase over its bound: which one. */
static void
conn_phase_timeout(struct imap_conn *c)
{
	const struct imap_cmd *cmd;
	char dur[32];

	(void)conn_dur(dur, sizeof(dur), c->setup_timeout);
	if (c->state == CONN_HANDSHAKE || stream_handshaking(c->stream))
		imap_conn_fail(c, EXIT_NET_LOST, "TLS handshake did not "
		    "complete within %s", dur);
	if (c->state == CONN_GREETING)
		imap_conn_fail(c, EXIT_NET_LOST, "No greeting from the server "
		    "within %s", dur);
	/* One set-up command at a time: in flight, or being written. */
	if ((cmd = TAILQ_FIRST(&c->fq)) == NULL)
		cmd = TAILQ_FIRST(&c->wq);
	imap_conn_fail(c, EXIT_NET_LOST, "No answer to %s within %s",
	    cmd != NULL ? cmd->name : "the session set-up", dur);
}

static void
probe_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *r, void *arg)
{
	c->probing = 0;
}

static void
conn_timers(struct imap_conn *c)
{
	struct imap_cmd *cmd;
	enum conn_timer what;
	int64_t now = clock_ms(), deadline;
	char dur[32];

	conn_track_io(c, now);
	deadline = conn_deadline(c, now, &what);
	if (deadline == -1 || now < deadline)
		return;
	(void)conn_dur(dur, sizeof(dur), c->stall_timeout);
	switch (what) {
	case TIMER_NONE:
		break;
	case TIMER_PHASE:
		conn_phase_timeout(c);
	case TIMER_ANSWER:
		imap_conn_fail(c, EXIT_NET_LOST, "The server sent nothing for "
		    "%s while an answer was due", dur);
	case TIMER_WRITE:
		imap_conn_fail(c, EXIT_NET_LOST, "The server took none of our "
		    "data for %s", dur);
	case TIMER_LOGOUT:
		log_debug("no answer to LOGOUT; closing");
		conn_close(c);
		break;
	case TIMER_PROBE:
		/* Is the peer still there? */
		c->probing = 1;
		cmd = imap_cmd_new(c, "NOOP", probe_cb, NULL);
		imap_cmd_end(cmd);
		imap_cmd_submit(cmd);
		c->last_io = now;
		break;
	}
}

/* ---- reading ------------------------------------------------------------- */

void
imap_conn_io(struct imap_conn *c)
{
	int r;

	if (c->stream == NULL || c->state == CONN_CLOSED)
		return;
	if (c->state == CONN_HANDSHAKE) {
		if ((r = stream_handshake(c->stream)) == -1)
			conn_stream_fail(c);
		if (r == 0) {
			conn_timers(c);
			return;
		}
		c->state = CONN_GREETING;
		c->phase_start = clock_ms();
	}
	if (stream_is_tls(c->stream) && !c->tls_logged &&
	    stream_handshake(c->stream) == 1) {
		c->tls_logged = 1;
		log_debug("%s connection using %s",
		    stream_tls_version(c->stream),
		    stream_tls_cipher(c->stream));
	}
	conn_write(c);
	if (c->state == CONN_CLOSED)
		return;
	conn_read(c);
	if (c->state == CONN_CLOSED)
		return;
	/* What the responses made us queue. */
	conn_write(c);
	if (c->state == CONN_CLOSED)
		return;
	conn_timers(c);
	conn_write(c);
	if (c->state == CONN_CLOSED)
		return;
	conn_logout_written(c);
}

static void
conn_read(struct imap_conn *c)
{
	ssize_t n;

	for (;;) {
		conn_pump(c);
		/*
		 * Paused (parser full, engine channel congested) with bytes
		 * possibly already read from the socket: see
		 * imap_conn_timeout().
		 */
		c->read_paused = 1;
		if (!conn_can_read(c) || c->roff < c->rend)
			return;
		c->roff = c->rend = 0;
		n = stream_read(c->stream, c->rbuf, CONN_RBUF_SIZE);
		if (n > 0) {
			c->rend = (size_t)n;
			continue;
		}
		c->read_paused = 0;
		if (n == 0) {
			c->eof = 1;
			imap_parser_eof(c->parser);
			conn_pump(c);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		conn_stream_fail(c);
	}
}

/* Hands the bytes read to the parser and acts on its events. */
static void
conn_pump(struct imap_conn *c)
{
	struct imap_event ev;
	const unsigned char *lf;
	enum imap_ev_type t;
	size_t end;

	for (;;) {
		if (c->state == CONN_CLOSED)
			return;
		if (c->state == CONN_READY && c->hooks.congested != NULL &&
		    c->hooks.congested(c->hooks.arg))
			return;
		if (!c->fed && c->roff < c->rend) {
			end = c->rend;
			if (c->careful && (lf = memchr(c->rbuf + c->roff,
			    '\n', c->rend - c->roff)) != NULL)
				end = (size_t)(lf - c->rbuf) + 1;
			if (c->debug > 0)
				conn_slog(c, c->rbuf + c->roff, end - c->roff);
			if (imap_parser_feed(c->parser, c->rbuf + c->roff,
			    end - c->roff) == -1)
				fatalx(EXIT_FAIL, "internal error: parser "
				    "window not consumed");
			c->fed = 1;
			c->fed_end = end;
		} else if (!c->fed && !c->eof)
			return;
		t = imap_parser_next(c->parser, &ev);
		if (t == IMAP_EV_NEED_MORE) {
			if (!c->fed)
				return;
			c->fed = 0;
			c->roff = c->fed_end;
			continue;
		}
		conn_event(c, &ev);
	}
}

static void
conn_event(struct imap_conn *c, struct imap_event *ev)
{
	switch (ev->type) {
	case IMAP_EV_RESPONSE:
		conn_response(c, ev->resp);
		break;
	case IMAP_EV_BODY_BEGIN:
	case IMAP_EV_BODY_CHUNK:
	case IMAP_EV_BODY_END:
	case IMAP_EV_BODY_TOOBIG:
		if ((c->state == CONN_READY || c->state == CONN_LOGOUT) &&
		    c->hooks.body != NULL)
			c->hooks.body(c->hooks.arg, ev);
		break;
	case IMAP_EV_EOF:
		conn_eof(c);
		break;
	case IMAP_EV_ERROR:
		/* Cut short by the end of the stream: the connection's. */
		if (c->eof)
			imap_conn_fail(c, EXIT_NET_LOST, "%s%s%s", ev->error,
			    c->bye != NULL ? " after BYE: " : "",
			    c->bye != NULL ? c->bye : "");
		imap_conn_fail(c, EXIT_PANIC, "Protocol error: %s",
		    ev->error);
	default:
		break;
	}
}

static void
conn_eof(struct imap_conn *c)
{
	if (c->state == CONN_LOGOUT) {
		conn_close(c);
		return;
	}
	/* A server restarting says BYE first, or not. */
	if (c->bye != NULL)
		imap_conn_fail(c, EXIT_NET_LOST, "Connection closed by the "
		    "server: %s", c->bye);
	imap_conn_fail(c, EXIT_NET_LOST, "Connection closed by the server "
	    "(0 bytes read, got EOF)");
}

/*
 * Response codes the connection itself acts on, in any response;
 * tagged: from a tagged response.
 */
static void
conn_code(struct imap_conn *c, const struct imap_cond *cond, int tagged)
{
	switch (cond->code.kind) {
	case IMAP_RC_CAPABILITY:
		caps_set(c, &cond->code.list);
		break;
	case IMAP_RC_ALERT:
		log_notice("[ALERT] %s", cond->text);
		break;
	case IMAP_RC_NOTIFICATIONOVERFLOW:
	case IMAP_RC_BADEVENT:
	case IMAP_RC_BADCHARSET:
		/*
		 * An overflow lost events, which a new session finds again
		 * (the engine resynchronises); the others say that what we
		 * asked for will never work.
		 */
		if (!tagged)
			imap_conn_fail(c, cond->code.kind ==
			    IMAP_RC_NOTIFICATIONOVERFLOW ? EXIT_NET_LOST :
			    EXIT_FAIL, "[%s%s%s] %s",
			    cond->code.name, cond->code.arg != NULL ? " " : "",
			    cond->code.arg != NULL ? cond->code.arg : "",
			    cond->text);
		break;
	default:
		break;
	}
}

/*
 * A SCRAM exchange (scram.h), one continuation request at a time on the
 * AUTHENTICATE command left open: our first message (unless it went as
 * SASL-IR), our proof, then the server's signature checked before the
 * empty line that ends the exchange.  Anything wrong ends the session:
 * a server that cannot prove it knows the password is not logged in to.
 */
static void
conn_scram_step(struct imap_conn *c, const char *text)
{
	struct imap_cmd *cmd = c->sasl_cmd;
	unsigned char *in = NULL;
	char *b64;
	const char *out = NULL;
	size_t tlen = text != NULL ? strlen(text) : 0, inlen = 0;

	if (cmd == NULL)
		imap_conn_fail(c, EXIT_PANIC, "Protocol error: continuation "
		    "request after the SCRAM exchange");
	if (c->sasl_step > 0 && (in = b64_decode(text != NULL ? text : "",
	    tlen, &inlen)) == NULL)
		imap_conn_fail(c, EXIT_FAIL, "Authentication failed: SCRAM: "
		    "the server's message is not base64");
	switch (c->sasl_step++) {
	case 0:		/* no SASL-IR: "+ " asks for our first message */
		out = scram_client_first(c->scram);
		break;
	case 1:		/* the server's first: our proof */
		out = scram_client_final(c->scram, (const char *)in, inlen);
		break;
	default:	/* the server's signature, or an error */
		if (scram_server_final(c->scram, (const char *)in, inlen) ==
		    -1) {
			free(in);
			imap_conn_fail(c, EXIT_FAIL, "Authentication failed: "
			    "SCRAM: %s", scram_error(c->scram));
		}
		free(in);
		/* The empty response that ends the exchange. */
		imap_cmd_end(cmd);
		c->sasl_cmd = NULL;
		return;
	}
	free(in);
	if (out == NULL)
		imap_conn_fail(c, EXIT_FAIL, "Authentication failed: SCRAM: %s",
		    scram_error(c->scram));
	if ((b64 = b64_encode(out, strlen(out))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	imap_cmd_secret(cmd, b64, strlen(b64));
	freezero(b64, strlen(b64));
	imap_cmd_cont(cmd);
}

static void
conn_response(struct imap_conn *c, struct imap_resp *r)
{
	size_t i;
	char **nv;

	switch (r->type) {
	case IMAP_RESP_TAGGED:
		conn_tagged(c, r);
		return;
	case IMAP_RESP_CONT:
		/* After a whole OAuth command: its refusal. */
		if (c->oauth != 0 && c->in_auth && !c->oauth_refused &&
		    (TAILQ_FIRST(&c->wq) == NULL ||
		    !TAILQ_FIRST(&c->wq)->waiting)) {
			conn_oauth_error(c, r->cond.text);
			return;
		}
		if (cmd_continue(c) == -1) {
			if (c->stream != NULL &&
			    stream_error(c->stream)[0] != '\0')
				conn_stream_fail(c);
			imap_conn_fail(c, EXIT_PANIC, "Protocol error: "
			    "unexpected continuation request \"+ %s\"",
			    r->cond.text != NULL ? r->cond.text : "");
		}
		if (c->scram != NULL)
			conn_scram_step(c, r->cond.text);
		return;
	default:
		break;
	}
	if (c->state == CONN_GREETING) {
		conn_greeting(c, r);
		return;
	}
	switch (r->type) {
	case IMAP_RESP_COND:
		conn_code(c, &r->cond, 0);
		if (r->cond.status == IMAP_COND_BYE) {
			free(c->bye);
			if ((c->bye = strdup(r->cond.text)) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
			return;
		}
		if (r->cond.status == IMAP_COND_PREAUTH)
			imap_conn_fail(c, EXIT_PANIC, "Protocol error: "
			    "PREAUTH after the greeting");
		break;
	case IMAP_RESP_CAPABILITY:
		caps_set(c, &r->atoms);
		return;
	case IMAP_RESP_ENABLED:
		for (i = 0; i < r->atoms.n; i++) {
			if ((nv = reallocarray(c->enabled, c->nenabled + 1,
			    sizeof(*nv))) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
			c->enabled = nv;
			if ((nv[c->nenabled] = strdup(r->atoms.v[i])) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
			c->nenabled++;
		}
		return;
	default:
		break;
	}
	if ((c->state == CONN_READY || c->state == CONN_LOGOUT) &&
	    c->hooks.untagged != NULL)
		c->hooks.untagged(c->hooks.arg, r);
}

static void
conn_tagged(struct imap_conn *c, struct imap_resp *r)
{
	struct imap_cmd *cmd;

	TAILQ_FOREACH(cmd, &c->fq, fentry)
		if (strcmp(cmd->tag, r->tag) == 0)
			break;
	if (cmd == NULL)
		imap_conn_fail(c, EXIT_PANIC, "Protocol error: unexpected "
		    "tagged response \"%s %s\" (no such command in progress)",
		    r->tag, imap_cond_name(r->cond.status));
	conn_code(c, &r->cond, 1);
	cmd_unlink(cmd);
	cmd->in_cb = 1;
	/* Out of both queues: imap_conn_free() finds it here if cb fails. */
	c->in_cb = cmd;
	if (cmd->cb != NULL)
		cmd->cb(c, cmd, r, cmd->arg);
	c->in_cb = NULL;
	cmd->in_cb = 0;
	cmd_maybe_free(cmd);
}

/* ---- the session --------------------------------------------------------- */

/*
 * The server refused: "<prefix><STATUS> <text>", its text copied to the
 * stack first, so that no allocation is left behind whatever the fatal
 * hook does (the unit tests leave by longjmp).
 */
static void
conn_refused(struct imap_conn *c, int code, const char *prefix,
    const struct imap_resp *r)
{
	char msg[2048], *text;

	text = imap_resp_text(r);
	(void)snprintf(msg, sizeof(msg), "%s%s %s", prefix,
	    imap_cond_name(r->cond.status), text != NULL ? text : "");
	free(text);
	imap_conn_fail(c, code, "%s", msg);
}

static void
conn_greeting(struct imap_conn *c, const struct imap_resp *r)
{
	if (r->type != IMAP_RESP_COND || (r->cond.status != IMAP_COND_OK &&
	    r->cond.status != IMAP_COND_PREAUTH)) {
		if (r->type == IMAP_RESP_COND &&
		    r->cond.status == IMAP_COND_BYE) {
			/* "Not now": too many connections, shutting down. */
			conn_refused(c, EXIT_NET_LOST, "Server refused the "
			    "connection: ", r);
		}
		imap_conn_fail(c, EXIT_PANIC, "Protocol error: unexpected "
		    "greeting (%s%s%s)", imap_resp_type_name(r->type),
		    r->type == IMAP_RESP_COND ? " " : "",
		    r->type == IMAP_RESP_COND ?
		    imap_cond_name(r->cond.status) : "");
	}
	conn_code(c, &r->cond, 0);
	if (r->cond.status == IMAP_COND_PREAUTH) {
		if (c->conf.type == IMAP_TYPE_IMAP && c->conf.starttls)
			imap_conn_fail(c, EXIT_FAIL, "PREAUTH greeting on "
			    "plaintext connection? MiTM in action? Aborting, "
			    "set \"STARTTLS = NO\" to ignore.");
		c->authenticated = 1;
		audit("AUTH mechanism=PREAUTH");
	}
	c->state = CONN_SETUP;
	conn_setup(c);
}

static struct imap_cmd *
setup_cmd(struct imap_conn *c, const char *name, enum setup_step step)
{
	return imap_cmd_new(c, name, setup_cb, (void *)(uintptr_t)step);
}

/* A set-up command: its answer is a phase of its own, with its bound. */
static void
setup_send(struct imap_cmd *cmd)
{
	cmd->conn->phase_start = clock_ms();
	imap_cmd_end(cmd);
	imap_cmd_submit(cmd);
}

/* The next step of the session, or READY. */
static void
conn_setup(struct imap_conn *c)
{
	static const struct {
		const char	*cap;
		const char	*instead;
	} fallbacks[] = {
		{ "LIST-EXTENDED",	"LIST and LSUB instead" },
		{ "UIDPLUS",	"appended messages found by size and date" },
		{ "LIST-STATUS",	"one STATUS command per mailbox" },
	};
	size_t i;
	int other;

	if (!c->caps_known) {
		setup_send(setup_cmd(c, "CAPABILITY", STEP_CAPABILITY));
		return;
	}
	if (!imap_conn_has_cap(c, "IMAP4rev1"))
		imap_conn_fail(c, EXIT_FAIL, "Missing IMAP4rev1 CAPABILITY.  "
		    "Not an IMAP4 server?");
	if (!c->authenticated) {
		if (c->conf.type == IMAP_TYPE_IMAP && c->conf.starttls &&
		    !c->tls_done) {
			if (!imap_conn_has_cap(c, "STARTTLS"))
				imap_conn_fail(c, EXIT_FAIL, "Server did not "
				    "advertise STARTTLS capability.");
			setup_send(setup_cmd(c, "STARTTLS", STEP_STARTTLS));
			return;
		}
		conn_auth(c);
		return;
	}
	if (c->conf.compress && !c->compress_tried) {
		c->compress_tried = 1;
		if (imap_conn_has_cap(c, "COMPRESS=DEFLATE"))
			c->compress_due = 1;	/* conn_compress() */
		else {
		for (i = other = 0; i < c->ncaps; i++)
			if (strncasecmp(c->caps[i], "COMPRESS=", 9) == 0)
				other = 1;
		if (other)
			log_warnx("Couldn't find a suitable compression "
			    "algorithm. Not enabling compression.");
		}
	}
	if (!c->enable_sent) {
		c->enable_sent = 1;
		conn_method(c);
	}
	/*
	 * What the reference requires and refuses a server without, done
	 * otherwise by imap_ops.c, said once per run (by lane 0's net).
	 * Every pass, watched or not, starts from a LIST-STATUS (mailboxes
	 * created, renamed or deleted while running are seen there).
	 */
	for (i = 0; !c->conf.spare && i < sizeof(fallbacks) /
	    sizeof(fallbacks[0]); i++)
		if (!imap_conn_has_cap(c, fallbacks[i].cap))
			log_info("Server lacks %s: %s", fallbacks[i].cap,
			    fallbacks[i].instead);
	conn_ready(c);
}

/*
 * The sync method (imap_conn.h), said once per run (by lane 0's net),
 * and its ENABLE.  Not waited for: the session's first commands follow
 * it on the wire (one round trip less), and its answer, which comes
 * before theirs, is checked in setup_cb().
 */
static void
conn_method(struct imap_conn *c)
{
	int qresync = imap_conn_has_cap(c, "QRESYNC");
	int condstore = imap_conn_has_cap(c, "CONDSTORE");

	switch (c->conf.method) {
	case IMAP_METHOD_QRESYNC:
		if (!qresync)
			imap_conn_fail(c, EXIT_FAIL, "Server did not "
			    "advertise QRESYNC capability (sync-method = "
			    "qresync).");
		c->method = IMAP_METHOD_QRESYNC;
		break;
	case IMAP_METHOD_CONDSTORE:
		if (!condstore)
			imap_conn_fail(c, EXIT_FAIL, "Server did not "
			    "advertise CONDSTORE capability (sync-method = "
			    "condstore).");
		c->method = IMAP_METHOD_CONDSTORE;
		break;
	case IMAP_METHOD_PLAIN:
		c->method = IMAP_METHOD_PLAIN;
		break;
	default:
		c->method = qresync ? IMAP_METHOD_QRESYNC : condstore ?
		    IMAP_METHOD_CONDSTORE : IMAP_METHOD_PLAIN;
		break;
	}
	if (c->method == IMAP_METHOD_QRESYNC) {
		if (!imap_conn_has_cap(c, "ENABLE"))
			imap_conn_fail(c, EXIT_FAIL, "Server did not "
			    "advertise ENABLE (RFC 5161) capability.");
		setup_send(setup_cmd(c, "ENABLE QRESYNC", STEP_ENABLE));
		return;
	}
	if (c->method == IMAP_METHOD_PLAIN) {
		if (!c->conf.spare)
			log_info("Server %s: syncing with plain IMAP4rev1, "
			    "every message's flags compared with those of "
			    "the last sync%s", qresync || condstore ?
			    "offers CONDSTORE" : "lacks QRESYNC and "
			    "CONDSTORE", qresync || condstore ?
			    " (sync-method = plain)" : "");
		return;
	}
	if (!c->conf.spare)
		log_info("Server %s QRESYNC: syncing with CONDSTORE, "
		    "expunges found by comparing UID lists%s",
		    qresync ? "offers" : "lacks", qresync ?
		    " (sync-method = condstore)" : "");
	/* Without ENABLE, each SELECT asks for CONDSTORE (imap_ops.c). */
	if (imap_conn_has_cap(c, "ENABLE"))
		setup_send(setup_cmd(c, "ENABLE CONDSTORE", STEP_ENABLE));
}

/*
 * XOAUTH2 (Google's) and OAUTHBEARER (RFC 7628) with the access token
 * from oauth-token-command.  A refusal comes as a continuation request
 * carrying a JSON error, which we acknowledge (an empty line, or ^A for
 * OAUTHBEARER) before the server's NO: see conn_oauth_step().
 */
static void
conn_oauth(struct imap_conn *c, const char *mech)
{
	struct imap_cmd *cmd;
	char *msg, *b64;
	int n;

	if (c->conf.oauth_token == NULL)
		imap_conn_fail(c, EXIT_FAIL, "Missing option "
		    "oauth-token-command (for auth = %s)", mech);
	if (strcmp(mech, "XOAUTH2") == 0)
		n = asprintf(&msg, "user=%s\001auth=Bearer %s\001\001",
		    c->conf.username, c->conf.oauth_token);
	else
		n = asprintf(&msg, "n,a=%s,\001host=%s\001auth=Bearer %s"
		    "\001\001", c->conf.username, c->conf.host != NULL ?
		    c->conf.host : "localhost", c->conf.oauth_token);
	if (n == -1)
		fatalx(EXIT_FAIL, "out of memory");
	b64 = b64_encode(msg, (size_t)n);
	freezero(msg, (size_t)n);
	if (b64 == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	c->oauth = strcmp(mech, "XOAUTH2") == 0 ? 1 : 2;
	/* The command keeps the name: a string that stays. */
	cmd = setup_cmd(c, c->oauth == 1 ? "AUTHENTICATE XOAUTH2" :
	    "AUTHENTICATE OAUTHBEARER", STEP_AUTH);
	if (!imap_conn_has_cap(c, "SASL-IR"))
		/* "+ " first: an empty challenge. */
		imap_cmd_cont(cmd);
	else
		imap_cmd_secret(cmd, " ", 1);
	imap_cmd_secret(cmd, b64, strlen(b64));
	freezero(b64, strlen(b64));
	/*
	 * The command is whole: an error comes as a continuation request
	 * after it, answered outside any command (conn_oauth_error()).
	 */
	imap_cmd_end(cmd);
	explicit_bzero(c->conf.oauth_token, strlen(c->conf.oauth_token));
	c->conf.oauth_token = NULL;
	if (c->conf.password != NULL) {
		explicit_bzero(c->conf.password, strlen(c->conf.password));
		c->conf.password = NULL;
	}
	c->in_auth = 1;
	c->phase_start = clock_ms();
	imap_cmd_submit(cmd);
}

/*
 * The server refused the token: "+ <base64 JSON>" (RFC 7628 3.2.2),
 * kept for the message, acknowledged as the mechanism wants (^A for
 * OAUTHBEARER, nothing for XOAUTH2); the tagged NO follows.
 */
static void
conn_oauth_error(struct imap_conn *c, const char *text)
{
	unsigned char *in;
	size_t inlen = 0, i;
	const char *ack = c->oauth == 2 ? "AQ==\r\n" : "\r\n";

	free(c->sasl_err);
	c->sasl_err = NULL;
	if (text != NULL && (in = b64_decode(text, strlen(text),
	    &inlen)) != NULL) {
		/* Printable, on one line, bounded. */
		if (inlen > 300)
			inlen = 300;
		for (i = 0; i < inlen; i++)
			if (in[i] < 0x20 || in[i] > 0x7e)
				in[i] = ' ';
		in[inlen] = '\0';
		c->sasl_err = (char *)in;
	}
	c->oauth_refused = 1;
	if (stream_queue(c->stream, ack, strlen(ack)) == -1 ||
	    stream_cmd_end(c->stream) == -1)
		conn_stream_fail(c);
}

/*
 * The channel binding of a SCRAM mechanism (RFC 5802 6): a -PLUS one
 * binds to the TLS session (conn_auth() chose it only over TLS); a plain
 * one over TLS says 'y' (we could bind) unless the server offers the
 * -PLUS variant, which the user did not choose ('n', or the server would
 * take 'y' for a downgrade); without TLS, 'n'.
 */
static void
conn_scram_cb(struct imap_conn *c, const char *mech, struct scram_cb *cb,
    unsigned char *cbdata)
{
	struct tls_conn *tls = stream_tls(c->stream);
	char capname[64], err[256];
	int n;

	memset(cb, 0, sizeof(*cb));
	cb->flag = 'n';
	if (scram_mech_plus(mech)) {
		if ((n = tls_conn_channel_binding(tls, &cb->name, cbdata, err,
		    sizeof(err))) == -1)
			imap_conn_fail(c, EXIT_FAIL, "Authentication failed: "
			    "%s: channel binding %s: %s", mech, cb->name, err);
		cb->flag = 'p';
		cb->data = cbdata;
		cb->len = (size_t)n;
		log_debug("auth: %s with channel binding %s", mech, cb->name);
		return;
	}
	if (tls == NULL)
		return;
	(void)snprintf(capname, sizeof(capname), "AUTH=%s-PLUS", mech);
	if (!imap_conn_has_cap(c, capname))
		cb->flag = 'y';
}

/* Mechanism choice and the command (REFERENCE-BEHAVIOUR.md 4.3). */
static void
conn_auth(struct imap_conn *c)
{
	/* The command keeps its name: these strings stay. */
	static const char *const scram_cmds[] = {
		"AUTHENTICATE SCRAM-SHA-256-PLUS",
		"AUTHENTICATE SCRAM-SHA-1-PLUS",
		"AUTHENTICATE SCRAM-SHA-1",
		"AUTHENTICATE SCRAM-SHA-256",	/* the last: any other */
	};
	struct imap_cmd *cmd;
	struct scram_cb cb;
	unsigned char cbdata[TLS_CB_MAX];
	size_t i;
	char *list, *w, *last, *mech = NULL, capname[128];
	unsigned char *plain;
	char *b64;
	size_t ulen, plen, blen;
	char *p;

	if ((list = strdup(c->conf.auth != NULL ? c->conf.auth : "")) ==
	    NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (w = strtok_r(list, " \t", &last); w != NULL;
	    w = strtok_r(NULL, " \t", &last)) {
		for (p = w; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		(void)snprintf(capname, sizeof(capname), "AUTH=%s", w);
		if (strcmp(w, "LOGIN") != 0 && !imap_conn_has_cap(c, capname)) {
			log_debug("auth: %s not offered by the server, skipped",
			    w);
			continue;
		}
		/* Channel binding needs a TLS session to bind to. */
		if (scram_mech_plus(w) && stream_tls(c->stream) == NULL) {
			log_debug("auth: %s needs TLS (channel binding), "
			    "skipped", w);
			continue;
		}
		mech = w;
		break;
	}
	if (mech == NULL) {
		free(list);
		imap_conn_fail(c, EXIT_FAIL, "Failed to choose an "
		    "authentication mechanism");
	}
	if ((strcmp(mech, "LOGIN") == 0 || strcmp(mech, "PLAIN") == 0) &&
	    imap_conn_has_cap(c, "LOGINDISABLED")) {
		free(list);
		imap_conn_fail(c, EXIT_FAIL, "Logins are disabled.");
	}
	if (strcmp(mech, "LOGIN") != 0 && strcmp(mech, "PLAIN") != 0 &&
	    !scram_mech(mech) && strcmp(mech, "XOAUTH2") != 0 &&
	    strcmp(mech, "OAUTHBEARER") != 0) {
		(void)snprintf(capname, sizeof(capname), "%s", mech);
		free(list);
		imap_conn_fail(c, EXIT_FAIL, "Unsupported authentication "
		    "mechanism: %s", capname);
	}
	if (c->conf.username == NULL)
		imap_conn_fail(c, EXIT_FAIL, "Missing option username");
	if (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0) {
		conn_oauth(c, mech);	/* mech points into list */
		free(list);
		return;
	}
	if (c->conf.password == NULL)
		imap_conn_fail(c, EXIT_FAIL, "Missing option password");
	ulen = strlen(c->conf.username);
	plen = strlen(c->conf.password);

	if (scram_mech(mech)) {
		conn_scram_cb(c, mech, &cb, cbdata);
		/* The password stays in the exchange's state until PBKDF2. */
		c->scram = scram_new(mech, c->conf.username, c->conf.password,
		    &cb);
		explicit_bzero(cbdata, sizeof(cbdata));
		if (c->scram == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		for (i = 0; i + 1 < sizeof(scram_cmds) / sizeof(scram_cmds[0]);
		    i++)
			if (strcmp(scram_cmds[i] + 13, mech) == 0)
				break;
		cmd = setup_cmd(c, scram_cmds[i], STEP_AUTH);
		c->sasl_cmd = cmd;
		if (imap_conn_has_cap(c, "SASL-IR")) {
			const char *first = scram_client_first(c->scram);
			char *ir;

			if ((ir = b64_encode(first, strlen(first))) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
			imap_cmd_secret(cmd, " ", 1);
			imap_cmd_secret(cmd, ir, strlen(ir));
			free(ir);
			c->sasl_step = 1;
		} else
			c->sasl_step = 0;
		imap_cmd_cont(cmd);
		free(list);
		explicit_bzero(c->conf.password, plen);
		c->conf.password = NULL;
		c->in_auth = 1;
		/* Left open: conn_scram_step() adds to it and ends it. */
		c->phase_start = clock_ms();
		imap_cmd_submit(cmd);
		return;
	}

	if (strcmp(mech, "LOGIN") == 0) {
		cmd = setup_cmd(c, "LOGIN", STEP_AUTH);
		imap_cmd_secret(cmd, " ", 1);
		imap_cmd_astring_secret(cmd, c->conf.username, ulen);
		imap_cmd_secret(cmd, " ", 1);
		imap_cmd_astring_secret(cmd, c->conf.password, plen);
	} else {
		/* base64("\0user\0pass") */
		if (ulen > 65536 || plen > 65536)
			imap_conn_fail(c, EXIT_FAIL, "Credentials too long");
		blen = ulen + plen + 2;
		if ((plain = malloc(blen)) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		plain[0] = '\0';
		memcpy(plain + 1, c->conf.username, ulen);
		plain[ulen + 1] = '\0';
		memcpy(plain + ulen + 2, c->conf.password, plen);
		b64 = b64_encode(plain, blen);
		freezero(plain, blen);
		cmd = setup_cmd(c, "AUTHENTICATE PLAIN", STEP_AUTH);
		if (imap_conn_has_cap(c, "SASL-IR")) {
			imap_cmd_secret(cmd, " ", 1);
			imap_cmd_secret(cmd, b64, strlen(b64));
		} else {
			imap_cmd_cont(cmd);
			imap_cmd_secret(cmd, b64, strlen(b64));
		}
		freezero(b64, strlen(b64));
	}
	free(list);
	/* The command holds the only copy now; it is wiped as written. */
	explicit_bzero(c->conf.password, plen);
	c->conf.password = NULL;
	c->in_auth = 1;
	setup_send(cmd);
}

static void
setup_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *r, void *arg)
{
	enum setup_step step = (enum setup_step)(uintptr_t)arg;
	const char *what;
	char buf[32];
	size_t n;
	int ok = r->cond.status == IMAP_COND_OK;

	switch (step) {
	case STEP_CAPABILITY:
		if (!ok)
			conn_refused(c, EXIT_FAIL, "", r);
		/* A server that listed nothing fails the IMAP4rev1 check. */
		c->caps_known = 1;
		break;
	case STEP_STARTTLS:
		if (!ok)
			conn_refused(c, EXIT_FAIL, "STARTTLS: ", r);
		/*
		 * Nothing may follow the OK in plain text: whatever did was
		 * injected by someone on the path.
		 */
		n = c->rend - c->fed_end;
		c->fed = 0;
		c->roff = c->rend = 0;
		n += stream_discard_buffered(c->stream);
		if (n > 0)
			log_warnx("Truncating non-empty output buffer "
			    "(unauthenticated response injection?)");
		if (stream_start_tls(c->stream, c->conf.tls,
		    c->conf.host) == -1)
			conn_stream_fail(c);
		c->tls_done = 1;
		/* Capabilities before TLS are not to be trusted. */
		strv_free(&c->caps, &c->ncaps);
		c->caps_known = 0;
		break;
	case STEP_AUTH:
		c->in_auth = 0;
		/*
		 * A SCRAM server that says OK without having proved that it
		 * knows the password (its signature) may be anybody.
		 */
		/*
		 * An OAuth token refused may only have expired: priv asks
		 * for a new one (EXIT_AUTH_RETRY), once.  The server's JSON
		 * says why.
		 */
		if (c->oauth != 0 && !ok) {
			char *text = imap_resp_text(r);

			imap_conn_fail(c, EXIT_AUTH_RETRY, "Authentication "
			    "failed: %s %s%s%s%s",
			    imap_cond_name(r->cond.status),
			    text != NULL ? text : "",
			    c->sasl_err != NULL ? " (the server says: " : "",
			    c->sasl_err != NULL ? c->sasl_err : "",
			    c->sasl_err != NULL ? ")" : "");
		}
		if (c->scram != NULL) {
			int verified = scram_verified(c->scram);

			/* The binding types differ between servers. */
			if (!ok && scram_cb_type(c->scram) != NULL)
				log_warnx("%s refused with channel binding "
				    "%s: a server may want another type "
				    "(SSL_channel_binding)",
				    cmd->name != NULL ? cmd->name :
				    "SCRAM", scram_cb_type(c->scram));
			scram_free(c->scram);
			c->scram = NULL;
			c->sasl_cmd = NULL;
			if (ok && !verified)
				imap_conn_fail(c, EXIT_FAIL, "Authentication "
				    "failed: SCRAM: the server said OK "
				    "without its signature");
		}
		/*
		 * [UNAVAILABLE] (RFC 5530): the server could not check the
		 * credentials now (its directory is down); that is no
		 * verdict on them, another session may pass.
		 */
		if (!ok)
			conn_refused(c, r->cond.code.name != NULL &&
			    strcasecmp(r->cond.code.name, "UNAVAILABLE") == 0 ?
			    EXIT_NET_LOST : EXIT_FAIL, "Authentication failed: ",
			    r);
		c->authenticated = 1;
		audit("AUTH mechanism=%s user=%s", strncmp(cmd->name,
		    "AUTHENTICATE ", 13) == 0 ? cmd->name + 13 : cmd->name,
		    c->conf.username != NULL ? c->conf.username : "-");
		if (r->cond.code.kind != IMAP_RC_CAPABILITY) {
			strv_free(&c->caps, &c->ncaps);
			c->caps_known = 0;
		}
		break;
	case STEP_ENABLE:
		what = c->method == IMAP_METHOD_QRESYNC ? "QRESYNC" :
		    "CONDSTORE";
		if (!ok) {
			(void)snprintf(buf, sizeof(buf), "ENABLE %s: ", what);
			conn_refused(c, EXIT_FAIL, buf, r);
		}
		if (!imap_conn_enabled(c, what))
			imap_conn_fail(c, EXIT_FAIL, "Couldn't ENABLE %s", what);
		/* The session went on without waiting (conn_setup()). */
		return;
	}
	conn_setup(c);
}

/*
 * COMPRESS goes right behind the session's first command (the LIST of
 * a run, a job's SELECT), in the same write, rather than a round trip
 * before it: nothing may follow COMPRESS until its answer (RFC 4978),
 * so sent first it would cost every session that round trip.  Dovecot
 * and Cyrus IMAP both take it so.  Only the first command's answer
 * comes uncompressed (that command is small: a job's bodies are asked
 * for after it).  What is written after COMPRESS waits for its answer
 * (c->hold); the answers before it are read plain, one line at a time,
 * so that the bytes after its OK go to the inflater.
 */
void
conn_compress(struct imap_conn *c)
{
	struct imap_cmd *cmd;

	c->compress_due = 0;
	cmd = imap_cmd_new(c, "COMPRESS DEFLATE", compress_cb, NULL);
	cmd->barrier = 1;
	imap_cmd_end(cmd);
	imap_cmd_submit(cmd);
	c->careful = 1;
}

static void
compress_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *r, void *arg)
{
	char *text;

	c->hold = 0;
	c->careful = 0;
	if (r->cond.status == IMAP_COND_OK) {
		/* What follows the OK is already compressed. */
		if (stream_start_compress(c->stream, c->rbuf + c->fed_end,
		    c->rend - c->fed_end) == -1)
			conn_stream_fail(c);
		c->fed = 0;
		c->roff = c->rend = 0;
		log_debug("COMPRESS=DEFLATE active");
	} else if (r->cond.code.kind != IMAP_RC_COMPRESSIONACTIVE) {
		/*
		 * Nothing is lost without it: the session goes on, and a
		 * server that wants COMPRESS alone, not pipelined, says so.
		 */
		text = imap_resp_text(r);
		log_warnx("COMPRESS DEFLATE: %s %s; going on without "
		    "compression", imap_cond_name(r->cond.status),
		    text != NULL ? text : "");
		free(text);
	}
}

static void
conn_ready(struct imap_conn *c)
{
	c->state = CONN_READY;
	c->careful = 0;
	log_debug("session established");
	if (c->hooks.ready != NULL)
		c->hooks.ready(c->hooks.arg);
}

/* ---- the end ------------------------------------------------------------- */

/*
 * LOGOUT is on the wire: the session is over without waiting a round
 * trip for its answer.  Everything asked before it was answered (the
 * run is over, or nobody is left to read answers), and the server
 * carries out LOGOUT before it sees the end of the stream.
 */
static void
conn_logout_written(struct imap_conn *c)
{
	if (c->state != CONN_LOGOUT || c->logout == NULL ||
	    c->logout->ipart < c->logout->nparts ||
	    stream_out_pending(c->stream) > 0)
		return;
	log_debug("LOGOUT sent; closing");
	c->logout = NULL;
	conn_close(c);
}

static void
logout_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *r, void *arg)
{
	c->logout = NULL;
	conn_close(c);
}

void
imap_conn_logout(struct imap_conn *c)
{
	if (c->state == CONN_LOGOUT || c->state == CONN_CLOSED)
		return;
	if (c->state != CONN_READY) {
		/* Nothing established worth a goodbye. */
		conn_close(c);
		return;
	}
	c->logout = imap_cmd_new(c, "LOGOUT", logout_cb, NULL);
	imap_cmd_end(c->logout);
	imap_cmd_submit(c->logout);
	c->state = CONN_LOGOUT;
	c->logout_at = clock_ms();
	if (cmd_write(c) == -1)
		conn_close(c);
	else
		conn_logout_written(c);
}

void
imap_conn_set_secrets(struct imap_conn *c, char *password, char *token)
{
	c->conf.password = password;
	c->conf.oauth_token = token;
}

/*
 * The session is over: the stream is shut down now (the counters stay
 * readable), and the hook says so.
 */
static void
conn_close(struct imap_conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	c->stop_pump = 1;
	if (c->stream != NULL)
		(void)stream_flush(c->stream);
	if (c->hooks.closed != NULL)
		c->hooks.closed(c->hooks.arg);
}
