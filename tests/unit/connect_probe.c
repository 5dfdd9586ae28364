/*
 * A test driver for priv/connect.c, built only for the tests: connects as
 * a [local]/[remote] section given as key=value arguments would (with a
 * proxy, priv's part and then the net's SOCKS5 exchange, net/socks5.c),
 * and reports what it got, so that shell tests can aim connect_peer() at real
 * proxies, servers and tunnel commands without the rest of interimap.
 *
 *	connect_probe [-dkw] [-n name] [-s seconds] [-t ms] [-W line]
 *	    key=value ...
 *
 *	-d	  --debug (null-stderr is then ignored, as in interimap)
 *	-k	  print the keepalive settings of the stream
 *	-n name	  the log name (default "local")
 *	-s secs	  sleep that long after reading, before cleaning up
 *	-t ms	  the connect/SOCKS timeout
 *	-w	  --watch (TCP keepalives)
 *	-W line	  send line + CRLF before reading
 *
 * Prints "kind=tunnel pid=N" or "kind=tcp host=H literal=0|1", then the
 * first line read from the stream (CRLF removed) as "line=...", or
 * "eof" / "timeout".  Errors are logged to stderr as "name: text" and
 * make it exit 1.  At exit the tunnel, if any, is reaped.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "conf.h"
#include "connect.h"
#include "socks5.h"

static void
sink(int level, const char *name, const char *mailbox, const char *text)
{
	(void)mailbox;
	if (level == LOG_LVL_DEBUG && log_debug_level() == 0)
		return;
	fprintf(stderr, "%s%s%s\n", name, *name != '\0' ? ": " : "", text);
}

static int
sockopt(int fd, int level, int opt)
{
	socklen_t	len = sizeof(int);
	int		v = -1;

	(void)getsockopt(fd, level, opt, &v, &len);
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: connect_probe [-dkw] [-n name] [-s secs] "
	    "[-t ms] [-W line] key=value ...\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct connect_result	 res;
	struct conf_section	 sec;
	struct pollfd		 pfd;
	char			 line[4096], *eq, *sendline = NULL;
	const char		*name = "local";
	size_t			 len = 0;
	ssize_t			 n;
	int			 ch, i, watch = 0, keep = 0, secs = 0, got;

	while ((ch = getopt(argc, argv, "dkn:s:t:wW:")) != -1) {
		switch (ch) {
		case 'd':
			log_set_debug(1);
			break;
		case 'k':
			keep = 1;
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			secs = atoi(optarg);
			break;
		case 't':
			connect_set_timeout(atoi(optarg));
			break;
		case 'w':
			watch = 1;
			break;
		case 'W':
			sendline = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	memset(&sec, 0, sizeof(sec));
	if ((sec.kv = calloc((size_t)argc + 1, sizeof(*sec.kv))) == NULL)
		return 1;
	for (i = 0; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL)
			usage();
		*eq = '\0';
		sec.kv[sec.nkv].key = argv[i];
		sec.kv[sec.nkv].value = eq + 1;
		sec.nkv++;
	}
	log_set_sink(sink);

	if (connect_peer(&sec, watch, name, &res) == -1) {
		free(sec.kv);
		return 1;
	}
	if (res.proxied) {
		struct socks5		sx;
		struct socks5_req	req;

		memset(&req, 0, sizeof(req));
		req.atyp = res.socks_target.atyp;
		memcpy(req.addr, res.socks_target.addr,
		    res.socks_target.addrlen);
		req.addrlen = res.socks_target.addrlen;
		req.port = res.socks_target.port;
		if (res.socks_user != NULL) {
			req.user = strdup(res.socks_user);
			req.pass = strdup(res.socks_pass);
		}
		if (socks5_run(&sx, res.fd, &req, connect_get_timeout()) !=
		    1) {
			log_msg(LOG_LVL_ERROR, name, NULL,
			    "SOCKSv5 ERROR: %s", sx.err);
			close(res.fd);
			connect_result_free(&res);
			free(sec.kv);
			return 1;
		}
	}
	if (res.kind == CONNECT_TUNNEL)
		printf("kind=tunnel pid=%ld\n", (long)res.pid);
	else
		printf("kind=tcp host=%s literal=%d\n", res.host,
		    res.is_ip_literal);
	if (keep)
		printf("keepalive=%d idle=%d intvl=%d cnt=%d\n",
		    sockopt(res.fd, SOL_SOCKET, SO_KEEPALIVE),
		    sockopt(res.fd, IPPROTO_TCP, TCP_KEEPIDLE),
		    sockopt(res.fd, IPPROTO_TCP, TCP_KEEPINTVL),
		    sockopt(res.fd, IPPROTO_TCP, TCP_KEEPCNT));
	fflush(stdout);

	if (sendline != NULL && (dprintf(res.fd, "%s\r\n", sendline) < 0)) {
		fprintf(stderr, "write: %s\n", strerror(errno));
		return 1;
	}
	got = 0;
	while (len + 1 < sizeof(line)) {
		pfd.fd = res.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) <= 0) {
			got = -1;
			break;
		}
		if ((n = read(res.fd, line + len, 1)) <= 0)
			break;
		if (line[len++] == '\n') {
			got = 1;
			break;
		}
	}
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (got == 1 || len > 0)
		printf("line=%s\n", line);
	else
		printf("%s\n", got == -1 ? "timeout" : "eof");
	fflush(stdout);
	if (secs > 0)
		sleep((unsigned int)secs);

	close(res.fd);
	if (res.pid != -1)
		(void)connect_tunnel_reap(res.pid);
	connect_result_free(&res);
	free(sec.kv);
	return 0;
}
