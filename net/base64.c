/*
 * Base64: see base64.h.
 */
#include <limits.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "ipc.h"
#include "log.h"
#include "base64.h"

char *
b64_encode(const void *p, size_t n)
{
	char *out;

	if (n > INT_MAX / 2)
		return NULL;
	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	(void)EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The 6 bits of a base64 character, or -1. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

unsigned char *
b64_decode(const char *p, size_t n, size_t *outlen)
{
	unsigned char *out;
	size_t i, pad = 0;
	int r;

	if (n % 4 != 0 || n > INT_MAX / 2)
		return NULL;
	for (i = 0; i < n; i++) {
		if (p[i] == '=') {
			if (i + 2 < n)
				return NULL;
			pad++;
		} else if (pad > 0 || b64_value(p[i]) == -1)
			return NULL;	/* OpenSSL skips spaces: not us */
	}
	/* The bits the padding leaves over are zero (RFC 4648 3.5). */
	if ((pad == 1 && (b64_value(p[n - 2]) & 0x3) != 0) ||
	    (pad == 2 && (b64_value(p[n - 3]) & 0xf) != 0))
		return NULL;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	if ((r = EVP_DecodeBlock(out, (const unsigned char *)p, (int)n)) < 0 ||
	    (size_t)r < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)r - pad;
	out[*outlen] = '\0';
	return out;
}
