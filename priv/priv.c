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
 * With --watch or --notify, a net that exits with EXIT_NET_LOST (its
 * connection dropped, or its server went silent: it has logged why) is
 * not the end.  The engine cannot go on with half of its connections:
 * the other one may be in the middle of an APPEND's literal, which IMAP
 * has no way to cancel, and its jobs hold state about both.  So the
 * other children are asked to leave (the other net logs out), what the
 * database had not committed is rolled back, and after a backoff
 * (priv_net.h: 1 s doubling to 5 min, with jitter) priv_run() starts
 * all three again: the new engine resumes from the database as after
 * any interrupted run.  A connect that fails for a reason that may pass
 * (refused, unreachable, a temporary DNS failure) is tried again on the
 * same net after the same backoff.  Anything else a net does wrong still
 * ends the run.  The lock on the database is held throughout.
 *
 * Signals (REFERENCE-BEHAVIOUR.md §6.9): SIGTERM and SIGINT end the run
 * at once: IMSG_SHUTDOWN to every child, the database's requests no
 * longer served (what is not committed is rolled back when priv closes
 * it), whatever has not left within PRIV_SIGNAL_STOP_MS ended; exit 0
 * for SIGTERM, 1 for SIGINT.  A second one does not wait at all.
 * SIGHUP reopens the logfile (logrotate) and, in watch mode, asks the
 * engine to synchronise now (IMSG_ENGINE_WAKE).
 *
 * A database request that fails (priv_db.c) ends the run too: priv asks
 * every child to leave at once, any child may then leave in any way
 * without being the run's failure (the engine with EXIT_DB, before or
 * after its IMSG_ENGINE_DONE is read; the nets whenever they notice),
 * and the exit status is EXIT_DB whatever happens after, signals
 * included.  The order in which priv learns of these things is timing,
 * and must not decide what the user or a script sees.
 *
 * Test hooks (the test build only, ipc/testhooks.h): right after a
 * child's READY, ask it to attempt forbidden call n (IMSG_TEST_SANDBOX);
 * once all are READY, keep running until stdin reaches EOF (HOLD), so
 * that a test can look at the children.
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
#include "connect.h"
#include "db.h"
#include "logsink.h"
#include "priv_net.h"
#include "proc.h"
#include "priv_db.h"
#include "priv_msg.h"
#include "progress.h"
#include "sdnotify.h"
#include "testhooks.h"

#define PRIV_SHUTDOWN_MS	5000	/* to leave after IMSG_SHUTDOWN */
#define PRIV_PASSWORD_COMMAND_MS 30000	/* for password-command's line */
#define PRIV_EOF_WAIT_MS	1000	/* from a channel's EOF to exit */
/*
 * After SIGTERM/SIGINT: to leave after IMSG_SHUTDOWN (a net's LOGOUT),
 * then from the channels' EOF to SIGKILL.  A service manager waits for
 * us; nothing a child still has to say is worth more than this.
 */
#define PRIV_SIGNAL_STOP_MS	1000
#define PRIV_SIGNAL_GRACE_MS	250
/*
 * Answers a child may leave unread before its next message is refused:
 * far above the largest legitimate answer (the mapping rows of one
 * mailbox), which the engine reads before asking for more.
 */
#define PRIV_UNREAD_MAX		(256 * 1024 * 1024)

/* Poll slots: the self-pipe, one per child, stdin (HOLD). */
enum {
	PFD_SIGNAL = 0,
	PFD_CHILD,			/* PFD_CHILD + enum proc_slot */
	PFD_STDIN = PFD_CHILD + PROC_NSLOTS,
	PFD_MAX
};

/* The children of a run of p->lanes lanes: the engine and two nets each. */
#define PRIV_NSLOTS(p)	(1 + 2 * (int)(p)->lanes)

/* The spares' credentials for the run (priv_send_net_confs()). */
struct priv_secret {
	char		*password;
	char		*token;
};

struct priv {
	const struct cli	*cli;
	const struct conf	*conf;
	unsigned int		 targets;
	struct db		*db;
	const char		*argv0;
	int			 watch;		/* --watch or --notify */
	unsigned int		 lanes;		/* connections per server */
	unsigned int		 lanes_wanted;	/* connected, or to be */
	struct proc_child	 child[PROC_NSLOTS];
	int			 reported[PROC_NSLOTS];
	int			 nready;
	int			 started;	/* all READY once: connect */
	int			 test_slot;	/* -1: no sandbox test */
	uint32_t		 test_call;
	int			 hold;		/* until stdin's EOF */
	int			 engine_done;
	int			 engine_code;	/* from IMSG_ENGINE_DONE */
	int			 exitcode;
	int			 stopping;	/* IMSG_SHUTDOWN sent */
	int			 signal;	/* SIGTERM/SIGINT: the end */
	unsigned int		 nsig_seen;	/* of priv_nsig */
	struct timespec		 stop_t0;
	long			 stop_ms;	/* from stop_t0 to give up */
	int			 grace_ms;	/* proc_terminate()'s */
	int			 restart;	/* a net lost its link */
	struct priv_secret	 secret[2];	/* by SIDE_* */
};

