/*
 * The engine's event loop: one poll over priv and both nets, reading
 * everything that is there and dispatching it (eng.h).  Whoever waits,
 * waits here, so both servers and the database progress together.
 *
 * Flow control: while a net's outgoing queue holds more than
 * ENG_QUEUE_MAX bytes (an APPEND being fed), the other net is not read,
 * so a fast source cannot make the engine buffer a slow target's
 * backlog: memory stays bounded whatever the size of the mailbox.  The
 * bound only has to keep the target's net fed between two rounds of the
 * loop (the socket's own buffer holds as much again): a first sync of
 * 100,000 small messages ran no faster with 1 MiB than with 64 KiB, and
 * the 1 MiB queue was a third of the engine's peak.  One exception: the
 * local net while the local pass's FETCH runs ahead of its turn, whose
 * answer has a byte budget (xfer_early(), in xfer_pre.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"

#define ENG_QUEUE_MAX	(128 * 1024)

/* Poll slots: priv, then each lane's nets (local, remote). */
enum {
	PFD_PARENT = 0,
	PFD_NET,
	PFD_MAX = PFD_NET + 2 * IPC_LANES_MAX
};
#define PFD_LANE(i)	((size_t)((i) - PFD_NET) / 2)
#define PFD_SIDE(i)	((uint32_t)((i) - PFD_NET) % 2)

static void	 eng_parent_msg(struct eng *, struct ipc_msg *);
static void	 eng_poll_once(struct eng *);
static void	 eng_net_gone(struct eng *, int, const char *);
static int	 eng_timer_left(const struct eng *);
static void	 eng_timer_check(struct eng *);
static struct ipc_chan *eng_slot_chan(struct eng *, int);

static struct ipc_chan *
eng_slot_chan(struct eng *e, int i)
{
	return i == PFD_PARENT ? e->parent :
	    e->netchan[PFD_LANE(i)][PFD_SIDE(i)];
}

void
eng_lanes_init(struct eng *e, struct ipc_chan *nets, size_t nlanes)
{
	size_t k;
	uint32_t s;

	e->nlanes = nlanes;
	for (k = 0; k < nlanes; k++)
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			e->netchan[k][s] = &nets[2 * k + s];
			e->lane[k][s] = k == 0 ? &e->peer[s] :
			    eng_calloc(1, sizeof(struct peer));
			netc_init(e->lane[k][s], e, s, e->netchan[k][s]);
		}
}

void
eng_done(struct eng *e, int code)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)code);
	if (ipc_send(e->parent, IMSG_ENGINE_DONE, SIDE_NONE, -1, &buf) == -1)
		fatalx(EXIT_CHILD, "%s", e->parent->err);
	ipc_buf_free(&buf);
	e->done = 1;
}

void
eng_exit(struct eng *e, int code)
{
	struct ipc_buf buf;

	if (e->done)
		exit(code);
	/* Each mailbox's lines, in order, before the end. */
	jobs_flush_logs(e);
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)code);
	if (e->parent->fd != -1 &&
	    ipc_send(e->parent, IMSG_ENGINE_DONE, SIDE_NONE, -1, &buf) == 0)
		(void)ipc_flush_sync(e->parent);
	ipc_buf_free(&buf);
	exit(code);
}

void
eng_fail(struct eng *e, int code, const char *name, const char *mailbox,
    const char *fmt, ...)
{
	va_list ap;
	char *text;

	jobs_flush_logs(e);
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		text = NULL;
	va_end(ap);
	/* A PANIC carries its own word; everything else is an ERROR. */
	if (text != NULL && strncmp(text, "PANIC", 5) == 0)
		log_msg(LOG_LVL_ERROR, name, mailbox, "%s", text);
	else
		log_msg(LOG_LVL_ERROR, name, mailbox, "ERROR: %s",
		    text ? text : fmt);
	free(text);
	eng_exit(e, code);
}

static void
eng_parent_msg(struct eng *e, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	uint32_t n;

	switch (msg->hdr.type) {
	case IMSG_TEST_SANDBOX:
		ipc_rd_init(&rd, msg);
		n = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1) {
			log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC "
			    "message (IMSG_TEST_SANDBOX): bad layout");
			exit(EXIT_CHILD);
		}
		sandbox_test(e->parent, n);
		break;
	case IMSG_SHUTDOWN:
		/* priv ends the run (a signal): leave at once. */
		e->shutdown = 1;
		exit(EXIT_OK);
	case IMSG_DB_MAILBOX_ROW:
	case IMSG_DB_MAP_ROWS:
	case IMSG_DB_FLAG_ROWS:
	case IMSG_DB_RESULT:
		dbc_dispatch(e, msg);
		break;
	case IMSG_ENGINE_WAKE:
		/* SIGHUP: look at every mailbox now (watch mode). */
		if (msg->len != 0) {
			log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC "
			    "message (IMSG_ENGINE_WAKE): bad layout");
			exit(EXIT_CHILD);
		}
		e->wake = 1;
		run_wake(e);
		break;
	default:
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(%s): not expected from priv",
		    ipc_type_name(msg->hdr.type));
		exit(EXIT_CHILD);
	}
}

void
eng_timer_set(struct eng *e, struct task *t, uint64_t ms)
{
	e->timer_at = clock_ms() + (int64_t)ms;
	e->timer_task = t;
}

