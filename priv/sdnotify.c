/*
 * The sd_notify(3) protocol, spoken by priv alone (see sdnotify.h): one
 * datagram of newline-separated KEY=VALUE lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET, a path or, after '@', an abstract name.
 *
 * The socket is non-blocking and every send is MSG_DONTWAIT: a manager
 * that reads slowly (or is being re-executed) costs us a dropped status
 * line, never a stalled loop.  No error here is the run's error; the
 * first one is logged at --debug.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sdnotify.h"

#define SDNOTIFY_MSG_MAX	256

static struct {
	int			 fd;		/* -1: no manager */
	struct sockaddr_un	 sun;
	socklen_t		 sunlen;
	int			 warned;	/* a send failed, logged */
	int			 stopping;	/* STOPPING=1 sent */
	long long		 wd_ms;		/* ping every; 0: none */
	struct timespec		 wd_next;	/* CLOCK_MONOTONIC */
} sdn = { .fd = -1 };

static int	 sdnotify_addr(const char *);
static void	 sdnotify_watchdog_init(const char *, const char *);
static void	 sdnotify_wd_arm(void);
static long long sdnotify_ms_left(void);
static void	 sdnotify_when(char *, size_t, uint64_t, time_t);

/* The socket's address from $NOTIFY_SOCKET: 0, or -1 if unusable. */
static int
sdnotify_addr(const char *name)
{
	size_t len = strlen(name);

	memset(&sdn.sun, 0, sizeof(sdn.sun));
	sdn.sun.sun_family = AF_UNIX;
	if (name[0] == '/') {
		/* A path: NUL-terminated within sun_path. */
		if (len >= sizeof(sdn.sun.sun_path))
			return -1;
		memcpy(sdn.sun.sun_path, name, len);
		sdn.sunlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + len + 1);
		return 0;
	}
	if (name[0] == '@' && len > 1) {
		/* Abstract: a NUL, then the name's bytes, no terminator. */
		if (len > sizeof(sdn.sun.sun_path))
			return -1;
		memcpy(sdn.sun.sun_path + 1, name + 1, len - 1);
		sdn.sunlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + len);
		return 0;
	}
	/* "vsock:..." and the like: not for a local daemon. */
	return -1;
}

/*
 * $WATCHDOG_USEC asks for a WATCHDOG=1 at least that often; the manager
 * sets $WATCHDOG_PID to the process it means, which may be another (a
 * wrapper's): then the watchdog is not ours.  Pings go at half the
 * interval, as sd_watchdog_enabled(3) advises.
 */
static void
sdnotify_watchdog_init(const char *usec, const char *pid)
{
	const char *errstr;
	long long us, p;

	sdn.wd_ms = 0;
	if (usec == NULL || *usec == '\0')
		return;
	us = strtonum(usec, 1, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		log_debug("sd_notify: %s=%s ignored: %s", SDNOTIFY_ENV_WD_USEC,
		    usec, errstr);
		return;
	}
	if (pid != NULL && *pid != '\0') {
		p = strtonum(pid, 1, INT_MAX, &errstr);
		if (errstr != NULL || (pid_t)p != getpid()) {
			log_debug("sd_notify: %s=%s is not this process: no "
			    "watchdog", SDNOTIFY_ENV_WD_PID, pid);
			return;
		}
	}
	sdn.wd_ms = us / 2000;
	if (sdn.wd_ms == 0)
		sdn.wd_ms = 1;
	sdnotify_wd_arm();
}

void
sdnotify_init(void)
{
	const char *name, *usec, *pid;
	char *sname = NULL, *susec = NULL, *spid = NULL;

	sdnotify_close();
	sdn.stopping = 0;
	sdn.warned = 0;
	name = getenv(SDNOTIFY_ENV_SOCKET);
	usec = getenv(SDNOTIFY_ENV_WD_USEC);
	pid = getenv(SDNOTIFY_ENV_WD_PID);
	/* unsetenv() may free what getenv() returned. */
	if ((name != NULL && (sname = strdup(name)) == NULL) ||
	    (usec != NULL && (susec = strdup(usec)) == NULL) ||
	    (pid != NULL && (spid = strdup(pid)) == NULL))
		fatalx(EXIT_FAIL, "out of memory");
	(void)unsetenv(SDNOTIFY_ENV_SOCKET);
	(void)unsetenv(SDNOTIFY_ENV_WD_USEC);
	(void)unsetenv(SDNOTIFY_ENV_WD_PID);

	if (sname == NULL || *sname == '\0')
		goto out;
	if (sdnotify_addr(sname) == -1) {
		log_debug("sd_notify: %s=%s: not a socket name, ignored",
		    SDNOTIFY_ENV_SOCKET, sname);
		goto out;
	}
	sdn.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sdn.fd == -1) {
		log_debug("sd_notify: socket: %s", strerror(errno));
		goto out;
	}
	sdnotify_watchdog_init(susec, spid);
	log_debug("sd_notify: talking to %s%s", sname,
	    sdn.wd_ms > 0 ? ", watchdog on" : "");