/*
 * priv_run_loop()'s outcome when the children must be started again (a
 * lost connection in watch mode): not an exit status.
 */
#define PRIV_RESTART	(-2)

/* The engine's last word on its passes, kept across restarts. */
static uint32_t	 priv_last_nmbox;
static uint64_t	 priv_last_pass;
static int	 priv_ready_told;	/* READY=1 sent */

/* A handler returns NULL, or why the message is broken. */
typedef const char *(*priv_handler_fn)(struct priv *, int,
    const struct ipc_msg *);

static int	 priv_sigfd[2] = { -1, -1 };
static volatile sig_atomic_t priv_got_int, priv_got_term, priv_got_chld;
static volatile sig_atomic_t priv_got_hup;
/* SIGINT and SIGTERM: how many came, and the first one handled. */
static volatile sig_atomic_t priv_nsig, priv_first_sig;

static void	 priv_sighandler(int);
static int	 priv_stop_asked(void);
static int	 priv_test_env(struct priv *);
static int	 priv_net_key(const char *, int);
static int	 priv_send(struct priv *, int, uint32_t, struct ipc_buf *);
static int	 priv_send_net_confs(struct priv *, uint32_t);
static int	 priv_send_secrets(struct priv *, int);
static void	 priv_secrets_wipe(struct priv *);
static int	 priv_send_net_conf(struct priv *, int,
		    const struct conf_section *, const char *, const char *);
static unsigned int priv_lanes(const struct cli *, const struct conf *);
static int	 priv_send_engine_conf(struct priv *);
static const char *priv_log(struct priv *, int, const struct ipc_msg *);
static const char *priv_ready(struct priv *, int, const struct ipc_msg *);
static const char *priv_engine_done(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_dispatch(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_stats(struct priv *, int, const struct ipc_msg *);
static const char *priv_engine_progress(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_engine_status(struct priv *, int,
		    const struct ipc_msg *);
static const char *priv_engine_lanes(struct priv *, int,
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
static void	 priv_hup(struct priv *);
static void	 priv_stop(struct priv *, long);
static int	 priv_stopped(struct priv *);
static long	 priv_stop_left(const struct priv *);
static int	 priv_child_gone(struct priv *, int);
static int	 priv_reconnectable(const struct priv *, int);
static int	 priv_lane_lost(struct priv *, int);
static void	 priv_restart(struct priv *, int);
static int	 priv_servers(struct priv *);
static int	 priv_backoff(void);
static int	 priv_timeout(const struct priv *);
static int	 priv_all_ready(const struct priv *);

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
	{ IMSG_ENGINE_PROGRESS,	PROC_ENGINE,	0, priv_engine_progress },
	{ IMSG_ENGINE_LANES,	PROC_ENGINE,	0, priv_engine_lanes },
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
	case SIGTERM:
		if (priv_first_sig == 0)
			priv_first_sig = sig;
		priv_nsig++;
		if (sig == SIGINT)
			priv_got_int = 1;
		else
			priv_got_term = 1;
		break;
	case SIGHUP:
		priv_got_hup = 1;
		break;
	case SIGCHLD:
		priv_got_chld = 1;
		break;
	}
	if (write(priv_sigfd[1], "", 1) == -1)
		errno = saved_errno;	/* full: a wake-up is pending */
	errno = saved_errno;
}

/*
 * connect_set_abort(): a connection attempt (up to a minute per address)
 * gives way to a signal that ends the run.
 */
static int
priv_stop_asked(void)
{
	return priv_got_int || priv_got_term;
}

int
priv_signals_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };
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
	connect_set_abort(priv_stop_asked);
	return 0;
}

static int
priv_test_env(struct priv *p)
{
	p->test_slot = -1;
	p->hold = hook_hold();
	if (hook_sandbox(proc_slot_by_name, &p->test_slot,
	    &p->test_call) == -1)
		return -1;
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
 * section's own keys (database, logfile...).  A spare (a lane other
 * than 0) gets no password either: it comes with its stream.
 */