void
eng_timer_cancel(struct eng *e)
{
	e->timer_at = 0;
	e->timer_task = NULL;
}

/* poll()'s timeout: until the timer, or forever. */
static int
eng_timer_left(const struct eng *e)
{
	int64_t now;

	if (e->timer_task == NULL)
		return -1;
	now = clock_ms();
	if (now >= e->timer_at)
		return 0;
	return e->timer_at - now > INT32_MAX ? INT32_MAX :
	    (int)(e->timer_at - now);
}

static void
eng_timer_check(struct eng *e)
{
	struct task *t;

	if (e->timer_task == NULL || clock_ms() < e->timer_at)
		return;
	t = e->timer_task;
	eng_timer_cancel(e);
	e->timer_fired = 1;
	eng_wake(e, t);
}

/*
 * The engine's one wait.  Handlers run inside it and must not wait in
 * turn (HOUSE-STYLE "Event loops"); a nested call is the engine's bug,
 * ended here rather than left to hide one answer behind another.
 */
static int eng_polling;

void
eng_poll(struct eng *e)
{
	if (eng_polling)
		fatalx(EXIT_CHILD, "engine: internal error: a handler waited "
		    "(nested poll)");
	eng_polling = 1;
	eng_poll_once(e);
	eng_polling = 0;
}

/*
 * The net of poll slot i is gone (how: said at --debug).  Once the run is
 * over, or for a spare lane between jobs (lease_drop()), its channel is
 * closed and the loop goes on; otherwise the run cannot.
 */
static void
eng_net_gone(struct eng *e, int i, const char *how)
{
	if (e->done || lease_drop(e, PFD_LANE(i), PFD_SIDE(i))) {
		ipc_chan_close(eng_slot_chan(e, i));
		return;
	}
	log_msg(LOG_LVL_DEBUG, "engine", NULL, "net(%s) %s",
	    ipc_side_name(PFD_SIDE(i)), how);
	eng_exit(e, EXIT_CHILD);
}

static void
eng_poll_once(struct eng *e)
{
	struct pollfd pfd[PFD_MAX];
	struct ipc_chan *chan;
	struct ipc_msg msg;
	ssize_t n;
	int i, r, npfd = PFD_NET + 2 * (int)e->nlanes;

	/*
	 * Every queue flushed first, then the events chosen: whether a net
	 * is read depends on how much its lane's other net still has queued
	 * once flushed.  Chosen before that flush, a net could be left
	 * unread while the other, its queue since written out, waits for
	 * the rest of an APPEND that only the unread one can bring: neither
	 * would ever speak again.
	 */
	for (i = 0; i < npfd; i++) {
		chan = eng_slot_chan(e, i);
		if (chan->fd == -1 || ipc_pending(chan) == 0 ||
		    ipc_flush(chan) != -1)
			continue;
		if (i == PFD_PARENT)
			exit(EXIT_OK);	/* priv is gone */
		eng_net_gone(e, i, "went away");
	}
	for (i = 0; i < npfd; i++) {
		chan = eng_slot_chan(e, i);
		pfd[i].fd = -1;
		pfd[i].events = pfd[i].revents = 0;
		if (chan->fd == -1)
			continue;
		pfd[i].fd = chan->fd;
		pfd[i].events = POLLIN;
		/*
		 * A job copies between the two nets of its lane; a pass
		 * ahead of its turn is read whole (xfer_early()).
		 */
		if (i != PFD_PARENT && e->netchan[PFD_LANE(i)]
		    [OTHER(PFD_SIDE(i))]->wq_bytes > ENG_QUEUE_MAX &&
		    e->lane[PFD_LANE(i)][PFD_SIDE(i)]->early == 0)
			pfd[i].events = 0;
		if (ipc_pending(chan) > 0)
			pfd[i].events |= POLLOUT;
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)npfd, eng_timer_left(e)) == -1) {
		if (errno == EINTR)
			return;
		fatal(EXIT_CHILD, "poll");
	}
	eng_timer_check(e);
	for (i = 0; i < npfd; i++) {
		chan = eng_slot_chan(e, i);
		if (chan->fd == -1)
			continue;
		if ((pfd[i].revents & POLLOUT) && ipc_flush(chan) == -1) {
			if (i == PFD_PARENT)
				exit(EXIT_OK);
			if (lease_drop(e, PFD_LANE(i), PFD_SIDE(i))) {
				ipc_chan_close(chan);
				continue;
			}
			eng_exit(e, EXIT_CHILD);
		}
		if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		n = ipc_read(chan);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			continue;
		if (n <= 0) {
			/*
			 * priv gone: nothing left to do.  A net gone: it
			 * said why to priv, which decides what the user
			 * sees; the run cannot go on.
			 */
			if (i == PFD_PARENT)
				exit(EXIT_OK);
			eng_net_gone(e, i, "closed its channel");
			continue;
		}
		while ((r = ipc_get(chan, &msg)) == 1) {
			if (i == PFD_PARENT)
				eng_parent_msg(e, &msg);
			else
				netc_dispatch(e->lane[PFD_LANE(i)]
				    [PFD_SIDE(i)], &msg);
			ipc_msg_free(&msg);
		}
		if (r == -1) {
			log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC "
			    "channel from %s: %s", i == PFD_PARENT ? "priv" :
			    ipc_side_name(PFD_SIDE(i)),
			    chan->err);
			eng_exit(e, EXIT_CHILD);
		}
	}
}
