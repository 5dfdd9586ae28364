/*
 * priv's event loop: one poll over the self-pipe that carries signals,
 * the three children's channels and (test hook) stdin.
 *
 * A run: start the children, send each its configuration, wait until all
 * three are READY, serve them until the engine reports IMSG_ENGINE_DONE,
 * then IMSG_SHUTDOWN to all and wait for them.  Every message is checked
 * against a table of which child may send it and when, before anything
 * acts on it; a child that breaks the rules, closes its channel or dies
 * ends the run (EXIT_CHILD), named in the message, with the others ended
 * and nothing committed.
 *
 * A database request that fails (priv_db.c) ends the run too: priv asks
 * every child to leave at once, any child may then leave in any way
 * without being the run's failure (the engine with EXIT_DB, before or
 * after its IMSG_ENGINE_DONE is read; the nets whenever they notice),
 * and the exit status is EXIT_DB whatever happens after, signals
 * included.  The order in which priv learns of these things is timing,
 * and must not decide what the user or a script sees.
 *
 * Test hooks (environment):
 *	INTERIMAP_TEST_SANDBOX=<child>:<n>
 *		right after that child's READY, ask it to attempt forbidden
 *		call n (IMSG_TEST_SANDBOX);
 *	INTERIMAP_TEST_HOLD=1
 *		once all are READY, keep running until stdin reaches EOF,
 *		so that a test can look at the children.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf_proto.h"
#include "cli.h"
#include "conf.h"
#include "db.h"
#include "logsink.h"
#include "priv_net.h"
#include "proc.h"
#include "priv_db.h"
#include "sdnotify.h"

#define PRIV_SHUTDOWN_MS	5000	/* to leave after IMSG_SHUTDOWN */
#define PRIV_EOF_WAIT_MS	1000	/* from a channel's EOF to exit */
/*
 * Answers a child may leave unread before its next message is refused:
 * far above the largest legitimate answer (the mapping rows of one
 * mailbox), which the engine reads before asking for more.
 */
#define PRIV_UNREAD_MAX		(256 * 1024 * 1024)
#define PRIV_ENV_TEST_SANDBOX	"INTERIMAP_TEST_SANDBOX"
#define PRIV_ENV_TEST_HOLD	"INTERIMAP_TEST_HOLD"

/* Poll slots: the self-pipe, one per child, stdin (HOLD). */
enum {
	PFD_SIGNAL = 0,
	PFD_CHILD,			/* PFD_CHILD + enum proc_slot */
	PFD_STDIN = PFD_CHILD + PROC_NSLOTS,
	PFD_MAX
};

struct priv {
	const struct cli	*cli;
	const struct conf	*conf;
	unsigned int		 targets;
	struct db		*db;
	struct proc_child	 child[PROC_NSLOTS];
	int			 reported[PROC_NSLOTS];
	int			 nready;
	int			 test_slot;	/* -1: no sandbox test */
	uint32_t		 test_call;
	int			 hold;		/* until stdin's EOF */
	int			 engine_done;
	int			 engine_code;	/* from IMSG_ENGINE_DONE */
	int			 exitcode;
	int			 stopping;	/* IMSG_SHUTDOWN sent */
	int			 connected;	/* priv_net_connect() done */
	struct timespec		 stop_t0;
};

/* A handler returns NULL, or why the message is broken. */
typedef const char *(*priv_handler_fn)(struct priv *, int,
    const struct ipc_msg *);

static int	 priv_sigfd[2] = { -1, -1 };
static volatile sig_atomic_t priv_got_int, priv_got_term, priv_got_chld;

