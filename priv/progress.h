/*
 * The progress line: on a terminal, while a pass copies mail, one line
 * of stderr kept updated (mailbox n of m, messages and bytes copied, the
 * rate, an estimate of the time left), from the engine's
 * IMSG_ENGINE_PROGRESS.  Log lines written to stderr meanwhile go above
 * it (logsink calls progress_hide() and progress_show() around each).
 * Never in the logfile, never when stderr is not a terminal, not with -q
 * (nor with --debug, whose lines would bury it).
 */
#ifndef PRIV_PROGRESS_H
#define PRIV_PROGRESS_H

#include <stdint.h>

/* Whether the line will be shown: stderr a terminal, not quiet/debug. */
int	 progress_wanted(int, int);
void	 progress_init(int);
int	 progress_enabled(void);
/* done, total (0: the pass is over), messages, bytes, messages expected */
void	 progress_update(uint32_t, uint32_t, uint64_t, uint64_t, uint64_t);
/* Around a line written to stderr. */
void	 progress_hide(void);
void	 progress_show(void);
/* The line cleared for good (the run's end). */
void	 progress_end(void);

/* The line's text for these figures (for the tests); caller frees. */
char	*progress_text(uint32_t, uint32_t, uint64_t, uint64_t, uint64_t,
	    double);

#endif
