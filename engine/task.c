/*
 * Tasks (eng.h): the engine's unit of work that waits for answers
 * without waiting.  A task counts the requests in flight on its behalf;
 * each answer's callback does what it must with the answer and releases
 * the task; once none is left, the task's step runs again.  A step never
 * polls: it sends what the next state needs and returns.
 */
#include <stdlib.h>

#include "eng.h"
#include "log.h"
#include "proc.h"

void
task_init(struct task *t, const char *what, task_fn *step, task_fn *fin)
{
	t->step = step;
	t->fin = fin;
	t->what = what;
	t->state = 0;
	t->pending = 0;
	t->stepping = 0;
	t->waiting = 0;
	t->done = 0;
}

void
task_hold(struct task *t)
{
	t->pending++;
}

void
task_run(struct task *t)
{
	t->waiting = 0;
	t->stepping = 1;
	t->step(t);
	t->stepping = 0;
	if (t->done) {
		if (t->fin != NULL)
			t->fin(t);
		return;
	}
	/*
	 * A step that sent nothing and waits for nothing would never run
	 * again: the engine's own bug, not to be hidden by a hang.
	 */
	if (t->pending == 0 && !t->waiting)
		fatalx(EXIT_CHILD, "engine: internal error: %s stalled in "
		    "state %d", t->what, t->state);
}

void
task_release(struct task *t)
{
	if (t->pending <= 0)
		fatalx(EXIT_CHILD, "engine: internal error: %s released "
		    "more than held", t->what);
	if (--t->pending == 0 && !t->stepping && !t->done)
		task_run(t);
}

void
eng_wake(struct eng *e, struct task *t)
{
	if (t->queued || t->done)
		return;
	t->queued = 1;
	t->rnext = NULL;
	if (e->runqtail != NULL)
		e->runqtail->rnext = t;
	else
		e->runq = t;
	e->runqtail = t;
}

int
eng_run_woken(struct eng *e)
{
	struct task *t;
	int ran = 0;

	while ((t = e->runq) != NULL) {
		e->runq = t->rnext;
		if (e->runq == NULL)
			e->runqtail = NULL;
		t->queued = 0;
		t->rnext = NULL;
		/* Answers may have moved it on meanwhile. */
		if (t->done || t->pending > 0 || t->stepping)
			continue;
		task_run(t);
		ran = 1;
	}
	return ran;
}