static void	 priv_sighandler(int);
static int	 priv_test_env(struct priv *);
static int	 priv_net_key(const char *);
static int	 priv_send(struct priv *, int, uint32_t, struct ipc_buf *);
static int	 priv_send_net_conf(struct priv *, int);
static int	 priv_send_engine_conf(struct priv *);
static const char *priv_log(struct priv *, int, const struct ipc_msg *);
static const char *priv_ready(struct priv *, int, const struct ipc_msg *);
static const char *priv_engine_done(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_dispatch(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_stats(struct priv *, int, const struct ipc_msg *);
static const char *priv_engine_status(struct priv *, int,
		    const struct ipc_msg *);
static int	 priv_run_loop(const struct cli *, const struct conf *,
		    unsigned int, struct db *, const char *);
static void	 priv_drain(struct priv *, int);
static int	 priv_end(struct priv *, int);
static int	 priv_broken(struct priv *, int, const char *, const char *);
static int	 priv_lost(struct priv *, int);
static int	 priv_may_leave(const struct priv *, int);
static int	 priv_exit_ok(const struct priv *, int);
static int	 priv_child_io(struct priv *, int, short);
static int	 priv_signals(struct priv *, int *);
static void	 priv_stop(struct priv *);
static int	 priv_stopped(struct priv *);
static long	 priv_stop_left(const struct priv *);

/*
 * Which child may send what, and when.  The ipc layer has already
 * checked type, direction and length against the catalogue; this is the
 * protocol state on top (OpenSSH's monitor table, in small).
 */
static const struct {
	uint32_t	 type;
	uint32_t	 from;		/* PROC_* kinds */
	int		 early;		/* allowed before READY */
	priv_handler_fn	 fn;
} priv_handlers[] = {
	{ IMSG_LOG,		PROC_CHILD,	1, priv_log },
	{ IMSG_CHILD_READY,	PROC_CHILD,	1, priv_ready },
	{ IMSG_ENGINE_DONE,	PROC_ENGINE,	0, priv_engine_done },
	{ IMSG_ENGINE_STATUS,	PROC_ENGINE,	0, priv_engine_status },
	{ IMSG_NET_STATS,	PROC_NET,	0, priv_stats },
};

/*
 * Flags say which signals came; the pipe only wakes poll up, so a full
 * pipe loses nothing.
 */
static void
priv_sighandler(int sig)
{
	int saved_errno = errno;

	switch (sig) {
	case SIGINT:
		priv_got_int = 1;
		break;
	case SIGTERM:
		priv_got_term = 1;
		break;
	case SIGCHLD:
		priv_got_chld = 1;
		break;
	}
	if (write(priv_sigfd[1], "", 1) == -1)
		errno = saved_errno;	/* full: a wake-up is pending */
	errno = saved_errno;
}

int
priv_signals_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGCHLD };
	struct sigaction sa;
	size_t i;

	if (pipe2(priv_sigfd, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: pipe: %s",
		    strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = priv_sighandler;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	(void)sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1) {
			log_msg(LOG_LVL_ERROR, NULL, NULL,
			    "ERROR: sigaction: %s", strerror(errno));
			return -1;
		}
	return 0;
}

static int
priv_test_env(struct priv *p)
{
	const char *env, *errstr;
	char *name, *num;

	p->test_slot = -1;
	env = getenv(PRIV_ENV_TEST_HOLD);
	p->hold = env != NULL && strcmp(env, "1") == 0;
	if ((env = getenv(PRIV_ENV_TEST_SANDBOX)) == NULL || *env == '\0')
		return 0;
	if ((name = strdup(env)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	if ((num = strchr(name, ':')) != NULL)
		*num++ = '\0';
	if (num != NULL)
		p->test_call = (uint32_t)strtonum(num, 0, UINT32_MAX,
		    &errstr);
	if (num == NULL || errstr != NULL ||
	    (p->test_slot = proc_slot_by_name(name)) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s=%s: expected "
		    "engine|net-local|net-remote:<n>", PRIV_ENV_TEST_SANDBOX,
		    env);
		free(name);
		return -1;
	}
	free(name);
	return 0;
}

/* Queues and starts writing; -1 (logged) if the message cannot go. */
static int
priv_send(struct priv *p, int slot, uint32_t type, struct ipc_buf *buf)
{
	struct proc_child *c = &p->child[slot];

	if (ipc_send(&c->chan, type, c->side, -1, buf) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s: %s", c->label,
		    c->chan.err);
		return -1;
	}
	(void)ipc_flush(&c->chan);	/* the rest when poll says so */
	return 0;
}

/*
 * The keys of a section a net uses (net/net.c, net/tls.c).  The others
 * are priv's business and some are secrets the net must never hold (it
 * logs what it gets at --debug): `proxy` (its userinfo is the SOCKS
 * password), `command` (may carry credentials), and the default
 * section's own keys (database, logfile...).
 */
static int
priv_net_key(const char *key)
{
	static const char *const keys[] = { "type", "host", "STARTTLS",
	    "auth", "username", "password", "compress" };
	size_t i;

	if (strncmp(key, "SSL_", 4) == 0)
		return 1;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/* IMSG_NET_CONF: what that side's net needs of its section, no more. */
static int
priv_send_net_conf(struct priv *p, int slot)
{
	const struct conf_section *sec;
	struct ipc_buf buf;
	uint32_t flags = 0, nkeys = 0;
	size_t i;
	int r;

	sec = p->child[slot].side == SIDE_LOCAL ? &p->conf->local :
	    &p->conf->remote;
	if (p->cli->watch > 0 || p->cli->notify)
		flags |= NET_CONF_WATCH;
	/* The reference compresses the remote link unless told not to. */
	if (p->child[slot].side == SIDE_REMOTE)
		flags |= NET_CONF_COMPRESS;
	if (p->cli->notify)
		flags |= NET_CONF_NOTIFY;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)p->cli->debug);
	ipc_put_u32(&buf, flags);
	for (i = 0; i < sec->nkv; i++)
		nkeys += priv_net_key(sec->kv[i].key);
	ipc_put_u32(&buf, nkeys);
	for (i = 0; i < sec->nkv; i++) {
		if (!priv_net_key(sec->kv[i].key))
			continue;
		ipc_put_str(&buf, sec->kv[i].key);
		ipc_put_str(&buf, sec->kv[i].value);
	}
	r = priv_send(p, slot, IMSG_NET_CONF, &buf);
	ipc_buf_free(&buf);		/* wipes the password */
	return r;
}

