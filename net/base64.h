/*
 * Base64 (RFC 4648) for the authentication exchanges (imap_conn.c,
 * scram.c), over OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock.
 */
#ifndef NET_BASE64_H
#define NET_BASE64_H

#include <stddef.h>

/* n bytes as base64, NUL-terminated; NULL if too large. */
char		*b64_encode(const void *, size_t);
/*
 * Strict base64 (the alphabet only, length a multiple of 4, "=" only at
 * the end, the bits it leaves over zero): the bytes,
 * NUL-terminated (*outlen without the NUL), or NULL if it is not base64.
 * The empty string decodes to nothing.
 */
unsigned char	*b64_decode(const char *, size_t, size_t *);

#endif
