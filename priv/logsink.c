/*
 * priv's end of logging: every line, its own or a child's, passes through
 * logsink_emit(), which applies -q and --debug, expands the log-prefix and
 * writes to stderr and the logfile.
 *
 * The log-prefix language is the reference's, and one escape of ours:
 *	%n  the name (local, remote, database, or empty)
 *	%m  the mailbox (or empty)
 *	%p  the process the line came from (priv, engine, net(local),
 *	    net(remote)), never empty: priv names it from the channel, the
 *	    child does not (the reference leaves "%p" as it is)
 *	%%  a percent sign
 *	%?X?THEN?  %?X?THEN&ELSE?  THEN if %X is non-empty, else ELSE;
 *	    THEN and ELSE hold text, "%" followed by anything but "?",
 *	    the escapes \& \? \\ and nested conditionals.
 * Conditionals are rewritten outermost first, over and over until none is
 * left; then the escapes are undone; then %n, %m and %% are replaced in
 * one pass.  A malformed conditional stays as it is, and so does any
 * other %X.
 *
 * Besides stderr and the logfile, a line may go to syslog (RFC 3164
 * datagrams on a unix socket, /dev/log by default) or to the journal
 * (its native protocol), under the ident "interimap/PROCESS" so that
 * `journalctl -t` or a syslog filter keeps one process's lines.  Audit
 * lines (LOG_LVL_AUDIT) are shown only when asked for, whatever -q, as
 * "AUDIT[PROCESS] " and the child's text.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
#define LOGSINK_SYSLOG_WAIT	2	/* seconds a slow receiver is waited */

static struct {
	char	*fmt;		/* NULL: no prefix (before logsink_init) */
	int	 quiet;
	int	 debug;
	int	 fd;		/* the logfile, or -1 */
	char	*path;		/* its name, for logsink_reopen() */
	int	 audit;		/* LOG_LVL_AUDIT lines shown */
	const char *proc;	/* the line's process: NULL is priv */
	int	 sl_mode;	/* LOGSINK_SYSLOG_* */
	int	 sl_fd;		/* the datagram socket, or -1 */
	struct sockaddr_un sl_addr;
	int	 sl_facility;
	int	 sl_warned;	/* one complaint per run */
	int	 sl_nostderr;	/* stderr is the journal we write to */
} ls = { NULL, 0, 0, -1, NULL, 0, NULL, LOGSINK_SYSLOG_NONE, -1,
    { 0 }, 0, 0, 0 };

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
static char	*pfx_expand(const char *, const char *, const char *,
		    const char *);
static void	syslog_send(int, const char *, const char *, const char *,
		    const char *);
static int	stderr_is_journal(void);
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
pfx_expand(const char *fmt, const char *name, const char *mailbox,
    const char *proc)
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
			    m.var == 'p' ? proc : NULL;
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
			case 'p':
				val = proc != NULL ? proc : "";
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
	    mailbox, "priv");
}

char *
logsink_prefix_proc(const char *fmt, const char *name, const char *mailbox,
    const char *proc)
{
	return pfx_expand(fmt == NULL ? LOGSINK_DEFAULT_FMT : fmt, name,
	    mailbox, proc);
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
	if (ls.sl_fd != -1)
		(void)close(ls.sl_fd);
	ls.sl_fd = -1;
	ls.sl_mode = LOGSINK_SYSLOG_NONE;
	ls.sl_warned = ls.sl_nostderr = 0;
	ls.audit = 0;
	ls.proc = NULL;
	log_set_audit(0);
}

/*
 * systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it gave us as
 * stdout/stderr: when lines go to the journal natively, writing them to
 * that stream too would show each twice.
 */