/* IMSG_ENGINE_CONF: layout in ipc/conf_proto.h. */
static int
priv_send_engine_conf(struct priv *p)
{
	const struct cli *cli = p->cli;
	const struct conf *conf = p->conf;
	const char *ref;
	struct ipc_buf buf;
	uint32_t flags = 0, command = ENGINE_CMD_SYNC, targets = 0;
	size_t i;
	int r;

	if (cli->watch > 0 || cli->notify)
		flags |= ENGINE_CONF_WATCH;
	if (cli->notify)
		flags |= ENGINE_CONF_NOTIFY;
	if (cli->quiet)
		flags |= ENGINE_CONF_QUIET;
	switch (cli->command) {
	case CMD_SYNC:
		command = ENGINE_CMD_SYNC;
		break;
	case CMD_REPAIR:
		command = ENGINE_CMD_REPAIR;
		break;
	case CMD_DELETE:
		command = ENGINE_CMD_DELETE;
		break;
	case CMD_RENAME:
		command = ENGINE_CMD_RENAME;
		break;
	}
	if (p->targets & TARGET_LOCAL)
		targets |= ENGINE_TARGET_LOCAL;
	if (p->targets & TARGET_REMOTE)
		targets |= ENGINE_TARGET_REMOTE;
	if (p->targets & TARGET_DATABASE)
		targets |= ENGINE_TARGET_DATABASE;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)cli->debug);
	ipc_put_u32(&buf, flags);
	ipc_put_u32(&buf, command);
	ipc_put_u32(&buf, targets);
	ipc_put_u32(&buf, (uint32_t)(cli->watch > 0 ? cli->watch : 0));
	ipc_put_u32(&buf, (uint32_t)cli->nmailboxes);
	for (i = 0; i < (size_t)cli->nmailboxes; i++)
		ipc_put_data(&buf, cli->mailboxes[i],
		    strlen(cli->mailboxes[i]));
	ipc_put_u32(&buf, (uint32_t)conf->nlist_mailbox);
	for (i = 0; i < conf->nlist_mailbox; i++)
		ipc_put_data(&buf, conf->list_mailbox[i].bytes,
		    conf->list_mailbox[i].len);
	ipc_put_str(&buf, conf->list_select_opts);
	ipc_put_str(&buf, conf->ignore_mailbox);
	ref = conf_get(&conf->local, "list-reference");
	ipc_put_str(&buf, ref != NULL ? ref : "");
	ref = conf_get(&conf->remote, "list-reference");
	ipc_put_str(&buf, ref != NULL ? ref : "");
	r = priv_send(p, PROC_SLOT_ENGINE, IMSG_ENGINE_CONF, &buf);
	ipc_buf_free(&buf);
	return r;
}

static const char *
priv_log(struct priv *p, int slot, const struct ipc_msg *msg)
{
	return logsink_imsg(msg) == -1 ? "bad layout" : NULL;
}

