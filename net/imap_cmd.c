/*
 * Commands and the write side of a connection: tags, the parts a command
 * is made of (text, literal headers, literal bytes, continuation points),
 * the write queue that turns them into bytes on the stream, and the
 * protocol log of --debug ("C: ..." and "S: ..." lines).
 *
 * A command lives in up to two queues: wq while parts remain to be
 * written (its first part at the head is being written), fq from the
 * moment its tag is on the wire until its tagged answer.  It is freed
 * once it is answered, closed (imap_cmd_end) and out of wq.  An answer
 * that comes while the command waits for a "+" drops the rest of it (the
 * server will not read it); one that comes while bytes the server must
 * still read are pending (a non-synchronising literal) lets the writer
 * finish, so that the stream stays in step.
 */
#include <sys/queue.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "log.h"
#include "imap_conn_int.h"
#include "imap_fmt.h"
#include "stream.h"

#define LOG_LINE_MAX	8192	/* longer protocol lines are cut */
#define LITMINUS_MAX	4096	/* RFC 7888 LITERAL- */

static struct cmd_part *part_add(struct imap_cmd *, enum cmd_part_kind);
static void	 part_release(struct imap_cmd *, struct cmd_part *);
static void	 bytes_add(struct imap_cmd *, enum cmd_part_kind, const void *,
		    size_t, int);
static void	 clog_add(struct imap_conn *, const void *, size_t, int);
static void	 clog_flush(struct imap_conn *, int);