static int
priv_net_key(const char *key, int spare)
{
	static const char *const keys[] = { "type", "host", "STARTTLS",
	    "auth", "username", "password", "compress", "sync-method" };
	size_t i;

	if (strncmp(key, "SSL_", 4) == 0)
		return 1;
	if (spare && strcmp(key, "password") == 0)
		return 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/*
 * IMSG_NET_CONF to each net of side: what it needs of its section, no
 * more.  With password-command, the password is its output, asked for
 * each time the nets are started (a reconnection asks again), once for
 * all the lanes.  Only lane 0's net gets the credentials with its
 * configuration; the others' (spares) are kept by priv for the run and
 * given with their stream (priv_send_secrets()), so that a spare never
 * connected never holds them.  -1 if a message could not be sent, -2 if
 * password-command failed (logged).
 */
static int
priv_send_net_confs(struct priv *p, uint32_t side)
{
	const struct conf_section *sec;
	const char *cmd;
	char *password = NULL, *token = NULL;
	unsigned int lane;
	int r = 0;

	sec = side == SIDE_LOCAL ? &p->conf->local : &p->conf->remote;
	if ((cmd = conf_get(sec, "password-command")) != NULL &&
	    connect_cmd_output(cmd, ipc_side_name(side),
	    "password-command", PRIV_PASSWORD_COMMAND_MS, &password) == -1)
		return -2;
	if ((cmd = conf_get(sec, "oauth-token-command")) != NULL &&
	    connect_cmd_output(cmd, ipc_side_name(side),
	    "oauth-token-command", PRIV_PASSWORD_COMMAND_MS, &token) == -1) {
		if (password != NULL)
			freezero(password, strlen(password));
		return -2;
	}
	for (lane = 0; lane < p->lanes && r == 0; lane++)
		r = priv_send_net_conf(p, PROC_SLOT_NET(lane, side), sec,
		    password, token);
	if (p->lanes > 1) {
		/* The spares' credentials: the command's, or the file's. */
		if (password == NULL && conf_get(sec, "password") != NULL &&
		    (password = strdup(conf_get(sec, "password"))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		p->secret[side].password = password;
		p->secret[side].token = token;
		return r;
	}
	if (password != NULL)
		freezero(password, strlen(password));
	if (token != NULL)
		freezero(token, strlen(token));
	return r;
}

/* IMSG_NET_SECRETS to a spare, right before its stream. */
static int
priv_send_secrets(struct priv *p, int slot)
{
	const struct priv_secret *sc = &p->secret[p->child[slot].side];
	struct ipc_buf buf;
	int r;

	ipc_buf_init(&buf);
	ipc_put_str(&buf, sc->password != NULL ? sc->password : "");
	ipc_put_str(&buf, sc->token != NULL ? sc->token : "");
	r = priv_send(p, slot, IMSG_NET_SECRETS, &buf);
	ipc_buf_free(&buf);		/* wipes them */
	return r;
}

/* The spares' credentials are no longer needed: the run is over. */
static void
priv_secrets_wipe(struct priv *p)
{
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		if (p->secret[side].password != NULL)
			freezero(p->secret[side].password,
			    strlen(p->secret[side].password));
		if (p->secret[side].token != NULL)
			freezero(p->secret[side].token,
			    strlen(p->secret[side].token));
		p->secret[side].password = p->secret[side].token = NULL;
	}
}

/* One net's IMSG_NET_CONF (priv_send_net_confs()). */
static int
priv_send_net_conf(struct priv *p, int slot, const struct conf_section *sec,
    const char *password, const char *token)
{
	struct ipc_buf buf;
	uint32_t flags = 0, nkeys = 0;
	size_t i;
	int r, spare;

	if (p->cli->watch > 0 || p->cli->notify)
		flags |= NET_CONF_WATCH;
	/* The reference compresses the remote link unless told not to. */
	if (p->child[slot].side == SIDE_REMOTE)
		flags |= NET_CONF_COMPRESS;
	if (p->cli->notify)
		flags |= NET_CONF_NOTIFY;
	if (log_audit())
		flags |= NET_CONF_AUDIT;
	if (p->child[slot].lane > 0)
		flags |= NET_CONF_SPARE;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)p->cli->debug);
	ipc_put_u32(&buf, flags);
	/* A spare gets its credentials with its stream. */
	spare = (flags & NET_CONF_SPARE) != 0;
	if (spare)
		password = token = NULL;
	for (i = 0; i < sec->nkv; i++)
		nkeys += priv_net_key(sec->kv[i].key, spare);
	ipc_put_u32(&buf, nkeys + (password != NULL) + (token != NULL));
	for (i = 0; i < sec->nkv; i++) {
		if (!priv_net_key(sec->kv[i].key, spare))
			continue;
		ipc_put_str(&buf, sec->kv[i].key);
		ipc_put_str(&buf, sec->kv[i].value);
	}
	if (password != NULL) {
		ipc_put_str(&buf, "password");
		ipc_put_str(&buf, password);
	}
	if (token != NULL) {
		ipc_put_str(&buf, "oauth-token");
		ipc_put_str(&buf, token);
	}
	r = priv_send(p, slot, IMSG_NET_CONF, &buf);
	ipc_buf_free(&buf);		/* wipes the password */
	return r;
}

/*
 * Lanes (ipc/proc.h): the smaller of the two servers' `connections',
 * for a one-shot sync or --repair of more than one mailbox.  Watch mode
 * keeps one pair (its NOTIFY or IDLE, and the reconnection of a lost
 * link, are lane 0's), and so do --delete and --rename (one mailbox).
 */
