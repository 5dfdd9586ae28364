/*
 * Shared by the libFuzzer targets: a log sink that drops everything (the
 * parsers log on bad input; a fuzzer wants no output), and a reader that
 * cuts an input into pieces.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static inline void
fuzz_sink(int level, const char *name, const char *mailbox, const char *text)
{
	/* Read every byte, so that ASan sees a bad string. */
	volatile size_t n = 0;

	n += name != NULL ? strlen(name) : 0;
	n += mailbox != NULL ? strlen(mailbox) : 0;
	n += text != NULL ? strlen(text) : 0;
	(void)level;
	(void)n;
}

/* The input as a stream of fields. */
struct fin {
	const uint8_t	*p;
	size_t		 left;
};

static inline uint8_t
fin_u8(struct fin *f)
{
	uint8_t	v = 0;

	if (f->left > 0) {
		v = *f->p++;
		f->left--;
	}
	return v;
}

static inline uint32_t
fin_u16(struct fin *f)
{
	uint32_t v = fin_u8(f);

	return v | (uint32_t)fin_u8(f) << 8;
}

/* Up to n bytes (fewer at the end); *len set. */
static inline const uint8_t *
fin_bytes(struct fin *f, size_t n, size_t *len)
{
	const uint8_t	*p = f->p;

	if (n > f->left)
		n = f->left;
	f->p += n;
	f->left -= n;
	*len = n;
	return p;
}

#endif
