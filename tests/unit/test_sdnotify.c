/*
 * priv's sd_notify (priv/sdnotify.c) against sockets this test binds:
 * path and abstract names, the environment cleared for the children,
 * names that are ignored, a manager that is gone or does not read (never
 * a blocked send), the STATUS= texts, the watchdog's timeout and pings.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "sdnotify.h"
#include "tap.h"

struct status_case {
	uint32_t	 state, nmbox;
	uint64_t	 last;
	uint32_t	 side;
	const char	*want;
};

/* "now" is 2026-12-03 12:00:00 UTC; TZ=UTC. */
#define NOW		((time_t)1796299200)
#define T_1042		1796294527ULL	/* 2026-12-03 10:42:07 */
#define T_YESTERDAY	1796255999ULL	/* 2026-12-02 23:59:59 */
#define T_LASTYEAR	1764758520ULL	/* 2025-12-03 10:42:00 */

static const struct status_case status_cases[] = {
	{ ENGINE_ST_SYNCING, 0, 0, SIDE_NONE, "syncing" },
	{ ENGINE_ST_SYNCING, 12, T_1042, SIDE_NONE,
	    "syncing, last sync 10:42" },
	{ ENGINE_ST_IDLE, 12, T_1042, SIDE_NONE,
	    "idle, 12 mailboxes, last sync 10:42" },
	{ ENGINE_ST_IDLE, 1, T_1042, SIDE_NONE,
	    "idle, 1 mailbox, last sync 10:42" },
	{ ENGINE_ST_IDLE, 0, T_1042, SIDE_NONE,
	    "idle, 0 mailboxes, last sync 10:42" },
	{ ENGINE_ST_IDLE, 3, T_YESTERDAY, SIDE_NONE,
	    "idle, 3 mailboxes, last sync 2026-12-02 23:59" },
	{ ENGINE_ST_IDLE, 3, T_LASTYEAR, SIDE_NONE,
	    "idle, 3 mailboxes, last sync 2025-12-03 10:42" },
	{ ENGINE_ST_IDLE, 4294967295U, T_1042, SIDE_NONE,
	    "idle, 4294967295 mailboxes, last sync 10:42" },
	{ ENGINE_ST_RECONNECT, 5, 0, SIDE_REMOTE, "reconnecting remote" },
	{ ENGINE_ST_RECONNECT, 5, T_1042, SIDE_LOCAL,
	    "reconnecting local, last sync 10:42" },
	{ ENGINE_ST_RECONNECT, 5, T_1042, SIDE_NONE,
	    "reconnecting, last sync 10:42" },
	{ 99, 0, 0, SIDE_NONE, "state 99" },
};

static char	 tmpdir[] = "/tmp/test_sdnotify.XXXXXX";

static void	 test_status_text(void);
static void	 setenv3(const char *, const char *, const char *);
static int	 rx_bind(const char *);
static int	 rx_next(int, char *, size_t);
static void	 test_none(void);
static void	 test_path(void);
static void	 test_abstract(void);
static void	 test_ignored(void);
static void	 test_gone(void);
static void	 test_full(void);
static void	 test_watchdog(void);

static void
test_status_text(void)
{
	char buf[SDNOTIFY_STATUS_MAX], small[12];
	size_t i;
	const struct status_case *c;

	for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		c = &status_cases[i];
		IS_STR(sdnotify_status_text(buf, sizeof(buf), c->state,
		    c->nmbox, c->last, c->side, NOW), c->want, "status text");
	}
	/* A short buffer is cut, never overrun. */
	IS_STR(sdnotify_status_text(small, sizeof(small), ENGINE_ST_IDLE,
	    12, T_1042, SIDE_NONE, NOW), "idle, 12 ma", "cut to the buffer");
}

/* Sets (value non-NULL) or unsets the three variables. */
static void
setenv3(const char *sock, const char *usec, const char *pid)
{
	if (sock != NULL)
		setenv(SDNOTIFY_ENV_SOCKET, sock, 1);
	else
		unsetenv(SDNOTIFY_ENV_SOCKET);
	if (usec != NULL)
		setenv(SDNOTIFY_ENV_WD_USEC, usec, 1);
	else
		unsetenv(SDNOTIFY_ENV_WD_USEC);
	if (pid != NULL)
		setenv(SDNOTIFY_ENV_WD_PID, pid, 1);
	else
		unsetenv(SDNOTIFY_ENV_WD_PID);
}

/* A datagram socket bound to name ("/path" or "@abstract"). */
static int
rx_bind(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (name[0] == '@') {
		memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(name));
	} else {
		(void)strlcpy(sun.sun_path, name, sizeof(sun.sun_path));
		len = sizeof(sun);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, len) == -1) {
		perror(name);
		exit(1);
	}
	return fd;
}

