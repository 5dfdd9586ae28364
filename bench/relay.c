/*
 * relay: a TCP relay on loopback that holds every chunk it reads for a
 * fixed one-way delay before passing it on, so that a client and a
 * server on the same machine see a chosen round-trip time.  The kernel
 * here has no netem qdisc, hence this.
 *
 *	relay [-d delay_us] [-s statsfile] listen_port connect_port
 *
 * The delay is applied in both directions: a round trip gains twice the
 * delay.  Bandwidth is not limited (up to RELAY_QMAX bytes may be in
 * flight per direction): what is measured is the cost of round trips,
 * not of a thin pipe.  Each chunk keeps its own deadline, so a stream
 * keeps its pace; nothing is merged or split beyond what read(2) and
 * write(2) do.
 *
 * When a connection ends, one line goes to the stats file (or stdout):
 *
 *	conn N up BYTES down BYTES ms DURATION active M
 *
 * "up" is client to server.  Once listening, "listening PORT" is printed
 * on stdout.  SIGTERM or SIGINT end the relay.
 *
 * Single-threaded, ppoll(2) with nanosecond timeouts, TCP_NODELAY on both
 * sides so that Nagle adds nothing of its own.  bench/run.sh measures the
 * relay (bench/lib/relaycheck.py) before the benchmark and reports it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* ppoll */
#endif

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RELAY_CHUNK	(128 * 1024)
#define RELAY_QMAX	(64 * 1024 * 1024)
#define RELAY_MAXCONN	64

struct chunk {
	struct chunk	*next;
	uint64_t	 due;		/* ns, CLOCK_MONOTONIC */
	size_t		 len;
	size_t		 off;
	unsigned char	 data[];
};

struct dir {
	int		 src;
	int		 dst;
	struct chunk	*head;
	struct chunk	*tail;
	size_t		 queued;
	uint64_t	 bytes;
	int		 eof;		/* src said EOF (or failed) */
	int		 shut;		/* dst was shut down for writing */
	int		 dead;		/* dst failed: drop what comes */
};

struct conn {
	int		 used;
	unsigned long	 id;
	int		 cfd;
	int		 sfd;
	uint64_t	 start;
	struct dir	 up;		/* client -> server */
	struct dir	 down;		/* server -> client */
};

static struct conn	 conns[RELAY_MAXCONN];
static volatile sig_atomic_t quit;
static uint64_t		 delay_ns;
static FILE		*stats;
static unsigned long	 nconn;
static int		 nactive;