static const char *
priv_ready(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct proc_child *c = &p->child[slot];
	struct ipc_buf buf;
	struct ipc_rd rd;
	uint32_t version;

	ipc_rd_init(&rd, msg);
	version = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	if (c->ready)
		return "sent twice";
	if (version != IPC_CATALOGUE_VERSION)
		return "catalogue version differs (a stale binary?)";
	c->ready = 1;
	p->nready++;

	if (p->test_slot == slot) {
		ipc_buf_init(&buf);
		ipc_put_u32(&buf, p->test_call);
		if (priv_send(p, slot, IMSG_TEST_SANDBOX, &buf) == -1)
			fatalx(EXIT_FAIL, "IMSG_TEST_SANDBOX refused");
		ipc_buf_free(&buf);
	}
	if (p->nready == PROC_NSLOTS) {
		log_debug("all children ready");
		if (p->hold)
			log_debug("test hold: waiting for stdin to close");
	}
	return NULL;
}

static const char *
priv_engine_done(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t code;

	ipc_rd_init(&rd, msg);
	code = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	if (p->engine_done)
		return "sent twice";
	if (code > 255)
		return "exit code out of range";
	p->engine_done = 1;
	p->engine_code = p->exitcode = (int)code;
	return NULL;
}

/* Where the run stands (watch mode), for the service manager. */
static const char *
priv_engine_status(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t state, nmbox;
	uint64_t last;

	(void)p;
	(void)slot;
	ipc_rd_init(&rd, msg);
	state = ipc_get_u32(&rd);
	nmbox = ipc_get_u32(&rd);
	last = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1 || state < ENGINE_ST_SYNCING ||
	    state > ENGINE_ST_RECONNECT)
		return "bad layout";
	log_debug("engine: %s, %u mailbox(es), last pass ended at %llu",
	    state == ENGINE_ST_SYNCING ? "syncing" : state == ENGINE_ST_IDLE ?
	    "idle" : "reconnecting", nmbox, (unsigned long long)last);
	/* Which side is being reconnected is not said (yet). */
	sdnotify_engine_status(state, nmbox, last, SIDE_NONE);
	return NULL;
}

/* The traffic counters of a net, for the summary (priv_net.c). */
static const char *
priv_stats(struct priv *p, int slot, const struct ipc_msg *msg)
{
	return priv_net_stats(p->child[slot].side, msg);
}

static const char *
priv_dispatch(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct proc_child *c = &p->child[slot];
	size_t i;

	/* The engine's database requests: priv_db.c (engine issue). */
	if (priv_db_is_request(msg->hdr.type)) {
		if (c->kind != PROC_ENGINE)
			return "not accepted from this process";
		if (!c->ready)
			return "before IMSG_CHILD_READY";
		/*
		 * Removing or renaming database rows is what --delete and
		 * --rename ask for, and nothing else may: an engine asking
		 * for it during a synchronisation is broken (or subverted).
		 */
		if ((msg->hdr.type == IMSG_DB_DELETE &&
		    p->cli->command != CMD_DELETE) ||
		    (msg->hdr.type == IMSG_DB_RENAME &&
		    p->cli->command != CMD_RENAME))
			return "not accepted for this command";
		return priv_db_imsg(p->db, &c->chan, msg);
	}
	for (i = 0; i < sizeof(priv_handlers) / sizeof(priv_handlers[0]);
	    i++) {
		if (priv_handlers[i].type != msg->hdr.type)
			continue;
		if ((priv_handlers[i].from & c->kind) == 0)
			return "not accepted from this process";
		if (!c->ready && !priv_handlers[i].early)
			return "before IMSG_CHILD_READY";
		return priv_handlers[i].fn(p, slot, msg);
	}
	return "not expected";
}

/*
 * Reads what a child has already sent and shows its log lines: its last
 * words (a fatal error) come before priv's verdict on it.
 */
static void
priv_drain(struct priv *p, int slot)
{
	struct proc_child *c = &p->child[slot];
	struct ipc_msg msg;
	ssize_t n;

	if (c->chan.fd == -1)
		return;
	do {
		n = ipc_read(&c->chan);
		while (ipc_get(&c->chan, &msg) == 1) {
			if (msg.hdr.type == IMSG_LOG)
				(void)logsink_imsg(&msg);
			else if (msg.hdr.type == IMSG_NET_STATS &&
			    c->kind == PROC_NET)
				(void)priv_net_stats(c->side, &msg);
			else if (msg.hdr.type == IMSG_ENGINE_DONE &&
			    slot == PROC_SLOT_ENGINE && !p->engine_done)
				/*
				 * Its last word, overtaken by its SIGCHLD:
				 * the run ended as it said, not "exited
				 * unexpectedly".
				 */
				(void)priv_engine_done(p, slot, &msg);
			ipc_msg_free(&msg);
		}
	} while (n > 0);
}