/*
 * The next datagram, "" if none is queued: a local datagram is queued by
 * the time sendto() returns, so there is nothing to wait for.
 */
static int
rx_next(int fd, char *buf, size_t len)
{
	ssize_t n;

	n = recv(fd, buf, len - 1, MSG_DONTWAIT);
	if (n < 0) {
		buf[0] = '\0';
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
	buf[n] = '\0';
	return 1;
}

static void
test_none(void)
{
	setenv3(NULL, "1000000", NULL);
	sdnotify_init();
	OK(!sdnotify_enabled(), "no NOTIFY_SOCKET: disabled");
	OK(getenv(SDNOTIFY_ENV_WD_USEC) == NULL,
	    "no NOTIFY_SOCKET: WATCHDOG_USEC removed all the same");
	IS_INT(sdnotify_poll_timeout(-1), -1,
	    "no NOTIFY_SOCKET: no watchdog timeout");
	IS_INT(sdnotify_poll_timeout(250), 250,
	    "no NOTIFY_SOCKET: the loop's own timeout");
	/* Each is a no-op. */
	sdnotify_ready("x");
	sdnotify_status("x");
	sdnotify_engine_status(ENGINE_ST_IDLE, 1, 1, SIDE_NONE);
	sdnotify_watchdog();
	sdnotify_stopping();
	sdnotify_close();
	OK(1, "no NOTIFY_SOCKET: every call returns");
}

static void
test_path(void)
{
	char path[256], buf[512], pid[32];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/notify", tmpdir);
	fd = rx_bind(path);
	(void)snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv3(path, "4000000000", pid);
	sdnotify_init();
	OK(sdnotify_enabled(), "path socket: enabled");
	OK(getenv(SDNOTIFY_ENV_SOCKET) == NULL &&
	    getenv(SDNOTIFY_ENV_WD_USEC) == NULL &&
	    getenv(SDNOTIFY_ENV_WD_PID) == NULL,
	    "path socket: the variables are gone from the environment");

	sdnotify_ready("connected, syncing");
	IS_INT(rx_next(fd, buf, sizeof(buf)), 1, "READY=1 sent");
	IS_STR(buf, "READY=1\nSTATUS=connected, syncing", "READY=1 datagram");
	sdnotify_ready(NULL);
	(void)rx_next(fd, buf, sizeof(buf));
	IS_STR(buf, "READY=1", "READY=1 without a status");
	sdnotify_engine_status(ENGINE_ST_SYNCING, 0, 0, SIDE_NONE);
	(void)rx_next(fd, buf, sizeof(buf));
	IS_STR(buf, "STATUS=syncing", "STATUS= from the engine's state");
	sdnotify_status("idle");
	(void)rx_next(fd, buf, sizeof(buf));
	IS_STR(buf, "STATUS=idle", "STATUS= as given");

	/* Half of 4000 s away: a long poll, no ping yet. */
	OK(sdnotify_poll_timeout(-1) > 1000000,
	    "watchdog: poll wakes up by half the interval");
	IS_INT(sdnotify_poll_timeout(7), 7, "watchdog: a sooner timeout wins");
	sdnotify_watchdog();
	IS_INT(rx_next(fd, buf, sizeof(buf)), 0, "watchdog: no ping early");

	sdnotify_stopping();
	sdnotify_stopping();
	(void)rx_next(fd, buf, sizeof(buf));
	IS_STR(buf, "STOPPING=1\nSTATUS=stopping", "STOPPING=1 datagram");
	IS_INT(rx_next(fd, buf, sizeof(buf)), 0, "STOPPING=1 sent once");
	sdnotify_close();
	OK(!sdnotify_enabled(), "closed: disabled");
	sdnotify_ready("x");
	IS_INT(rx_next(fd, buf, sizeof(buf)), 0, "closed: nothing sent");
	(void)close(fd);
	(void)unlink(path);
}

static void
test_abstract(void)
{
	char name[108], buf[512];
	int fd;

	(void)snprintf(name, sizeof(name), "@interimap-test-sdnotify-%ld",
	    (long)getpid());
	fd = rx_bind(name);
	setenv3(name, NULL, NULL);
	sdnotify_init();
	OK(sdnotify_enabled(), "abstract socket: enabled");
	OK(getenv(SDNOTIFY_ENV_SOCKET) == NULL,
	    "abstract socket: NOTIFY_SOCKET removed");
	IS_INT(sdnotify_poll_timeout(-1), -1,
	    "abstract socket, no WATCHDOG_USEC: no watchdog");
	sdnotify_ready("up");
	IS_INT(rx_next(fd, buf, sizeof(buf)), 1, "abstract: READY=1 sent");
	IS_STR(buf, "READY=1\nSTATUS=up", "abstract: READY=1 datagram");
	sdnotify_close();
	(void)close(fd);
}

static void
test_ignored(void)
{
	static const char *const names[] = { "relative/notify", "@", "",
	    "vsock:2:1234" };
	char longname[300];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		setenv3(names[i], "1000000", NULL);
		sdnotify_init();
		OK(!sdnotify_enabled(), "NOTIFY_SOCKET=\"%s\" ignored",
		    names[i]);
		OK(getenv(SDNOTIFY_ENV_SOCKET) == NULL,
		    "NOTIFY_SOCKET=\"%s\" removed", names[i]);
		IS_INT(sdnotify_poll_timeout(-1), -1, "ignored: no watchdog");
	}
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv3(longname, NULL, NULL);
	sdnotify_init();
	OK(!sdnotify_enabled(), "a path longer than sun_path: ignored");
	longname[0] = '@';
	setenv3(longname, NULL, NULL);
	sdnotify_init();
	OK(!sdnotify_enabled(), "an abstract name longer than sun_path: "
	    "ignored");
}

