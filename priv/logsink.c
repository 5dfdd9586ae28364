/*
 * priv's end of logging: every line, its own or a child's, passes through
 * logsink_emit(), which applies -q and --debug, expands the log-prefix and
 * writes to stderr and the logfile.
 *
 * The log-prefix language is the reference's:
 *	%n  the name (local, remote, database, or empty)
 *	%m  the mailbox (or empty)
 *	%%  a percent sign
 *	%?X?THEN?  %?X?THEN&ELSE?  THEN if %X is non-empty, else ELSE;
 *	    THEN and ELSE hold text, "%" followed by anything but "?",
 *	    the escapes \& \? \\ and nested conditionals.
 * Conditionals are rewritten outermost first, over and over until none is
 * left; then the escapes are undone; then %n, %m and %% are replaced in
 * one pass.  A malformed conditional stays as it is, and so does any
 * other %X.
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "logsink.h"
#include "progress.h"
#include "proc.h"

#define LOGSINK_DEFAULT_FMT	"%?n?%?m?%n(%m)&%n?: ?"

static struct {
	char	*fmt;		/* NULL: no prefix (before logsink_init) */
	int	 quiet;
	int	 debug;
	int	 fd;		/* the logfile, or -1 */
	char	*path;		/* its name, for logsink_reopen() */
} ls = { NULL, 0, 0, -1, NULL };

/* A growing string; allocation failure is fatal. */
struct lstr {
	char	*s;
	size_t	 len, cap;
};

/* Where a conditional's parts lie in the format being rewritten. */
struct pfx_match {
	char	 var;			/* X of %?X? */
	size_t	 then0, then1;		/* THEN is [then0, then1) */
	size_t	 else0, else1;		/* ELSE (empty if absent) */
	size_t	 end;			/* just past the final "?" */
};

/* Deeper nesting is left unexpanded (the reference has no limit). */
#define PFX_MAX_DEPTH	256

static void	lstr_add(struct lstr *, const char *, size_t);
static int	pfx_token(const char *, size_t, size_t);
static size_t	pfx_body(const char *, size_t, size_t, int);
static int	pfx_cond(const char *, size_t, size_t, int,
		    struct pfx_match *);
static int	pfx_isalpha(int);
static char	*pfx_expand(const char *, const char *, const char *);
static void	neutralise(char *, size_t);
static void	write_all(int, const char *, size_t);
static void	logsink_date(char *, size_t);
static int	logsink_open(const char *);

static void
lstr_add(struct lstr *b, const char *p, size_t n)
{
	size_t ncap;
	char *s;

	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((s = realloc(b->s, ncap)) == NULL)
			fatalx(EXIT_FAIL, "logsink: out of memory");
		b->s = s;
		b->cap = ncap;
	}
	if (n > 0)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* ASCII letters only, like the reference on its byte strings. */
static int
pfx_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Length of the plain token at s[i] inside THEN/ELSE: a character other
 * than % & ? \, or "%" and anything but "?", or one of the escapes
 * \& \? \\.  0 if there is none.
 */
static int
pfx_token(const char *s, size_t n, size_t i)
{
	switch (s[i]) {
	case '&':
	case '?':
		return 0;
	case '%':
		return i + 1 < n && s[i + 1] != '?' ? 2 : 0;
	case '\\':
		return i + 1 < n && (s[i + 1] == '&' || s[i + 1] == '?' ||
		    s[i + 1] == '\\') ? 2 : 0;
	default:
		return 1;
	}
}

/*
 * Matches THEN or ELSE from s[i]: tokens and nested conditionals; returns
 * where it stops.  No token begins with "&" or "?", the only characters
 * that may follow a body, so the longest match is the only one that can
 * succeed and no backtracking is needed.
 */
static size_t
pfx_body(const char *s, size_t n, size_t i, int depth)
{
	struct pfx_match m;
	int k;

	while (i < n) {
		if ((k = pfx_token(s, n, i)) > 0)
			i += k;
		else if (pfx_cond(s, n, i, depth + 1, &m) == 0)
			i = m.end;
		else
			break;
	}
	return i;
}

