/*
 * TLS client for the net child (OpenSSL >= 1.1.1, written against 3.0).
 *
 * tls_ctx_new() runs before the sandbox and does everything that touches
 * a file: OpenSSL's configuration, the random generator's seeding, the
 * providers (via SSL_CTX_new), and every trusted certificate.  After it,
 * a handshake needs only read/write on the peer descriptor.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

/* One SSL_fingerprint entry: a digest algorithm and the expected value. */
struct tls_pin {
	const EVP_MD	*md;
	char		*text;		/* as configured, for the log */
	unsigned char	 digest[EVP_MAX_MD_SIZE];
	size_t		 len;		/* 0: malformed, never matches */
};

struct tls_ctx {
	SSL_CTX		*ctx;
	int		 verify;
	int		 cbtype;	/* SSL_channel_binding; -1: default */
	char		*hostname;	/* SSL_hostname; NULL: the host */
	struct tls_pin	*pins;
	size_t		 npins;
};

struct tls_conn {
	struct tls_ctx	*ctx;
	SSL		*ssl;
	char		*host;		/* brackets removed */
	int		 is_ip;
	int		 peer_checked;	/* the callback saw depth 0 */
	int		 pin_failed;
	int		 failed;	/* fatal error: no close_notify */
	int		 lost;		/* the failure was the connection's */
	int		 done;		/* handshake complete */
};

static const struct {
	const char	*name;
	int		 version;
} tls_versions[] = {
	{ "SSLv3",	SSL3_VERSION },
	{ "TLSv1",	TLS1_VERSION },
	{ "TLSv1.1",	TLS1_1_VERSION },
	{ "TLSv1.2",	TLS1_2_VERSION },
	{ "TLSv1.3",	TLS1_3_VERSION },
};

/* SSL_protocols (deprecated): names and the option that disables each. */
static const struct {
	const char	*name;
	unsigned long	 op;
} tls_proto_ops[] = {
	{ "SSLv2",	0 },		/* gone from OpenSSL */
	{ "SSLv3",	SSL_OP_NO_SSLv3 },
	{ "TLSv1",	SSL_OP_NO_TLSv1 },
	{ "TLSv1.1",	SSL_OP_NO_TLSv1_1 },
	{ "TLSv1.2",	SSL_OP_NO_TLSv1_2 },
	{ "TLSv1.3",	SSL_OP_NO_TLSv1_3 },
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Channel binding types (SSL_channel_binding). */
enum {
	TLS_CB_EXPORTER,
	TLS_CB_UNIQUE,
	TLS_CB_END_POINT,
};
static const char *const tls_cb_names[] = {
	"tls-exporter",
	"tls-unique",
	"tls-server-end-point",
};

static int	tls_cb_index(const char *);

static int	tls_verify_cb(int, X509_STORE_CTX *);

/* ------------------------------------------------------------------ */
/* Configuration keys */

void
tls_config_init(struct tls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->verify = 1;
}

void
tls_config_free(struct tls_config *cfg)
{
	free(cfg->cafile);
	free(cfg->capath);
	free(cfg->hostname);
	free(cfg->proto_min);
	free(cfg->proto_max);
	free(cfg->protocols);
	free(cfg->cipherlist);
	free(cfg->ciphersuites);
	free(cfg->fingerprint);
	free(cfg->cbtype);
	tls_config_init(cfg);
}

static int
tls_cb_index(const char *name)
{
	size_t i;

	for (i = 0; i < NITEMS(tls_cb_names); i++)
		if (strcmp(name, tls_cb_names[i]) == 0)
			return (int)i;
	return -1;
}

/* No C0/C1 control characters (the reference's \P{Control} on bytes). */
static int
tls_nocontrol(const char *s, int allow_empty)
{
	const unsigned char *p;

	if (*s == '\0')
		return allow_empty;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || (*p >= 0x7f && *p <= 0x9f))
			return 0;
	return 1;
}

