/*
 * The progress line (progress.h).  Drawn as "\r" + text + "\033[K" (the
 * rest of the old line erased), cut to the terminal's width so that it
 * never wraps; hidden with "\r\033[K".  Redrawn at each update: the
 * engine sends one at most every 100 ms between job boundaries.
 */
#include <sys/ioctl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "progress.h"

/* An estimate of the time left this long (seconds) is no estimate. */
#define PROGRESS_LEFT_MAX	(10000.0 * 3600)

static struct {
	int		 enabled;
	int		 shown;		/* the line is on the terminal */
	uint32_t	 done, total;
	uint64_t	 msgs, bytes, expected;
	int64_t		 start_ms;	/* the pass's first update */
} pg;

int
progress_wanted(int quiet, int debug)
{
	const char *term = getenv("TERM");

	if (quiet || debug > 0 || !isatty(STDERR_FILENO))
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}

void
progress_init(int enabled)
{
	memset(&pg, 0, sizeof(pg));
	pg.enabled = enabled;
}

int
progress_enabled(void)
{
	return pg.enabled;
}

/* 1234567 -> "1.2 MiB" */
static void
progress_size(char *buf, size_t len, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		(void)snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		(void)snprintf(buf, len, "%.1f %s", v, unit[u]);
}

char *
progress_text(uint32_t done, uint32_t total, uint64_t msgs, uint64_t bytes,
    uint64_t expected, double secs)
{
	char size[32], rate[48] = "", left[48] = "", *s;
	uint32_t cur = done < total ? done + 1 : total;
	double rem = -1;

	progress_size(size, sizeof(size), (double)bytes);
	if (secs >= 1 && bytes > 0) {
		progress_size(rate, sizeof(rate), (double)bytes / secs);
		(void)strlcat(rate, "/s", sizeof(rate));
	}
	/* The time left: by messages where they are known, else mailboxes. */
	if (secs >= 1) {
		if (msgs > 0 && expected > msgs)
			rem = secs * (double)(expected - msgs) / (double)msgs;
		else if (done > 0 && total > done)
			rem = secs * (double)(total - done) / (double)done;
	}
	/*
	 * Not past PROGRESS_LEFT_MAX: the figures are the engine's, and a
	 * double too large for an unsigned long is undefined as one.
	 */
	if (rem >= 0 && rem < PROGRESS_LEFT_MAX) {
		unsigned long r = (unsigned long)(rem + 0.5);

		if (r >= 3600)
			(void)snprintf(left, sizeof(left), ", about %luh%02lum "
			    "left", r / 3600, r / 60 % 60);
		else if (r >= 60)
			(void)snprintf(left, sizeof(left), ", about %lum%02lus "
			    "left", r / 60, r % 60);
		else
			(void)snprintf(left, sizeof(left), ", about %lus left",
			    r);
	}
	if (asprintf(&s, "mailbox %u of %u, %llu message%s (%s) copied%s%s%s",
	    cur, total, (unsigned long long)msgs, msgs == 1 ? "" : "s", size,
	    rate[0] != '\0' ? ", " : "", rate, left) == -1)
		return NULL;
	return s;
}

static void
progress_write(const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDERR_FILENO, s, len)) <= 0)
			return;		/* a terminal gone: nothing to do */
		s += n;
		len -= (size_t)n;
	}
}

static void
progress_draw(void)
{
	struct winsize ws;
	size_t width = 80, len;
	char *text, *line;
	int64_t now = clock_ms();

	text = progress_text(pg.done, pg.total, pg.msgs, pg.bytes,
	    pg.expected, (double)(now - pg.start_ms) / 1000);
	if (text == NULL)
		return;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col;
	/* One column short: a full line would wrap on some terminals. */
	len = strlen(text);
	if (len > width - 1)
		text[width - 1] = '\0';
	if (asprintf(&line, "\r%s\033[K", text) != -1) {
		progress_write(line, strlen(line));
		free(line);
		pg.shown = 1;
	}
	free(text);
}

void
progress_update(uint32_t done, uint32_t total, uint64_t msgs, uint64_t bytes,
    uint64_t expected)
{
	if (!pg.enabled)
		return;
	if (total == 0) {
		progress_hide();
		pg.total = 0;
		pg.start_ms = 0;
		return;
	}
	if (pg.start_ms == 0)
		pg.start_ms = clock_ms();
	pg.done = done;
	pg.total = total;
	pg.msgs = msgs;
	pg.bytes = bytes;
	pg.expected = expected;
	progress_draw();
}

void
progress_hide(void)
{
	if (!pg.enabled || !pg.shown)
		return;
	progress_write("\r\033[K", 4);
	pg.shown = 0;
}

void
progress_show(void)
{
	if (!pg.enabled || pg.shown || pg.total == 0)
		return;
	progress_draw();
}

void
progress_end(void)
{
	progress_hide();
	pg.enabled = 0;
}
