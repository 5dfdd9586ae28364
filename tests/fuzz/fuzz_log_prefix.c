/*
 * libFuzzer target for the log-prefix language (logsink_prefix(),
 * priv/logsink.c): the input is "format NUL name NUL mailbox" (missing
 * parts are NULL).  The expansion always ends, and is never longer than
 * the format with every byte replaced by the longest of name, mailbox
 * and process name: conditionals only choose, %n, %m and %p only
 * substitute.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logsink.h"
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf, *fmt, *name = NULL, *mbox = NULL, *p, *out;
	/* %p: a process's name, "net(remote)" the longest. */
	size_t	 longest = sizeof("net(remote)") - 1;

	log_set_sink(fuzz_sink);
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	fmt = buf;
	if ((p = memchr(buf, '\0', size)) != NULL && p < buf + size) {
		name = p + 1;
		if ((p = memchr(name, '\0', buf + size - name)) != NULL &&
		    p < buf + size)
			mbox = p + 1;
	}
	if (name != NULL && strlen(name) > longest)
		longest = strlen(name);
	if (mbox != NULL && strlen(mbox) > longest)
		longest = strlen(mbox);
	if ((out = logsink_prefix(fmt, name, mbox)) == NULL)
		abort();
	if (strlen(out) > strlen(fmt) * longest)
		abort();
	free(out);
	free(buf);
	return 0;
}