/* Looks up a "TLSv1.2"-style name in the SSL_protocols table. */
static int
tls_proto_index(const char *name, size_t len)
{
	size_t i;

	/* "TLSv1.0" is "TLSv1". */
	if (len >= 2 && name[len - 2] == '.' && name[len - 1] == '0')
		len -= 2;
	for (i = 0; i < NITEMS(tls_proto_ops); i++)
		if (strlen(tls_proto_ops[i].name) == len &&
		    strncmp(tls_proto_ops[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* Space-separated list of tokens, each checked by fn. */
static int
tls_valid_list(const char *s, int (*fn)(const char *, size_t))
{
	const char *sp;
	size_t len;

	if (*s == '\0')
		return 0;
	for (;;) {
		sp = strchr(s, ' ');
		len = sp == NULL ? strlen(s) : (size_t)(sp - s);
		if (len == 0 || !fn(s, len))
			return 0;
		if (sp == NULL)
			return 1;
		s = sp + 1;
	}
}

static int
tls_valid_proto(const char *s, size_t len)
{
	if (len > 0 && *s == '!') {
		s++;
		len--;
	}
	/* The reference's syntax: SSLv2/3, TLSv1, TLSv1.0 to TLSv1.3. */
	if (len == 5 && strncmp(s, "SSLv", 4) == 0)
		return s[4] == '2' || s[4] == '3';
	if (len == 5 && strncmp(s, "TLSv1", 5) == 0)
		return 1;
	if (len == 7 && strncmp(s, "TLSv1.", 6) == 0)
		return s[6] >= '0' && s[6] <= '3';
	return 0;
}

static int
tls_valid_pin(const char *s, size_t len)
{
	const char *dollar = memchr(s, '$', len);
	size_t i;

	if (dollar != NULL) {
		if (dollar == s)
			return 0;
		for (; s < dollar; s++, len--)
			if (!isalnum((unsigned char)*s))
				return 0;
		s++;
		len--;
	}
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int
tls_config_set(struct tls_config *cfg, const char *key, const char *value,
    char *err, size_t errlen)
{
	static const struct {
		const char	*key;
		size_t		 off;
		int		 allow_empty;
	} strs[] = {
		{ "SSL_CAfile", offsetof(struct tls_config, cafile), 0 },
		{ "SSL_CApath", offsetof(struct tls_config, capath), 0 },
		{ "SSL_hostname", offsetof(struct tls_config, hostname), 1 },
		{ "SSL_protocol_min", offsetof(struct tls_config, proto_min),
		    0 },
		{ "SSL_protocol_max", offsetof(struct tls_config, proto_max),
		    0 },
		{ "SSL_protocols", offsetof(struct tls_config, protocols), 0 },
		{ "SSL_cipherlist", offsetof(struct tls_config, cipherlist),
		    0 },
		{ "SSL_ciphersuites", offsetof(struct tls_config,
		    ciphersuites), 1 },
		{ "SSL_fingerprint", offsetof(struct tls_config, fingerprint),
		    0 },
		{ "SSL_channel_binding", offsetof(struct tls_config, cbtype),
		    0 },
	};
	char **slot, *copy;
	size_t i;
	int ok;

	if (strcmp(key, "SSL_verify") == 0) {
		if (strcasecmp(value, "YES") == 0)
			cfg->verify = 1;
		else if (strcasecmp(value, "NO") == 0)
			cfg->verify = 0;
		else
			goto invalid;
		return 1;
	}
	for (i = 0; i < NITEMS(strs); i++)
		if (strcmp(key, strs[i].key) == 0)
			break;
	if (i == NITEMS(strs))
		return 0;
	if (strcmp(key, "SSL_protocols") == 0)
		ok = tls_valid_list(value, tls_valid_proto);
	else if (strcmp(key, "SSL_fingerprint") == 0)
		ok = tls_valid_list(value, tls_valid_pin);
	else if (strcmp(key, "SSL_channel_binding") == 0)
		ok = tls_cb_index(value) != -1;
	else
		ok = tls_nocontrol(value, strs[i].allow_empty);
	if (!ok)
		goto invalid;
	if ((copy = strdup(value)) == NULL) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	slot = (char **)(void *)((char *)cfg + strs[i].off);
	free(*slot);
	*slot = copy;
	return 1;
invalid:
	(void)snprintf(err, errlen, "Invalid option %s = %s", key, value);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Building the context (before the sandbox) */

static void	tls_seterr(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	tls_errp(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* A new string for *errp (NULL if memory is short: callers cope). */
static void
tls_seterr(char **errp, const char *fmt, ...)
{
	va_list ap;

	free(*errp);
	va_start(ap, fmt);
	if (vasprintf(errp, fmt, ap) == -1)
		*errp = NULL;
	va_end(ap);
}

/* "<what>: <OpenSSL's reason>" into a new string for *errp. */

static void
tls_errp(char **errp, const char *fmt, ...)
{
	char what[512], why[256];
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if ((e = ERR_peek_last_error()) != 0) {
		ERR_error_string_n(e, why, sizeof(why));
		if (ERR_reason_error_string(e) != NULL)
			(void)strlcpy(why, ERR_reason_error_string(e),
			    sizeof(why));
	} else
		why[0] = '\0';
	tls_log_errors();
	tls_seterr(errp, "%s%s%s", what, why[0] != '\0' ? ": " : "", why);
}

static int
tls_proto_version(const char *name)
{
	size_t i;

	for (i = 0; i < NITEMS(tls_versions); i++)
		if (strcmp(tls_versions[i].name, name) == 0)
			return tls_versions[i].version;
	return -1;
}

/* SSL_protocol_min/max, or else the deprecated SSL_protocols. */
static int
tls_ctx_protocols(SSL_CTX *ctx, const struct tls_config *cfg, char **errp)
{
	unsigned long include = 0, exclude = 0, all = 0;
	char names[128];
	const char *s, *sp, *tok;
	size_t i, len;
	int v, neg, idx;

	if (cfg->proto_min != NULL || cfg->proto_max != NULL) {
		if (cfg->proto_min != NULL) {
			if ((v = tls_proto_version(cfg->proto_min)) == -1) {
				tls_seterr(errp,
				    "Unknown protocol version: %s",
				    cfg->proto_min);
				return -1;
			}
			if (SSL_CTX_set_min_proto_version(ctx, v) != 1) {
				tls_errp(errp, "SSL_CTX_set_min_proto_version");
				return -1;
			}
			if (log_debug_level() > 0)
				log_notice("Minimum SSL/TLS protocol version: "
				    "%s", cfg->proto_min);
		}
		if (cfg->proto_max != NULL) {
			if ((v = tls_proto_version(cfg->proto_max)) == -1) {
				tls_seterr(errp,
				    "Unknown protocol version: %s",
				    cfg->proto_max);
				return -1;
			}
			if (SSL_CTX_set_max_proto_version(ctx, v) != 1) {
				tls_errp(errp, "SSL_CTX_set_max_proto_version");
				return -1;
			}
			if (log_debug_level() > 0)
				log_notice("Maximum SSL/TLS protocol version: "
				    "%s", cfg->proto_max);
		}
		return 0;
	}
	if (cfg->protocols == NULL)
		return 0;

	log_warnx("SSL_protocols is deprecated and will be removed in a "
	    "future release! Use SSL_protocol_{min,max} instead.");
	for (s = cfg->protocols; *s != '\0'; s = sp) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		for (sp = s; *sp != '\0' && *sp != ' ' && *sp != '\t'; sp++)
			;
		tok = s;
		len = (size_t)(sp - s);
		neg = *tok == '!';
		if (neg) {
			tok++;
			len--;
		}
		if ((idx = tls_proto_index(tok, len)) == -1) {
			tls_seterr(errp, "Unknown SSL protocol: %.*s",
			    (int)len, tok);
			return -1;
		}
		if (neg)
			exclude |= tls_proto_ops[idx].op;
		else
			include |= tls_proto_ops[idx].op;
	}
	/* Naming any protocol without "!" allows only those named. */
	if (include != 0) {
		for (i = 0; i < NITEMS(tls_proto_ops); i++)
			all |= tls_proto_ops[i].op;
		exclude |= all & ~include;
	}
	names[0] = '\0';
	for (i = 0; i < NITEMS(tls_proto_ops); i++) {
		if (tls_proto_ops[i].op == 0 ||
		    (exclude & tls_proto_ops[i].op) == 0)
			continue;
		if (names[0] != '\0')
			(void)strlcat(names, ", ", sizeof(names));
		(void)strlcat(names, tls_proto_ops[i].name, sizeof(names));
	}
	if (log_debug_level() > 0)
		log_notice("Disabling SSL protocols: %s", names);
	SSL_CTX_set_options(ctx, exclude);
	return 0;
}

/* A CA file, read now.  must: a missing file is an error. */
static int
tls_load_file(X509_STORE *store, const char *path, const char *what,
    int must, char **errp)
{
	X509_LOOKUP *lu;
	struct stat sb;

	if (stat(path, &sb) == -1) {
		if (!must)
			return 0;
		tls_seterr(errp, "Can't load %s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if ((lu = X509_STORE_add_lookup(store, X509_LOOKUP_file())) == NULL) {
		tls_errp(errp, "X509_STORE_add_lookup");
		return -1;
	}
	if (X509_LOOKUP_load_file(lu, path, X509_FILETYPE_PEM) != 1) {
		if (!must) {
			ERR_clear_error();
			return 0;
		}
		tls_errp(errp, "Can't load %s %s", what, path);
		return -1;
	}
	return 0;
}

/* "<8 hex digits>.<digits>": the names a hashed-directory lookup reads. */
static int
tls_hashed_name(const char *name)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)name[i]) ||
		    isupper((unsigned char)name[i]))
			return 0;
	if (name[8] != '.' || name[9] == '\0')
		return 0;
	for (i = 9; name[i] != '\0'; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	return 1;
}

/*
 * A hashed CA directory (c_rehash / openssl rehash), read now rather
 * than on demand: the certificates a lazy lookup could ever find.  Files
 * that don't parse are skipped, as the lazy lookup would.
 */
static int
tls_load_dir(X509_STORE *store, const char *dir, const char *what, int must,
    char **errp)
{
	X509_LOOKUP *lu;
	struct dirent *de;
	DIR *d;
	char path[4096];

	if ((d = opendir(dir)) == NULL) {
		if (!must)
			return 0;
		tls_seterr(errp, "Can't load %s %s: %s", what, dir,
		    strerror(errno));
		return -1;
	}
	if ((lu = X509_STORE_add_lookup(store, X509_LOOKUP_file())) == NULL) {
		(void)closedir(d);
		tls_errp(errp, "X509_STORE_add_lookup");
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!tls_hashed_name(de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if (X509_LOOKUP_load_file(lu, path, X509_FILETYPE_PEM) != 1)
			ERR_clear_error();
	}
	(void)closedir(d);
	return 0;
}

/* Directories separated by ':' as in SSL_CERT_DIR. */
static int
tls_load_dirs(X509_STORE *store, const char *list, char **errp)
{
	char *copy, *p, *dir;
	int rv = 0;

	if ((copy = strdup(list)) == NULL) {
		tls_seterr(errp, "%s", strerror(errno));
		return -1;
	}
	for (p = copy; (dir = strsep(&p, ":")) != NULL;)
		if (*dir != '\0' &&
		    tls_load_dir(store, dir, "CA directory", 0, errp) == -1) {
			rv = -1;
			break;
		}
	free(copy);
	return rv;
}

static int
tls_ctx_trust(SSL_CTX *ctx, const struct tls_config *cfg, char **errp)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	const char *file, *dir;

	if (cfg->cafile != NULL || cfg->capath != NULL) {
		if (cfg->cafile != NULL && tls_load_file(store, cfg->cafile,
		    "SSL_CAfile", 1, errp) == -1)
			return -1;
		if (cfg->capath != NULL && tls_load_dir(store, cfg->capath,
		    "SSL_CApath", 1, errp) == -1)
			return -1;
	} else {
		/* OpenSSL's default locations, with their variables. */
		if ((file = getenv(X509_get_default_cert_file_env())) == NULL)
			file = X509_get_default_cert_file();
		if ((dir = getenv(X509_get_default_cert_dir_env())) == NULL)
			dir = X509_get_default_cert_dir();
		if (tls_load_file(store, file, "CA file", 0, errp) == -1 ||
		    tls_load_dirs(store, dir, errp) == -1)
			return -1;
	}
	if (log_debug_level() > 0)
		log_notice("Loaded %d trusted certificate(s) and CRL(s)",
		    sk_X509_OBJECT_num(X509_STORE_get0_objects(store)));
	return 0;
}

static int
tls_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return tolower(c) - 'a' + 10;
}

/* SSL_fingerprint: space-separated [ALGO$]HEX, ALGO default sha256. */
static int
tls_ctx_pins(struct tls_ctx *t, const char *list, char **errp)
{
	char *copy, *p, *tok, *hex;
	const char *algo;
	struct tls_pin *pin;
	size_t n, i, hexlen;

	if ((copy = strdup(list)) == NULL)
		goto nomem;
	for (p = copy; (tok = strsep(&p, " \t")) != NULL;) {
		if (*tok == '\0')
			continue;
		if ((pin = recallocarray(t->pins, t->npins, t->npins + 1,
		    sizeof(*pin))) == NULL)
			goto nomem;
		t->pins = pin;
		pin = &t->pins[t->npins++];
		if ((pin->text = strdup(tok)) == NULL)
			goto nomem;
		if ((hex = strchr(tok, '$')) != NULL) {
			*hex++ = '\0';
			algo = tok;
		} else {
			hex = tok;
			algo = "sha256";
		}
		if ((pin->md = EVP_get_digestbyname(algo)) == NULL) {
			tls_seterr(errp,
			    "Can't find MD value for name '%s'", algo);
			free(copy);
			return -1;
		}
		/* ':' separators are tolerated, as the reference does. */
		for (i = 0, n = 0, hexlen = 0; hex[i] != '\0'; i++) {
			if (hex[i] == ':')
				continue;
			if (!isxdigit((unsigned char)hex[i]) ||
			    n >= sizeof(pin->digest)) {
				n = 0;
				hexlen = 1;	/* marks "malformed" */
				break;
			}
			if (hexlen++ % 2 == 0)
				pin->digest[n] = (unsigned char)
				    (tls_hexval(hex[i]) << 4);
			else
				pin->digest[n++] |= (unsigned char)
				    tls_hexval(hex[i]);
		}
		pin->len = hexlen % 2 == 0 ? n : 0;
	}
	free(copy);
	return 0;
nomem:
	free(copy);
	tls_seterr(errp, "%s", strerror(ENOMEM));
	return -1;
}

struct tls_ctx *
tls_ctx_new(const struct tls_config *cfg, char **errp)
{
	struct tls_ctx *t;
	unsigned char seed[16];
	long opts;

	*errp = NULL;
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_LOAD_CONFIG,
	    NULL) != 1) {
		tls_errp(errp, "OPENSSL_init_ssl");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		tls_seterr(errp, "%s", strerror(errno));
		return NULL;
	}
	t->verify = cfg->verify;
	t->cbtype = cfg->cbtype != NULL ? tls_cb_index(cfg->cbtype) : -1;
	if (cfg->hostname != NULL &&
	    (t->hostname = strdup(cfg->hostname)) == NULL) {
		tls_seterr(errp, "%s", strerror(errno));
		goto fail;
	}
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_errp(errp, "SSL_CTX_new");
		goto fail;
	}

	/*
	 * SINGLE_DH_USE and SINGLE_ECDH_USE are always on since OpenSSL
	 * 1.1.0 (the flags are no-ops).  No TLS compression (CRIME), no
	 * renegotiation.  A server that closes without close_notify is
	 * at end of stream: IMAP frames its own data.
	 */
	opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
#ifdef SSL_OP_CLEANSE_PLAINTEXT
	/* Wipe decrypted records when their buffers are released. */
	opts |= SSL_OP_CLEANSE_PLAINTEXT;
#endif
	SSL_CTX_set_options(t->ctx, opts);
	if (tls_ctx_protocols(t->ctx, cfg, errp) == -1)
		goto fail;
	/*
	 * Partial writes and a moving buffer suit the stream's queue;
	 * auto-retry only loops while the socket has data (it is
	 * non-blocking); buffers are released (and wiped) when idle.
	 */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY |
	    SSL_MODE_RELEASE_BUFFERS);
	if (cfg->cipherlist != NULL &&
	    SSL_CTX_set_cipher_list(t->ctx, cfg->cipherlist) != 1) {
		tls_errp(errp, "SSL_CTX_set_cipher_list(%s)", cfg->cipherlist);
		goto fail;
	}
	if (cfg->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(t->ctx, cfg->ciphersuites) != 1) {
		tls_errp(errp, "SSL_CTX_set_ciphersuites(%s)",
		    cfg->ciphersuites);
		goto fail;
	}
	if (SSL_CTX_set_purpose(t->ctx, X509_PURPOSE_SSL_SERVER) != 1) {
		tls_errp(errp, "SSL_CTX_set_purpose");
		goto fail;
	}
	if (t->verify) {
		if (tls_ctx_trust(t->ctx, cfg, errp) == -1)
			goto fail;
	} else
		SSL_CTX_set_verify_depth(t->ctx, 0);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, tls_verify_cb);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	if (cfg->fingerprint != NULL &&
	    tls_ctx_pins(t, cfg->fingerprint, errp) == -1)
		goto fail;

	/* Seed both generators now: later there is no /dev/urandom. */
	if (RAND_bytes(seed, sizeof(seed)) != 1 ||
	    RAND_priv_bytes(seed, sizeof(seed)) != 1) {
		tls_errp(errp, "RAND_bytes");
		goto fail;
	}
	explicit_bzero(seed, sizeof(seed));
	return t;