out:
	free(sname);
	free(susec);
	free(spid);
}

int
sdnotify_enabled(void)
{
	return sdn.fd != -1;
}

void
sdnotify_send(const char *msg)
{
	ssize_t n;

	if (sdn.fd == -1)
		return;
	do {
		n = sendto(sdn.fd, msg, strlen(msg),
		    MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)&sdn.sun, sdn.sunlen);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && !sdn.warned) {
		sdn.warned = 1;
		log_debug("sd_notify: message dropped: %s", strerror(errno));
	}
}

void
sdnotify_ready(const char *status)
{
	char msg[SDNOTIFY_MSG_MAX];

	if (status == NULL)
		sdnotify_send("READY=1");
	else {
		(void)snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
		sdnotify_send(msg);
	}
}

void
sdnotify_status(const char *status)
{
	char msg[SDNOTIFY_MSG_MAX];

	(void)snprintf(msg, sizeof(msg), "STATUS=%s", status);
	sdnotify_send(msg);
}

void
sdnotify_stopping(void)
{
	if (sdn.stopping)
		return;
	sdn.stopping = 1;
	sdnotify_send("STOPPING=1\nSTATUS=stopping");
}

/* "10:42" when t is today (local time), else "2026-12-02 23:59". */
static void
sdnotify_when(char *buf, size_t len, uint64_t last, time_t now)
{
	struct tm tl, tn;
	time_t t;

	t = last > (uint64_t)LLONG_MAX ? (time_t)LLONG_MAX : (time_t)last;
	if (localtime_r(&t, &tl) == NULL) {
		(void)snprintf(buf, len, "@%llu", (unsigned long long)last);
		return;
	}
	if (localtime_r(&now, &tn) != NULL && tn.tm_year == tl.tm_year &&
	    tn.tm_yday == tl.tm_yday)
		(void)strftime(buf, len, "%H:%M", &tl);
	else
		(void)strftime(buf, len, "%Y-%m-%d %H:%M", &tl);
}

char *
sdnotify_status_text(char *buf, size_t len, uint32_t state, uint32_t nmbox,
    uint64_t last, uint32_t side, time_t now)
{
	char when[64];
	size_t n;

	switch (state) {
	case ENGINE_ST_SYNCING:
		n = (size_t)snprintf(buf, len, "syncing");
		break;
	case ENGINE_ST_IDLE:
		n = (size_t)snprintf(buf, len, "idle, %u mailbox%s", nmbox,
		    nmbox == 1 ? "" : "es");
		break;
	case ENGINE_ST_RECONNECT:
		if (side == SIDE_LOCAL || side == SIDE_REMOTE)
			n = (size_t)snprintf(buf, len, "reconnecting %s",
			    ipc_side_name(side));
		else
			n = (size_t)snprintf(buf, len, "reconnecting");
		break;
	default:
		n = (size_t)snprintf(buf, len, "state %u", state);
		break;
	}
	if (last != 0 && n < len) {
		sdnotify_when(when, sizeof(when), last, now);
		(void)snprintf(buf + n, len - n, ", last sync %s", when);
	}
	return buf;
}

void
sdnotify_engine_status(uint32_t state, uint32_t nmbox, uint64_t last,
    uint32_t side)
{
	char text[SDNOTIFY_STATUS_MAX];

	if (sdn.fd == -1)
		return;
	sdnotify_status(sdnotify_status_text(text, sizeof(text), state,
	    nmbox, last, side, time(NULL)));
}

static void
sdnotify_wd_arm(void)
{
	(void)clock_gettime(CLOCK_MONOTONIC, &sdn.wd_next);
	sdn.wd_next.tv_sec += (time_t)(sdn.wd_ms / 1000);
	sdn.wd_next.tv_nsec += (long)(sdn.wd_ms % 1000) * 1000000L;
	if (sdn.wd_next.tv_nsec >= 1000000000L) {
		sdn.wd_next.tv_sec++;
		sdn.wd_next.tv_nsec -= 1000000000L;
	}
}

/* Milliseconds until the next ping is due, rounded up; 0 if it is. */
static long long
sdnotify_ms_left(void)
{
	struct timespec now;
	long long ns;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(sdn.wd_next.tv_sec - now.tv_sec) * 1000000000LL +
	    (sdn.wd_next.tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (ns + 999999) / 1000000;
}

int
sdnotify_poll_timeout(int timeout)
{
	long long left;

	if (sdn.fd == -1 || sdn.wd_ms == 0)
		return timeout;
	left = sdnotify_ms_left();
	if (left > INT_MAX)
		left = INT_MAX;
	if (timeout < 0 || left < timeout)
		return (int)left;
	return timeout;
}

void
sdnotify_watchdog(void)
{
	if (sdn.fd == -1 || sdn.wd_ms == 0 || sdnotify_ms_left() > 0)
		return;
	sdnotify_send("WATCHDOG=1");
	sdnotify_wd_arm();
}

void
sdnotify_close(void)
{
	if (sdn.fd != -1)
		(void)close(sdn.fd);
	sdn.fd = -1;
	sdn.wd_ms = 0;
}
