/*
 * SCRAM client (RFC 5802): see scram.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base64.h"
#include "scram.h"

#define SCRAM_NONCE_BYTES	24
#define SCRAM_KEY_MAX		EVP_MAX_MD_SIZE

enum scram_step {
	SCRAM_START,
	SCRAM_FIRST_SENT,
	SCRAM_FINAL_SENT,
	SCRAM_DONE,
	SCRAM_FAILED,
};

struct scram {
	const EVP_MD	*md;
	enum scram_step	 step;
	char		*pass;
	size_t		 passlen;
	char		*first_bare;	/* "n=<user>,r=<cnonce>" */
	char		*first;		/* gs2 header + first_bare */
	char		*cbind;		/* c=: base64(gs2 header + cb data) */
	char		*cbtype;	/* 'p': the binding's name */
	char		*final;		/* client-final, with the proof */
	unsigned char	 server_key[SCRAM_KEY_MAX];
	unsigned char	 server_sig[SCRAM_KEY_MAX];
	unsigned int	 keylen;
	char		 err[256];
};

static int	 scram_fail(struct scram *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 scram_hmac(struct scram *, const unsigned char *,
		    const void *, size_t, unsigned char *);
static char	*scram_escape(const char *);
static const char *scram_attr(const char *, size_t, char, size_t *);

void
scram_preload(void)
{
	unsigned char out[SCRAM_KEY_MAX], r;
	unsigned int len;
	const EVP_MD *mds[2];
	size_t i;

	/*
	 * OpenSSL reads its configuration and sets up its providers and
	 * random generator the first time they are used: here, while files
	 * may still be opened, not in the sandbox.
	 */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	mds[0] = EVP_sha1();
	mds[1] = EVP_sha256();
	for (i = 0; i < 2; i++) {
		(void)EVP_Digest("x", 1, out, &len, mds[i], NULL);
		(void)HMAC(mds[i], "k", 1, (const unsigned char *)"x", 1, out,
		    &len);
		(void)PKCS5_PBKDF2_HMAC("p", 1, (const unsigned char *)"s", 1,
		    1, mds[i], 16, out);
	}
	(void)RAND_bytes(&r, 1);
	explicit_bzero(out, sizeof(out));
}

/* The hash of mech (with or without -PLUS), NULL if not ours. */
static const EVP_MD *
scram_md(const char *mech, int *plus)
{
	size_t len = strlen(mech);

	*plus = len > 5 && strcmp(mech + len - 5, "-PLUS") == 0;
	if (*plus)
		len -= 5;
	if (len == 13 && strncmp(mech, "SCRAM-SHA-256", len) == 0)
		return EVP_sha256();
	if (len == 11 && strncmp(mech, "SCRAM-SHA-1", len) == 0)
		return EVP_sha1();
	return NULL;
}

int
scram_mech(const char *mech)
{
	int plus;

	return scram_md(mech, &plus) != NULL;
}

int
scram_mech_plus(const char *mech)
{
	int plus;

	return scram_md(mech, &plus) != NULL && plus;
}

/* cb-name (RFC 5802 7): 1*(ALPHA / DIGIT / "." / "-") */
static int
scram_cb_name(const char *name)
{
	const char *p;

	if (name == NULL || *name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

/* The GS2 header and c= for the binding; -1 if it does not fit. */
static int
scram_set_cb(struct scram *s, int plus, const struct scram_cb *cb)
{
	char *gs2, flag = cb != NULL ? cb->flag : 'n';
	unsigned char *raw;
	size_t glen;
	int n;

	if (plus != (flag == 'p'))
		return -1;
	if (flag == 'p') {
		if (!scram_cb_name(cb->name) || cb->len == 0 ||
		    cb->data == NULL)
			return -1;
		if ((s->cbtype = strdup(cb->name)) == NULL)
			return -1;
		n = asprintf(&gs2, "p=%s,,", cb->name);
	} else if (flag == 'n' || flag == 'y')
		n = asprintf(&gs2, "%c,,", flag);
	else
		return -1;
	if (n == -1)
		return -1;
	glen = strlen(gs2);
	if ((raw = malloc(glen + (flag == 'p' ? cb->len : 0))) == NULL) {
		free(gs2);
		return -1;
	}
	memcpy(raw, gs2, glen);
	if (flag == 'p')
		memcpy(raw + glen, cb->data, cb->len);
	s->cbind = b64_encode(raw, glen + (flag == 'p' ? cb->len : 0));
	free(raw);
	n = s->cbind == NULL ? -1 :
	    asprintf(&s->first, "%s%s", gs2, s->first_bare);
	if (n == -1)
		s->first = NULL;
	free(gs2);
	return n == -1 ? -1 : 0;
}

struct scram *
scram_new(const char *mech, const char *user, const char *pass,
    const struct scram_cb *cb)
{
	unsigned char raw[SCRAM_NONCE_BYTES];
	char *nonce;
	struct scram *s;

	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    (nonce = b64_encode(raw, sizeof(raw))) == NULL)
		return NULL;
	s = scram_new_nonce(mech, user, pass, cb, nonce);
	free(nonce);
	return s;
}

struct scram *
scram_new_nonce(const char *mech, const char *user, const char *pass,
    const struct scram_cb *cb, const char *nonce)
{
	struct scram *s;
	char *euser = NULL;
	int plus;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->md = scram_md(mech, &plus)) == NULL)
		goto fail;
	s->keylen = (unsigned int)EVP_MD_get_size(s->md);
	s->passlen = strlen(pass);
	if ((s->pass = strdup(pass)) == NULL ||
	    (euser = scram_escape(user)) == NULL ||
	    asprintf(&s->first_bare, "n=%s,r=%s", euser, nonce) == -1) {
		s->first_bare = NULL;
		goto fail;
	}
	if (scram_set_cb(s, plus, cb) == -1)
		goto fail;
	free(euser);
	return s;
fail:
	free(euser);
	scram_free(s);
	return NULL;
}