fail:
	if (*errp == NULL)
		tls_seterr(errp, "TLS setup failed");
	tls_ctx_free(t);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	size_t i;

	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	for (i = 0; i < t->npins; i++)
		free(t->pins[i].text);
	free(t->pins);
	free(t->hostname);
	free(t);
}

/* ------------------------------------------------------------------ */
/* Certificate checks (inside the handshake) */

static int
tls_spki_digest(X509 *cert, const EVP_MD *md, unsigned char *out,
    unsigned int *outlen)
{
	unsigned char *der = NULL;
	int len, rv;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		return -1;
	rv = EVP_Digest(der, (size_t)len, out, outlen, md, NULL) == 1 ? 0 : -1;
	OPENSSL_free(der);
	return rv;
}

static void
tls_hex(const unsigned char *p, size_t n, char *buf, size_t buflen)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < buflen; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xf];
	}
	buf[2 * i] = '\0';
}

int
tls_spki_fingerprint(const void *der, size_t len, const char *algo,
    char *buf, size_t buflen)
{
	const unsigned char *p = der;
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	const EVP_MD *md;
	X509 *cert;
	size_t n;
	int rv = -1;

	if ((md = EVP_get_digestbyname(algo)) == NULL)
		return -1;
	if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		return -1;
	if (tls_spki_digest(cert, md, dig, &dlen) == 0) {
		n = (size_t)snprintf(buf, buflen, "%s$", algo);
		if (n < buflen && buflen - n > 2 * (size_t)dlen) {
			tls_hex(dig, dlen, buf + n, buflen - n);
			rv = 0;
		}
	}
	X509_free(cert);
	return rv;
}