static unsigned int
priv_lanes(const struct cli *cli, const struct conf *conf)
{
	unsigned int n;

	if (cli->watch > 0 || cli->notify || (cli->command != CMD_SYNC &&
	    cli->command != CMD_REPAIR) || cli->nmailboxes == 1)
		return 1;
	n = conf->connections[SIDE_LOCAL];
	if (conf->connections[SIDE_REMOTE] < n)
		n = conf->connections[SIDE_REMOTE];
	if (cli->nmailboxes > 1 && (unsigned int)cli->nmailboxes < n)
		n = (unsigned int)cli->nmailboxes;
	return n < 1 ? 1 : n > IPC_LANES_MAX ? IPC_LANES_MAX : n;
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
	if (progress_enabled())
		flags |= ENGINE_CONF_PROGRESS;
	if (log_audit())
		flags |= ENGINE_CONF_AUDIT;
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
	const struct proc_child *c = &p->child[slot];

	switch (logsink_imsg(msg, logsink_net_names(c->kind, c->side,
	    c->lane))) {
	case 0:
		return NULL;
	case -2:
		return "a log line under another process's name";
	default:
		return "bad layout";
	}
}

static const char *
priv_ready(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct proc_child *c = &p->child[slot];
	struct ipc_buf buf;
	const char *why;

	if ((why = priv_msg_ready(msg, c->ready)) != NULL)
		return why;
	c->ready = 1;
	p->nready++;

	if (p->test_slot == slot) {
		ipc_buf_init(&buf);
		ipc_put_u32(&buf, p->test_call);
		if (priv_send(p, slot, IMSG_TEST_SANDBOX, &buf) == -1)
			fatalx(EXIT_FAIL, "IMSG_TEST_SANDBOX refused");
		ipc_buf_free(&buf);
	}
	if (p->nready == PRIV_NSLOTS(p) && !p->started) {
		log_debug("all children ready");
		if (p->hold)
			log_debug("test hold: waiting for stdin to close");
	} else if (p->started)
		log_debug("%s ready (pid %ld)", c->label, (long)c->pid);
	return NULL;
}

static const char *
priv_engine_done(struct priv *p, int slot, const struct ipc_msg *msg)
{
	const char *why;
	int code;

	if ((why = priv_msg_engine_done(msg, p->engine_done, &code)) != NULL)
		return why;
	p->engine_done = 1;
	p->engine_code = code;
	/*
	 * After SIGTERM/SIGINT, the signal says how the run ended; after a
	 * lost connection in watch mode, the restart.
	 */
	if (p->signal == 0 && !p->restart)
		p->exitcode = code;
	return NULL;
}

/* Where the run stands (watch mode), for the service manager. */
static const char *
priv_engine_status(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct priv_status st;
	const char *why;

	(void)p;
	(void)slot;
	if ((why = priv_msg_engine_status(msg, &st)) != NULL)
		return why;
	log_debug("engine: %s, %u mailbox(es), last pass ended at %llu",
	    st.state == ENGINE_ST_SYNCING ? "syncing" :
	    st.state == ENGINE_ST_IDLE ? "idle" : "reconnecting", st.nmbox,
	    (unsigned long long)st.last);
	priv_last_nmbox = st.nmbox;
	priv_last_pass = st.last;
	sdnotify_engine_status(st.state, st.nmbox, st.last, SIDE_NONE);
	return NULL;
}

/* A pass's progress, for the terminal's progress line. */
static const char *
priv_engine_progress(struct priv *p, int slot, const struct ipc_msg *msg)
{
	struct priv_progress pr;
	const char *why;

	(void)p;
	(void)slot;
	if ((why = priv_msg_engine_progress(msg, &pr)) != NULL)
		return why;
	/* Asked for, or a child doing what it was not told to. */
	if (!progress_enabled())
		return "not asked for";
	progress_update(pr.done, pr.total, pr.msgs, pr.bytes, pr.expected);
	return NULL;
}

/*
 * The engine has jobs waiting for a connection: the nets of the lanes up
 * to n are connected too (priv_servers()).  Until then only lane 0's
 * are: a run with one job or none (nothing changed) opens no more.
 */
static const char *
priv_engine_lanes(struct priv *p, int slot, const struct ipc_msg *msg)
{
	const char *why;
	uint32_t n;

	(void)slot;
	if ((why = priv_msg_engine_lanes(msg, p->lanes, &n)) != NULL)
		return why;
	if (n > p->lanes_wanted) {
		log_debug("engine: %u connections to each server wanted", n);
		p->lanes_wanted = n;
	}
	return NULL;
}