/* The run is over: every child ended; returns -1 for the loop. */
static int
priv_end(struct priv *p, int code)
{
	int i;

	sdnotify_stopping();
	for (i = 0; i < PROC_NSLOTS; i++)
		priv_drain(p, i);
	proc_terminate(p->child, PROC_GRACE_MS);
	p->exitcode = code;
	return -1;
}

/* A child broke the protocol: it is killed, the run ends. */
static int
priv_broken(struct priv *p, int slot, const char *type, const char *why)
{
	struct proc_child *c = &p->child[slot];

	if (type != NULL)
		log_msg(LOG_LVL_ERROR, c->label, NULL,
		    "ERROR: broken IPC message (%s): %s", type, why);
	else
		log_msg(LOG_LVL_ERROR, c->label, NULL,
		    "ERROR: broken IPC message: %s", why);
	p->reported[slot] = 1;
	ipc_chan_close(&c->chan);
	if (c->pid > 0 && !c->reaped)
		(void)kill(c->pid, SIGKILL);
	(void)proc_wait(c, PRIV_EOF_WAIT_MS);
	return priv_end(p, EXIT_CHILD);
}

/*
 * May this child go now?  Everyone once IMSG_SHUTDOWN is sent or the
 * database has failed (the run is over); the engine also once it has
 * reported IMSG_ENGINE_DONE (it may leave right after, with the code it
 * reported).
 */
static int
priv_may_leave(const struct priv *p, int slot)
{
	return p->stopping || priv_db_failed() ||
	    (slot == PROC_SLOT_ENGINE && p->engine_done);
}

/*
 * A reaped child ended as it should: with 0, or the engine with the
 * code it reported, or with EXIT_DB once priv refused it a request
 * (whether or not its IMSG_ENGINE_DONE was read before it went).
 */
static int
priv_exit_ok(const struct priv *p, int slot)
{
	const struct proc_child *c = &p->child[slot];

	if (!WIFEXITED(c->status))
		return 0;
	if (WEXITSTATUS(c->status) == 0)
		return 1;
	if (slot != PROC_SLOT_ENGINE)
		return 0;
	return (p->engine_done && WEXITSTATUS(c->status) == p->engine_code) ||
	    (priv_db_failed() && WEXITSTATUS(c->status) == EXIT_DB);
}

/* A child's channel is closed: fine if it may leave, fatal otherwise. */
static int
priv_lost(struct priv *p, int slot)
{
	struct proc_child *c = &p->child[slot];
	int code;

	ipc_chan_close(&c->chan);
	if (priv_may_leave(p, slot))
		return 0;
	p->reported[slot] = 1;
	if (proc_wait(c, PRIV_EOF_WAIT_MS) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL,
		    "ERROR: %s closed its IPC channel", c->label);
		return priv_end(p, EXIT_CHILD);
	}
	/* A net that failed has said why (its server's error). */
	if ((code = priv_net_exitcode(c)) != -1)
		return priv_end(p, code);
	log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s %s", c->label,
	    proc_status_text(c));
	return priv_end(p, EXIT_CHILD);
}

/* -1 if the run is over (p->exitcode set), 0 to go on. */
static int
priv_child_io(struct priv *p, int slot, short revents)
{
	struct proc_child *c = &p->child[slot];
	struct ipc_msg msg;
	const char *why;
	ssize_t n;
	int r;

	if (c->chan.fd == -1)
		return 0;
	if ((revents & POLLOUT) && ipc_flush(&c->chan) == -1)
		return priv_lost(p, slot);
	if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0)
		return 0;
	n = ipc_read(&c->chan);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return priv_lost(p, slot);
	while ((r = ipc_get(&c->chan, &msg)) == 1) {
		/*
		 * A child that reads nothing would have us queue answers
		 * without end, for 16 bytes a request: it is broken.
		 */
		if (ipc_pending(&c->chan) > PRIV_UNREAD_MAX)
			why = "leaves its answers unread";
		else
			why = priv_dispatch(p, slot, &msg);
		if (why != NULL) {
			r = priv_broken(p, slot, ipc_type_name(msg.hdr.type),
			    why);
			ipc_msg_free(&msg);
			return r;
		}
		ipc_msg_free(&msg);
	}
	if (r == -1)
		return priv_broken(p, slot, NULL, c->chan.err);
	return 0;
}

