/*
 * A net process: one IMAP connection, for one side.  It holds its own
 * section of the configuration (and so its own password, wiped when
 * done) and nothing of the other side's; it talks to priv (fd 3: its
 * configuration, the connected stream, logs) and to the engine (fd 4:
 * IMAP operations).
 *
 * Start-up follows HOUSE-STYLE.md: name, close stray fds, drop
 * privileges, rlimits, receive the section from priv (TLS settings are
 * needed before the sandbox), enter the sandbox, say "sandbox loaded",
 * report IMSG_CHILD_READY, and only then read from the server.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf_proto.h"
#include "sandbox.h"
#include "scram.h"
#include "traffic.h"
#include "imap_conn.h"
#include "imap_ops.h"
#include "net_sandbox.h"
#include "socks5.h"
#include "tls.h"

/* IMSG_NET_CONF, unpacked (ipc/conf_proto.h has the layout). */
struct net_kv {
	char	*key;
	char	*value;
};

struct net_conf {
	uint32_t	 debug;
	uint32_t	 flags;		/* NET_CONF_* */
	struct net_kv	*kv;
	size_t		 nkv;
	/* A spare's credentials (IMSG_NET_SECRETS), NULL if none. */
	char		*password;
	char		*oauth_token;
	int		 secrets;	/* IMSG_NET_SECRETS received */
};

/* Poll slots. */
enum {
	PFD_PARENT = 0,
	PFD_ENGINE,
	PFD_STREAM,
	PFD_MAX
};

struct net {
	uint32_t		 side;		/* SIDE_LOCAL or SIDE_REMOTE */
	struct ipc_chan		 parent;
	struct ipc_chan		 engine;
	struct imap_conn_conf	 cc;
	struct imap_conn	*conn;
	struct imap_ops		*ops;
	int			 stopping;	/* IMSG_SHUTDOWN received */
	int			 ready;		/* IMSG_CHILD_READY sent */
	/* A proxy being asked for the server (NET_STREAM_SOCKS5). */
	struct socks5		*sx;
	int			 sx_fd;
};

/*
 * Global so that every way out (exit() from fatal() included) wipes the
 * secrets: see net_conf_wipe().
 */
static struct net_conf	 net_conf;

static int	 net_secret(const char *);
static void	 net_conf_wipe(void);
static int	 net_conf_unpack(struct net_conf *, const struct ipc_msg *);
static void	 net_recv_conf(struct net *);
static void	 net_ready(struct net *);
static char	*net_conf_get(const char *);
static int	 net_conf_bool(const char *, int);
static void	 net_session_conf(struct net *);
static void	 net_exit(struct net *, int) __attribute__((noreturn));
static int	 net_parent_msg(struct net *, struct ipc_msg *);
static void	 net_stream(struct net *, struct ipc_msg *);
static void	 net_secrets(struct net *, struct ipc_msg *);
static int	 net_secrets_unpack(const struct ipc_msg *, char **, char **);
static int	 net_stream_unpack(const struct ipc_msg *, uint32_t *,
		    struct socks5_req *, int *);
static int	 net_stream_socks5(struct ipc_rd *, struct socks5_req *);
static void	 net_socks_io(struct net *);
static void	 net_engine_msgs(struct net *);
static int	 net_parent_io(struct net *, short);
static void	 net_engine_io(struct net *, short);
static void	 net_loop(struct net *);

/* Keys whose value is never logged, at any debug level. */
static int
net_secret(const char *key)
{
	return strcmp(key, "password") == 0 ||
	    strcmp(key, "oauth-token") == 0;
}

/*
 * Values may be secrets: zero them before giving the memory back.  Runs
 * at exit (atexit), and whenever the section is no longer needed.
 */
