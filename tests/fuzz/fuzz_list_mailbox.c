/*
 * libFuzzer target for the list-mailbox value's tokeniser
 * (conf_list_mailbox(), priv/conf_validate.c): the input up to its first
 * NUL is the value.  Patterns are non-empty, NUL-terminated after their
 * length, and no longer than the value; the same value gives the same
 * patterns twice.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "fuzz_common.h"

void
conf_error(const char *fmt, ...)
{
	(void)fmt;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_pattern	*a, *b;
	size_t			 na, nb, i, len;
	char			*v;
	int			 ra, rb;

	if ((v = malloc(size + 1)) == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	len = strlen(v);
	ra = conf_list_mailbox(v, &a, &na);
	rb = conf_list_mailbox(v, &b, &nb);
	if (ra != rb || (ra == 0 && na != nb) || (ra == -1 && a != NULL))
		abort();
	if (ra == 0) {
		for (i = 0; i < na; i++) {
			if (a[i].len > len || a[i].bytes[a[i].len] != '\0' ||
			    a[i].len != b[i].len ||
			    memcmp(a[i].bytes, b[i].bytes, a[i].len) != 0)
				abort();
		}
		conf_patterns_free(a, na);
		conf_patterns_free(b, nb);
	}
	free(v);
	return 0;
}