static void
relay_die(const char *what)
{
	fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t
relay_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		relay_die("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
relay_onsig(int sig)
{
	(void)sig;
	quit = 1;
}

static int
relay_nonblock(int fd)
{
	int fl, one = 1;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	/* Latency is the point: no Nagle delay added by the relay. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int
relay_connect(int port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Blocking connect: loopback answers at once. */
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	if (relay_nonblock(fd) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
relay_dir_free(struct dir *d)
{
	struct chunk *c;

	while ((c = d->head) != NULL) {
		d->head = c->next;
		free(c);
	}
	d->tail = NULL;
	d->queued = 0;
}

static void
relay_close(struct conn *c)
{
	fprintf(stats, "conn %lu up %llu down %llu ms %llu active %d\n",
	    c->id, (unsigned long long)c->up.bytes,
	    (unsigned long long)c->down.bytes,
	    (unsigned long long)((relay_now() - c->start) / 1000000),
	    nactive - 1);
	fflush(stats);
	relay_dir_free(&c->up);
	relay_dir_free(&c->down);
	close(c->cfd);
	close(c->sfd);
	c->used = 0;
	nactive--;
}

static void
relay_accept(int lfd, int port)
{
	struct conn *c = NULL;
	int cfd, sfd, i;

	if ((cfd = accept(lfd, NULL, NULL)) == -1)
		return;
	for (i = 0; i < RELAY_MAXCONN; i++)
		if (!conns[i].used) {
			c = &conns[i];
			break;
		}
	if (c == NULL || relay_nonblock(cfd) == -1 ||
	    (sfd = relay_connect(port)) == -1) {
		fprintf(stderr, "relay: connection refused (%s)\n",
		    c == NULL ? "too many" : strerror(errno));
		close(cfd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->id = ++nconn;
	c->cfd = cfd;
	c->sfd = sfd;
	c->start = relay_now();
	c->up.src = cfd;
	c->up.dst = sfd;
	c->down.src = sfd;
	c->down.dst = cfd;
	nactive++;
}

/* Read what src has into a new chunk due at now + delay. */
static void
relay_read(struct dir *d)
{
	struct chunk *c;
	ssize_t n;

	if ((c = malloc(sizeof(*c) + RELAY_CHUNK)) == NULL)
		relay_die("malloc");
	n = read(d->src, c->data, RELAY_CHUNK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		free(c);
		return;
	}
	if (n <= 0) {
		free(c);
		d->eof = 1;
		return;
	}
	d->bytes += (uint64_t)n;
	if (d->dead) {
		free(c);
		return;
	}
	c->next = NULL;
	c->len = (size_t)n;
	c->off = 0;
	c->due = relay_now() + delay_ns;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->queued += (size_t)n;
}

/* Write the chunks whose time has come, as far as dst takes them. */
static void
relay_write(struct dir *d, uint64_t now)
{
	struct chunk *c;
	ssize_t n;

	while ((c = d->head) != NULL && c->due <= now) {
		n = write(d->dst, c->data + c->off, c->len - c->off);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* The peer is gone: nothing more to deliver. */
			relay_dir_free(d);
			d->dead = 1;
			return;
		}
		c->off += (size_t)n;
		d->queued -= (size_t)n;
		if (c->off < c->len)
			return;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
}

/* Pass an EOF on once everything before it has been delivered. */
static void
relay_shut(struct dir *d)
{
	if (d->eof && d->head == NULL && !d->shut) {
		(void)shutdown(d->dst, SHUT_WR);
		d->shut = 1;
	}
}

static int
relay_done(const struct conn *c)
{
	/* Both ways ended, or one side broke: an error ends both ways. */
	if (c->up.shut && c->down.shut)
		return 1;
	if ((c->up.dead && c->down.eof) || (c->down.dead && c->up.eof))
		return 1;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: relay [-d delay_us] [-s statsfile] "
	    "listen_port connect_port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct pollfd pfd[1 + 4 * RELAY_MAXCONN];
	struct dir *dp[1 + 4 * RELAY_MAXCONN];
	struct sockaddr_in sin;
	struct sigaction sa;
	struct timespec ts, *tsp;
	socklen_t slen;
	uint64_t now, next;
	long long v;
	int ch, lfd, lport, cport, one = 1, i, n, k;
	char *ep;

	stats = stdout;
	while ((ch = getopt(argc, argv, "d:s:")) != -1) {
		switch (ch) {
		case 'd':
			v = strtoll(optarg, &ep, 10);
			if (*optarg == '\0' || *ep != '\0' || v < 0 ||
			    v > 10000000)
				usage();
			delay_ns = (uint64_t)v * 1000;
			break;
		case 's':
			if ((stats = fopen(optarg, "a")) == NULL)
				relay_die(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	lport = atoi(argv[0]);
	cport = atoi(argv[1]);
	if (lport < 0 || lport > 65535 || cport <= 0 || cport > 65535)
		usage();

	/* Timers of a few microseconds' slack, not the default 50. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = relay_onsig;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		relay_die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)lport);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		relay_die("bind");
	if (listen(lfd, 16) == -1)
		relay_die("listen");
	slen = sizeof(sin);
	if (getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		relay_die("getsockname");
	printf("listening %d\n", ntohs(sin.sin_port));
	fflush(stdout);

	while (!quit) {
		now = relay_now();
		next = UINT64_MAX;
		n = 0;
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		dp[n] = NULL;
		n++;
		for (i = 0; i < RELAY_MAXCONN; i++) {
			struct conn *c = &conns[i];
			struct dir *ds[2] = { &c->up, &c->down };

			if (!c->used)
				continue;
			for (k = 0; k < 2; k++) {
				struct dir *d = ds[k];

				if (!d->eof && d->queued < RELAY_QMAX) {
					pfd[n].fd = d->src;
					pfd[n].events = POLLIN;
					dp[n] = d;
					n++;
				}
				if (d->head == NULL)
					continue;
				if (d->head->due <= now) {
					pfd[n].fd = d->dst;
					pfd[n].events = POLLOUT;
					dp[n] = d;
					n++;
				} else if (d->head->due < next)
					next = d->head->due;
			}
		}
		tsp = NULL;
		if (next != UINT64_MAX) {
			ts.tv_sec = (time_t)((next - now) / 1000000000ULL);
			ts.tv_nsec = (long)((next - now) % 1000000000ULL);
			tsp = &ts;
		}
		if (ppoll(pfd, (nfds_t)n, tsp, NULL) == -1) {
			if (errno == EINTR)
				continue;
			relay_die("ppoll");
		}
		if (pfd[0].revents & POLLIN)
			relay_accept(lfd, cport);
		for (i = 1; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].events & POLLIN)
				relay_read(dp[i]);
		}
		/* Write whatever is due, whether or not poll said so. */
		now = relay_now();
		for (i = 0; i < RELAY_MAXCONN; i++) {
			struct conn *c = &conns[i];

			if (!c->used)
				continue;
			relay_write(&c->up, now);
			relay_write(&c->down, now);
			relay_shut(&c->up);
			relay_shut(&c->down);
			if (relay_done(c))
				relay_close(c);
		}
	}
	for (i = 0; i < RELAY_MAXCONN; i++)
		if (conns[i].used)
			relay_close(&conns[i]);
	return 0;
}
