/*
 * The test-only engine: see testclient.h.  Self-contained on purpose
 * (raw IPC, its own loop), so that it tests the nets' side of
 * ipc/imap_proto.h and not the engine's client of it.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "log.h"
#include "imap_proto.h"
#include "testclient.h"

#define TC_MAXREQ	65536	/* request ids: names kept up to this */
#define TC_HWM		(1024 * 1024)	/* copy: queue bound */

struct tc_step {
	char	**w;
	size_t	  n;
};

struct tc {
	struct ipc_chan	*parent;
	struct ipc_chan	*net;		/* [2] */
	int		 ready[2];
	uint32_t	 caps[2];
	struct tc_step	*steps;
	size_t		 nsteps, cur;
	uint32_t	 nextid;
	const char	*opname[TC_MAXREQ];
	int		 outstanding[2];
	int		 failed;	/* the script does not parse */

	/* copy */
	int		 copying;
	int		 csrc;		/* side fetched from */
	char		*cdst;
	uint32_t	 cfetch;	/* id of the FETCH */
	uint32_t	 cappend;	/* id of the APPEND, 0 none yet */
	int		 cfetch_done;
	uint32_t	 cnmsg;
	uint64_t	 cbytes;
	uint64_t	 cleft;		/* bytes of the message in transit */
	int		 cbody;		/* BODY_DATA goes to the APPEND */

	/* pause */
	struct timespec	 until;
	int		 pausing;

	/* fetch bodies (not copying): bytes per message */
	uint64_t	 fbytes;
	int		 fbody;
};

static void	 tc_send(struct tc *, int, uint32_t, struct ipc_buf *);

static int
tc_side(const char *w)
{
	if (strcmp(w, "local") == 0)
		return SIDE_LOCAL;
	if (strcmp(w, "remote") == 0)
		return SIDE_REMOTE;
	return -1;
}

/* ---- the script ---------------------------------------------------------- */