static void
net_conf_wipe(void)
{
	size_t i;

	for (i = 0; i < net_conf.nkv; i++) {
		if (net_conf.kv[i].key != NULL)
			freezero(net_conf.kv[i].key,
			    strlen(net_conf.kv[i].key));
		if (net_conf.kv[i].value != NULL)
			freezero(net_conf.kv[i].value,
			    strlen(net_conf.kv[i].value));
	}
	if (net_conf.kv != NULL)
		freezero(net_conf.kv, net_conf.nkv * sizeof(*net_conf.kv));
	if (net_conf.password != NULL)
		freezero(net_conf.password, strlen(net_conf.password));
	if (net_conf.oauth_token != NULL)
		freezero(net_conf.oauth_token, strlen(net_conf.oauth_token));
	explicit_bzero(&net_conf, sizeof(net_conf));
}

/* 0, or -1 if the payload breaks the layout. */
static int
net_conf_unpack(struct net_conf *c, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t nkeys, i;
	size_t j;
	char *key, *value;

	ipc_rd_init(&rd, msg);
	c->debug = ipc_get_u32(&rd);
	c->flags = ipc_get_u32(&rd);
	nkeys = ipc_get_u32(&rd);
	if (rd.error || nkeys > NET_CONF_MAXKEYS ||
	    (c->flags & ~(NET_CONF_WATCH | NET_CONF_COMPRESS |
	    NET_CONF_NOTIFY | NET_CONF_AUDIT | NET_CONF_SPARE)) != 0)
		return -1;
	if (nkeys > 0 && (c->kv = calloc(nkeys, sizeof(*c->kv))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < nkeys; i++) {
		key = ipc_get_str(&rd);
		value = ipc_get_str(&rd);
		/* Stored first, so that the wipe finds it either way. */
		c->kv[i].key = key;
		c->kv[i].value = value;
		c->nkv = i + 1;
		if (key == NULL || value == NULL || *key == '\0')
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(c->kv[j].key, key) == 0)
				return -1;
	}
	return ipc_rd_end(&rd);
}

/* The first message from priv must be our section. */
static void
net_recv_conf(struct net *n)
{
	struct ipc_msg msg;
	size_t i;
	int r;

	if ((r = ipc_get_sync(&n->parent, &msg)) == 0)
		exit(EXIT_OK);		/* priv went away first */
	if (r == -1)
		fatalx(EXIT_CHILD, "broken IPC channel from priv: %s",
		    n->parent.err);
	if (msg.hdr.type != IMSG_NET_CONF)
		fatalx(EXIT_CHILD, "broken IPC message (%s): expected "
		    "IMSG_NET_CONF", ipc_type_name(msg.hdr.type));
	r = net_conf_unpack(&net_conf, &msg);
	ipc_msg_free(&msg);	/* wipes the payload */
	if (r == -1)
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_NET_CONF): "
		    "bad layout");

	log_set_debug((int)net_conf.debug);
	log_set_audit((net_conf.flags & NET_CONF_AUDIT) != 0);
	for (i = 0; i < net_conf.nkv; i++) {
		if (net_secret(net_conf.kv[i].key))
			log_debug("config: %s=<set>", net_conf.kv[i].key);
		else
			log_debug("config: %s=%s", net_conf.kv[i].key,
			    net_conf.kv[i].value);
	}
	log_debug("config: watch %s, compress by default %s",
	    net_conf.flags & NET_CONF_WATCH ? "yes" : "no",
	    net_conf.flags & NET_CONF_COMPRESS ? "yes" : "no");
}

static void
net_ready(struct net *n)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, IPC_CATALOGUE_VERSION);
	if (ipc_send(&n->parent, IMSG_CHILD_READY, n->side, -1, &buf) == -1)
		fatalx(EXIT_CHILD, "%s", n->parent.err);
	ipc_buf_free(&buf);
	if (ipc_flush_sync(&n->parent) == -1)
		fatalx(EXIT_CHILD, "%s", n->parent.err);
	n->ready = 1;
}

/* The value of a key of our section, NULL if unset. */
static char *
net_conf_get(const char *key)
{
	size_t i;

	for (i = 0; i < net_conf.nkv; i++)
		if (strcmp(net_conf.kv[i].key, key) == 0)
			return net_conf.kv[i].value;
	return NULL;
}

static int
net_conf_bool(const char *key, int dflt)
{
	const char *v = net_conf_get(key);

	if (v == NULL)
		return dflt;
	return strcasecmp(v, "YES") == 0;
}