static int
stderr_is_journal(void)
{
	struct stat st;
	unsigned long long dev, ino;
	const char *v;
	char *end;

	if ((v = getenv("JOURNAL_STREAM")) == NULL ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	dev = strtoull(v, &end, 10);
	if (end == v || *end != ':')
		return 0;
	v = end + 1;
	ino = strtoull(v, &end, 10);
	if (end == v || *end != '\0')
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
logsink_config(int audit, int mode, const char *sock, int facility)
{
	struct timeval tv;
	const char *path;

	ls.audit = audit;
	log_set_audit(audit);
	if (ls.sl_fd != -1)
		(void)close(ls.sl_fd);
	ls.sl_fd = -1;
	ls.sl_mode = mode;
	ls.sl_facility = facility & 0x3ff;
	ls.sl_warned = ls.sl_nostderr = 0;
	if (mode == LOGSINK_SYSLOG_NONE)
		return 0;
	path = sock != NULL ? sock : mode == LOGSINK_JOURNAL ?
	    LOGSINK_JOURNAL_SOCKET : LOGSINK_SYSLOG_SOCKET;
	memset(&ls.sl_addr, 0, sizeof(ls.sl_addr));
	ls.sl_addr.sun_family = AF_UNIX;
	if (strlcpy(ls.sl_addr.sun_path, path, sizeof(ls.sl_addr.sun_path)) >=
	    sizeof(ls.sl_addr.sun_path)) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: log-syslog-socket "
		    "%s: name too long", path);
		ls.sl_mode = LOGSINK_SYSLOG_NONE;
		return -1;
	}
	/* Made now: priv may not be able to make sockets later. */
	if ((ls.sl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: syslog socket: %s",
		    strerror(errno));
		ls.sl_mode = LOGSINK_SYSLOG_NONE;
		return -1;
	}
	tv.tv_sec = LOGSINK_SYSLOG_WAIT;
	tv.tv_usec = 0;
	(void)setsockopt(ls.sl_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (mode == LOGSINK_JOURNAL)
		ls.sl_nostderr = stderr_is_journal();
	return 0;
}

/* Our own complaint, once, on stderr only: the sink cannot log itself. */
static void
syslog_warn(const char *what)
{
	char *msg;

	if (ls.sl_warned)
		return;
	ls.sl_warned = 1;
	if (asprintf(&msg, "WARNING: %s %s: %s (said once)\n",
	    ls.sl_mode == LOGSINK_JOURNAL ? "journal" : "syslog",
	    ls.sl_addr.sun_path, what) == -1)
		return;
	write_all(STDERR_FILENO, msg, strlen(msg));
	free(msg);
}

/* A journal field: KEY=value, the value with no newline (neutralised). */
static void
journal_field(struct lstr *b, const char *key, const char *val)
{
	lstr_add(b, key, strlen(key));
	lstr_add(b, "=", 1);
	lstr_add(b, val, strlen(val));
	lstr_add(b, "\n", 1);
}

/*
 * One line (no newline, already neutralised) to syslog or the journal.
 * Severity from our level; audit lines are notices.
 */
static void
syslog_send(int level, const char *name, const char *mailbox,
    const char *proc, const char *line)
{
	static const int sev[] = { 3, 4, 5, 6, 7, 5 };
	struct lstr b = { NULL, 0, 0 };
	struct tm tm;
	time_t now;
	char hdr[160], num[32], *v;
	int pri;

	if (ls.sl_fd == -1)
		return;
	pri = ls.sl_facility * 8 + sev[level];
	if (ls.sl_mode == LOGSINK_JOURNAL) {
		journal_field(&b, "MESSAGE", line);
		(void)snprintf(num, sizeof(num), "%d", sev[level]);
		journal_field(&b, "PRIORITY", num);
		(void)snprintf(num, sizeof(num), "%d", ls.sl_facility);
		journal_field(&b, "SYSLOG_FACILITY", num);
		(void)snprintf(hdr, sizeof(hdr), "interimap/%s", proc);
		journal_field(&b, "SYSLOG_IDENTIFIER", hdr);
		(void)snprintf(num, sizeof(num), "%ld", (long)getpid());
		journal_field(&b, "SYSLOG_PID", num);
		journal_field(&b, "INTERIMAP_PROCESS", proc);
		if (name != NULL && *name != '\0') {
			if ((v = strdup(name)) == NULL)
				fatalx(EXIT_FAIL, "logsink: out of memory");
			neutralise(v, strlen(v));
			journal_field(&b, "INTERIMAP_PEER", v);
			free(v);
		}
		if (mailbox != NULL && *mailbox != '\0') {
			if ((v = strdup(mailbox)) == NULL)
				fatalx(EXIT_FAIL, "logsink: out of memory");
			neutralise(v, strlen(v));
			journal_field(&b, "INTERIMAP_MAILBOX", v);
			free(v);
		}
		if (level == LOG_LVL_AUDIT)
			journal_field(&b, "INTERIMAP_AUDIT", "1");
	} else {
		/* RFC 3164 as syslog(3) sends it locally: no host name. */
		now = time(NULL);
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(num, sizeof(num), "%b %e %H:%M:%S", &tm) == 0)
			(void)strlcpy(num, "Jan  1 00:00:00", sizeof(num));
		(void)snprintf(hdr, sizeof(hdr), "<%d>%s interimap/%s[%ld]: ",
		    pri, num, proc, (long)getpid());
		lstr_add(&b, hdr, strlen(hdr));
		lstr_add(&b, line, strlen(line));
	}
	/*
	 * A receiver that falls behind is waited for (SO_SNDTIMEO), as
	 * syslog(3) would, but not forever: once a line is lost, the rest
	 * of the run goes on without waiting.
	 */
	while (sendto(ls.sl_fd, b.s, b.len, MSG_NOSIGNAL |
	    (ls.sl_warned ? MSG_DONTWAIT : 0), (struct sockaddr *)&ls.sl_addr,
	    sizeof(ls.sl_addr)) == -1) {
		if (errno == EINTR)
			continue;
		syslog_warn(errno == EAGAIN ? "the receiver does not keep up, "
		    "lines lost" : strerror(errno));
		break;
	}
	free(b.s);
}

