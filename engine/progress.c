/*
 * The progress of a pass, for the line priv keeps updated on a terminal
 * (priv/progress.c): how many mailbox jobs of the pass are done, how
 * many messages and bytes were copied, and an estimate of how many
 * messages the pass may copy in all (each mailbox's UIDNEXT beyond the
 * last synchronised one, on both sides: an upper bound, since expunged
 * UIDs count too).  Sent only when priv asked for it
 * (ENGINE_CONF_PROGRESS), at job boundaries and at most every 100 ms
 * between them: the line is for a person, not a record.
 */
#include <stdint.h>

#include "clock.h"
#include "eng.h"
#include "log.h"
#include "proc.h"

#define PROGRESS_EVERY_MS	100

static void
progress_send(struct eng *e, int force)
{
	struct ipc_buf buf;
	int64_t now;

	if (!e->progress)
		return;
	now = clock_ms();
	if (!force && now < e->prog_sent_at + PROGRESS_EVERY_MS)
		return;
	e->prog_sent_at = now;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, e->prog_done);
	ipc_put_u32(&buf, e->prog_total);
	ipc_put_u64(&buf, e->prog_msgs);
	ipc_put_u64(&buf, e->prog_bytes);
	ipc_put_u64(&buf, e->prog_expected);
	if (ipc_send(e->parent, IMSG_ENGINE_PROGRESS, SIDE_NONE, -1, &buf) ==
	    -1)
		fatalx(EXIT_CHILD, "engine: %s", e->parent->err);
	ipc_buf_free(&buf);
}

void
progress_queued(struct eng *e, const struct mbox *mb)
{
	const struct mcache *c;
	uint32_t s, from;

	e->prog_total++;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		c = &mb->cache[s];
		if (!(c->has & MC_UIDNEXT))
			continue;
		from = mb->has_state && mb->db_uidnext[s] > 0 ?
		    mb->db_uidnext[s] : 1;
		if (c->uidnext > from)
			e->prog_expected += c->uidnext - from;
	}
}

void
progress_job_done(struct eng *e)
{
	e->prog_done++;
	progress_send(e, 1);
}

void
progress_copied(struct eng *e, uint32_t n, uint64_t bytes)
{
	e->prog_msgs += n;
	e->prog_bytes += bytes;
	if (e->prog_msgs > e->prog_expected)
		e->prog_expected = e->prog_msgs;
	progress_send(e, 0);
}

void
progress_pass_end(struct eng *e)
{
	if (e->prog_total == 0)
		return;
	e->prog_done = e->prog_total = 0;
	e->prog_msgs = e->prog_bytes = e->prog_expected = 0;
	progress_send(e, 1);
}