/* The leaf: the debug fingerprint and the SSL_fingerprint pins. */
static int
tls_check_leaf(struct tls_conn *c, X509 *cert)
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int dlen;
	struct tls_pin *pin;
	size_t i;

	if (log_debug_level() > 0 &&
	    tls_spki_digest(cert, EVP_sha256(), dig, &dlen) == 0) {
		tls_hex(dig, dlen, hex, sizeof(hex));
		log_notice("Peer certificate SPKI fingerprint: sha256$%s",
		    hex);
	}
	if (c->ctx->npins == 0)
		return 1;
	for (i = 0; i < c->ctx->npins; i++) {
		pin = &c->ctx->pins[i];
		if (pin->len == 0 ||
		    tls_spki_digest(cert, pin->md, dig, &dlen) == -1 ||
		    dlen != pin->len || memcmp(dig, pin->digest, dlen) != 0)
			continue;
		if (log_debug_level() > 0)
			log_notice("Peer certificate matches pinned SPKI "
			    "digest %s", pin->text);
		audit("TLS pin=%s", pin->text);
		return 1;
	}
	log_warnx("Fingerprint doesn't match! MiTM in action?");
	c->pin_failed = 1;
	return 0;
}

static int
tls_verify_cb(int ok, X509_STORE_CTX *xctx)
{
	struct tls_conn *c;
	X509 *cert;
	SSL *ssl;
	char name[512];
	int depth;

	ssl = X509_STORE_CTX_get_ex_data(xctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL || (c = SSL_get_app_data(ssl)) == NULL)
		return 0;
	depth = X509_STORE_CTX_get_error_depth(xctx);
	if ((cert = X509_STORE_CTX_get_current_cert(xctx)) == NULL)
		return 0;
	if (log_debug_level() > 0) {
		log_notice("[%d] preverify=%d", depth, ok);
		(void)X509_NAME_oneline(X509_get_issuer_name(cert), name,
		    sizeof(name));
		log_notice("  Issuer Name: %s", name);
		(void)X509_NAME_oneline(X509_get_subject_name(cert), name,
		    sizeof(name));
		log_notice("  Subject Name: %s", name);
	}
	/* SSL_verify = NO: any chain is fine; only the pins count. */
	if (!c->ctx->verify)
		ok = 1;
	if (depth == 0 && !c->peer_checked) {
		c->peer_checked = 1;
		if (!tls_check_leaf(c, cert))
			ok = 0;
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Connections */

void
tls_log_errors(void)
{
	char buf[256];
	unsigned long e;

	if (log_debug_level() == 0) {
		ERR_clear_error();
		return;
	}
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_notice("%s", buf);
	}
}

struct tls_conn *
tls_conn_new(struct tls_ctx *t, int fd, const char *host, char *err,
    size_t errlen)
{
	struct tls_conn *c;
	unsigned char addr[16];
	X509_VERIFY_PARAM *param;
	const char *sni;
	size_t len;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	c->ctx = t;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		c->host = strndup(host + 1, len - 2);
		c->is_ip = 1;
	} else
		c->host = strdup(host);
	if (c->host == NULL) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		free(c);
		return NULL;
	}
	if (inet_pton(AF_INET, c->host, addr) == 1 ||
	    inet_pton(AF_INET6, c->host, addr) == 1)
		c->is_ip = 1;
	else if (c->is_ip) {
		(void)snprintf(err, errlen, "Invalid IP literal: %s", host);
		goto fail;
	}

	ERR_clear_error();
	if ((c->ssl = SSL_new(t->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, fd) != 1 ||
	    SSL_set_app_data(c->ssl, c) != 1) {
		(void)snprintf(err, errlen, "SSL_new: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto fail;
	}
	if (t->verify) {
		param = SSL_get0_param(c->ssl);
		if ((c->is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, c->host) :
		    X509_VERIFY_PARAM_set1_host(param, c->host, 0)) != 1) {
			(void)snprintf(err, errlen, "Can't check the "
			    "certificate against %s", c->host);
			goto fail;
		}
	}
	/* SNI: SSL_hostname if set (empty: none), else a host name. */
	sni = t->hostname != NULL ? t->hostname : c->is_ip ? "" : c->host;
	if (*sni != '\0' && SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
		(void)snprintf(err, errlen, "SSL_set_tlsext_host_name(%s): %s",
		    sni, ERR_reason_error_string(ERR_peek_last_error()));
		goto fail;
	}
	SSL_set_connect_state(c->ssl);
	return c;
fail:
	tls_log_errors();
	tls_conn_free(c);
	return NULL;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c->host);
	free(c);
}