/* Matches "%?X?THEN?" or "%?X?THEN&ELSE?" at s[i]: 0 and *m, or -1. */
static int
pfx_cond(const char *s, size_t n, size_t i, int depth, struct pfx_match *m)
{
	size_t j;

	if (depth > PFX_MAX_DEPTH || i + 3 >= n || s[i] != '%' ||
	    s[i + 1] != '?' || !pfx_isalpha((unsigned char)s[i + 2]) ||
	    s[i + 3] != '?')
		return -1;
	m->var = s[i + 2];
	m->then0 = i + 4;
	m->then1 = j = pfx_body(s, n, m->then0, depth);
	m->else0 = m->else1 = j;
	if (j < n && s[j] == '&') {
		m->else0 = j + 1;
		m->else1 = j = pfx_body(s, n, m->else0, depth);
	}
	if (j >= n || s[j] != '?')
		return -1;
	m->end = j + 1;
	return 0;
}

/* The three passes described at the top; caller frees. */
static char *
pfx_expand(const char *fmt, const char *name, const char *mailbox)
{
	struct lstr cur = { NULL, 0, 0 }, next;
	struct pfx_match m;
	const char *val;
	size_t i, n;
	int changed;

	lstr_add(&cur, fmt, strlen(fmt));
	do {
		changed = 0;
		memset(&next, 0, sizeof(next));
		lstr_add(&next, "", 0);
		for (i = 0, n = cur.len; i < n;) {
			if (pfx_cond(cur.s, n, i, 0, &m) == -1) {
				lstr_add(&next, cur.s + i, 1);
				i++;
				continue;
			}
			val = m.var == 'n' ? name : m.var == 'm' ? mailbox :
			    NULL;
			if (val != NULL && *val != '\0')
				lstr_add(&next, cur.s + m.then0,
				    m.then1 - m.then0);
			else
				lstr_add(&next, cur.s + m.else0,
				    m.else1 - m.else0);
			i = m.end;
			changed = 1;
		}
		free(cur.s);
		cur = next;
	} while (changed);

	/* Undo the escapes. */
	memset(&next, 0, sizeof(next));
	lstr_add(&next, "", 0);
	for (i = 0; i < cur.len; i++) {
		if (cur.s[i] == '\\' && i + 1 < cur.len &&
		    (cur.s[i + 1] == '&' || cur.s[i + 1] == '?' ||
		    cur.s[i + 1] == '\\'))
			i++;
		lstr_add(&next, cur.s + i, 1);
	}
	free(cur.s);
	cur = next;

	/* Substitute %n, %m and %%. */
	memset(&next, 0, sizeof(next));
	lstr_add(&next, "", 0);
	for (i = 0; i < cur.len; i++) {
		if (cur.s[i] == '%' && i + 1 < cur.len) {
			val = NULL;
			switch (cur.s[i + 1]) {
			case '%':
				val = "%";
				break;
			case 'n':
				val = name != NULL ? name : "";
				break;
			case 'm':
				val = mailbox != NULL ? mailbox : "";
				break;
			}
			if (val != NULL) {
				lstr_add(&next, val, strlen(val));
				i++;
				continue;
			}
		}
		lstr_add(&next, cur.s + i, 1);
	}
	free(cur.s);
	return next.s;
}

char *
logsink_prefix(const char *fmt, const char *name, const char *mailbox)
{
	return pfx_expand(fmt == NULL ? LOGSINK_DEFAULT_FMT : fmt, name,
	    mailbox);
}

/*
 * A child's text may hold a server's bytes: a CR or LF there would forge
 * a log line of its own, an ESC would drive the terminal.  Every C0
 * control and DEL becomes "?".
 */
static void
neutralise(char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			s[i] = '?';
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* nowhere left to complain */
		p += w;
		n -= (size_t)w;
	}
}

/* "Nov 28 14:57:51.045023": the reference's, microseconds zero-padded. */
static void
logsink_date(char *buf, size_t size)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	(void)gettimeofday(&tv, NULL);
	if (localtime_r(&tv.tv_sec, &tm) == NULL ||
	    (n = strftime(buf, size, "%b %e %H:%M:%S", &tm)) == 0) {
		(void)strlcpy(buf, "?", size);
		n = 1;
	}
	(void)snprintf(buf + n, size - n, ".%06ld", (long)tv.tv_usec);
}

/* The logfile for appending, or -1 after logging. */
static int
logsink_open(const char *logfile)
{
	int fd;

	/* May hold debug output: 0600, stricter than the reference. */
	fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0600);
	if (fd == -1)
		log_msg(LOG_LVL_ERROR, NULL, NULL, "Can't open %s: %s",
		    logfile, strerror(errno));
	return fd;
}