/* The traffic counters of a net, for the summary (priv_net.c). */
static const char *
priv_stats(struct priv *p, int slot, const struct ipc_msg *msg)
{
	return priv_net_stats(&p->child[slot], msg);
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
		 * The run has been told to end: the engine leaves at its
		 * IMSG_SHUTDOWN, and nothing more is written on its behalf
		 * (what it had not committed is rolled back).
		 */
		if (p->signal != 0)
			return NULL;
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
	const char *why;
	ssize_t n;

	if (c->chan.fd == -1)
		return;
	do {
		n = ipc_read(&c->chan);
		while (ipc_get(&c->chan, &msg) == 1) {
			if (msg.hdr.type == IMSG_LOG)
				(void)logsink_imsg(&msg, logsink_net_names(
				    c->kind, c->side, c->lane));
			else if (msg.hdr.type == IMSG_NET_STATS &&
			    (why = priv_net_stats(c, &msg)) != NULL)
				log_msg(LOG_LVL_ERROR, c->label, NULL,
				    "ERROR: broken IPC message "
				    "(IMSG_NET_STATS): %s", why);
			else if (msg.hdr.type == IMSG_ENGINE_DONE &&
			    slot == PROC_SLOT_ENGINE && c->ready &&
			    !p->engine_done)
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

	if (code != PRIV_RESTART)
		sdnotify_stopping();
	for (i = 0; i < PROC_NSLOTS; i++)
		priv_drain(p, i);
	proc_terminate(p->child, p->grace_ms);
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

/*
 * A child's channel is closed: fine if it may leave or is a net that
 * lost its connection in watch mode, fatal otherwise.  Its last words
 * are read first: a write to a child that has just left fails (EPIPE)
 * while what it said before leaving still waits in the channel.
 */
static int
priv_lost(struct priv *p, int slot)
{
	struct proc_child *c = &p->child[slot];

	priv_drain(p, slot);
	ipc_chan_close(&c->chan);
	if (priv_may_leave(p, slot))
		return 0;
	if (proc_wait(c, PRIV_EOF_WAIT_MS) == -1) {
		p->reported[slot] = 1;
		log_msg(LOG_LVL_ERROR, NULL, NULL,
		    "ERROR: %s closed its IPC channel", c->label);
		return priv_end(p, EXIT_CHILD);
	}
	return priv_child_gone(p, slot);
}

/*
 * Does this reaped child's end call for a restart rather than the end of
 * the run?  A net that lost its connection (it exits EXIT_NET_LOST once
 * it has said why), in watch mode; or whose OAuth token was refused
 * (EXIT_AUTH_RETRY), in any mode, once: the new generation asks
 * oauth-token-command again.  Not if the run is ending anyway (a signal,
 * the database failed).
 */
static int
priv_reconnectable(const struct priv *p, int slot)
{
	const struct proc_child *c = &p->child[slot];

	if (p->signal != 0 || priv_db_failed() || c->kind != PROC_NET ||
	    !c->reaped || !WIFEXITED(c->status))
		return 0;
	switch (WEXITSTATUS(c->status)) {
	case EXIT_NET_LOST:
		return p->watch;
	case EXIT_AUTH_RETRY:
		/* One run or many: a fresh token is worth one try. */
		return priv_net_auth_retry_ok(c->side);
	default:
		return 0;
	}
}

/*
 * The net of slot lost its connection in watch mode: its side waits for
 * the backoff (priv_net_lost() says so), and the others are asked to
 * leave, so that all three start again (priv_run()).
 */
static void
priv_restart(struct priv *p, int slot)
{
	struct proc_child *c = &p->child[slot];
	struct timespec now;

	ipc_chan_close(&c->chan);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (WEXITSTATUS(c->status) == EXIT_AUTH_RETRY)
		priv_net_auth_retry(c->side, &now);
	else
		priv_net_lost(c->side, &now);
	p->reported[slot] = 1;
	if (!p->restart) {
		p->restart = 1;
		/* The engine's ENGINE_DONE (EXIT_CHILD) is not the outcome. */
		p->exitcode = PRIV_RESTART;
	}
	if (!p->stopping)
		priv_stop(p, PRIV_SHUTDOWN_MS);
}

/*
 * A net of a lane other than 0 whose connection failed or was lost
 * (EXIT_FAIL, EXIT_NET_LOST: a server that allows fewer connections than
 * asked for refuses the extra ones) is not the end of the run: the
 * engine goes on without its lane, or, if a job was using it, ends the
 * run itself.  It has said why; this says what happens next.  A
 * protocol violation or a crash still ends the run.
 */
static int
priv_lane_lost(struct priv *p, int slot)
{
	const struct proc_child *c = &p->child[slot];

	if (c->kind != PROC_NET || c->lane == 0 || p->signal != 0 ||
	    priv_db_failed() || !WIFEXITED(c->status) ||
	    (WEXITSTATUS(c->status) != EXIT_FAIL &&
	    WEXITSTATUS(c->status) != EXIT_NET_LOST))
		return 0;
	log_msg(LOG_LVL_NOTICE, ipc_side_name(c->side), NULL,
	    "connection #%u failed; going on without it", c->lane + 1);
	return 1;
}

/*
 * A child has been reaped while the run was not ending: its last words,
 * then either a restart (a lost connection in watch mode) or the end of
 * the run, its failure named.  -1 if the run is over, 0 to go on.
 */
static int
priv_child_gone(struct priv *p, int slot)
{
	struct proc_child *c = &p->child[slot];
	int code;

	/* Said already (its channel's EOF, then its SIGCHLD). */
	if (p->reported[slot])
		return 0;
	priv_drain(p, slot);
	/*
	 * Its last word, read only now, may let it go: the engine's
	 * IMSG_ENGINE_DONE, when its SIGCHLD came in the same pass as
	 * another's (a tunnel's, whose server has just hung up) before its
	 * channel was read.  The run then stops as after any end the
	 * engine reported, and priv_stopped() still finds a net that lost
	 * its link, for the restart.
	 */
	if (priv_may_leave(p, slot) && priv_exit_ok(p, slot))
		return 0;
	p->reported[slot] = 1;
	if (priv_lane_lost(p, slot))
		return 0;
	if (priv_reconnectable(p, slot)) {
		priv_restart(p, slot);
		return 0;
	}
	/* A net that failed has said why (its server's error). */
	if ((code = priv_net_exitcode(c)) != -1)
		return priv_end(p, code);
	log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s %s", c->label,
	    proc_status_text(c));
	return priv_end(p, EXIT_CHILD);
}

/*
 * The servers: once every child has been READY (everyone confined), each
 * side whose net is READY and has no stream is connected, or connected
 * again when the wait after a transient failure is over.  -1 if the run
 * is over.
 */
static int
priv_servers(struct priv *p)
{
	struct proc_child *c;
	struct timespec now;
	uint32_t side;
	unsigned int lane;
	int i, r;

	if (!p->started && p->nready == PRIV_NSLOTS(p))
		p->started = 1;
	if (!p->started || p->stopping)
		return 0;
	/*
	 * Local first, then remote, as the reference; each lane's pair in
	 * turn, so that the first pair logs in while the others connect.
	 */
	for (i = 0; i < 2 * (int)p->lanes_wanted; i++) {
		lane = (unsigned int)i / 2;
		side = (uint32_t)i % 2;
		c = &p->child[PROC_SLOT_NET(lane, side)];
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		if (!c->ready || c->chan.fd == -1 ||
		    !p->child[PROC_SLOT_ENGINE].ready ||
		    !priv_net_want_connect(side, lane, &now))
			continue;
		if (lane > 0 && priv_send_secrets(p, PROC_SLOT_NET(lane,
		    side)) == -1)
			return priv_end(p, EXIT_CHILD);
		if ((r = priv_net_connect(p->conf, side, lane, c, &now)) !=
		    -1)
			continue;
		/* Cut short by SIGTERM/SIGINT: the signal ends the run. */
		if (priv_stop_asked())
			return 0;
		return priv_end(p, EXIT_FAIL);
	}
	return 0;
}

/*
 * Is every child that is running READY?  A net being replaced is not
 * running.
 */
static int
priv_all_ready(const struct priv *p)
{
	int i;

	for (i = 0; i < PROC_NSLOTS; i++)
		if (p->child[i].pid > 0 && !p->child[i].reaped &&
		    !p->child[i].ready)
			return 0;
	return 1;
}

/* poll()'s timeout: the end of a stop, or the next reconnection. */
static int
priv_timeout(const struct priv *p)
{
	struct timespec now;

	if (p->stopping)
		return (int)priv_stop_left(p);
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return priv_net_timeout(&now);
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
 * Empties the self-pipe; *chld tells that some child changed state.
 *
 * SIGTERM or SIGINT while the run goes on ends it: every child is asked
 * to leave, and the exit status is the signal's (0, or 1 for SIGINT).
 * One while the run is already ending for its own reasons only shortens
 * the wait, the outcome being known.  Another one after that: no more
 * waiting (-1).
 */
static int
priv_signals(struct priv *p, int *chld)
{
	char junk[64];
	unsigned int nsig;
	long left;

	while (read(priv_sigfd[0], junk, sizeof(junk)) > 0)
		;
	if (priv_got_chld) {
		priv_got_chld = 0;
		*chld = 1;
	}
	if (priv_got_hup) {
		priv_got_hup = 0;
		priv_hup(p);
	}
	nsig = (unsigned int)priv_nsig;
	if (nsig == p->nsig_seen)
		return 0;
	p->nsig_seen = nsig;
	if (p->signal != 0)
		return priv_end(p, p->exitcode);
	p->signal = priv_first_sig;
	p->grace_ms = PRIV_SIGNAL_GRACE_MS;
	/* A restart under way: the signal ends the run instead. */
	if (p->restart) {
		p->restart = 0;
		p->exitcode = p->signal == SIGINT ? EXIT_FAIL : EXIT_OK;
		if (p->signal == SIGINT)
			log_msg(LOG_LVL_ERROR, NULL, NULL, "Interrupted");
		sdnotify_stopping();
	}
	if (p->stopping) {
		left = priv_stop_left(p);
		if (left > PRIV_SIGNAL_STOP_MS)
			p->stop_ms -= left - PRIV_SIGNAL_STOP_MS;
		return 0;
	}
	if (p->signal == SIGINT) {
		/* The reference printed strerror(EINTR). */
		log_msg(LOG_LVL_ERROR, NULL, NULL, "Interrupted");
		p->exitcode = EXIT_FAIL;
	} else
		p->exitcode = EXIT_OK;
	priv_net_cancel(SIDE_LOCAL);
	priv_net_cancel(SIDE_REMOTE);
	priv_stop(p, PRIV_SIGNAL_STOP_MS);
	return 0;
}

/*
 * SIGHUP: the logfile opened again (logrotate moved it), and in watch
 * mode the engine asked to look at every mailbox now.  The run goes on.
 */
static void
priv_hup(struct priv *p)
{
	struct proc_child *e = &p->child[PROC_SLOT_ENGINE];
	struct ipc_buf buf;
	int woken = 0;

	(void)logsink_reopen();
	if (p->watch && !p->stopping && e->ready && e->chan.fd != -1) {
		ipc_buf_init(&buf);
		woken = priv_send(p, PROC_SLOT_ENGINE, IMSG_ENGINE_WAKE,
		    &buf) == 0;
		ipc_buf_free(&buf);
	}
	log_debug("SIGHUP: logfile reopened%s", woken ?
	    ", engine asked to synchronise" : "");
}

/*
 * Asks every child to leave (IMSG_SHUTDOWN), and gives them ms to do so:
 * the engine is done, or the database failed, or a signal came.
 */
static void
priv_stop(struct priv *p, long ms)
{
	struct ipc_buf buf;
	int i;

	p->stopping = 1;
	/*
	 * In watch mode the end may yet be a restart (the engine leaves
	 * first when a net lost its link): priv_run() says it then.
	 */
	if (!p->watch || p->signal != 0 || priv_db_failed())
		sdnotify_stopping();
	p->stop_ms = ms;
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
	return ms >= p->stop_ms ? 0 : p->stop_ms - ms;
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
	/*
	 * A net that lost its link may have been reaped only now, after
	 * the engine, which left when its channel to it closed.
	 */
	for (i = 0; i < PROC_NSLOTS; i++)
		if (!p->reported[i] && priv_reconnectable(p, i))
			priv_restart(p, i);
	for (i = 0; i < PROC_NSLOTS; i++) {
		c = &p->child[i];
		if (p->reported[i] || priv_exit_ok(p, i))
			continue;
		/*
		 * Cut short by a signal or a lost connection, a child may
		 * leave as it can (a net whose LOGOUT met a dropped
		 * connection, the engine without its net): the signal or
		 * the restart is the outcome.  Dying of a signal of its own
		 * is still news.
		 */
		if ((p->signal != 0 || p->restart) && WIFEXITED(c->status))
			continue;
		p->reported[i] = 1;
		/*
		 * An extra lane refused while the jobs ran out (a server
		 * that allows fewer connections, slow to say so) is no
		 * more a failure than one refused earlier.
		 */
		if (priv_lane_lost(p, i))
			continue;
		if ((code = priv_net_exitcode(c)) != -1) {
			p->exitcode = code;
			continue;
		}
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s %s", c->label,
		    proc_status_text(c));
		p->reported[i] = 1;
		p->exitcode = EXIT_CHILD;
		p->restart = 0;
	}
	if (p->restart)
		p->exitcode = PRIV_RESTART;
	return 1;
}

/*
 * Between a lost connection and the new children: waits for the side's
 * backoff (priv_net_timeout()), the service manager told why.  SIGHUP
 * reopens the log and ends the wait (synchronise now); SIGTERM and
 * SIGINT end the run.  PRIV_RESTART to start again, or the exit status.
 */
static int
priv_backoff(void)
{
	struct pollfd pfd;
	struct timespec now;
	char junk[64];
	int ms;

	sdnotify_engine_status(ENGINE_ST_RECONNECT, priv_last_nmbox,
	    priv_last_pass, SIDE_NONE);
	for (;;) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		if ((ms = priv_net_timeout(&now)) == -1 ||
		    priv_net_respawn_due(SIDE_LOCAL, &now) ||
		    priv_net_respawn_due(SIDE_REMOTE, &now))
			return PRIV_RESTART;
		pfd.fd = priv_sigfd[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, sdnotify_poll_timeout(ms)) == -1 &&
		    errno != EINTR) {
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: poll: %s",
			    strerror(errno));
			return EXIT_FAIL;
		}
		sdnotify_watchdog();
		while (read(priv_sigfd[0], junk, sizeof(junk)) > 0)
			;
		if (priv_got_chld) {
			priv_got_chld = 0;
			priv_net_reap();
		}
		if (priv_nsig != 0) {
			if (priv_first_sig == SIGINT) {
				log_msg(LOG_LVL_ERROR, NULL, NULL,
				    "Interrupted");
				return EXIT_FAIL;
			}
			return EXIT_OK;
		}
		if (priv_got_hup) {
			priv_got_hup = 0;
			(void)logsink_reopen();
			log_debug("SIGHUP: logfile reopened, reconnecting now");
			priv_net_cancel(SIDE_LOCAL);
			priv_net_cancel(SIDE_REMOTE);
			return PRIV_RESTART;
		}
	}
}