/* The manager's socket is gone: every send fails, quietly. */
static void
test_gone(void)
{
	char path[256];

	(void)snprintf(path, sizeof(path), "%s/nobody-there", tmpdir);
	setenv3(path, NULL, NULL);
	sdnotify_init();
	OK(sdnotify_enabled(), "no listener: enabled (the name is good)");
	sdnotify_ready("x");
	sdnotify_status("y");
	sdnotify_stopping();
	OK(sdnotify_enabled(), "no listener: every send returns");
	sdnotify_close();
}

/*
 * A manager that does not read: its queue fills up, and the sends that
 * follow are dropped; a blocking send would hang here until ctest's
 * timeout.
 */
static void
test_full(void)
{
	char path[256], buf[512];
	int fd, i, n;

	(void)snprintf(path, sizeof(path), "%s/full", tmpdir);
	fd = rx_bind(path);
	setenv3(path, NULL, NULL);
	sdnotify_init();
	for (i = 0; i < 10000; i++)
		sdnotify_status("flood");
	OK(1, "a full queue: 10000 sends returned");
	for (n = 0; rx_next(fd, buf, sizeof(buf)) == 1; n++)
		;
	OK(n > 0 && n < 10000, "a full queue: %d queued, the rest dropped",
	    n);
	sdnotify_close();
	(void)close(fd);
	(void)unlink(path);
}

static void
test_watchdog(void)
{
	char path[256], buf[512], pid[32];
	int fd, t, pings = 0;

	(void)snprintf(path, sizeof(path), "%s/wd", tmpdir);
	fd = rx_bind(path);

	/* WATCHDOG_PID names another process: not our watchdog. */
	(void)snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv3(path, "4000", pid);
	sdnotify_init();
	IS_INT(sdnotify_poll_timeout(-1), -1, "WATCHDOG_PID of another: off");
	setenv3(path, "4000", "garbage");
	sdnotify_init();
	IS_INT(sdnotify_poll_timeout(-1), -1, "WATCHDOG_PID garbage: off");
	setenv3(path, "0", NULL);
	sdnotify_init();
	IS_INT(sdnotify_poll_timeout(-1), -1, "WATCHDOG_USEC=0: off");
	setenv3(path, "-5", NULL);
	sdnotify_init();
	IS_INT(sdnotify_poll_timeout(-1), -1, "WATCHDOG_USEC=-5: off");
	setenv3(path, "soon", NULL);
	sdnotify_init();
	IS_INT(sdnotify_poll_timeout(-1), -1, "WATCHDOG_USEC=soon: off");

	/*
	 * 4 ms: a ping every 2 ms.  Wait as the loop does, until the
	 * timeout says it is due, three times over.
	 */
	setenv3(path, "4000", NULL);
	sdnotify_init();
	t = sdnotify_poll_timeout(-1);
	OK(t >= 0 && t <= 2, "WATCHDOG_USEC=4000: wakes within 2 ms (%d)", t);
	while (pings < 3) {
		while ((t = sdnotify_poll_timeout(-1)) > 0)
			(void)poll(NULL, 0, t);
		IS_INT(t, 0, "the timeout runs down to 0");
		sdnotify_watchdog();
		IS_INT(rx_next(fd, buf, sizeof(buf)), 1, "a ping when due");
		IS_STR(buf, "WATCHDOG=1", "the ping");
		pings++;
	}
	sdnotify_close();
	(void)close(fd);
	(void)unlink(path);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	log_set_name("test");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_status_text();
	test_none();
	test_path();
	test_abstract();
	test_ignored();
	test_gone();
	test_full();
	test_watchdog();
	(void)rmdir(tmpdir);
	return tap_done();
}