static void
tc_add_word(struct tc_step *st, const char *w, size_t len)
{
	char **nw;

	if ((nw = reallocarray(st->w, st->n + 1, sizeof(*nw))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	st->w = nw;
	/* Not strndup(): w need not be NUL-terminated (strict checks). */
	if ((nw[st->n] = malloc(len + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	memcpy(nw[st->n], w, len);
	nw[st->n][len] = '\0';
	st->n++;
}

static void
tc_add_step(struct tc *t, struct tc_step *st)
{
	struct tc_step *ns;

	if (st->n == 0)
		return;
	if ((ns = reallocarray(t->steps, t->nsteps + 1, sizeof(*ns))) ==
	    NULL)
		fatalx(EXIT_FAIL, "out of memory");
	t->steps = ns;
	ns[t->nsteps++] = *st;
	memset(st, 0, sizeof(*st));
}

/* Splits the script into steps of words.  -1 on an unterminated quote. */
static int
tc_parse(struct tc *t, const char *s)
{
	struct tc_step st;
	char *buf;
	size_t len;
	int q;

	memset(&st, 0, sizeof(st));
	if ((buf = malloc(strlen(s) + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	while (*s != '\0') {
		if (*s == ';' || *s == '\n') {
			tc_add_step(t, &st);
			s++;
			continue;
		}
		if (*s == ' ' || *s == '\t' || *s == '\r') {
			s++;
			continue;
		}
		len = 0;
		q = 0;
		while (*s != '\0') {
			/* Inside quotes, \" and \\ only; "\n" stays. */
			if (q && *s == '\\' && (s[1] == '"' ||
			    s[1] == '\\')) {
				buf[len++] = s[1];
				s += 2;
				continue;
			}
			if (*s == '"') {
				q = !q;
				s++;
				continue;
			}
			if (!q && strchr(" \t\r\n;", *s) != NULL)
				break;
			buf[len++] = *s++;
		}
		if (q) {
			free(buf);
			return -1;
		}
		tc_add_word(&st, buf, len);
	}
	tc_add_step(t, &st);
	free(buf);
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

static uint32_t
tc_req(struct tc *t, int side, uint32_t type, struct ipc_buf *b,
    const char *name)
{
	uint32_t id = t->nextid++;

	if (id < TC_MAXREQ)
		t->opname[id] = name;
	tc_send(t, side, type, b);
	t->outstanding[side]++;
	/* tc_send used the id of the last request: fix it up. */
	return id;
}

static void
tc_send_id(struct tc *t, int side, uint32_t type, uint32_t id,
    struct ipc_buf *b)
{
	if (ipc_send(&t->net[side], type, id, -1, b) == -1)
		fatalx(EXIT_FAIL, "testclient: %s", t->net[side].err);
	ipc_buf_free(b);
}

static void
tc_send(struct tc *t, int side, uint32_t type, struct ipc_buf *b)
{
	tc_send_id(t, side, type, t->nextid - 1, b);
}

static void
tc_put_name(struct ipc_buf *b, const char *s)
{
	ipc_put_data(b, s, strlen(s));
}

static uint32_t
tc_items(const char *s)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} items[] = {
		{ "modseq", IMAP_FETCH_MODSEQ },
		{ "flags", IMAP_FETCH_FLAGS },
		{ "internaldate", IMAP_FETCH_INTERNALDATE },
		{ "envelope", IMAP_FETCH_ENVELOPE },
		{ "body", IMAP_FETCH_BODY },
	};
	uint32_t bits = 0;
	size_t i, len;

	while (*s != '\0') {
		len = strcspn(s, ",");
		for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			if (strlen(items[i].name) == len &&
			    strncmp(items[i].name, s, len) == 0)
				bits |= items[i].bit;
		s += len;
		if (*s == ',')
			s++;
	}
	return bits;
}

static char *
tc_join(char **w, size_t n)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(w[i]) + 1;
	if ((s = calloc(1, len)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)strlcat(s, " ", len);
		(void)strlcat(s, w[i], len);
	}
	return s;
}

static void
tc_append_text(struct tc *t, int side, char **w)
{
	struct ipc_buf b;
	const char *p;
	char *text;
	size_t len = 0;

	/* "\n" -> CRLF */
	if ((text = malloc(strlen(w[3]) * 2 + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (p = w[3]; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			text[len++] = '\r';
			text[len++] = '\n';
			p++;
		} else
			text[len++] = *p;
	}
	ipc_buf_init(&b);
	tc_put_name(&b, w[0]);
	(void)tc_req(t, side, IMSG_IMAP_APPEND, &b, "APPEND");
	ipc_buf_init(&b);
	ipc_put_str(&b, w[1]);
	ipc_put_str(&b, w[2]);
	ipc_put_u64(&b, len);
	tc_send(t, side, IMSG_IMAP_APPEND_MSG, &b);
	if (len > 0) {
		if (ipc_compose(&t->net[side], IMSG_IMAP_APPEND_DATA,
		    t->nextid - 1, -1, text, len) == -1)
			fatalx(EXIT_FAIL, "testclient: %s", t->net[side].err);
	}
	ipc_buf_init(&b);
	tc_send(t, side, IMSG_IMAP_APPEND_END, &b);
	free(text);
}

/* The copy step starts: SELECT and FETCH on the source. */
static void
tc_copy_start(struct tc *t, int from, const char *src, const char *dst)
{
	struct ipc_buf b;

	t->copying = 1;
	t->csrc = from;
	if ((t->cdst = strdup(dst)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	t->cappend = 0;
	t->cfetch_done = 0;
	t->cnmsg = 0;
	t->cbytes = 0;
	t->cbody = 0;
	ipc_buf_init(&b);
	tc_put_name(&b, src);
	ipc_put_u32(&b, 0);
	(void)tc_req(t, from, IMSG_IMAP_SELECT, &b, "SELECT");
	ipc_buf_init(&b);
	ipc_put_str(&b, "1:*");
	ipc_put_u32(&b, IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	    IMAP_FETCH_BODY);
	ipc_put_u64(&b, 0);
	t->cfetch = tc_req(t, from, IMSG_IMAP_FETCH, &b, "FETCH");
}

/* Milliseconds until the end of a pause (0: over). */
static int
tc_ms_left(const struct tc *t)
{
	struct timespec now;
	long long ms;

	if (!t->pausing)
		return -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(t->until.tv_sec - now.tv_sec) * 1000 +
	    (t->until.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* One step; 0 if it must wait for earlier answers first. */
static int
tc_step(struct tc *t, struct tc_step *st)
{
	struct ipc_buf b;
	const char *op;
	char *flags;
	uint32_t mode, i;
	int side;

	if (strcmp(st->w[0], "wait") == 0)
		return t->outstanding[0] == 0 && t->outstanding[1] == 0 &&
		    !t->copying;
	if (strcmp(st->w[0], "pause") == 0 && st->n == 2) {
		if (!t->pausing) {
			(void)clock_gettime(CLOCK_MONOTONIC, &t->until);
			t->until.tv_sec += strtol(st->w[1], NULL, 10);
			t->pausing = 1;
		}
		if (tc_ms_left(t) > 0)
			return 0;
		t->pausing = 0;
		return 1;
	}
	if (t->copying)
		return 0;
	if (strcmp(st->w[0], "copy") == 0) {
		if (st->n != 4 || (side = tc_side(st->w[1])) == -1)
			goto bad;
		if (t->outstanding[0] > 0 || t->outstanding[1] > 0)
			return 0;
		tc_copy_start(t, side, st->w[2], st->w[3]);
		return 1;
	}
	if (st->n < 2 || (side = tc_side(st->w[0])) == -1)
		goto bad;
	op = st->w[1];
	ipc_buf_init(&b);
	if (strcmp(op, "list") == 0 || strcmp(op, "listplain") == 0) {
		ipc_put_u32(&b, strcmp(op, "list") == 0 ?
		    IMAP_LIST_RET_SUBSCRIBED | IMAP_LIST_RET_STATUS : 0);
		ipc_put_str(&b, "");
		tc_put_name(&b, st->n > 2 ? st->w[2] : "");
		ipc_put_u32(&b, st->n > 3 ? (uint32_t)(st->n - 3) : 0);
		for (i = 3; i < st->n; i++)
			tc_put_name(&b, st->w[i]);
		(void)tc_req(t, side, IMSG_IMAP_LIST, &b, "LIST");
	} else if (strcmp(op, "select") == 0 || strcmp(op, "examine") == 0) {
		if (st->n != 3 && st->n != 6 && st->n != 8)
			goto bad;
		tc_put_name(&b, st->w[2]);
		if (st->n == 3)
			ipc_put_u32(&b, strcmp(op, "examine") == 0 ?
			    IMAP_SEL_EXAMINE : 0);
		else {
			ipc_put_u32(&b, IMAP_SEL_QRESYNC |
			    (strcmp(op, "examine") == 0 ? IMAP_SEL_EXAMINE :
			    0));
			ipc_put_u32(&b, (uint32_t)strtoul(st->w[3], NULL, 10));
			ipc_put_u64(&b, strtoull(st->w[4], NULL, 10));
			ipc_put_str(&b, st->w[5]);
			ipc_put_str(&b, st->n == 8 ? st->w[6] : "");
			ipc_put_str(&b, st->n == 8 ? st->w[7] : "");
		}
		(void)tc_req(t, side, IMSG_IMAP_SELECT, &b,
		    strcmp(op, "examine") == 0 ? "EXAMINE" : "SELECT");
	} else if (strcmp(op, "fetch") == 0) {
		if (st->n != 4 && st->n != 5)
			goto bad;
		ipc_put_str(&b, st->w[2]);
		ipc_put_u32(&b, tc_items(st->w[3]));
		ipc_put_u64(&b, st->n == 5 ? strtoull(st->w[4], NULL, 10) :
		    0);
		(void)tc_req(t, side, IMSG_IMAP_FETCH, &b, "FETCH");
	} else if (strcmp(op, "store") == 0) {
		if (st->n < 4)
			goto bad;
		if (strcmp(st->w[3], "replace") == 0)
			mode = IMAP_STORE_REPLACE;
		else if (strcmp(st->w[3], "add") == 0)
			mode = IMAP_STORE_ADD;
		else if (strcmp(st->w[3], "remove") == 0)
			mode = IMAP_STORE_REMOVE;
		else
			goto bad;
		i = 4;
		ipc_put_str(&b, st->w[2]);
		if (st->n > 4 && st->w[4][0] >= '0' && st->w[4][0] <= '9') {
			ipc_put_u64(&b, strtoull(st->w[4], NULL, 10));
			i = 5;
		} else
			ipc_put_u64(&b, 0);
		ipc_put_u32(&b, mode);
		flags = tc_join(st->w + i, st->n - i);
		ipc_put_str(&b, flags);
		free(flags);
		(void)tc_req(t, side, IMSG_IMAP_STORE, &b, "STORE");
	} else if (strcmp(op, "expunge") == 0 && st->n == 3) {
		ipc_put_str(&b, st->w[2]);
		(void)tc_req(t, side, IMSG_IMAP_EXPUNGE, &b, "EXPUNGE");
	} else if ((strcmp(op, "create") == 0 || strcmp(op, "delete") == 0 ||
	    strcmp(op, "subscribe") == 0 || strcmp(op, "unsubscribe") == 0) &&
	    st->n == 3) {
		ipc_put_u32(&b, op[0] == 'c' ? IMAP_MBOP_CREATE :
		    op[0] == 'd' ? IMAP_MBOP_DELETE : op[0] == 's' ?
		    IMAP_MBOP_SUBSCRIBE : IMAP_MBOP_UNSUBSCRIBE);
		tc_put_name(&b, st->w[2]);
		ipc_put_data(&b, NULL, 0);
		(void)tc_req(t, side, IMSG_IMAP_MAILBOX, &b, "MAILBOX");
	} else if (strcmp(op, "rename") == 0 && st->n == 4) {
		ipc_put_u32(&b, IMAP_MBOP_RENAME);
		tc_put_name(&b, st->w[2]);
		tc_put_name(&b, st->w[3]);
		(void)tc_req(t, side, IMSG_IMAP_MAILBOX, &b, "RENAME");
	} else if (strcmp(op, "append") == 0 && st->n == 6) {
		ipc_buf_free(&b);
		tc_append_text(t, side, st->w + 2);
	} else if (strcmp(op, "noop") == 0 && st->n == 2)
		(void)tc_req(t, side, IMSG_IMAP_NOOP, &b, "NOOP");
	else if (strcmp(op, "unselect") == 0 && st->n == 2)
		(void)tc_req(t, side, IMSG_IMAP_UNSELECT, &b, "UNSELECT");
	else if (strcmp(op, "logout") == 0 && st->n == 2)
		(void)tc_req(t, side, IMSG_IMAP_LOGOUT, &b, "LOGOUT");
	else if (strcmp(op, "idle") == 0 && st->n == 2)
		(void)tc_req(t, side, IMSG_IMAP_IDLE, &b, "IDLE");
	else if (strcmp(op, "done") == 0 && st->n == 2)
		tc_send(t, side, IMSG_IMAP_IDLE_DONE, &b);
	else if (strcmp(op, "notify") == 0) {
		mode = 0;
		for (i = 2; i < st->n; i++) {
			if (strcmp(st->w[i], "status") == 0)
				mode |= IMAP_NOTIFY_STATUS;
			else if (strcmp(st->w[i], "personal") == 0)
				mode |= IMAP_NOTIFY_PERSONAL;
			else if (strcmp(st->w[i], "none") == 0)
				mode |= IMAP_NOTIFY_NONE;
			else
				break;
		}
		ipc_put_u32(&b, mode);
		ipc_put_u32(&b, (uint32_t)(st->n - i));
		for (; i < st->n; i++)
			tc_put_name(&b, st->w[i]);
		(void)tc_req(t, side, IMSG_IMAP_NOTIFY, &b, "NOTIFY");
	}
	else
		goto bad;
	return 1;
bad:
	ipc_buf_free(&b);
	log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: testclient: bad step "
	    "\"%s\"", st->w[0]);
	t->failed = 1;
	t->cur = t->nsteps;
	return 0;
}

/* Runs steps until one must wait. */
static void
tc_run(struct tc *t)
{
	while (t->cur < t->nsteps && t->ready[0] && t->ready[1]) {
		if (!tc_step(t, &t->steps[t->cur]))
			return;
		t->cur++;
	}
}

/* ---- answers ------------------------------------------------------------- */

static const char *
tc_status(uint32_t st)
{
	return st == IMAP_DONE_OK ? "OK" : st == IMAP_DONE_NO ? "NO" :
	    st == IMAP_DONE_BAD ? "BAD" : "?";
}

static const char *
tc_code(uint32_t code)
{
	static const char *const names[] = {
		"", "UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ", "NOMODSEQ",
		"UIDNOTSTICKY", "CLOSED", "READ-ONLY", "READ-WRITE",
		"APPENDUID", "MODIFIED", "TRYCREATE", "OTHER",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

static void
tc_attrs(uint32_t a, char *buf, size_t len)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} names[] = {
		{ IMAP_MBX_NOSELECT, "\\Noselect" },
		{ IMAP_MBX_NONEXISTENT, "\\NonExistent" },
		{ IMAP_MBX_SUBSCRIBED, "\\Subscribed" },
		{ IMAP_MBX_HASCHILDREN, "\\HasChildren" },
		{ IMAP_MBX_HASNOCHILDREN, "\\HasNoChildren" },
		{ IMAP_MBX_NOINFERIORS, "\\Noinferiors" },
		{ IMAP_MBX_MARKED, "\\Marked" },
		{ IMAP_MBX_UNMARKED, "\\Unmarked" },
		{ IMAP_MBX_REMOTE, "\\Remote" },
	};
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((a & names[i].bit) == 0)
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, " ", len);
		(void)strlcat(buf, names[i].name, len);
	}
}

static void
tc_bad(const struct ipc_msg *msg)
{
	fatalx(EXIT_FAIL, "testclient: bad %s", ipc_type_name(msg->hdr.type));
}

/* The copy's APPEND is over: log it and end the step. */
static void
tc_copy_appended(struct tc *t, int side, uint32_t st, const char *data)
{
	log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
	    "copy: %u message(s), %llu bytes, to %s: %s%s%s", t->cnmsg,
	    (unsigned long long)t->cbytes, t->cdst, tc_status(st),
	    *data != '\0' ? " APPENDUID " : "", data);
	t->copying = 0;
	free(t->cdst);
	t->cdst = NULL;
}

static void
tc_done(struct tc *t, int side, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t st, code, id = msg->hdr.peerid;
	char *data, *text;
	struct ipc_buf b;
	const char *name = id < TC_MAXREQ && t->opname[id] != NULL ?
	    t->opname[id] : "?";

	ipc_rd_init(&rd, msg);
	st = ipc_get_u32(&rd);
	code = ipc_get_u32(&rd);
	data = ipc_get_str(&rd);
	text = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || data == NULL || text == NULL)
		tc_bad(msg);
	t->outstanding[side]--;
	/* The text carries the code as sent; the parsed one follows. */
	if (code != IMAP_CODE_NONE)
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "#%u %s %s %s {%s %s}", id, name, tc_status(st), text,
		    tc_code(code), data);
	else
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "#%u %s %s %s", id, name, tc_status(st), text);
	if (t->copying && side == t->csrc && id == t->cfetch) {
		t->cfetch_done = 1;
		if (t->cappend != 0) {
			ipc_buf_init(&b);
			tc_send_id(t, !t->csrc, IMSG_IMAP_APPEND_END,
			    t->cappend, &b);
		} else
			tc_copy_appended(t, !side, st, "");
	} else if (t->copying && side != t->csrc && id == t->cappend)
		tc_copy_appended(t, side, st, code == IMAP_CODE_APPENDUID ?
		    data : "");
	free(data);
	free(text);
}

static void
tc_fetch_item(struct tc *t, int side, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ipc_buf b;
	uint32_t seq, uid, mask;
	uint64_t modseq, size;
	char *flags, *date, *env;

	ipc_rd_init(&rd, msg);
	seq = ipc_get_u32(&rd);
	uid = ipc_get_u32(&rd);
	modseq = ipc_get_u64(&rd);
	mask = ipc_get_u32(&rd);
	flags = ipc_get_str(&rd);
	date = ipc_get_str(&rd);
	size = ipc_get_u64(&rd);
	env = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || flags == NULL || date == NULL ||
	    env == NULL)
		tc_bad(msg);
	if (t->copying && side == t->csrc && (mask & IMAP_FETCH_BODY)) {
		if (t->cappend == 0) {
			ipc_buf_init(&b);
			tc_put_name(&b, t->cdst);
			t->cappend = tc_req(t, !side, IMSG_IMAP_APPEND, &b,
			    "APPEND");
		}
		ipc_buf_init(&b);
		ipc_put_str(&b, flags);
		ipc_put_str(&b, date);
		ipc_put_u64(&b, size);
		tc_send_id(t, !side, IMSG_IMAP_APPEND_MSG, t->cappend, &b);
		t->cnmsg++;
		t->cbytes += size;
		t->cleft = size;
		t->cbody = 1;
	} else {
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "FETCH seq=%u uid=%u modseq=%llu flags=(%s) date=\"%s\"%s"
		    "%llu env=%s", seq, uid, (unsigned long long)modseq,
		    flags, date, (mask & IMAP_FETCH_BODY) ? " body=" :
		    " nobody=", (unsigned long long)size, env);
		t->fbody = (mask & IMAP_FETCH_BODY) != 0;
		t->fbytes = 0;
	}
	free(flags);
	free(date);
	free(env);
}

static void
tc_net_msg(struct tc *t, int side, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	const void *p;
	char attrs[256], *s, delim[8];
	size_t len;
	uint32_t a, d, mask, v1, v2, v4;
	uint64_t v3;

	ipc_rd_init(&rd, msg);
	switch (msg->hdr.type) {
	case IMSG_IMAP_READY:
		t->caps[side] = ipc_get_u32(&rd);
		(void)ipc_get_u64(&rd);
		if (ipc_rd_end(&rd) == -1)
			tc_bad(msg);
		t->ready[side] = 1;
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "READY caps=0x%x%s", t->caps[side],
		    (t->caps[side] & IMAP_CAP_COMPRESSED) ? " compressed" :
		    "");
		break;
	case IMSG_IMAP_DONE:
		tc_done(t, side, msg);
		break;
	case IMSG_IMAP_LIST_ITEM:
		a = ipc_get_u32(&rd);
		d = ipc_get_u32(&rd);
		p = ipc_get_data(&rd, &len);
		if (ipc_rd_end(&rd) == -1 || p == NULL)
			tc_bad(msg);
		tc_attrs(a, attrs, sizeof(attrs));
		if (d == IMAP_DELIM_NIL)
			(void)strlcpy(delim, "NIL", sizeof(delim));
		else
			(void)snprintf(delim, sizeof(delim), "%c", (int)d);
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "LIST %.*s delim=%s attrs=(%s)", (int)len,
		    (const char *)p, delim, attrs);
		break;
	case IMSG_IMAP_STATUS_ITEM:
		p = ipc_get_data(&rd, &len);
		mask = ipc_get_u32(&rd);
		v1 = ipc_get_u32(&rd);
		v2 = ipc_get_u32(&rd);
		v3 = ipc_get_u64(&rd);
		v4 = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 || p == NULL)
			tc_bad(msg);
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "STATUS %.*s mask=0x%x UIDVALIDITY %u UIDNEXT %u "
		    "HIGHESTMODSEQ %llu MESSAGES %u", (int)len,
		    (const char *)p, mask, v1, v2, (unsigned long long)v3,
		    v4);
		break;
	case IMSG_IMAP_CODE:
		a = ipc_get_u32(&rd);
		v3 = ipc_get_u64(&rd);
		s = ipc_get_str(&rd);
		if (ipc_rd_end(&rd) == -1 || s == NULL)
			tc_bad(msg);
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "CODE %s %llu %s", tc_code(a), (unsigned long long)v3, s);
		free(s);
		break;
	case IMSG_IMAP_EXISTS:
		a = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			tc_bad(msg);
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "EXISTS %u", a);
		break;
	case IMSG_IMAP_VANISHED:
		a = ipc_get_u32(&rd);
		s = ipc_get_str(&rd);
		if (ipc_rd_end(&rd) == -1 || s == NULL)
			tc_bad(msg);
		log_msg(LOG_LVL_NOTICE, ipc_side_name((uint32_t)side), NULL,
		    "VANISHED %s%s", a ? "(EARLIER) " : "", s);
		free(s);
		break;
	case IMSG_IMAP_FETCH_ITEM:
		tc_fetch_item(t, side, msg);
		break;
	case IMSG_IMAP_BODY_DATA:
		if (t->copying && side == t->csrc && t->cbody) {
			if (msg->len > t->cleft)
				fatalx(EXIT_FAIL, "testclient: body longer "
				    "than announced");
			t->cleft -= msg->len;
			if (ipc_compose(&t->net[!side], IMSG_IMAP_APPEND_DATA,
			    t->cappend, -1, msg->data, msg->len) == -1)
				fatalx(EXIT_FAIL, "testclient: %s",
				    t->net[!side].err);
		} else
			t->fbytes += msg->len;
		break;
	case IMSG_IMAP_BODY_END:
		a = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			tc_bad(msg);
		if (t->copying && side == t->csrc && t->cbody) {
			if (t->cleft != 0)
				fatalx(EXIT_FAIL, "testclient: body shorter "
				    "than announced");
			t->cbody = 0;
		} else
			log_msg(LOG_LVL_NOTICE,
			    ipc_side_name((uint32_t)side), NULL,
			    "BODY uid=%u bytes=%llu", a,
			    (unsigned long long)t->fbytes);
		break;
	default:
		tc_bad(msg);
	}
}