/*
 * The run, then what priv says about the servers once every child is
 * gone: the traffic summary (priv_net.c), and the tunnels reaped.
 * In watch mode, a run whose connection was lost is started again.
 */
int
priv_run(const struct cli *cli, const struct conf *conf,
    unsigned int targets, struct db *db, const char *argv0)
{
	int r;

	priv_net_init(cli->watch > 0 || cli->notify);
	/* Before any child or tunnel is started: they must not inherit it. */
	sdnotify_init();
	for (;;) {
		priv_db_init();
		r = priv_run_loop(cli, conf, targets, db, argv0);
		if (r != PRIV_RESTART)
			break;
		/*
		 * Nothing the engine had not committed survives it: the new
		 * one resumes from what the database says.
		 */
		if (db_in_transaction(db)) {
			log_debug("rolling back the lost engine's transaction");
			if (db_rollback(db) == -1) {
				log_msg(LOG_LVL_ERROR, "database", NULL,
				    "ERROR: %s", db_error(db));
				r = EXIT_DB;
				break;
			}
		}
		priv_net_ended();
		if ((r = priv_backoff()) != PRIV_RESTART)
			break;
		priv_net_restarted();
	}
	sdnotify_stopping();
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
	int i, chld, timeout;

	memset(&p, 0, sizeof(p));
	p.cli = cli;
	p.conf = conf;
	p.targets = targets;
	p.db = db;
	p.argv0 = argv0;
	p.watch = cli->watch > 0 || cli->notify;
	p.grace_ms = PROC_GRACE_MS;
	p.lanes = priv_lanes(cli, conf);
	p.lanes_wanted = 1;
	proc_init(p.child, p.lanes);
	/* The slots of lanes this run has not: nothing to say of them. */
	for (i = PRIV_NSLOTS(&p); i < PROC_NSLOTS; i++)
		p.reported[i] = 1;
	if (p.lanes > 1)
		log_debug("%u connections to each server", p.lanes);
	if (priv_test_env(&p) == -1)
		return EXIT_FAIL;

	if (proc_spawn(p.child, argv0) == -1) {
		(void)priv_end(&p, EXIT_CHILD);
		goto out;
	}
	if ((i = priv_send_net_confs(&p, SIDE_LOCAL)) != 0 ||
	    (i = priv_send_net_confs(&p, SIDE_REMOTE)) != 0 ||
	    (i = priv_send_engine_conf(&p)) != 0) {
		/* A password-command that failed has said why. */
		(void)priv_end(&p, i == -2 ? EXIT_FAIL : EXIT_CONFIG);
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
		timeout = sdnotify_poll_timeout(priv_timeout(&p));

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

		if (chld) {
			priv_net_reap();
			if (proc_reap(p.child) > 0 && !p.stopping) {
				/* Gone on its own: last words, then ours. */
				for (i = 0; i < PROC_NSLOTS; i++) {
					c = &p.child[i];
					if (!c->reaped || p.reported[i] ||
					    priv_may_leave(&p, i))
						continue;
					if (priv_child_gone(&p, i) == -1)
						goto out;
				}
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
		if (priv_servers(&p) == -1)
			goto out;
		/* Once, not again after a reconnection. */
		if (!p.stopping && !priv_ready_told && priv_net_connected()) {
			priv_ready_told = 1;
			sdnotify_ready("connected, syncing");
		}

		/*
		 * The engine is done; or the database failed, and the run
		 * cannot go on whatever the engine does next (a net that is
		 * not READY yet takes IMSG_SHUTDOWN as well).  A side whose
		 * net is being replaced has none to wait for.
		 */
		if (!p.stopping && !p.hold && (priv_db_failed() ||
		    (p.engine_done && priv_all_ready(&p)))) {
			priv_net_cancel(SIDE_LOCAL);
			priv_net_cancel(SIDE_REMOTE);
			priv_stop(&p, PRIV_SHUTDOWN_MS);
		}
		if (p.stopping) {
			if (priv_stopped(&p))
				goto out;
			if (priv_stop_left(&p) == 0) {
				for (i = 0; i < PROC_NSLOTS; i++)
					if (!p.child[i].reaped &&
					    p.signal == 0 && !p.restart)
						log_msg(LOG_LVL_ERROR, NULL,
						    NULL, "ERROR: %s did not "
						    "exit", p.child[i].label);
				(void)priv_end(&p, p.signal != 0 || p.restart ?
				    p.exitcode : EXIT_CHILD);
				goto out;
			}
		}
	}
out:
	/* Whatever ended the run, the channels' buffers go with it. */
	for (i = 0; i < PROC_NSLOTS; i++)
		ipc_chan_close(&p.child[i].chan);
	priv_secrets_wipe(&p);
	return p.exitcode;
}