void
logsink_emit(int level, const char *name, const char *mailbox,
    const char *text)
{
	struct lstr line = { NULL, 0, 0 };
	char date[64], *prefix;
	const char *proc = ls.proc != NULL ? ls.proc : "priv";
	size_t start;

	if (level < LOG_LVL_ERROR || level > LOG_LVL_MAX)
		level = LOG_LVL_ERROR;
	if (level == LOG_LVL_DEBUG && !ls.debug)
		return;
	if (level == LOG_LVL_INFO && ls.quiet)
		return;
	if (level == LOG_LVL_AUDIT && !ls.audit)
		return;
	if (ls.fmt != NULL) {
		prefix = logsink_prefix_proc(ls.fmt, name, mailbox, proc);
		lstr_add(&line, prefix, strlen(prefix));
		free(prefix);
	}
	if (level == LOG_LVL_AUDIT) {
		/* The process is priv's word, not the child's. */
		lstr_add(&line, "AUDIT[", 6);
		lstr_add(&line, proc, strlen(proc));
		lstr_add(&line, "] ", 2);
	}
	start = line.len;
	lstr_add(&line, text, strlen(text));
	/* Only an audit line may read as one. */
	if (level != LOG_LVL_AUDIT && strncmp(line.s + start, "AUDIT[", 6) == 0)
		line.s[start + 5] = '?';
	neutralise(line.s, line.len);
	if (ls.sl_mode != LOGSINK_SYSLOG_NONE)
		syslog_send(level, name, mailbox, proc, line.s);
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
	if ((level != LOG_LVL_DEBUG || ls.fd == -1) && !ls.sl_nostderr) {
		/* Above the progress line, if one is shown. */
		progress_hide();
		write_all(STDERR_FILENO, line.s, line.len);
		progress_show();
	}
	free(line.s);
}

/*
 * The names each child may log under, and the process it is.  Each
 * lane's nets have a list of their own (the same names), so that the
 * identity stamped on their lines tells the connections apart.
 */
static const char *const names_engine[] = { "", "engine", "local", "remote",
    "database", NULL };
#define NAMES_NET(side)	{ side, "net(" side ")", NULL }
#define NAMES_LANES(side)						\
	{ NAMES_NET(side), NAMES_NET(side), NAMES_NET(side),		\
	  NAMES_NET(side), NAMES_NET(side), NAMES_NET(side),		\
	  NAMES_NET(side), NAMES_NET(side) }
static const char *const names_net[2][IPC_LANES_MAX][3] = {
	NAMES_LANES("local"),
	NAMES_LANES("remote"),
};
static const char *const names_none[] = { NULL };

const char *const *
logsink_names(uint32_t kind, uint32_t side)
{
	return logsink_net_names(kind, side, 0);
}

const char *const *
logsink_net_names(uint32_t kind, uint32_t side, uint32_t lane)
{
	/* The engine speaks for both sides and the database. */
	if (kind == PROC_ENGINE)
		return names_engine;
	if (kind == PROC_NET && (side == SIDE_LOCAL || side == SIDE_REMOTE) &&
	    lane < IPC_LANES_MAX)
		return names_net[side][lane];
	return names_none;
}

/*
 * The process behind a list logsink_names() gave: priv chose the list
 * from the channel the line came by, so the child has no say in it.
 */
const char *
logsink_proc(const char *const *names)
{
	uint32_t side, lane;

	if (names == names_engine)
		return "engine";
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++)
		for (lane = 0; lane < IPC_LANES_MAX; lane++)
			if (names == names_net[side][lane])
				return ipc_net_label(side, lane);
	return "child";
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
		else {
			ls.proc = logsink_proc(names);
			logsink_emit((int)level, name != NULL ? name : "",
			    mailbox, text);
			ls.proc = NULL;
		}
	}
	free(name);
	free(mailbox);
	free(text);
	return r;
}
