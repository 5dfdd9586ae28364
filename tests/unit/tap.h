/*
 * A tiny test harness: each check prints one "ok"/"not ok" line and the
 * program exits non-zero when any check failed, so ctest sees failures.
 */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

extern int tap_failed;
extern int tap_count;

void	tap_ok(int, const char *, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
int	tap_done(void);

#define OK(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define IS_INT(a, b, what) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	tap_ok(_a == _b, __FILE__, __LINE__, "%s: got %lld, want %lld",	\
	    (what), _a, _b);						\
} while (0)
#define IS_STR(a, b, what) do {						\
	const char *_a = (a), *_b = (b);				\
	tap_ok(_a != NULL && _b != NULL && strcmp(_a, _b) == 0,		\
	    __FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", (what),	\
	    _a ? _a : "(null)", _b ? _b : "(null)");			\
} while (0)

#endif