void
scram_free(struct scram *s)
{
	if (s == NULL)
		return;
	if (s->pass != NULL)
		freezero(s->pass, s->passlen);
	free(s->first_bare);
	free(s->first);
	free(s->cbind);
	free(s->cbtype);
	if (s->final != NULL)
		freezero(s->final, strlen(s->final));
	explicit_bzero(s, sizeof(*s));
	free(s);
}

const char *
scram_error(const struct scram *s)
{
	return s->err;
}

const char *
scram_cb_type(const struct scram *s)
{
	return s->cbtype;
}

int
scram_verified(const struct scram *s)
{
	return s->step == SCRAM_DONE;
}

static int
scram_fail(struct scram *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->step = SCRAM_FAILED;
	if (s->pass != NULL) {
		freezero(s->pass, s->passlen);
		s->pass = NULL;
	}
	return -1;
}

static int
scram_hmac(struct scram *s, const unsigned char *key, const void *data,
    size_t len, unsigned char *out)
{
	unsigned int olen = 0;

	if (HMAC(s->md, key, (int)s->keylen, data, len, out, &olen) == NULL ||
	    olen != s->keylen)
		return scram_fail(s, "HMAC failed");
	return 0;
}

/* saslname: "," and "=" as "=2C" and "=3D". */
static char *
scram_escape(const char *user)
{
	const char *p;
	char *out, *q;

	if ((out = malloc(strlen(user) * 3 + 1)) == NULL)
		return NULL;
	for (p = user, q = out; *p != '\0'; p++) {
		if (*p == ',') {
			memcpy(q, "=2C", 3);
			q += 3;
		} else if (*p == '=') {
			memcpy(q, "=3D", 3);
			q += 3;
		} else
			*q++ = *p;
	}
	*q = '\0';
	return out;
}

/*
 * The value of attribute a in msg ("a=value,..."), *vlen its length;
 * NULL if absent.
 */
static const char *
scram_attr(const char *msg, size_t len, char a, size_t *vlen)
{
	const char *p = msg, *end = msg + len, *comma;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (comma - p >= 2 && p[0] == a && p[1] == '=') {
			*vlen = (size_t)(comma - p - 2);
			return p + 2;
		}
		p = comma + 1;
	}
	return NULL;
}

const char *
scram_client_first(struct scram *s)
{
	if (s->step != SCRAM_START)
		return NULL;
	s->step = SCRAM_FIRST_SENT;
	return s->first;
}