/* ---- the loop ------------------------------------------------------------ */

static void
tc_report(struct tc *t, int code)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, (uint32_t)code);
	if (ipc_send(t->parent, IMSG_ENGINE_DONE, SIDE_NONE, -1, &b) == -1)
		fatalx(EXIT_CHILD, "%s", t->parent->err);
	ipc_buf_free(&b);
}

void
eng_testclient(struct ipc_chan *parent, struct ipc_chan *net,
    const char *script)
{
	struct pollfd pfd[3];
	struct ipc_msg msg;
	struct ipc_chan *ch;
	struct tc t;
	char *s = NULL;
	int i, r, reported = 0;
	ssize_t n;

	memset(&t, 0, sizeof(t));
	t.parent = parent;
	t.net = net;
	t.nextid = 1;
	log_msg(LOG_LVL_DEBUG, "engine", NULL, "test client: %s", script);
	if (strcmp(script, "list") == 0)
		script = "local list; remote list";
	else if (strncmp(script, "copy:", 5) == 0) {
		if (asprintf(&s, "copy remote \"%s\" \"%s\"", script + 5,
		    script + 5) == -1)
			fatalx(EXIT_FAIL, "out of memory");
		script = s;
	}
	if (tc_parse(&t, script) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: testclient: "
		    "unterminated quote");
		t.failed = 1;
	}
	free(s);

	for (;;) {
		if (!t.failed)
			tc_run(&t);
		if (!reported && (t.failed || (t.cur == t.nsteps &&
		    !t.copying && t.outstanding[0] == 0 &&
		    t.outstanding[1] == 0 && t.ready[0] && t.ready[1]))) {
			tc_report(&t, t.failed ? EXIT_FAIL : EXIT_OK);
			reported = 1;
		}
		for (i = 0; i < 3; i++) {
			ch = i == 0 ? parent : &net[i - 1];
			pfd[i].fd = ch->fd;
			pfd[i].events = POLLIN;
			if (ch->fd != -1 && ipc_pending(ch) > 0)
				pfd[i].events |= POLLOUT;
			pfd[i].revents = 0;
		}
		/* Copying: the source waits while the target is behind. */
		if (t.copying && ipc_pending(&net[!t.csrc]) > TC_HWM)
			pfd[1 + t.csrc].events &= ~POLLIN;
		if (poll(pfd, 3, tc_ms_left(&t)) == -1) {
			if (errno == EINTR)
				continue;
			fatal(EXIT_CHILD, "poll");
		}
		for (i = 0; i < 3; i++) {
			ch = i == 0 ? parent : &net[i - 1];
			if (ch->fd == -1)
				continue;
			if ((pfd[i].revents & POLLOUT) && ipc_flush(ch) == -1) {
				if (i == 0)
					exit(EXIT_OK);
				ipc_chan_close(ch);
				continue;
			}
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ==
			    0)
				continue;
			n = ipc_read(ch);
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				continue;
			if (n <= 0) {
				/* priv gone, or a net: priv ends the run. */
				if (i == 0)
					exit(EXIT_OK);
				ipc_chan_close(ch);
				continue;
			}
			while ((r = ipc_get(ch, &msg)) == 1) {
				if (i == 0) {
					if (msg.hdr.type == IMSG_SHUTDOWN)
						exit(EXIT_OK);
					/* Nothing else is for us. */
				} else
					tc_net_msg(&t, i - 1, &msg);
				ipc_msg_free(&msg);
			}
			if (r == -1)
				fatalx(EXIT_CHILD, "broken IPC channel: %s",
				    ch->err);
		}
	}
}