static int
tls_protocol_reason(int reason)
{
	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_WRONG_SSL_VERSION:
		return 1;
	}
	return 0;
}

/* Why the handshake failed, most specific first. */
static void
tls_handshake_reason(struct tls_conn *c, int sslerr, int saved_errno,
    char *buf, size_t len)
{
	const char *why;
	unsigned long e;
	long vr;

	if (c->pin_failed) {
		(void)snprintf(buf, len, "the peer's public key doesn't "
		    "match SSL_fingerprint");
		return;
	}
	if (c->ctx->verify &&
	    (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH)
			(void)snprintf(buf, len, "certificate does not match "
			    "host name %s", c->host);
		else if (vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			(void)snprintf(buf, len, "certificate does not match "
			    "IP address %s", c->host);
		else
			(void)snprintf(buf, len, "certificate verification "
			    "failed: %s", X509_verify_cert_error_string(vr));
		return;
	}
	switch (sslerr) {
	case SSL_ERROR_SSL:
		if ((e = ERR_peek_error()) == 0) {
			(void)snprintf(buf, len, "protocol error");
			break;
		}
		if ((why = ERR_reason_error_string(e)) == NULL)
			why = "unknown error";
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
		/* The peer closed without a word: the connection's end. */
		if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			c->lost = 1;
			(void)snprintf(buf, len, "connection closed by peer");
			break;
		}
#endif
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    tls_protocol_reason(ERR_GET_REASON(e)))
			(void)snprintf(buf, len, "no protocol version in "
			    "common (%s)", why);
		else
			(void)snprintf(buf, len, "%s", why);
		break;
	case SSL_ERROR_SYSCALL:
		c->lost = 1;
		if (saved_errno != 0)
			(void)snprintf(buf, len, "%s", strerror(saved_errno));
		else
			(void)snprintf(buf, len, "connection closed by peer");
		break;
	case SSL_ERROR_ZERO_RETURN:
		c->lost = 1;
		(void)snprintf(buf, len, "connection closed by peer");
		break;
	default:
		(void)snprintf(buf, len, "SSL error %d", sslerr);
		break;
	}
}