/*
 * The connection settings, and the TLS context with its trusted
 * certificates: files are read here, before privileges are dropped and
 * the sandbox entered.  A bad TLS setting ends the child (EXIT_FAIL)
 * with the reason.
 */
static void
net_session_conf(struct net *n)
{
	struct imap_conn_conf *cc = &n->cc;
	struct tls_config tc;
	const char *type, *v;
	char err[256], *errp = NULL;
	size_t i;
	int r, tls;

	memset(cc, 0, sizeof(*cc));
	type = net_conf_get("type");
	if (type == NULL || strcmp(type, "imaps") == 0)
		cc->type = IMAP_TYPE_IMAPS;
	else if (strcmp(type, "imap") == 0)
		cc->type = IMAP_TYPE_IMAP;
	else
		cc->type = IMAP_TYPE_TUNNEL;
	cc->host = net_conf_get("host");
	if (cc->host == NULL)
		cc->host = "localhost";
	cc->starttls = net_conf_bool("STARTTLS", 1);
	cc->auth = net_conf_get("auth");
	if (cc->auth == NULL)
		cc->auth = "PLAIN LOGIN";
	cc->username = net_conf_get("username");
	cc->password = net_conf_get("password");
	cc->oauth_token = net_conf_get("oauth-token");
	cc->compress = net_conf_bool("compress",
	    (net_conf.flags & NET_CONF_COMPRESS) != 0);
	cc->notify = (net_conf.flags & NET_CONF_NOTIFY) != 0;
	/* priv checked the value (conf_sync_method()). */
	if ((v = net_conf_get("sync-method")) != NULL &&
	    strcasecmp(v, "qresync") == 0)
		cc->method = IMAP_METHOD_QRESYNC;
	else if (v != NULL && strcasecmp(v, "condstore") == 0)
		cc->method = IMAP_METHOD_CONDSTORE;
	else if (v != NULL && strcasecmp(v, "plain") == 0)
		cc->method = IMAP_METHOD_PLAIN;
	else
		cc->method = IMAP_METHOD_AUTO;
	cc->spare = (net_conf.flags & NET_CONF_SPARE) != 0;

	tls = cc->type == IMAP_TYPE_IMAPS ||
	    (cc->type == IMAP_TYPE_IMAP && cc->starttls);
	if (!tls)
		return;
	tls_config_init(&tc);
	for (i = 0; i < net_conf.nkv; i++) {
		r = tls_config_set(&tc, net_conf.kv[i].key,
		    net_conf.kv[i].value, err, sizeof(err));
		if (r == -1) {
			tls_config_free(&tc);
			log_error("%s", err);
			net_exit(n, EXIT_FAIL);
		}
	}
	cc->tls = tls_ctx_new(&tc, &errp);
	tls_config_free(&tc);
	if (cc->tls == NULL) {
		log_error("%s", errp != NULL ? errp : "TLS set-up failed");
		free(errp);
		net_exit(n, EXIT_FAIL);
	}
}

/*
 * The end of the child: the traffic counters to priv (which prints the
 * summary), the stream closed, out.  Called from anywhere, errors
 * included (already logged), since nothing is unwound.
 */
static void
net_exit(struct net *n, int code)
{
	struct traffic_stats st;
	struct ipc_buf buf;

	/* Left while asking a proxy: its password goes now. */
	if (n->sx != NULL)
		socks5_clear(n->sx);
	memset(&st, 0, sizeof(st));
	if (n->conn != NULL)
		imap_conn_stats(n->conn, &st);
	ipc_buf_init(&buf);
	ipc_put_u64(&buf, st.recv);
	ipc_put_u64(&buf, st.recv_raw);
	ipc_put_u64(&buf, st.sent);
	ipc_put_u64(&buf, st.sent_raw);
	/* priv takes nothing but logs before READY. */
	if (n->ready && n->parent.fd != -1 &&
	    ipc_send(&n->parent, IMSG_NET_STATS, n->side, -1, &buf) == 0)
		(void)ipc_flush_sync(&n->parent);
	ipc_buf_free(&buf);
	if (n->engine.fd != -1)
		(void)ipc_flush(&n->engine);
	if (code == EXIT_OK) {
		imap_conn_free(n->conn);
		n->conn = NULL;
		imap_ops_free(n->ops);
		n->ops = NULL;
	}
	exit(code);
}

