/*
 * The engine process: reconciliation of the two servers' mailboxes.  It
 * holds no secret and touches neither files nor the network; it talks to
 * priv (fd 3: configuration, database, logs) and to each net (fds 4, 5:
 * IMAP operations).
 *
 * Start-up follows HOUSE-STYLE.md: name, close stray fds, drop
 * privileges, rlimits, receive the configuration from priv, enter the
 * sandbox, say "sandbox loaded", report IMSG_CHILD_READY, then work.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf_proto.h"
#include "sandbox.h"
#include "engine_sandbox.h"
#include "testhooks.h"
#include "eng.h"

struct engine {
	struct ipc_chan	 parent;
	/* By lane, then SIDE_*: net[0], net[1] are lane 0's. */
	struct ipc_chan	 net[2 * IPC_LANES_MAX];
	size_t		 nlanes;
	struct eng_conf	 conf;
};

static int	 eng_get_list(struct ipc_rd *, struct eng_data **, size_t *);
static void	 eng_free_list(struct eng_data *, size_t);
static int	 eng_conf_unpack(struct eng_conf *, const struct ipc_msg *);
static void	 eng_conf_free(struct eng_conf *);
static void	 eng_recv_conf(struct engine *);
static void	 eng_ready(struct engine *);
static void	 eng_run(struct engine *);
static const char *eng_command_name(uint32_t);

/* Reads u32 n, then n x data into a new array; caller frees. */
static int
eng_get_list(struct ipc_rd *rd, struct eng_data **list, size_t *n)
{
	const void *p;
	uint32_t count, i;
	size_t len;

	*list = NULL;
	*n = 0;
	count = ipc_get_u32(rd);
	if (rd->error || count > ENGINE_CONF_MAXLIST || count > rd->left / 4)
		return -1;
	if (count == 0)
		return 0;
	if ((*list = calloc(count, sizeof(**list))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < count; i++) {
		if ((p = ipc_get_data(rd, &len)) == NULL)
			return -1;	/* NULL is not a mailbox */
		if (((*list)[i].bytes = malloc(len + 1)) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		memcpy((*list)[i].bytes, p, len);
		(*list)[i].bytes[len] = '\0';
		(*list)[i].len = len;
		*n = i + 1;
	}
	return 0;
}

static void
eng_free_list(struct eng_data *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].bytes);
	free(list);
}

static void
eng_conf_free(struct eng_conf *c)
{
	eng_free_list(c->mailbox, c->nmailbox);
	eng_free_list(c->pattern, c->npattern);
	free(c->list_select_opts);
	free(c->ignore_mailbox);
	free(c->list_reference[SIDE_LOCAL]);
	free(c->list_reference[SIDE_REMOTE]);
	memset(c, 0, sizeof(*c));
}

/* 0, or -1 if the payload breaks the layout (c is then freed). */
static int
eng_conf_unpack(struct eng_conf *c, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	int side;

	memset(c, 0, sizeof(*c));
	ipc_rd_init(&rd, msg);
	c->debug = ipc_get_u32(&rd);
	c->flags = ipc_get_u32(&rd);
	c->command = ipc_get_u32(&rd);
	c->targets = ipc_get_u32(&rd);
	c->watch = ipc_get_u32(&rd);
	if (eng_get_list(&rd, &c->mailbox, &c->nmailbox) == -1 ||
	    eng_get_list(&rd, &c->pattern, &c->npattern) == -1)
		goto bad;
	c->list_select_opts = ipc_get_str(&rd);
	c->ignore_mailbox = ipc_get_str(&rd);
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		c->list_reference[side] = ipc_get_str(&rd);
		if (c->list_reference[side] == NULL)
			goto bad;
	}
	if (ipc_rd_end(&rd) == -1)
		goto bad;
	if (c->command > ENGINE_CMD_RENAME ||
	    (c->flags & ~(ENGINE_CONF_WATCH | ENGINE_CONF_NOTIFY |
	    ENGINE_CONF_QUIET | ENGINE_CONF_PROGRESS | ENGINE_CONF_AUDIT)) !=
	    0 ||
	    (c->targets & ~(ENGINE_TARGET_LOCAL | ENGINE_TARGET_REMOTE |
	    ENGINE_TARGET_DATABASE)) != 0 || c->targets == 0)
		goto bad;
	return 0;
bad:
	eng_conf_free(c);
	return -1;
}

static const char *
eng_command_name(uint32_t command)
{
	switch (command) {
	case ENGINE_CMD_SYNC:
		return "sync";
	case ENGINE_CMD_REPAIR:
		return "repair";
	case ENGINE_CMD_DELETE:
		return "delete";
	case ENGINE_CMD_RENAME:
		return "rename";
	}
	return "?";
}