int
tls_conn_handshake(struct tls_conn *c, int *want, char *err, size_t errlen)
{
	char why[512];
	int r, e, saved_errno;

	*want = 0;
	if (c->done)
		return 1;
	if (c->failed) {
		(void)snprintf(err, errlen, "Can't initiate TLS/SSL handshake");
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	saved_errno = errno;
	if (r == 1) {
		/* The callback saw the leaf, and the chain held. */
		if (!c->peer_checked || (c->ctx->verify &&
		    SSL_get_verify_result(c->ssl) != X509_V_OK)) {
			c->failed = 1;
			(void)snprintf(err, errlen, "Can't initiate TLS/SSL "
			    "handshake: the peer's certificate was not "
			    "verified");
			return -1;
		}
		c->done = 1;
		audit("TLS host=%s version=%s cipher=%s verify=%s", c->host,
		    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
		    c->ctx->verify ? "chain" : "none");
		if (log_debug_level() > 0) {
			log_notice("SSL protocol: %s (0x%x)",
			    SSL_get_version(c->ssl),
			    (unsigned)SSL_version(c->ssl));
			log_notice("SSL cipher: %s (%d bits)",
			    SSL_get_cipher_name(c->ssl),
			    SSL_get_cipher_bits(c->ssl, NULL));
		}
		return 1;
	}
	switch ((e = SSL_get_error(c->ssl, r))) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return 0;
	}
	c->failed = 1;
	tls_handshake_reason(c, e, saved_errno, why, sizeof(why));
	(void)snprintf(err, errlen, "Can't initiate TLS/SSL handshake: %s",
	    why);
	tls_log_errors();
	return -1;
}