/*
 * Empties the self-pipe.  SIGINT/SIGTERM end the run at once (-1);
 * *chld tells that some child changed state.
 */
static int
priv_signals(struct priv *p, int *chld)
{
	char junk[64];

	while (read(priv_sigfd[0], junk, sizeof(junk)) > 0)
		;
	if (priv_got_chld) {
		priv_got_chld = 0;
		*chld = 1;
	}
	if (priv_got_int) {
		/* The reference printed strerror(EINTR). */
		log_msg(LOG_LVL_ERROR, NULL, NULL, "Interrupted");
		return priv_end(p, EXIT_FAIL);
	}
	if (priv_got_term)
		return priv_end(p, EXIT_OK);
	return 0;
}

/* The engine is done and everyone is READY: ask all to leave. */
static void
priv_stop(struct priv *p)
{
	struct ipc_buf buf;
	int i;

	p->stopping = 1;
	sdnotify_stopping();
	(void)clock_gettime(CLOCK_MONOTONIC, &p->stop_t0);
	for (i = 0; i < PROC_NSLOTS; i++) {
		if (p->child[i].chan.fd == -1)
			continue;
		ipc_buf_init(&buf);
		(void)priv_send(p, i, IMSG_SHUTDOWN, &buf);
		ipc_buf_free(&buf);
	}
}

static long
priv_stop_left(const struct priv *p)
{
	struct timespec now;
	long ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - p->stop_t0.tv_sec) * 1000L +
	    (now.tv_nsec - p->stop_t0.tv_nsec) / 1000000L;
	return ms >= PRIV_SHUTDOWN_MS ? 0 : PRIV_SHUTDOWN_MS - ms;
}

/* While stopping: 1 when all are reaped (exitcode final), else 0. */
static int
priv_stopped(struct priv *p)
{
	struct proc_child *c;
	int i, code;

	for (i = 0; i < PROC_NSLOTS; i++)
		if (!p->child[i].reaped)
			return 0;
	/*
	 * A child's last messages (a net's traffic counters) may still sit
	 * in its channel: the SIGCHLD can be read in the same pass as, or
	 * before, the data that preceded it.
	 */
	for (i = 0; i < PROC_NSLOTS; i++)
		priv_drain(p, i);
	for (i = 0; i < PROC_NSLOTS; i++) {
		c = &p->child[i];
		if (p->reported[i] || priv_exit_ok(p, i))
			continue;
		p->reported[i] = 1;
		if ((code = priv_net_exitcode(c)) != -1) {
			p->exitcode = code;
			continue;
		}
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s %s", c->label,
		    proc_status_text(c));
		p->reported[i] = 1;
		p->exitcode = EXIT_CHILD;
	}
	return 1;
}

/*
 * The run, then what priv says about the servers once every child is
 * gone: the traffic summary (priv_net.c), and the tunnels reaped.
 */
int
priv_run(const struct cli *cli, const struct conf *conf,
    unsigned int targets, struct db *db, const char *argv0)
{
	int r;

	priv_db_init();
	priv_net_init();
	/* Before any child or tunnel is started: they must not inherit it. */
	sdnotify_init();
	r = priv_run_loop(cli, conf, targets, db, argv0);
	sdnotify_close();
	priv_net_finish();
	/* The database failed: that is the run's outcome, come what may. */
	if (priv_db_failed())
		r = EXIT_DB;
	return r;
}