const char *
scram_client_final(struct scram *s, const char *msg, size_t len)
{
	const char *r, *salt64, *it;
	unsigned char *salt = NULL;
	unsigned char salted[SCRAM_KEY_MAX], ckey[SCRAM_KEY_MAX];
	unsigned char stored[SCRAM_KEY_MAX], csig[SCRAM_KEY_MAX];
	unsigned char proof[SCRAM_KEY_MAX];
	size_t rlen, slen, ilen, saltlen, cnlen, i;
	char *without = NULL, *auth = NULL, *proof64 = NULL, *end;
	char itbuf[16];
	const char *cnonce;
	unsigned long iter;
	unsigned int dlen;

	if (s->step != SCRAM_FIRST_SENT) {
		(void)scram_fail(s, "unexpected server-first-message");
		return NULL;
	}
	if (memchr(msg, '\0', len) != NULL) {
		(void)scram_fail(s, "NUL in the server-first-message");
		return NULL;
	}
	if (len >= 2 && msg[0] == 'm' && msg[1] == '=') {
		(void)scram_fail(s, "the server requires an extension we do "
		    "not know (m=)");
		return NULL;
	}
	if (len >= 2 && msg[0] == 'e' && msg[1] == '=') {
		(void)scram_fail(s, "the server refused: %.*s",
		    (int)(len > 100 ? 100 : len), msg);
		return NULL;
	}
	r = scram_attr(msg, len, 'r', &rlen);
	salt64 = scram_attr(msg, len, 's', &slen);
	it = scram_attr(msg, len, 'i', &ilen);
	if (r == NULL || salt64 == NULL || it == NULL) {
		(void)scram_fail(s, "malformed server-first-message");
		return NULL;
	}
	/* Our nonce, then the server's: at least one character of it. */
	cnonce = strstr(s->first_bare, ",r=") + 3;
	cnlen = strlen(cnonce);
	if (rlen <= cnlen || memcmp(r, cnonce, cnlen) != 0) {
		(void)scram_fail(s, "the server's nonce does not extend ours");
		return NULL;
	}
	for (i = 0; i < rlen; i++)
		if (r[i] < 0x21 || r[i] > 0x7e || r[i] == ',') {
			(void)scram_fail(s, "bad character in the nonce");
			return NULL;
		}
	if (ilen == 0 || ilen >= sizeof(itbuf)) {
		(void)scram_fail(s, "bad iteration count");
		return NULL;
	}
	memcpy(itbuf, it, ilen);
	itbuf[ilen] = '\0';
	errno = 0;
	iter = strtoul(itbuf, &end, 10);
	if (*end != '\0' || itbuf[0] < '1' || itbuf[0] > '9' || errno != 0 ||
	    iter > SCRAM_ITER_MAX) {
		(void)scram_fail(s, "iteration count %s refused (1 to %d)",
		    itbuf, SCRAM_ITER_MAX);
		return NULL;
	}
	if ((salt = b64_decode(salt64, slen, &saltlen)) == NULL ||
	    saltlen == 0) {
		free(salt);
		(void)scram_fail(s, "bad salt");
		return NULL;
	}

	/* SaltedPassword, ClientKey, StoredKey, ServerKey. */
	if (PKCS5_PBKDF2_HMAC(s->pass, (int)s->passlen, salt, (int)saltlen,
	    (int)iter, s->md, (int)s->keylen, salted) != 1) {
		free(salt);
		(void)scram_fail(s, "PBKDF2 failed");
		return NULL;
	}
	free(salt);
	freezero(s->pass, s->passlen);
	s->pass = NULL;
	if (scram_hmac(s, salted, "Client Key", 10, ckey) == -1 ||
	    scram_hmac(s, salted, "Server Key", 10, s->server_key) == -1)
		goto out;
	if (EVP_Digest(ckey, s->keylen, stored, &dlen, s->md, NULL) != 1 ||
	    dlen != s->keylen) {
		(void)scram_fail(s, "digest failed");
		goto out;
	}

	/* c=: the GS2 header and the binding ("biws" for "n,,"). */
	if (asprintf(&without, "c=%s,r=%.*s", s->cbind, (int)rlen, r) == -1) {
		without = NULL;
		(void)scram_fail(s, "out of memory");
		goto out;
	}
	if (asprintf(&auth, "%s,%.*s,%s", s->first_bare, (int)len, msg,
	    without) == -1) {
		auth = NULL;
		(void)scram_fail(s, "out of memory");
		goto out;
	}
	if (scram_hmac(s, stored, auth, strlen(auth), csig) == -1 ||
	    scram_hmac(s, s->server_key, auth, strlen(auth),
	    s->server_sig) == -1)
		goto out;
	for (i = 0; i < s->keylen; i++)
		proof[i] = ckey[i] ^ csig[i];
	if ((proof64 = b64_encode(proof, s->keylen)) == NULL ||
	    asprintf(&s->final, "%s,p=%s", without, proof64) == -1) {
		s->final = NULL;
		(void)scram_fail(s, "out of memory");
		goto out;
	}
	s->step = SCRAM_FINAL_SENT;
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(csig, sizeof(csig));
	explicit_bzero(proof, sizeof(proof));
	free(without);
	free(auth);
	free(proof64);
	return s->step == SCRAM_FINAL_SENT ? s->final : NULL;
}

int
scram_server_final(struct scram *s, const char *msg, size_t len)
{
	const char *v, *e;
	unsigned char *sig;
	size_t vlen, elen, siglen;
	int ok;

	if (s->step != SCRAM_FINAL_SENT)
		return scram_fail(s, "unexpected server-final-message");
	if ((e = scram_attr(msg, len, 'e', &elen)) != NULL)
		return scram_fail(s, "the server refused: %.*s",
		    (int)(elen > 100 ? 100 : elen), e);
	if ((v = scram_attr(msg, len, 'v', &vlen)) == NULL || vlen == 0 ||
	    (sig = b64_decode(v, vlen, &siglen)) == NULL)
		return scram_fail(s, "malformed server-final-message");
	ok = siglen == s->keylen &&
	    CRYPTO_memcmp(sig, s->server_sig, s->keylen) == 0;
	free(sig);
	if (!ok)
		return scram_fail(s, "the server's signature is wrong: it "
		    "does not know the password (an impostor?)");
	s->step = SCRAM_DONE;
	return 0;
}