/* The first message from priv must be the configuration. */
static void
eng_recv_conf(struct engine *e)
{
	struct ipc_msg msg;
	int r;

	if ((r = ipc_get_sync(&e->parent, &msg)) == 0)
		exit(EXIT_OK);		/* priv went away first */
	if (r == -1)
		fatalx(EXIT_CHILD, "broken IPC channel from priv: %s",
		    e->parent.err);
	if (msg.hdr.type != IMSG_ENGINE_CONF)
		fatalx(EXIT_CHILD, "broken IPC message (%s): expected "
		    "IMSG_ENGINE_CONF", ipc_type_name(msg.hdr.type));
	if (eng_conf_unpack(&e->conf, &msg) == -1)
		fatalx(EXIT_CHILD, "broken IPC message (IMSG_ENGINE_CONF): "
		    "bad layout");
	ipc_msg_free(&msg);
	log_set_debug((int)e->conf.debug);
	log_set_audit((e->conf.flags & ENGINE_CONF_AUDIT) != 0);
	log_debug("engine: config: command %s, %zu mailbox argument(s), "
	    "%zu list-mailbox pattern(s), watch %u",
	    eng_command_name(e->conf.command), e->conf.nmailbox,
	    e->conf.npattern, e->conf.watch);
}

static void
eng_ready(struct engine *e)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, IPC_CATALOGUE_VERSION);
	if (ipc_send(&e->parent, IMSG_CHILD_READY, SIDE_NONE, -1, &buf) == -1)
		fatalx(EXIT_CHILD, "%s", e->parent.err);
	ipc_buf_free(&buf);
	if (ipc_flush_sync(&e->parent) == -1)
		fatalx(EXIT_CHILD, "%s", e->parent.err);
}

/*
 * The work: the synchronisation (sync.c), then IMSG_ENGINE_DONE with its
 * exit code.  Failures on the way leave through eng_fail(), which sends
 * the same message with their code.  Afterwards, wait for priv to end
 * the run (IMSG_SHUTDOWN, or its channel closing).
 */
static void
eng_run(struct engine *e)
{
	struct eng x;
	int code;

	memset(&x, 0, sizeof(x));
	x.parent = &e->parent;
	x.conf = &e->conf;
	x.quiet = (e->conf.flags & ENGINE_CONF_QUIET) != 0;
	x.progress = (e->conf.flags & ENGINE_CONF_PROGRESS) != 0;
	eng_lanes_init(&x, e->net, e->nlanes);

	code = sync_run(&x);
	eng_done(&x, code);
	for (;;)
		eng_poll(&x);
}

int
engine_main(int argc, char *argv[])
{
	struct engine e;
	size_t k;

	memset(&e, 0, sizeof(e));
	/*
	 * As many lanes as priv gave pairs of net channels: nothing else
	 * is open from descriptor 3 up (proc.c).
	 */
	for (e.nlanes = 1; e.nlanes < IPC_LANES_MAX &&
	    fcntl(IPC_FD_NET(e.nlanes, SIDE_REMOTE), F_GETFD) != -1;
	    e.nlanes++)
		;
	sandbox_child_init(argc, argv, "engine",
	    IPC_FD_NET(e.nlanes - 1, SIDE_REMOTE) + 1);
	if (ipc_chan_init(&e.parent, IPC_FD_PARENT, PROC_ENGINE,
	    PROC_PRIV) == -1)
		fatalx(EXIT_CHILD, "no channel to priv: %s",
		    e.parent.err);
	log_set_chan(&e.parent);
	log_set_name("");
	for (k = 0; k < 2 * e.nlanes; k++)
		if (ipc_chan_init(&e.net[k], IPC_FD_NET_LOCAL + (int)k,
		    PROC_ENGINE, PROC_NET) == -1)
			fatalx(EXIT_CHILD, "engine: channels to the nets "
			    "missing");

	sandbox_drop_privs(NULL);
	sandbox_rlimits();
	eng_recv_conf(&e);
	engine_sandbox();
	log_msg(LOG_LVL_DEBUG, "engine", NULL, "sandbox loaded");
	eng_ready(&e);

	/* The test build: a script instead of the sync (testclient.h). */
	hook_engine(&e.parent, e.net);
	eng_run(&e);
	/* NOTREACHED */

	eng_conf_free(&e.conf);
	for (k = 0; k < 2 * e.nlanes; k++)
		ipc_chan_close(&e.net[k]);
	ipc_chan_close(&e.parent);
	return EXIT_OK;
}