/* ---- the connection's hooks --------------------------------------------- */

static void
net_hook_ready(void *arg)
{
	struct net *n = arg;

	/* The password has done its job. */
	if (n->cc.password != NULL)
		explicit_bzero(n->cc.password, strlen(n->cc.password));
	if (n->cc.oauth_token != NULL)
		explicit_bzero(n->cc.oauth_token, strlen(n->cc.oauth_token));
	imap_ops_ready(n->ops);
}

static void
net_hook_untagged(void *arg, const struct imap_resp *r)
{
	struct net *n = arg;

	imap_ops_untagged(n->ops, r);
}

static void
net_hook_body(void *arg, const struct imap_event *ev)
{
	struct net *n = arg;

	imap_ops_body(n->ops, ev);
}

static int
net_hook_congested(void *arg)
{
	struct net *n = arg;

	return imap_ops_congested(n->ops);
}

static void
net_hook_closed(void *arg)
{
	struct net *n = arg;

	imap_ops_closed(n->ops);
}

static void
net_hook_fatal(void *arg, int code)
{
	net_exit(arg, code);
}

/* ---- messages ----------------------------------------------------------- */

/*
 * The SOCKS5 part of IMSG_NET_STREAM into *req: 0, or -1 if it breaks
 * the layout (ipc/conf_proto.h).  The strings are req's either way.
 */
static int
net_stream_socks5(struct ipc_rd *rd, struct socks5_req *req)
{
	const void *addr;
	size_t len;
	uint32_t atyp, port;
	int timeout;

	atyp = ipc_get_u32(rd);
	addr = ipc_get_data(rd, &len);
	port = ipc_get_u32(rd);
	timeout = (int)ipc_get_u32(rd);
	req->user = ipc_get_str(rd);
	req->pass = ipc_get_str(rd);
	if (rd->error || addr == NULL || port > 65535 ||
	    (req->user == NULL) != (req->pass == NULL))
		return -1;
	if (!((atyp == SOCKS5_ATYP_IPV4 && len == 4) ||
	    (atyp == SOCKS5_ATYP_IPV6 && len == 16) ||
	    (atyp == SOCKS5_ATYP_DOMAIN && len >= 1 &&
	    len <= sizeof(req->addr))))
		return -1;
	req->atyp = (uint8_t)atyp;
	memcpy(req->addr, addr, len);
	req->addrlen = len;
	req->port = (uint16_t)port;
	return timeout;
}

/*
 * IMSG_NET_SECRETS: *pw and *tok, each NULL if empty (none); 0, or -1
 * (nothing kept) if the payload breaks the layout.
 */
static int
net_secrets_unpack(const struct ipc_msg *msg, char **pw, char **tok)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	*pw = ipc_get_str(&rd);
	*tok = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || *pw == NULL || *tok == NULL) {
		if (*pw != NULL)
			freezero(*pw, strlen(*pw));
		if (*tok != NULL)
			freezero(*tok, strlen(*tok));
		*pw = *tok = NULL;
		return -1;
	}
	/* Empty: none (the section had no such key). */
	if (**pw == '\0') {
		free(*pw);
		*pw = NULL;
	}
	if (**tok == '\0') {
		free(*tok);
		*tok = NULL;
	}
	return 0;
}

/*
 * The credentials of a spare (a lane other than 0: NET_CONF_SPARE),
 * which priv gives only when it connects it, so that a spare that is
 * never used never holds them.  Once, before the stream.
 */
static void
net_secrets(struct net *n, struct ipc_msg *msg)
{
	char *pw, *tok;

	if (net_secrets_unpack(msg, &pw, &tok) == -1)
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_NET_SECRETS): "
		    "bad layout");
	if (!(net_conf.flags & NET_CONF_SPARE) || net_conf.secrets ||
	    imap_conn_started(n->conn)) {
		if (pw != NULL)
			freezero(pw, strlen(pw));
		if (tok != NULL)
			freezero(tok, strlen(tok));
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_NET_SECRETS): "
		    "not expected now");
	}
	net_conf.secrets = 1;
	net_conf.password = pw;
	net_conf.oauth_token = tok;
	n->cc.password = pw;
	n->cc.oauth_token = tok;
	imap_conn_set_secrets(n->conn, pw, tok);
	log_debug("credentials received");
}