struct imap_cmd *
imap_cmd_new(struct imap_conn *c, const char *name, imap_cmd_cb cb,
    void *arg)
{
	struct imap_cmd *cmd;

	if ((cmd = calloc(1, sizeof(*cmd))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	cmd->conn = c;
	cmd->name = name;
	cmd->cb = cb;
	cmd->arg = arg;
	/* The reference's tags: a zero-padded counter from 000000. */
	(void)snprintf(cmd->tag, sizeof(cmd->tag), "%06u", c->tagno++);
	imap_cmd_str(cmd, cmd->tag);
	imap_cmd_text(cmd, " ", 1);
	imap_cmd_str(cmd, name);
	return cmd;
}

const char *
imap_cmd_tag(const struct imap_cmd *cmd)
{
	return cmd->tag;
}

const char *
imap_cmd_name(const struct imap_cmd *cmd)
{
	return cmd->name;
}

int
imap_cmd_finished(const struct imap_cmd *cmd)
{
	return cmd->finished;
}

/* A new part at the end; the array is compacted as parts are written. */
static struct cmd_part *
part_add(struct imap_cmd *cmd, enum cmd_part_kind kind)
{
	struct cmd_part *np;
	size_t ncap;

	if (cmd->nparts == cmd->cap && cmd->ipart > 0) {
		memmove(cmd->parts, cmd->parts + cmd->ipart,
		    (cmd->nparts - cmd->ipart) * sizeof(*cmd->parts));
		cmd->nparts -= cmd->ipart;
		cmd->ipart = 0;
	}
	if (cmd->nparts == cmd->cap) {
		ncap = cmd->cap ? cmd->cap * 2 : 8;
		if ((np = reallocarray(cmd->parts, ncap, sizeof(*np))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		cmd->parts = np;
		cmd->cap = ncap;
	}
	np = &cmd->parts[cmd->nparts++];
	memset(np, 0, sizeof(*np));
	np->kind = kind;
	np->secret = cmd->secret;
	return np;
}

static void
part_release(struct imap_cmd *cmd, struct cmd_part *p)
{
	size_t left = p->len - p->off;

	cmd->queued -= left;
	cmd->conn->queued -= left;
	if (p->data != NULL) {
		if (p->secret)
			freezero(p->data, p->len);
		else
			free(p->data);
	}
	p->data = NULL;
	p->len = p->off = 0;
}

static void
bytes_add(struct imap_cmd *cmd, enum cmd_part_kind kind, const void *v,
    size_t n, int secret)
{
	struct cmd_part *p = NULL;
	unsigned char *nd;

	if (cmd->closed)
		fatalx(EXIT_FAIL, "internal error: %s: bytes after the end",
		    cmd->name);
	/* Answered and dropped: nobody will read it. */
	if (cmd->finished && !cmd->submitted)
		return;
	if (n == 0)
		return;
	if (secret)
		cmd->secret = 1;
	if (kind == PART_TEXT && cmd->nparts > cmd->ipart &&
	    cmd->parts[cmd->nparts - 1].kind == PART_TEXT &&
	    cmd->parts[cmd->nparts - 1].secret == cmd->secret)
		p = &cmd->parts[cmd->nparts - 1];
	if (p == NULL) {
		p = part_add(cmd, kind);
		if ((p->data = malloc(n)) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		memcpy(p->data, v, n);
		p->len = n;
	} else {
		if (p->secret) {
			/* No realloc: the old copy must be wiped too. */
			if ((nd = malloc(p->len + n)) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
			memcpy(nd, p->data, p->len);
			freezero(p->data, p->len);
		} else if ((nd = realloc(p->data, p->len + n)) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		memcpy(nd + p->len, v, n);
		p->data = nd;
		p->len += n;
	}
	cmd->queued += n;
	cmd->conn->queued += n;
}

void
imap_cmd_text(struct imap_cmd *cmd, const void *v, size_t n)
{
	bytes_add(cmd, PART_TEXT, v, n, 0);
}

void
imap_cmd_str(struct imap_cmd *cmd, const char *s)
{
	bytes_add(cmd, PART_TEXT, s, strlen(s), 0);
}

void
imap_cmd_printf(struct imap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatalx(EXIT_FAIL, "out of memory");
	bytes_add(cmd, PART_TEXT, s, (size_t)n, 0);
	free(s);
}

void
imap_cmd_secret(struct imap_cmd *cmd, const void *v, size_t n)
{
	bytes_add(cmd, PART_TEXT, v, n, 1);
}

static void
cmd_astring(struct imap_cmd *cmd, const void *v, size_t n, int secret)
{
	struct imap_buf b;

	if (imap_astring_kind(v, n) == IMAP_ASTR_LITERAL) {
		if (secret)
			cmd->secret = 1;
		imap_cmd_literal(cmd, n);
		bytes_add(cmd, PART_DATA, v, n, secret);
		return;
	}
	imap_buf_init(&b);
	(void)imap_fmt_astring(&b, v, n);
	if (imap_buf_ok(&b) == -1)
		fatalx(EXIT_FAIL, "out of memory");
	bytes_add(cmd, PART_TEXT, b.data, b.len, secret);
	if (secret)
		explicit_bzero(b.data, b.cap);
	imap_buf_free(&b);
}

void
imap_cmd_astring(struct imap_cmd *cmd, const void *v, size_t n)
{
	cmd_astring(cmd, v, n, 0);
}

void
imap_cmd_astring_secret(struct imap_cmd *cmd, const void *v, size_t n)
{
	cmd_astring(cmd, v, n, 1);
}

void
imap_cmd_literal(struct imap_cmd *cmd, uint64_t size)
{
	struct imap_conn *c = cmd->conn;
	struct cmd_part *p;

	if (cmd->closed)
		fatalx(EXIT_FAIL, "internal error: %s: literal after the end",
		    cmd->name);
	if (cmd->finished && !cmd->submitted)
		return;
	p = part_add(cmd, PART_LITERAL);
	p->size = size;
	p->sync = !(imap_conn_has_cap(c, "LITERAL+") ||
	    (imap_conn_has_cap(c, "LITERAL-") && size <= LITMINUS_MAX));
}

void
imap_cmd_data(struct imap_cmd *cmd, const void *v, size_t n)
{
	bytes_add(cmd, PART_DATA, v, n, cmd->secret);
}

void
imap_cmd_cont(struct imap_cmd *cmd)
{
	if (cmd->closed)
		fatalx(EXIT_FAIL, "internal error: %s: continuation after "
		    "the end", cmd->name);
	if (cmd->finished && !cmd->submitted)
		return;
	(void)part_add(cmd, PART_CONT);
}

void
imap_cmd_end(struct imap_cmd *cmd)
{
	if (cmd->closed)
		fatalx(EXIT_FAIL, "internal error: %s: ended twice",
		    cmd->name);
	(void)part_add(cmd, PART_END);
	cmd->closed = 1;
	cmd_maybe_free(cmd);
}

void
imap_cmd_submit(struct imap_cmd *cmd)
{
	struct imap_conn *c = cmd->conn;

	if (cmd->submitted)
		fatalx(EXIT_FAIL, "internal error: %s: submitted twice",
		    cmd->name);
	cmd->submitted = 1;
	TAILQ_INSERT_TAIL(&c->wq, cmd, wentry);
	/*
	 * The session's first command: COMPRESS goes right behind it;
	 * never behind a LOGOUT (a lane that had nothing to do).
	 */
	if (c->compress_due && c->state == CONN_READY && cmd != c->logout)
		conn_compress(c);
}

void
cmd_free(struct imap_cmd *cmd)
{
	size_t i;

	for (i = cmd->ipart; i < cmd->nparts; i++)
		part_release(cmd, &cmd->parts[i]);
	free(cmd->parts);
	free(cmd);
}

/*
 * Answered, ended, and nothing left to write: gone.  A command still in
 * wq is freed by the writer when it reaches its end.
 */
void
cmd_maybe_free(struct imap_cmd *cmd)
{
	if (cmd->finished && cmd->closed && cmd->submitted == 0 &&
	    !cmd->in_cb)
		cmd_free(cmd);
}

/* The tagged answer came: out of fq; out of wq too if the server won't
 * read the rest. */
void
cmd_unlink(struct imap_cmd *cmd)
{
	struct imap_conn *c = cmd->conn;
	size_t i;

	cmd->finished = 1;
	if (cmd->inflight) {
		TAILQ_REMOVE(&c->fq, cmd, fentry);
		cmd->inflight = 0;
	}
	if (cmd->submitted && cmd->waiting) {
		/*
		 * Waiting for a "+" that will never come: the server has
		 * ended the command, drop the rest.  Parts added later (an
		 * APPEND still streaming) are discarded.  Otherwise the
		 * server may still be reading a literal we announced, or
		 * the rest of the line: the writer finishes it.
		 */
		TAILQ_REMOVE(&c->wq, cmd, wentry);
		cmd->submitted = 0;
		cmd->waiting = 0;
		for (i = cmd->ipart; i < cmd->nparts; i++)
			part_release(cmd, &cmd->parts[i]);
		cmd->ipart = cmd->nparts = 0;
		/* The line was cut short: nothing more of it to show. */
		imap_buf_reset(&c->clog);
		c->clog_redact = 0;
	}
}

/* Protocol log of our side: the line so far. */
static void
clog_add(struct imap_conn *c, const void *v, size_t n, int secret)
{
	if (c->debug == 0)
		return;
	if (secret && c->debug < 2) {
		c->clog_redact = 1;
		return;
	}
	if (c->clog_redact && c->debug < 2)
		return;
	if (c->clog.len + n > LOG_LINE_MAX) {
		if (c->clog.len < LOG_LINE_MAX)
			imap_buf_add(&c->clog, v, LOG_LINE_MAX - c->clog.len);
		return;
	}
	imap_buf_add(&c->clog, v, n);
}

/*
 * The line is complete: "C: <line>", with "[REDACTED]" for what a single
 * --debug hides; a redacted line with nothing to show is not logged
 * (the AUTHENTICATE exchange).  lit: a literal's bytes follow, shown as
 * "[...]" at the start of the next line.
 */
static void
clog_flush(struct imap_conn *c, int lit)
{
	if (c->debug > 0) {
		if (c->clog_redact && c->debug < 2) {
			if (c->clog.len > 0)
				log_debug("C: %s [REDACTED]", c->clog.data);
		} else
			log_debug("C: %s%s", c->clog.len > 0 ?
			    c->clog.data : "", c->clog.len >= LOG_LINE_MAX ?
			    "..." : "");
	}
	imap_buf_reset(&c->clog);
	if (!lit)
		c->clog_redact = 0;
	else if (c->debug > 0 && !(c->clog_redact && c->debug < 2))
		imap_buf_str(&c->clog, "[...]");
}

int
cmd_continue(struct imap_conn *c)
{
	struct imap_cmd *cmd = TAILQ_FIRST(&c->wq);

	if (cmd == NULL || !cmd->waiting)
		return -1;
	cmd->waiting = 0;
	if (cmd->lit_pending) {
		cmd->lit_pending = 0;
		if (stream_literal_begin(c->stream,
		    (size_t)cmd->lit_begin) == -1)
			return -1;
	}
	return 0;
}

/* Queues bytes on the stream, logging text parts. */
static int
put(struct imap_conn *c, const void *v, size_t n, int log, int secret)
{
	if (log)
		clog_add(c, v, n, secret);
	return stream_queue(c->stream, v, n);
}

int
cmd_write(struct imap_conn *c)
{
	struct imap_cmd *cmd;
	struct cmd_part *p;
	char hdr[32];
	size_t n;
	int r;

	while ((cmd = TAILQ_FIRST(&c->wq)) != NULL) {
		if (cmd->waiting || c->hold)
			break;
		if (stream_out_pending(c->stream) >= IMAP_OUT_HWM) {
			if ((r = stream_flush(c->stream)) == -1)
				return -1;
			if (r == 1)
				break;
		}
		if (!cmd->inflight && !cmd->finished) {
			cmd->inflight = 1;
			TAILQ_INSERT_TAIL(&c->fq, cmd, fentry);
		}
		if (cmd->ipart == cmd->nparts) {
			if (!cmd->closed)
				break;		/* the rest is to come */
			TAILQ_REMOVE(&c->wq, cmd, wentry);
			cmd->submitted = 0;
			/* Nothing may follow it before its answer. */
			if (cmd->barrier && !cmd->finished)
				c->hold = 1;
			/* The server has all of it: the answer is due. */
			cmd->owed_since = clock_ms();
			free(cmd->parts);
			cmd->parts = NULL;
			cmd->nparts = cmd->cap = cmd->ipart = 0;
			cmd_maybe_free(cmd);
			continue;
		}
		p = &cmd->parts[cmd->ipart];
		switch (p->kind) {
		case PART_TEXT:
		case PART_DATA:
			n = p->len - p->off;
			if (n > IMAP_OUT_HWM)
				n = IMAP_OUT_HWM;
			if (put(c, p->data + p->off, n, p->kind == PART_TEXT,
			    p->secret) == -1)
				return -1;
			p->off += n;
			cmd->queued -= n;
			c->queued -= n;
			if (p->off < p->len)
				continue;
			break;
		case PART_LITERAL:
			(void)snprintf(hdr, sizeof(hdr), "{%llu%s}",
			    (unsigned long long)p->size, p->sync ? "" : "+");
			if (put(c, hdr, strlen(hdr), 1, 0) == -1 ||
			    put(c, "\r\n", 2, 0, 0) == -1)
				return -1;
			clog_flush(c, 1);
			if (p->sync) {
				/* The server must see "{N}" now. */
				if (stream_cmd_end(c->stream) == -1)
					return -1;
				cmd->waiting = 1;
				cmd->owed_since = clock_ms();
				cmd->lit_pending = 1;
				cmd->lit_begin = p->size;
			} else if (stream_literal_begin(c->stream,
			    (size_t)p->size) == -1)
				return -1;
			break;
		case PART_CONT:
			if (put(c, "\r\n", 2, 0, 0) == -1 ||
			    stream_cmd_end(c->stream) == -1)
				return -1;
			clog_flush(c, 0);
			c->clog_redact = cmd->secret && c->debug < 2;
			cmd->waiting = 1;
			cmd->owed_since = clock_ms();
			break;
		case PART_END:
			if (put(c, "\r\n", 2, 0, 0) == -1 ||
			    stream_cmd_end(c->stream) == -1)
				return -1;
			clog_flush(c, 0);
			break;
		}
		part_release(cmd, p);
		cmd->ipart++;
	}
	r = stream_flush(c->stream);
	return r == -1 ? -1 : 0;
}

/*
 * Protocol log of the server's side, from the raw (decrypted, inflated)
 * bytes: "S: <line>", a literal's bytes skipped and shown as "[...]" at
 * the start of the line that follows.  With a single --debug, the
 * continuation requests of an authentication exchange are not shown.
 */
void
conn_slog(struct imap_conn *c, const unsigned char *p, size_t n)
{
	const unsigned char *lf;
	const char *line, *q;
	uint64_t size;
	size_t k, len;
	int ok;

	while (n > 0) {
		if (c->slog_skip > 0) {
			k = n < c->slog_skip ? n : (size_t)c->slog_skip;
			p += k;
			n -= k;
			c->slog_skip -= k;
			continue;
		}
		lf = memchr(p, '\n', n);
		k = lf != NULL ? (size_t)(lf - p) + 1 : n;
		if (c->slog.len < LOG_LINE_MAX)
			imap_buf_add(&c->slog, p,
			    k < LOG_LINE_MAX - c->slog.len ? k :
			    LOG_LINE_MAX - c->slog.len);
		p += k;
		n -= k;
		if (lf == NULL)
			break;
		line = c->slog.data != NULL ? c->slog.data : "";
		len = c->slog.len;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		c->slog.data[len] = '\0';
		/* A literal announced at the end of the line? */
		size = 0;
		ok = 0;
		if (len >= 3 && line[len - 1] == '}') {
			for (q = line + len - 2; q > line &&
			    *q >= '0' && *q <= '9'; q--)
				;
			if (*q == '{' && q < line + len - 2 &&
			    line + len - 2 - q <= 19) {
				ok = 1;
				for (q++; *q != '}'; q++)
					size = size * 10 + (uint64_t)(*q - '0');
			}
		}
		if (!(c->in_auth && c->debug < 2 && line[0] == '+'))
			log_debug("S: %s%s%s", c->slog_lit ? "[...]" : "",
			    line, c->slog.len >= LOG_LINE_MAX ? "..." : "");
		imap_buf_reset(&c->slog);
		c->slog_lit = ok;
		c->slog_skip = ok ? size : 0;
	}
}
