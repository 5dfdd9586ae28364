/*
 * The logging client every process links.  priv installs a sink (its
 * logsink); a child sets its channel to priv and each message becomes an
 * IMSG_LOG; before either is set (early start-up) messages go to stderr
 * as they are.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define LOG_NAME_MAX	256		/* longer names are cut in IMSG_LOG */
#define LOG_MAILBOX_MAX	4096

static log_sink_fn	 log_sink;
static struct ipc_chan	*log_chan;
static int		 log_debug_lvl;
static char		 log_name[64];
static char		*log_mailbox;
static int		 log_busy;	/* inside log_vmsg: no recursion */
static int		 log_audit_on;	/* where a sink is installed */

static void	log_stderr(const char *);
static void	log_to_chan(int, const char *, const char *, const char *);
static char	*log_format(char *, size_t, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	log_short(int, const char *, const char *, const char *,
		    va_list) __attribute__((format(printf, 4, 0)));
static void	log_exit(int) __attribute__((noreturn));

void
log_set_sink(log_sink_fn fn)
{
	log_sink = fn;
}

void
log_set_chan(struct ipc_chan *chan)
{
	log_chan = chan;
}

void
log_set_debug(int level)
{
	log_debug_lvl = level < 0 ? 0 : level;
}

int
log_debug_level(void)
{
	return log_debug_lvl;
}

void
log_set_name(const char *name)
{
	(void)strlcpy(log_name, name == NULL ? "" : name, sizeof(log_name));
}

const char *
log_get_name(void)
{
	return log_name;
}

void
log_set_audit(int on)
{
	log_audit_on = on;
}

int
log_audit(void)
{
	return log_audit_on;
}

void
log_set_mailbox(const char *mailbox)
{
	free(log_mailbox);
	log_mailbox = NULL;
	if (mailbox != NULL && (log_mailbox = strdup(mailbox)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
}

/*
 * Formats into a new string, or into small (cut) if memory is short: a
 * log call must never fail.  Free the result if it is not small.
 */
static char *
log_format(char *small, size_t smallsz, const char *fmt, va_list ap)
{
	va_list ap2;
	char *s;

	va_copy(ap2, ap);
	if (vasprintf(&s, fmt, ap2) == -1) {
		(void)vsnprintf(small, smallsz, fmt, ap);
		s = small;
	}
	va_end(ap2);
	return s;
}

static void	log_write(const char *, size_t);

static void
log_write(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One line, one write(2) where memory allows, so lines don't interleave. */
static void
log_stderr(const char *text)
{
	size_t len = strlen(text);
	char *line;

	if ((line = malloc(len + 1)) == NULL) {
		log_write(text, len);
		log_write("\n", 1);
		return;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	log_write(line, len + 1);
	free(line);
}

/*
 * IMSG_LOG: u32 level, str name, str mailbox, str text; cut so that the
 * payload fits the catalogue's bound.
 */
static void
log_to_chan(int level, const char *name, const char *mailbox,
    const char *text)
{
	struct ipc_buf buf;
	size_t nl, ml, tl, room;

	nl = strlen(name);
	if (nl > LOG_NAME_MAX)
		nl = LOG_NAME_MAX;
	ml = mailbox == NULL ? 0 : strlen(mailbox);
	if (ml > LOG_MAILBOX_MAX)
		ml = LOG_MAILBOX_MAX;
	tl = strlen(text);
	room = ipc_catalogue(IMSG_LOG)->maxlen - 4 * sizeof(uint32_t) -
	    nl - ml;
	if (tl > room)
		tl = room;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)level);
	ipc_put_data(&buf, name, nl);
	ipc_put_data(&buf, mailbox, ml);
	ipc_put_data(&buf, text, tl);
	if (ipc_send(log_chan, IMSG_LOG, SIDE_NONE, -1, &buf) == -1) {
		/* This end is not a child: say it where we can. */
		log_stderr(text);
		ipc_buf_free(&buf);
		return;
	}
	ipc_buf_free(&buf);
	/*
	 * Errors and warnings must reach priv even if we die right after;
	 * the rest goes when the socket takes it (the event loop flushes
	 * whatever is left).
	 */
	if (level <= LOG_LVL_WARN)
		(void)ipc_flush_sync(log_chan);
	else
		(void)ipc_flush(log_chan);
}

void
log_vmsg(int level, const char *name, const char *mailbox, const char *fmt,
    va_list ap)
{
	char small[1024], *text;
	int saved_errno = errno;

	if (level < LOG_LVL_ERROR)
		level = LOG_LVL_ERROR;
	if (level > LOG_LVL_MAX)
		level = LOG_LVL_MAX;
	/* priv's sink filters itself; elsewhere debug costs nothing. */
	if (level == LOG_LVL_DEBUG && log_sink == NULL && log_debug_lvl == 0)
		goto out;
	/*
	 * Asked for, or nothing: a child sends them only when priv said
	 * --audit (ENGINE_CONF_AUDIT, NET_CONF_AUDIT), a sink other than
	 * priv's (a test's) never asked for them.
	 */
	if (level == LOG_LVL_AUDIT && !log_audit_on)
		goto out;
	if (name == NULL)
		name = "";
	if (mailbox != NULL && *mailbox == '\0')
		mailbox = NULL;

	text = log_format(small, sizeof(small), fmt, ap);
	if (log_busy)
		log_stderr(text);	/* e.g. out of memory while logging */
	else {
		log_busy = 1;
		if (log_sink != NULL)
			log_sink(level, name, mailbox, text);
		else if (log_chan != NULL)
			log_to_chan(level, name, mailbox, text);
		else
			log_stderr(text);
		log_busy = 0;
	}
	if (text != small)
		free(text);
out:
	errno = saved_errno;
}

void
log_msg(int level, const char *name, const char *mailbox, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, name, mailbox, fmt, ap);
	va_end(ap);
}

/* The short forms: default name and mailbox, a tag, maybe strerror. */
static void
log_short(int level, const char *tag, const char *err, const char *fmt,
    va_list ap)
{
	char small[1024], *text;
	int saved_errno = errno;

	if (level == LOG_LVL_DEBUG && log_sink == NULL && log_debug_lvl == 0)
		goto out;
	text = log_format(small, sizeof(small), fmt, ap);
	if (err != NULL)
		log_msg(level, log_name, log_mailbox, "%s%s: %s", tag, text,
		    err);
	else
		log_msg(level, log_name, log_mailbox, "%s%s", tag, text);
	if (text != small)
		free(text);
out:
	errno = saved_errno;
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_ERROR, "ERROR: ", NULL, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_WARN, "WARNING: ", NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	log_short(LOG_LVL_WARN, "WARNING: ", err, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_NOTICE, "", NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_INFO, "", NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_DEBUG, "", NULL, fmt, ap);
	va_end(ap);
}

void
audit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_AUDIT, "", NULL, fmt, ap);
	va_end(ap);
}

static void
log_exit(int code)
{
	/* Whatever is still queued (INFO lines) must reach priv too. */
	if (log_chan != NULL && log_sink == NULL)
		(void)ipc_flush_sync(log_chan);
	exit(code);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	log_short(LOG_LVL_ERROR, "ERROR: ", err, fmt, ap);
	va_end(ap);
	log_exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_short(LOG_LVL_ERROR, "ERROR: ", NULL, fmt, ap);
	va_end(ap);
	log_exit(code);
}