/*
 * IMSG_NET_STREAM's payload: the transport (NET_STREAM_*) and, for
 * SOCKS5, the request and the timeout.  0, or -1 (the request's
 * credentials wiped) if it breaks the layout or the ranges.
 */
static int
net_stream_unpack(const struct ipc_msg *msg, uint32_t *transport,
    struct socks5_req *req, int *timeout)
{
	struct ipc_rd rd;

	memset(req, 0, sizeof(*req));
	*timeout = 0;
	ipc_rd_init(&rd, msg);
	*transport = ipc_get_u32(&rd);
	if (*transport == NET_STREAM_SOCKS5)
		*timeout = net_stream_socks5(&rd, req);
	if (ipc_rd_end(&rd) == -1 || *transport > NET_STREAM_SOCKS5 ||
	    *timeout == -1 || (*transport == NET_STREAM_SOCKS5 &&
	    (*timeout <= 0 || *timeout > NET_STREAM_MAXTIMEOUT))) {
		if (req->user != NULL)
			freezero(req->user, strlen(req->user));
		if (req->pass != NULL)
			freezero(req->pass, strlen(req->pass));
		req->user = req->pass = NULL;
		return -1;
	}
	return 0;
}

/* IMSG_NET_STREAM: the connected peer (or its proxy), from priv. */
static void
net_stream(struct net *n, struct ipc_msg *msg)
{
	struct socks5_req req;
	uint32_t transport;
	int timeout;

	if (net_stream_unpack(msg, &transport, &req, &timeout) == -1 ||
	    msg->fd == -1) {
		if (req.user != NULL)
			freezero(req.user, strlen(req.user));
		if (req.pass != NULL)
			freezero(req.pass, strlen(req.pass));
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_NET_STREAM): "
		    "bad layout");
	}
	if (imap_conn_started(n->conn) || n->sx != NULL)
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_NET_STREAM): "
		    "sent twice");
	if (transport == NET_STREAM_SOCKS5) {
		if ((n->sx = calloc(1, sizeof(*n->sx))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		socks5_init(n->sx, &req, timeout);
		n->sx_fd = msg->fd;
		msg->fd = -1;
		log_debug("connected to the proxy; asking it for the server");
		return;
	}
	imap_conn_start(n->conn, msg->fd);
	msg->fd = -1;
	log_debug("connected");
}

/*
 * The SOCKS5 exchange goes on; done, the stream is the server's.  A
 * proxy that fails us ends the child: EXIT_NET_LOST if it may work later
 * (--watch then tries again), else EXIT_FAIL.
 */
static void
net_socks_io(struct net *n)
{
	int r, code;

	if ((r = socks5_io(n->sx, n->sx_fd)) == 0)
		return;
	socks5_clear(n->sx);
	if (r == -1) {
		log_msg(LOG_LVL_ERROR, log_get_name(), NULL,
		    "SOCKSv5 ERROR: %s", n->sx->err);
		code = n->sx->transient ? EXIT_NET_LOST : EXIT_FAIL;
		free(n->sx);
		n->sx = NULL;
		(void)close(n->sx_fd);
		n->sx_fd = -1;
		net_exit(n, code);
	}
	free(n->sx);
	n->sx = NULL;
	imap_conn_start(n->conn, n->sx_fd);
	n->sx_fd = -1;
	log_debug("connected through the proxy");
}

/* 1 to go on, 0 to leave cleanly. */
static int
net_parent_msg(struct net *n, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t t;

	switch (msg->hdr.type) {
	case IMSG_SHUTDOWN:
		/* Politely: LOGOUT, then the counters, then out. */
		n->stopping = 1;
		if (imap_conn_started(n->conn))
			imap_conn_logout(n->conn);
		return 1;
	case IMSG_NET_STREAM:
		if (n->stopping)
			return 1;
		net_stream(n, msg);
		return 1;
	case IMSG_NET_SECRETS:
		net_secrets(n, msg);
		return 1;
	case IMSG_TEST_SANDBOX:
		ipc_rd_init(&rd, msg);
		t = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			fatalx(EXIT_CHILD, "broken IPC message "
			    "(IMSG_TEST_SANDBOX): bad layout");
		/* The IPC tests (101-103) come back; the rest do not. */
		sandbox_test(&n->parent, t);
		return 1;
	default:
		fatalx(EXIT_CHILD, "broken IPC message (%s): not expected "
		    "from priv", ipc_type_name(msg->hdr.type));
	}
}

/* The engine's requests already received, as far as we may take them. */
static void
net_engine_msgs(struct net *n)
{
	struct ipc_msg msg;
	int r;

	if (n->engine.fd == -1 || !imap_conn_ready(n->conn))
		return;
	while (imap_ops_accepting(n->ops) &&
	    (r = ipc_get(&n->engine, &msg)) != 0) {
		if (r == -1)
			fatalx(EXIT_CHILD, "broken IPC channel from the "
			    "engine: %s", n->engine.err);
		imap_ops_request(n->ops, &msg);
		ipc_msg_free(&msg);
	}
}

/* Reads the channel to priv; 0 when priv is gone. */
static int
net_parent_io(struct net *n, short revents)
{
	struct ipc_msg msg;
	ssize_t rn;
	int r;

	if ((revents & POLLOUT) && ipc_flush(&n->parent) == -1)
		return 0;
	if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0)
		return 1;
	rn = ipc_read(&n->parent);
	if (rn == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 1;
	if (rn <= 0)
		return 0;
	while ((r = ipc_get(&n->parent, &msg)) == 1) {
		(void)net_parent_msg(n, &msg);
		ipc_msg_free(&msg);
	}
	if (r == -1)
		fatalx(EXIT_CHILD, "broken IPC channel from priv: %s",
		    n->parent.err);
	return 1;
}

static void
net_engine_io(struct net *n, short revents)
{
	ssize_t rn;

	if (n->engine.fd == -1)
		return;
	if ((revents & POLLOUT) && ipc_flush(&n->engine) == -1)
		goto gone;
	if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0)
		return;
	rn = ipc_read(&n->engine);
	if (rn == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (rn > 0)
		return;
gone:
	/*
	 * The engine is gone: priv sees why and ends the run.  Nobody to
	 * serve any more; leave the server politely meanwhile.
	 */
	ipc_chan_close(&n->engine);
	if (imap_conn_started(n->conn))
		imap_conn_logout(n->conn);
}

/* See net_loop(). */
static uint64_t
net_progress(const struct net *n)
{
	uint64_t mark = 0;

	if (n->engine.fd != -1)
		mark += (uint64_t)ipc_pending(&n->engine) +
		    (uint64_t)n->engine.rlen + (uint64_t)n->engine.roff;
	if (imap_conn_started(n->conn))
		mark += imap_conn_progress(n->conn);
	return mark;
}

static void
net_loop(struct net *n)
{
	struct pollfd pfd[PFD_MAX];
	uint64_t mark;
	int i, timeout;

	for (;;) {
		/*
		 * Until nothing moves: a pass can free room (engine channel
		 * flushed, stream written out) for bytes that already sit in
		 * our buffers, and those never make poll return.
		 */
		do {
			mark = net_progress(n);
			net_engine_msgs(n);
			if (imap_conn_started(n->conn)) {
				imap_conn_io(n->conn);
				net_engine_msgs(n);
			}
			if (n->engine.fd != -1 && ipc_pending(&n->engine) > 0 &&
			    ipc_flush(&n->engine) == -1)
				net_engine_io(n, POLLHUP);
		} while (net_progress(n) != mark);
		if (n->stopping && (!imap_conn_started(n->conn) ||
		    imap_conn_closed(n->conn)))
			net_exit(n, EXIT_OK);

		pfd[PFD_PARENT].fd = n->parent.fd;
		pfd[PFD_PARENT].events = POLLIN;
		if (ipc_pending(&n->parent) > 0)
			pfd[PFD_PARENT].events |= POLLOUT;
		pfd[PFD_ENGINE].fd = n->engine.fd;
		pfd[PFD_ENGINE].events = 0;
		if (imap_conn_ready(n->conn) || imap_conn_closed(n->conn)) {
			if (imap_ops_accepting(n->ops))
				pfd[PFD_ENGINE].events |= POLLIN;
		}
		if (n->engine.fd != -1 && ipc_pending(&n->engine) > 0)
			pfd[PFD_ENGINE].events |= POLLOUT;
		pfd[PFD_STREAM].fd = imap_conn_fd(n->conn);
		pfd[PFD_STREAM].events = imap_conn_events(n->conn);
		if (n->sx != NULL) {
			pfd[PFD_STREAM].fd = n->sx_fd;
			pfd[PFD_STREAM].events = socks5_events(n->sx);
		}
		if (pfd[PFD_STREAM].events == 0)
			pfd[PFD_STREAM].fd = -1;
		for (i = 0; i < PFD_MAX; i++)
			pfd[i].revents = 0;
		timeout = imap_conn_timeout(n->conn);
		if (n->sx != NULL)
			timeout = socks5_timeout(n->sx);
		/* Bytes the engine's pace held back: no event will come. */
		if (imap_conn_started(n->conn) &&
		    imap_conn_input_pending(n->conn))
			timeout = 0;

		if (poll(pfd, PFD_MAX, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal(EXIT_CHILD, "poll");
		}
		if (!net_parent_io(n, pfd[PFD_PARENT].revents))
			exit(EXIT_OK);	/* priv is gone */
		net_engine_io(n, pfd[PFD_ENGINE].revents);
		/* Not when told to stop meanwhile: the loop leaves first. */
		if (n->sx != NULL && !n->stopping)
			net_socks_io(n);
	}
}

int
net_main(int argc, char *argv[], uint32_t side)
{
	static const struct imap_conn_hooks hooks_template = {
		.ready = net_hook_ready,
		.untagged = net_hook_untagged,
		.body = net_hook_body,
		.congested = net_hook_congested,
		.closed = net_hook_closed,
		.fatal = net_hook_fatal,
	};
	struct imap_conn_hooks hooks;
	struct net n;

	sandbox_child_init(argc, argv, side == SIDE_LOCAL ? "net(local)" :
	    "net(remote)", IPC_FD_ENGINE + 1);
	memset(&n, 0, sizeof(n));
	n.side = side;
	n.sx_fd = -1;
	if (ipc_chan_init(&n.parent, IPC_FD_PARENT, PROC_NET,
	    PROC_PRIV) == -1)
		fatalx(EXIT_CHILD, "no channel to priv: %s",
		    n.parent.err);
	log_set_chan(&n.parent);
	log_set_name(ipc_side_name(side));
	if (ipc_chan_init(&n.engine, IPC_FD_ENGINE, PROC_NET,
	    PROC_ENGINE) == -1)
		fatalx(EXIT_CHILD, "channel to the engine missing");
	if (atexit(net_conf_wipe) != 0)
		fatalx(EXIT_CHILD, "atexit failed");

	net_recv_conf(&n);
	/*
	 * What touches files comes before the privileges go (the chroot
	 * leaves nothing to read): OpenSSL's configuration and the trusted
	 * certificates.
	 */
	net_session_conf(&n);
	/* OpenSSL looks at the time zone while checking certificates. */
	tzset();
	if (n.cc.auth != NULL && strcasestr(n.cc.auth, "SCRAM-") != NULL)
		scram_preload();
	if ((n.ops = imap_ops_new(&n.engine)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	hooks = hooks_template;
	hooks.arg = &n;
	if ((n.conn = imap_conn_new(&n.cc, &hooks)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	imap_ops_set_conn(n.ops, n.conn);
	sandbox_drop_privs(NULL);
	sandbox_rlimits();
	net_sandbox();
	log_debug("sandbox loaded");
	net_ready(&n);

	net_loop(&n);
	/* NOTREACHED */
	return EXIT_OK;
}
