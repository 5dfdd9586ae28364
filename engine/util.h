/*
 * Small helpers of the engine: allocation that cannot fail (running out
 * of memory is fatal, HOUSE-STYLE), and a growable byte string.
 */
#ifndef ENGINE_UTIL_H
#define ENGINE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void	*eng_malloc(size_t);
void	*eng_calloc(size_t, size_t);
void	*eng_reallocarray(void *, size_t, size_t);
char	*eng_strdup(const char *);
/* len bytes and a NUL after them; caller frees. */
char	*eng_memdup(const void *, size_t);
/*
 * The element of a sorted array whose first member, a uint32_t UID,
 * equals uid; NULL if none (an empty, possibly NULL, array included).
 */
void	*eng_find_uid(const void *, size_t, size_t, uint32_t);
/* qsort(), but an empty (possibly NULL) array is fine: qsort's is UB. */
void	 eng_sort(void *, size_t, size_t, int (*)(const void *, const void *));

/*
 * A growable string; zero-initialised is empty.  s is always
 * NUL-terminated once anything was added (sbuf_str() gives "" before).
 */
struct sbuf {
	char	*s;
	size_t	 len, cap;
};

void	 sbuf_add(struct sbuf *, const void *, size_t);
void	 sbuf_adds(struct sbuf *, const char *);
void	 sbuf_addc(struct sbuf *, char);
void	 sbuf_printf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *sbuf_str(const struct sbuf *);
/* Gives the string away (caller frees) and empties the buffer. */
char	*sbuf_take(struct sbuf *);
void	 sbuf_free(struct sbuf *);

#endif