/* After SSL_read/SSL_write failed: want, EOF, or an error in err. */
static ssize_t
tls_io_error(struct tls_conn *c, int r, const char *what, int saved_errno,
    int *want, char *err, size_t errlen)
{
	const char *why;
	unsigned long e;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		c->failed = 1;
		c->lost = 1;
		if (saved_errno == 0)
			return 0;	/* EOF without close_notify */
		(void)snprintf(err, errlen, "%s: %s", what,
		    strerror(saved_errno));
		errno = saved_errno;
		break;
	default:
		/*
		 * An alert or a broken record on an established session:
		 * the session is torn down, not its identity in question
		 * (that was settled by the handshake).
		 */
		c->failed = 1;
		c->lost = 1;
		e = ERR_peek_error();
		why = e != 0 ? ERR_reason_error_string(e) : NULL;
		(void)snprintf(err, errlen, "%s: %s", what,
		    why != NULL ? why : "TLS protocol error");
		errno = EPROTO;
		break;
	}
	tls_log_errors();
	return -1;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *buf, size_t len, int *want,
    char *err, size_t errlen)
{
	size_t n;
	int r;

	*want = 0;
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return tls_io_error(c, r, "read", errno, want, err, errlen);
}

ssize_t
tls_conn_write(struct tls_conn *c, const void *buf, size_t len, int *want,
    char *err, size_t errlen)
{
	size_t n;
	ssize_t rv;
	int r;

	*want = 0;
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	rv = tls_io_error(c, r, "write", errno, want, err, errlen);
	if (rv == 0) {
		/* The peer closed: for a writer that is an error. */
		c->lost = 1;
		(void)snprintf(err, errlen, "write: %s", strerror(EPIPE));
		errno = EPIPE;
		rv = -1;
	}
	return rv;
}