static int
priv_run_loop(const struct cli *cli, const struct conf *conf,
    unsigned int targets, struct db *db, const char *argv0)
{
	struct pollfd pfd[PFD_MAX];
	struct priv p;
	struct proc_child *c;
	char junk[512];
	ssize_t n;
	int i, chld, timeout, code;

	memset(&p, 0, sizeof(p));
	p.cli = cli;
	p.conf = conf;
	p.targets = targets;
	p.db = db;
	proc_init(p.child);
	if (priv_test_env(&p) == -1)
		return EXIT_FAIL;

	if (proc_spawn(p.child, argv0) == -1) {
		(void)priv_end(&p, EXIT_CHILD);
		goto out;
	}
	if (priv_send_net_conf(&p, PROC_SLOT_NET_LOCAL) == -1 ||
	    priv_send_net_conf(&p, PROC_SLOT_NET_REMOTE) == -1 ||
	    priv_send_engine_conf(&p) == -1) {
		(void)priv_end(&p, EXIT_CONFIG);
		goto out;
	}

	for (;;) {
		pfd[PFD_SIGNAL].fd = priv_sigfd[0];
		pfd[PFD_SIGNAL].events = POLLIN;
		for (i = 0; i < PROC_NSLOTS; i++) {
			c = &p.child[i];
			pfd[PFD_CHILD + i].fd = c->chan.fd;
			pfd[PFD_CHILD + i].events = POLLIN;
			if (c->chan.fd != -1 && ipc_pending(&c->chan) > 0)
				pfd[PFD_CHILD + i].events |= POLLOUT;
		}
		pfd[PFD_STDIN].fd = p.hold ? STDIN_FILENO : -1;
		pfd[PFD_STDIN].events = POLLIN;
		for (i = 0; i < PFD_MAX; i++)
			pfd[i].revents = 0;
		timeout = p.stopping ? (int)priv_stop_left(&p) : -1;
		timeout = sdnotify_poll_timeout(timeout);

		if (poll(pfd, PFD_MAX, timeout) == -1) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: poll: %s",
			    strerror(errno));
			(void)priv_end(&p, EXIT_FAIL);
			goto out;
		}
		sdnotify_watchdog();

		chld = 0;
		if (pfd[PFD_SIGNAL].revents & POLLIN &&
		    priv_signals(&p, &chld) == -1)
			goto out;
		for (i = 0; i < PROC_NSLOTS; i++)
			if (priv_child_io(&p, i, pfd[PFD_CHILD + i].revents)
			    == -1)
				goto out;

		if (chld && proc_reap(p.child) > 0 && !p.stopping) {
			/* Died on its own: its last words, then ours. */
			for (i = 0; i < PROC_NSLOTS; i++) {
				c = &p.child[i];
				if (!c->reaped || p.reported[i] ||
				    priv_may_leave(&p, i))
					continue;
				priv_drain(&p, i);
				p.reported[i] = 1;
				/* A net that failed has said why. */
				if ((code = priv_net_exitcode(c)) != -1) {
					(void)priv_end(&p, code);
					goto out;
				}
				log_msg(LOG_LVL_ERROR, NULL, NULL,
				    "ERROR: %s %s", c->label,
				    proc_status_text(c));
				(void)priv_end(&p, EXIT_CHILD);
				goto out;
			}
		}

		if (pfd[PFD_STDIN].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, junk, sizeof(junk));
			if (n == 0 || (n == -1 && errno != EINTR &&
			    errno != EAGAIN)) {
				p.hold = 0;
				log_debug("test hold: stdin closed");
			}
		}

		/* Everyone is confined: now the servers. */
		if (!p.connected && !p.stopping &&
		    p.nready == PROC_NSLOTS) {
			p.connected = 1;
			if (priv_net_connect(conf, cli->watch > 0 ||
			    cli->notify, p.child) == -1) {
				(void)priv_end(&p, EXIT_FAIL);
				goto out;
			}
			sdnotify_ready("connected, syncing");
		}

		/*
		 * The engine is done; or the database failed, and the run
		 * cannot go on whatever the engine does next (a net that is
		 * not READY yet takes IMSG_SHUTDOWN as well).
		 */
		if (!p.stopping && !p.hold && (priv_db_failed() ||
		    (p.engine_done && p.nready == PROC_NSLOTS)))
			priv_stop(&p);
		if (p.stopping) {
			if (priv_stopped(&p))
				goto out;
			if (priv_stop_left(&p) == 0) {
				for (i = 0; i < PROC_NSLOTS; i++)
					if (!p.child[i].reaped)
						log_msg(LOG_LVL_ERROR, NULL,
						    NULL, "ERROR: %s did not "
						    "exit", p.child[i].label);
				(void)priv_end(&p, EXIT_CHILD);
				goto out;
			}
		}
	}
out:
	/* Whatever ended the run, the channels' buffers go with it. */
	for (i = 0; i < PROC_NSLOTS; i++)
		ipc_chan_close(&p.child[i].chan);
	return p.exitcode;
}
