/*
 * libFuzzer target for what a net child parses of a server's SASL
 * exchange: the SCRAM server-first and server-final messages
 * (net/scram.c) and base64 (net/base64.c).  The input: one byte picking
 * the mechanism, then the server-first message, a NUL, the server-final
 * message.  Each server message is also base64-decoded as it would be
 * off the wire, and what decodes must encode back the same.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "scram.h"
#include "fuzz_common.h"

/* Larger iteration counts are refused only above SCRAM_ITER_MAX: slow. */
static int
too_slow(const char *s, size_t len)
{
	const char	*p;

	for (p = s; (p = memmem(p, len - (size_t)(p - s), "i=", 2)) != NULL;
	    p += 2)
		if (strtoul(p + 2, NULL, 10) > 4096)
			return 1;
	return 0;
}

static void
b64_roundtrip(const char *s, size_t len)
{
	unsigned char	*d;
	char		*e;
	size_t		 dlen;

	if ((d = b64_decode(s, len, &dlen)) == NULL)
		return;
	if ((e = b64_encode(d, dlen)) == NULL)
		abort();
	/* Strict: the only encoding of those bytes. */
	if (strlen(e) != len || memcmp(e, s, len) != 0)
		abort();
	free(e);
	free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram	*s;
	struct scram_cb	 cb;
	char		*buf, *first, *final = NULL, *p;
	size_t		 flen, len;

	if (size < 1)
		return 0;
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	first = buf;
	flen = size - 1;
	if ((p = memchr(buf, '\0', size - 1)) != NULL) {
		flen = (size_t)(p - buf);
		final = p + 1;
	}
	b64_roundtrip(first, flen);
	if (too_slow(buf, size - 1)) {
		free(buf);
		return 0;
	}
	/* Bit 1: a -PLUS mechanism, bound to fixed tls-exporter data. */
	if (data[0] & 2) {
		static const unsigned char cbdata[32] = { 1, 2, 3 };

		cb.flag = 'p';
		cb.name = "tls-exporter";
		cb.data = cbdata;
		cb.len = sizeof(cbdata);
	} else {
		cb.flag = data[0] & 4 ? 'y' : 'n';
		cb.name = NULL;
		cb.data = NULL;
		cb.len = 0;
	}
	s = scram_new_nonce(data[0] & 1 ? (data[0] & 2 ?
	    "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256") : (data[0] & 2 ?
	    "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-1"), "user", "pencil", &cb,
	    "rOprNGfwEbeRWgbNEkqO");
	if (s == NULL)
		abort();
	if (scram_client_first(s) == NULL)
		abort();
	if (scram_client_final(s, first, flen) != NULL && final != NULL) {
		len = strlen(final);
		b64_roundtrip(final, len);
		if (scram_server_final(s, final, len) == 0 &&
		    !scram_verified(s))
			abort();
	} else if (scram_error(s) == NULL)
		abort();
	scram_free(s);
	free(buf);
	return 0;
}