int
tls_conn_lost(const struct tls_conn *c)
{
	return c->lost;
}

size_t
tls_conn_pending(struct tls_conn *c)
{
	int n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

void
tls_conn_shutdown(struct tls_conn *c)
{
	if (c->done && !c->failed) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
}

const char *
tls_conn_version(struct tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

const char *
tls_conn_cipher(struct tls_conn *c)
{
	return SSL_get_cipher_name(c->ssl);
}

int
tls_conn_is_tls13(struct tls_conn *c)
{
	return SSL_version(c->ssl) >= TLS1_3_VERSION;
}

/* tls-server-end-point: see tls.h. */
static int
tls_cb_end_point(struct tls_conn *c, unsigned char *buf, char *err,
    size_t errlen)
{
	X509 *cert;
	const EVP_MD *md;
	unsigned int len = 0;
	int mdnid, pknid;

	if ((cert = SSL_get0_peer_certificate(c->ssl)) == NULL) {
		(void)snprintf(err, errlen, "no server certificate");
		return -1;
	}
	/* The signature's hash, RSASSA-PSS's included (in its parameters). */
	if (X509_get_signature_info(cert, &mdnid, &pknid, NULL, NULL) != 1 ||
	    mdnid == NID_undef) {
		(void)snprintf(err, errlen, "the certificate's signature "
		    "algorithm (%s) has no hash of its own: "
		    "tls-server-end-point is not defined for it",
		    OBJ_nid2sn(X509_get_signature_nid(cert)));
		return -1;
	}
	if (mdnid == NID_md5 || mdnid == NID_sha1)
		md = EVP_sha256();
	else if ((md = EVP_get_digestbynid(mdnid)) == NULL ||
	    EVP_MD_get_size(md) > TLS_CB_MAX) {
		(void)snprintf(err, errlen, "no digest %s for "
		    "tls-server-end-point", OBJ_nid2sn(mdnid));
		return -1;
	}
	if (X509_digest(cert, md, buf, &len) != 1) {
		(void)snprintf(err, errlen, "X509_digest failed");
		return -1;
	}
	return (int)len;
}

int
tls_conn_channel_binding(struct tls_conn *c, const char **name,
    unsigned char *buf, char *err, size_t errlen)
{
	int type, tls13, n;
	size_t len;

	*name = "none";
	if (c == NULL || !c->done) {
		(void)snprintf(err, errlen, "the TLS handshake is not done");
		return -1;
	}
	tls13 = tls_conn_is_tls13(c);
	type = c->ctx->cbtype;
	if (type == -1)
		type = tls13 ? TLS_CB_EXPORTER : TLS_CB_UNIQUE;
	*name = tls_cb_names[type];
	switch (type) {
	case TLS_CB_EXPORTER:
		/*
		 * RFC 9266: below TLS 1.3 the exported value is unique to
		 * the connection only with the extended master secret.
		 */
		if (!tls13 && SSL_get_extms_support(c->ssl) != 1) {
			(void)snprintf(err, errlen, "tls-exporter needs TLS 1.3 "
			    "or the extended master secret, which this %s "
			    "session lacks", SSL_get_version(c->ssl));
			return -1;
		}
		if (SSL_export_keying_material(c->ssl, buf, 32,
		    "EXPORTER-Channel-Binding", 24, NULL, 0, 0) != 1) {
			(void)snprintf(err, errlen, "%s",
			    "SSL_export_keying_material failed");
			tls_log_errors();
			return -1;
		}
		return 32;
	case TLS_CB_UNIQUE:
		/*
		 * The first Finished of the handshake: the client's in a full
		 * handshake, the server's in a resumed one.
		 */
		if (SSL_session_reused(c->ssl))
			len = SSL_get_peer_finished(c->ssl, buf, TLS_CB_MAX);
		else
			len = SSL_get_finished(c->ssl, buf, TLS_CB_MAX);
		if (len == 0 || len > TLS_CB_MAX) {
			(void)snprintf(err, errlen, "no Finished message for "
			    "tls-unique");
			return -1;
		}
		return (int)len;
	default:
		n = tls_cb_end_point(c, buf, err, errlen);
		return n;
	}
}