int
logsink_init(const char *fmt, int quiet, int debug, const char *logfile)
{
	int fd = -1;

	logsink_close();
	if (logfile != NULL && (fd = logsink_open(logfile)) == -1)
		return -1;
	if ((ls.fmt = strdup(fmt == NULL ? LOGSINK_DEFAULT_FMT : fmt)) ==
	    NULL)
		fatalx(EXIT_FAIL, "logsink: out of memory");
	if (logfile != NULL && (ls.path = strdup(logfile)) == NULL)
		fatalx(EXIT_FAIL, "logsink: out of memory");
	ls.quiet = quiet;
	ls.debug = debug;
	ls.fd = fd;
	log_set_debug(debug);
	log_set_sink(logsink_emit);
	return 0;
}

/*
 * logrotate has renamed the file (or removed it): the next lines go to a
 * new file of that name.  If it cannot be opened, the old one goes on:
 * a log that cannot be rotated is no reason to end a run of months.
 */
int
logsink_reopen(void)
{
	int fd;

	if (ls.path == NULL)
		return 0;
	if ((fd = logsink_open(ls.path)) == -1)
		return -1;
	(void)close(ls.fd);
	ls.fd = fd;
	return 0;
}

void
logsink_close(void)
{
	log_set_sink(NULL);
	if (ls.fd != -1)
		(void)close(ls.fd);
	ls.fd = -1;
	free(ls.fmt);
	ls.fmt = NULL;
	free(ls.path);
	ls.path = NULL;
	ls.quiet = ls.debug = 0;
}

void
logsink_emit(int level, const char *name, const char *mailbox,
    const char *text)
{
	struct lstr line = { NULL, 0, 0 };
	char date[64], *prefix;

	if (level == LOG_LVL_DEBUG && !ls.debug)
		return;
	if (level == LOG_LVL_INFO && ls.quiet)
		return;
	if (ls.fmt != NULL) {
		prefix = logsink_prefix(ls.fmt, name, mailbox);
		lstr_add(&line, prefix, strlen(prefix));
		free(prefix);
	}
	lstr_add(&line, text, strlen(text));
	neutralise(line.s, line.len);
	lstr_add(&line, "\n", 1);

	if (ls.fd != -1) {
		logsink_date(date, sizeof(date));
		(void)strlcat(date, " ", sizeof(date));
		/* One write per line: O_APPEND keeps it whole. */
		prefix = NULL;
		if (asprintf(&prefix, "%s%s", date, line.s) != -1) {
			write_all(ls.fd, prefix, strlen(prefix));
			free(prefix);
		} else {
			write_all(ls.fd, date, strlen(date));
			write_all(ls.fd, line.s, line.len);
		}
	}
	/* With a logfile, debug goes there only. */
	if (level != LOG_LVL_DEBUG || ls.fd == -1) {
		/* Above the progress line, if one is shown. */
		progress_hide();
		write_all(STDERR_FILENO, line.s, line.len);
		progress_show();
	}
	free(line.s);
}

const char *const *
logsink_names(uint32_t kind, uint32_t side)
{
	/* The engine speaks for both sides and the database. */
	static const char *const engine[] = { "", "engine", "local", "remote",
	    "database", NULL };
	static const char *const local[] = { "local", "net(local)", NULL };
	static const char *const remote[] = { "remote", "net(remote)", NULL };
	static const char *const none[] = { NULL };

	if (kind == PROC_ENGINE)
		return engine;
	if (kind == PROC_NET && side == SIDE_LOCAL)
		return local;
	if (kind == PROC_NET && side == SIDE_REMOTE)
		return remote;
	return none;
}

int
logsink_imsg(const struct ipc_msg *msg, const char *const *names)
{
	struct ipc_rd rd;
	uint32_t level;
	char *name, *mailbox, *text;
	size_t i;
	int r = -1;

	if (msg->hdr.type != IMSG_LOG)
		return -1;
	ipc_rd_init(&rd, msg);
	level = ipc_get_u32(&rd);
	name = ipc_get_str(&rd);
	mailbox = ipc_get_str(&rd);
	text = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == 0 && level <= LOG_LVL_MAX && text != NULL) {
		r = 0;
		for (i = 0; names != NULL && names[i] != NULL; i++)
			if (strcmp(names[i], name != NULL ? name : "") == 0)
				break;
		/*
		 * Unprefixed errors are every child's: the reference
		 * prints some of a server's refusals so ("Non
		 * LIST-STATUS-capable IMAP server.").
		 */
		if (names != NULL && names[i] == NULL &&
		    !(level == LOG_LVL_ERROR && (name == NULL || *name == '\0')))
			r = -2;
		else
			logsink_emit((int)level, name != NULL ? name : "",
			    mailbox, text);
	}
	free(name);
	free(mailbox);
	free(text);
	return r;
}
