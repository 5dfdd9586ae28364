/*
 * net/tls.c and the TLS side of net/stream.c, against a real TLS server:
 * a forked child running OpenSSL on the other end of a socketpair, with
 * certificates made here (a CA, a leaf it signed, a self-signed leaf).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <zlib.h>

#include "log.h"
#include "net_sandbox.h"
#include "stream.h"
#include "tap.h"
#include "tls.h"

#define HOST	"imap.example.test"

/* ------------------------------------------------------------------ */
/* Certificates */

static EVP_PKEY	*ca_key, *leaf_key, *self_key, *other_ca_key;
static X509	*ca_cert, *leaf_cert, *self_cert, *other_ca_cert;
static X509	*stray_cert;
static char	 tmpdir[] = "/tmp/test_tls.XXXXXX";
static char	 ca_file[256], ca_dir[256];

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1) {
		fprintf(stderr, "extension %d=%s failed\n", nid, value);
		exit(1);
	}
	X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    int ca)
{
	static long serial = 1;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer != NULL ?
	    X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_set_pubkey(c, key);
	if (issuer == NULL) {
		issuer = c;
		ikey = key;
	}
	add_ext(c, issuer, NID_subject_key_identifier, "hash");
	if (ca) {
		add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, issuer, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	} else {
		add_ext(c, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(c, issuer, NID_ext_key_usage, "serverAuth");
		add_ext(c, issuer, NID_subject_alt_name,
		    "DNS:" HOST ",DNS:localhost,IP:127.0.0.1,IP:::1");
	}
	if (issuer != c)
		add_ext(c, issuer, NID_authority_key_identifier, "keyid");
	if (X509_sign(c, ikey, EVP_sha256()) == 0) {
		fprintf(stderr, "X509_sign failed\n");
		exit(1);
	}
	return c;
}

static void
write_pem(const char *path, X509 *cert)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL ||
	    PEM_write_X509(f, cert) != 1 || fclose(f) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void
make_certs(void)
{
	char path[512];

	if (mkdtemp(tmpdir) == NULL)
		exit(1);
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	self_key = EVP_EC_gen("P-256");
	other_ca_key = EVP_EC_gen("P-256");
	ca_cert = make_cert(ca_key, "Test CA", NULL, NULL, 1);
	leaf_cert = make_cert(leaf_key, HOST, ca_cert, ca_key, 0);
	self_cert = make_cert(self_key, HOST, NULL, NULL, 0);
	other_ca_cert = make_cert(other_ca_key, "Other CA", NULL, NULL, 1);
	stray_cert = make_cert(leaf_key, HOST, other_ca_cert, other_ca_key,
	    0);
	(void)snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tmpdir);
	write_pem(ca_file, ca_cert);
	(void)snprintf(ca_dir, sizeof(ca_dir), "%s/capath", tmpdir);
	(void)mkdir(ca_dir, 0700);
	(void)snprintf(path, sizeof(path), "%s/%08lx.0", ca_dir,
	    X509_subject_name_hash(ca_cert));
	write_pem(path, ca_cert);
}

static void
rm_rf(const char *dir)
{
	char cmd[600];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
}

/* The SPKI digest computed independently of net/tls.c. */
static void
spki_hex(EVP_PKEY *key, const char *algo, int upper, char *buf, size_t len)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int n, i;
	int dlen;

	dlen = i2d_PUBKEY(key, &der);
	EVP_Digest(der, (size_t)dlen, md, &n, EVP_get_digestbyname(algo),
	    NULL);
	OPENSSL_free(der);
	for (i = 0; i < n && 2 * i + 2 < len; i++)
		(void)snprintf(buf + 2 * i, 3, upper ? "%02X" : "%02x", md[i]);
}

/* ------------------------------------------------------------------ */
/* Log capture */

static char	logbuf[65536];

static void
capture(int level, const char *name, const char *mailbox, const char *text)
{
	(void)strlcat(logbuf, text, sizeof(logbuf));
	(void)strlcat(logbuf, "\n", sizeof(logbuf));
}

/* ------------------------------------------------------------------ */
/* The server */

enum srv_mode { SRV_ECHO, SRV_BIG, SRV_STARTTLS, SRV_ZECHO };

struct srv_opts {
	X509		*cert;
	EVP_PKEY	*key;
	X509		*chain;		/* sent after the leaf */
	int		 max_version;
	enum srv_mode	 mode;
};

static void
srv_write(SSL *ssl, const void *p, size_t n)
{
	if (SSL_write(ssl, p, (int)n) != (int)n)
		_exit(3);
}

/* COMPRESS=DEFLATE over TLS: inflate, echo deflated (sync flush). */
static void __attribute__((noreturn))
server_zecho(SSL *ssl)
{
	static unsigned char raw[16384], plain[65536], out[70000];
	z_stream zi, zo;
	int r;

	memset(&zi, 0, sizeof(zi));
	memset(&zo, 0, sizeof(zo));
	if (inflateInit2(&zi, -MAX_WBITS) != Z_OK ||
	    deflateInit2(&zo, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS,
	    8, Z_DEFAULT_STRATEGY) != Z_OK)
		_exit(6);
	while ((r = SSL_read(ssl, raw, sizeof(raw))) > 0) {
		zi.next_in = raw;
		zi.avail_in = (uInt)r;
		do {
			zi.next_out = plain;
			zi.avail_out = sizeof(plain);
			if (inflate(&zi, Z_SYNC_FLUSH) == Z_DATA_ERROR)
				_exit(7);
			zo.next_in = plain;
			zo.avail_in = (uInt)(sizeof(plain) - zi.avail_out);
			zo.next_out = out;
			zo.avail_out = sizeof(out);
			(void)deflate(&zo, Z_SYNC_FLUSH);
			if (sizeof(out) - zo.avail_out > 0)
				srv_write(ssl, out, sizeof(out) - zo.avail_out);
		} while (zi.avail_out == 0);
	}
	SSL_shutdown(ssl);
	_exit(0);
}

static void __attribute__((noreturn))
server_run(int fd, const struct srv_opts *o)
{
	char buf[16384], line[512];
	const char *sni;
	SSL_CTX *ctx;
	SSL *ssl;
	size_t n = 0;
	int r;

	ctx = SSL_CTX_new(TLS_server_method());
	/* Our client's plain shutdown(2) is an end, not an attack. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_use_certificate(ctx, o->cert);
	SSL_CTX_use_PrivateKey(ctx, o->key);
	if (o->chain != NULL)
		SSL_CTX_add1_chain_cert(ctx, o->chain);
	if (o->max_version != 0)
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
	if (o->mode == SRV_STARTTLS) {
		if (write(fd, "* OK plain\r\n", 12) != 12)
			_exit(4);
		while (n < sizeof(line) - 1 &&
		    read(fd, line + n, 1) == 1 && line[n++] != '\n')
			;
		line[n] = '\0';
		if (strcmp(line, "a STARTTLS\r\n") != 0)
			_exit(5);
		/* The OK and an injected response, in one segment. */
		(void)snprintf(line, sizeof(line),
		    "a OK Begin TLS\r\n* OK injected\r\n");
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
			_exit(4);
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		_exit(1);
	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)snprintf(line, sizeof(line), "* OK sni=%s v=%s\r\n",
	    sni != NULL ? sni : "(none)", SSL_get_version(ssl));
	srv_write(ssl, line, strlen(line));
	if (o->mode == SRV_BIG) {
		memset(buf, 'x', 16000);
		buf[15998] = '\r';
		buf[15999] = '\n';
		srv_write(ssl, buf, 16000);	/* one record */
	}
	if (o->mode == SRV_ZECHO)
		server_zecho(ssl);
	while ((r = SSL_read(ssl, buf, sizeof(buf))) > 0)
		srv_write(ssl, buf, (size_t)r);
	SSL_shutdown(ssl);
	_exit(0);
}

static pid_t	 srv_pid = -1;

/* A connected server: returns our end of the socketpair. */
static int
server_start(const struct srv_opts *o)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		exit(1);
	if ((srv_pid = fork()) == -1)
		exit(1);
	if (srv_pid == 0) {
		close(sv[0]);
		server_run(sv[1], o);
	}
	close(sv[1]);
	return sv[0];
}

static int
server_wait(void)
{
	int status = -1;

	if (srv_pid > 0)
		(void)waitpid(srv_pid, &status, 0);
	srv_pid = -1;
	return status;
}

/*
 * A relay between two socketpairs passing at most three bytes at a
 * time, so that the client sees TLS records in pieces.  Nothing goes
 * from the server to the client before a byte arrives on the gate (or
 * the gate closes): the client's first handshake step then always finds
 * nothing to read, however the scheduler orders the three processes.
 */
static pid_t	 relay_pid = -1;

static void __attribute__((noreturn))
relay_run(int a, int b, int gate)
{
	unsigned char buf[2][3], c;
	size_t len[2] = { 0, 0 };
	struct pollfd pfd[3];
	int fds[2] = { a, b }, d;
	ssize_t n;

	for (;;) {
		/* Direction d: fds[d] -> fds[1 - d]. */
		for (d = 0; d < 2; d++) {
			pfd[d].fd = fds[d];
			pfd[d].events = 0;
		}
		for (d = 0; d < 2; d++) {
			if (d == 1 && gate != -1)
				continue;
			if (len[d] == 0)
				pfd[d].events |= POLLIN;
			else
				pfd[1 - d].events |= POLLOUT;
		}
		pfd[2].fd = gate;
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, 10000) <= 0)
			_exit(1);
		if (gate != -1 && (pfd[2].revents & (POLLIN | POLLHUP))) {
			if (read(gate, &c, 1) == -1)
				_exit(1);
			close(gate);
			gate = -1;
			continue;
		}
		for (d = 0; d < 2; d++) {
			if (len[d] == 0 && (pfd[d].revents & (POLLIN |
			    POLLHUP))) {
				if ((n = read(fds[d], buf[d], 3)) <= 0)
					_exit(0);
				len[d] = (size_t)n;
			}
			if (len[d] > 0 && (pfd[1 - d].revents & POLLOUT)) {
				if (write(fds[1 - d], buf[d], len[d]) !=
				    (ssize_t)len[d])
					_exit(1);
				len[d] = 0;
			}
		}
	}
}

/* The client's end of the relay; *gate opens it (see relay_run). */
static int
relay_start(int server_fd, int *gate)
{
	int sv[2], g[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(g) == -1)
		exit(1);
	if ((relay_pid = fork()) == -1)
		exit(1);
	if (relay_pid == 0) {
		close(sv[0]);
		close(g[1]);
		relay_run(sv[1], server_fd, g[0]);
	}
	close(sv[1]);
	close(g[0]);
	close(server_fd);
	*gate = g[1];
	return sv[0];
}

/* ------------------------------------------------------------------ */
/* The client */

/* Handshake: 1, or -1 with the reason in err. */
static int
handshake(struct net_stream *s, char *err, size_t errlen)
{
	int r;

	err[0] = '\0';
	while ((r = stream_handshake(s)) == 0) {
		if (stream_wait(s, 10000) != 1) {
			(void)snprintf(err, errlen, "handshake timeout");
			return -1;
		}
	}
	if (r == -1)
		(void)snprintf(err, errlen, "%s", stream_error(s));
	return r;
}

/* Reads up to and including CRLF (or len-1 bytes) into buf. */
static int
read_line(struct net_stream *s, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	buf[0] = '\0';
	while (n < len - 1) {
		r = stream_read(s, buf + n, 1);
		if (r == -1 && errno == EAGAIN) {
			if (stream_wait(s, 10000) != 1)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n')
			return 0;
	}
	return -1;
}

struct conn_result {
	int	 ctx_failed;		/* tls_ctx_new() refused */
	int	 ok;			/* handshake done, greeting */
	int	 lost;			/* stream_error_lost() at the end */
	char	 err[512];
	char	 greeting[512];
};

/* One connection with cfg to host against a server with opts. */
static void
connect_once(const struct tls_config *cfg, const char *host,
    const struct srv_opts *so, struct conn_result *res)
{
	struct net_stream *s;
	struct tls_ctx *ctx;
	char *e = NULL;
	int fd;

	memset(res, 0, sizeof(*res));
	if ((ctx = tls_ctx_new(cfg, &e)) == NULL) {
		res->ctx_failed = 1;
		(void)snprintf(res->err, sizeof(res->err), "%s",
		    e != NULL ? e : "?");
		free(e);
		return;
	}
	fd = server_start(so);
	s = stream_new(fd);
	if (stream_start_tls(s, ctx, host) == -1)
		(void)snprintf(res->err, sizeof(res->err), "%s",
		    stream_error(s));
	else if (handshake(s, res->err, sizeof(res->err)) == 1 &&
	    read_line(s, res->greeting, sizeof(res->greeting)) == 0)
		res->ok = 1;
	res->lost = stream_error_lost(s);
	stream_free(s);
	(void)server_wait();
	tls_ctx_free(ctx);
}

static void
cfg_set(struct tls_config *cfg, const char *key, const char *value)
{
	char err[256];

	if (tls_config_set(cfg, key, value, err, sizeof(err)) != 1) {
		fprintf(stderr, "tls_config_set %s: %s\n", key, err);
		exit(1);
	}
}

static const struct srv_opts srv_leaf = { NULL, NULL, NULL, 0, SRV_ECHO };

/* ------------------------------------------------------------------ */
/* Tests */

static void
test_config(void)
{
	static const struct {
		const char	*key, *value;
		int		 want;
	} t[] = {
		{ "SSL_verify", "yes", 1 },
		{ "SSL_verify", "No", 1 },
		{ "SSL_verify", "1", -1 },
		{ "SSL_CAfile", "/x", 1 },
		{ "SSL_CAfile", "", -1 },
		{ "SSL_CApath", "a\tb", -1 },
		{ "SSL_hostname", "", 1 },
		{ "SSL_ciphersuites", "", 1 },
		{ "SSL_cipherlist", "", -1 },
		{ "SSL_protocol_min", "TLSv1.2", 1 },
		{ "SSL_protocols", "!SSLv2 !SSLv3 TLSv1.0 TLSv1.3", 1 },
		{ "SSL_protocols", "TLSv1.4", -1 },
		{ "SSL_protocols", "TLSv1.2  TLSv1.3", -1 },
		{ "SSL_fingerprint", "sha1$ab01 CDEF", 1 },
		{ "SSL_fingerprint", "sha1$", -1 },
		{ "SSL_fingerprint", "$ab", -1 },
		{ "SSL_fingerprint", "sha-1$ab", -1 },
		{ "SSL_fingerprint", "xyz", -1 },
		{ "host", "x", 0 },
		{ "ssl_verify", "YES", 0 },
	};
	struct tls_config cfg;
	char err[256];
	size_t i;
	int r;

	tls_config_init(&cfg);
	OK(cfg.verify == 1, "SSL_verify defaults to YES");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		r = tls_config_set(&cfg, t[i].key, t[i].value, err,
		    sizeof(err));
		OK(r == t[i].want, "config %s = \"%s\": %d (want %d) %s",
		    t[i].key, t[i].value, r, t[i].want, err);
	}
	OK(cfg.verify == 0, "SSL_verify = No taken");
	IS_STR(cfg.fingerprint, "sha1$ab01 CDEF", "fingerprint kept");
	(void)tls_config_set(&cfg, "SSL_verify", "1", err, sizeof(err));
	IS_STR(err, "Invalid option SSL_verify = 1", "invalid value message");
	tls_config_free(&cfg);
}

static void
test_ctx_errors(void)
{
	static const struct {
		const char	*key, *value, *want;
	} t[] = {
		{ "SSL_protocol_min", "TLSv9",
		    "Unknown protocol version: TLSv9" },
		{ "SSL_protocol_max", "tlsv1.2",
		    "Unknown protocol version: tlsv1.2" },
		{ "SSL_CAfile", "/nonexistent/ca.pem",
		    "Can't load SSL_CAfile /nonexistent/ca.pem: No such file "
		    "or directory" },
		{ "SSL_CApath", "/nonexistent",
		    "Can't load SSL_CApath /nonexistent: No such file or "
		    "directory" },
		{ "SSL_fingerprint", "nosuchmd$abcd",
		    "Can't find MD value for name 'nosuchmd'" },
		{ "SSL_cipherlist", "NO-SUCH-CIPHER",
		    "SSL_CTX_set_cipher_list(NO-SUCH-CIPHER): "
		    "no cipher match" },
	};
	struct tls_config cfg;
	struct tls_ctx *ctx;
	char *e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tls_config_init(&cfg);
		cfg_set(&cfg, t[i].key, t[i].value);
		e = NULL;
		ctx = tls_ctx_new(&cfg, &e);
		OK(ctx == NULL, "tls_ctx_new refuses %s = %s", t[i].key,
		    t[i].value);
		IS_STR(e, t[i].want, "tls_ctx_new error");
		free(e);
		tls_ctx_free(ctx);
		tls_config_free(&cfg);
	}
}

static void
test_trust(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct conn_result r;
	char capath_copy[512], cmd[1200];

	so.cert = leaf_cert;
	so.key = leaf_key;

	/* (1) trusted CA, right host */
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "CAfile + host name: handshake (%s)", r.err);
	OK(strncmp(r.greeting, "* OK sni=" HOST " v=TLSv1.3\r\n", 40) == 0,
	    "greeting read: %s", r.greeting);
	connect_once(&cfg, "127.0.0.1", &so, &r);
	OK(r.ok, "CAfile + IP literal in SAN (%s)", r.err);
	OK(strstr(r.greeting, "sni=(none)") != NULL,
	    "no SNI for an IP literal: %s", r.greeting);
	connect_once(&cfg, "[::1]", &so, &r);
	OK(r.ok, "CAfile + bracketed IPv6 literal (%s)", r.err);
	connect_once(&cfg, "localhost", &so, &r);
	OK(r.ok, "CAfile + second DNS name (%s)", r.err);

	/* (3) wrong host */
	connect_once(&cfg, "other.example.test", &so, &r);
	OK(!r.ok, "wrong host name fails");
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate does "
	    "not match host name other.example.test", "host name reason");
	OK(!r.lost, "a wrong host name is permanent, not a lost "
	    "connection");
	connect_once(&cfg, "127.0.0.2", &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate does "
	    "not match IP address 127.0.0.2", "IP address reason");
	connect_once(&cfg, "[not-an-ip]", &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: Invalid IP "
	    "literal: [not-an-ip]", "bracketed non-IP");
	tls_config_free(&cfg);

	/* (2) untrusted chains */
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	so.cert = self_cert;
	so.key = self_key;
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "self-signed certificate fails");
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: self-signed certificate",
	    "self-signed reason");
	OK(!r.lost, "an untrusted chain is permanent");
	so.cert = stray_cert;
	so.key = leaf_key;
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: unable to get local issuer certificate",
	    "unknown issuer reason");
	so.chain = other_ca_cert;
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: self-signed certificate in certificate "
	    "chain", "untrusted root in chain reason");
	so.chain = NULL;
	tls_config_free(&cfg);

	/*
	 * CApath is read when the context is built: removing the directory
	 * before the handshake changes nothing (no file is opened inside
	 * the sandbox).
	 */
	(void)snprintf(capath_copy, sizeof(capath_copy), "%s/capath2",
	    tmpdir);
	(void)snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", ca_dir,
	    capath_copy);
	OK(system(cmd) == 0, "copy CApath");
	{
		struct tls_ctx *ctx;
		struct net_stream *s;
		char *e = NULL, err[512], line[256];
		int fd;

		tls_config_init(&cfg);
		cfg_set(&cfg, "SSL_CApath", capath_copy);
		ctx = tls_ctx_new(&cfg, &e);
		OK(ctx != NULL, "CApath context (%s)", e ? e : "");
		rm_rf(capath_copy);
		so.cert = leaf_cert;
		so.key = leaf_key;
		fd = server_start(&so);
		s = stream_new(fd);
		OK(stream_start_tls(s, ctx, HOST) == 0, "start TLS");
		OK(handshake(s, err, sizeof(err)) == 1,
		    "CApath read eagerly: handshake after the directory is "
		    "gone (%s)", err);
		OK(read_line(s, line, sizeof(line)) == 0, "greeting");
		stream_free(s);
		(void)server_wait();
		tls_ctx_free(ctx);
		tls_config_free(&cfg);
	}

	/* The default store, steered by OpenSSL's variables. */
	tls_config_init(&cfg);
	setenv("SSL_CERT_FILE", "/nonexistent", 1);
	setenv("SSL_CERT_DIR", "/nonexistent", 1);
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: unable to get local issuer certificate",
	    "empty default store");
	setenv("SSL_CERT_FILE", ca_file, 1);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "default store: SSL_CERT_FILE (%s)", r.err);
	setenv("SSL_CERT_FILE", "/nonexistent", 1);
	(void)snprintf(cmd, sizeof(cmd), "/nonexistent:%s", ca_dir);
	setenv("SSL_CERT_DIR", cmd, 1);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "default store: SSL_CERT_DIR list (%s)", r.err);
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: unable to get local issuer certificate",
	    "system store does not trust the test CA");
	tls_config_free(&cfg);
}

static void
test_pins(void)
{
	static const char *warning =
	    "WARNING: Fingerprint doesn't match! MiTM in action?\n";
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct conn_result r;
	char fp[300], self256[200], self1[100], leaf256[200], pin[512];
	unsigned char *der = NULL;
	int len;

	spki_hex(self_key, "sha256", 0, self256, sizeof(self256));
	spki_hex(self_key, "sha1", 0, self1, sizeof(self1));
	spki_hex(leaf_key, "sha256", 0, leaf256, sizeof(leaf256));

	len = i2d_X509(self_cert, &der);
	OK(tls_spki_fingerprint(der, (size_t)len, "sha256", fp,
	    sizeof(fp)) == 0, "tls_spki_fingerprint");
	(void)snprintf(pin, sizeof(pin), "sha256$%s", self256);
	IS_STR(fp, pin, "SPKI fingerprint = digest of the DER "
	    "SubjectPublicKeyInfo");
	OPENSSL_free(der);

	so.cert = self_cert;
	so.key = self_key;

	/* (4) SSL_verify = NO, with and without pins */
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_verify", "NO");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "SSL_verify=NO accepts a self-signed certificate (%s)",
	    r.err);
	connect_once(&cfg, "wrong.example", &so, &r);
	OK(r.ok, "SSL_verify=NO skips the host name (%s)", r.err);

	cfg_set(&cfg, "SSL_fingerprint", self256);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "verify=NO + right pin (default sha256) (%s)", r.err);

	(void)snprintf(pin, sizeof(pin), "sha1$%s", self1);
	cfg_set(&cfg, "SSL_fingerprint", pin);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "verify=NO + right sha1$ pin (%s)", r.err);

	spki_hex(self_key, "sha256", 1, fp, sizeof(fp));
	(void)snprintf(pin, sizeof(pin), "SHA256$%s", fp);
	cfg_set(&cfg, "SSL_fingerprint", pin);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "verify=NO + upper-case pin (%s)", r.err);

	(void)snprintf(pin, sizeof(pin), "sha256$%s sha1$%s", leaf256, self1);
	cfg_set(&cfg, "SSL_fingerprint", pin);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "the second of two pins matches (%s)", r.err);

	logbuf[0] = '\0';
	cfg_set(&cfg, "SSL_fingerprint", leaf256);
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "verify=NO + wrong pin fails");
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: the peer's public "
	    "key doesn't match SSL_fingerprint", "pin reason");
	OK(!r.lost, "a pin mismatch is permanent");
	IS_STR(logbuf, warning, "pin warning logged");
	cfg_set(&cfg, "SSL_fingerprint", "abcd");
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "a truncated pin never matches");
	tls_config_free(&cfg);

	/* SSL_verify = YES: chain and pin must both pass. */
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	cfg_set(&cfg, "SSL_fingerprint", self256);
	logbuf[0] = '\0';
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "verify=YES + right pin + untrusted chain fails");
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: certificate "
	    "verification failed: self-signed certificate",
	    "chain reason with a matching pin");
	IS_STR(logbuf, "", "no pin warning when the chain fails first");
	so.cert = leaf_cert;
	so.key = leaf_key;
	cfg_set(&cfg, "SSL_fingerprint", leaf256);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok, "verify=YES + trusted chain + right pin (%s)", r.err);
	cfg_set(&cfg, "SSL_fingerprint", self256);
	logbuf[0] = '\0';
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: the peer's public "
	    "key doesn't match SSL_fingerprint",
	    "verify=YES + trusted chain + wrong pin");
	IS_STR(logbuf, warning, "pin warning logged (verify=YES)");
	tls_config_free(&cfg);
}

static void
test_protocols(void)
{
	static const char *deprecated = "WARNING: SSL_protocols is "
	    "deprecated and will be removed in a future release! Use "
	    "SSL_protocol_{min,max} instead.\n";
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct conn_result r;

	so.cert = leaf_cert;
	so.key = leaf_key;
	so.max_version = TLS1_2_VERSION;

	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "v=TLSv1.2") != NULL,
	    "TLSv1.2-only server: TLSv1.2 negotiated (%s)", r.greeting);
	cfg_set(&cfg, "SSL_protocol_min", "TLSv1.3");
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "SSL_protocol_min=TLSv1.3 against a TLSv1.2 server");
	IS_STR(r.err, "Can't initiate TLS/SSL handshake: no protocol "
	    "version in common (tlsv1 alert protocol version)",
	    "protocol reason");
	OK(!r.lost, "no protocol version in common is permanent");
	tls_config_free(&cfg);

	so.max_version = 0;
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	cfg_set(&cfg, "SSL_protocol_max", "TLSv1.2");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "v=TLSv1.2") != NULL,
	    "SSL_protocol_max=TLSv1.2 (%s)", r.greeting);
	/* min/max set: SSL_protocols is ignored, without warning. */
	logbuf[0] = '\0';
	cfg_set(&cfg, "SSL_protocols", "!TLSv1.2");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "v=TLSv1.2") != NULL,
	    "SSL_protocols ignored when SSL_protocol_max is set (%s)",
	    r.greeting);
	IS_STR(logbuf, "", "no deprecation warning then");
	tls_config_free(&cfg);

	/* The deprecated SSL_protocols. */
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	cfg_set(&cfg, "SSL_protocols", "!TLSv1.3");
	logbuf[0] = '\0';
	connect_once(&cfg, HOST, &so, &r);
	IS_STR(logbuf, deprecated, "SSL_protocols deprecation warning");
	OK(r.ok && strstr(r.greeting, "v=TLSv1.2") != NULL,
	    "SSL_protocols=!TLSv1.3 negotiates TLSv1.2 (%s)", r.greeting);
	cfg_set(&cfg, "SSL_protocols", "TLSv1.3");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "v=TLSv1.3") != NULL,
	    "SSL_protocols=TLSv1.3 (%s)", r.greeting);
	cfg_set(&cfg, "SSL_protocols", "TLSv1.1 TLSv1.0");
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok, "SSL_protocols listing only old versions disables the "
	    "others (%s)", r.err);
	so.max_version = TLS1_2_VERSION;
	cfg_set(&cfg, "SSL_protocols", "TLSv1.3 !TLSv1.1");
	connect_once(&cfg, HOST, &so, &r);
	OK(!r.ok && strstr(r.err, "no protocol version in common") != NULL,
	    "SSL_protocols=TLSv1.3 vs a TLSv1.2 server: %s", r.err);
	tls_config_free(&cfg);
}

static void
test_sni(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct conn_result r;

	so.cert = leaf_cert;
	so.key = leaf_key;
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	connect_once(&cfg, HOST, &so, &r);
	OK(strstr(r.greeting, "sni=" HOST " ") != NULL,
	    "SNI defaults to the host: %s", r.greeting);
	cfg_set(&cfg, "SSL_hostname", "sni.example.org");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "sni=sni.example.org ") != NULL,
	    "SNI from SSL_hostname, certificate still checked against the "
	    "host: %s", r.greeting);
	connect_once(&cfg, "127.0.0.1", &so, &r);
	OK(r.ok && strstr(r.greeting, "sni=sni.example.org ") != NULL,
	    "SSL_hostname is sent even for an IP host: %s", r.greeting);
	cfg_set(&cfg, "SSL_hostname", "");
	connect_once(&cfg, HOST, &so, &r);
	OK(r.ok && strstr(r.greeting, "sni=(none) ") != NULL,
	    "empty SSL_hostname sends no SNI: %s", r.greeting);
	tls_config_free(&cfg);
}

static void
test_debug_log(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct conn_result r;
	char want[300], hex[200];

	so.cert = leaf_cert;
	so.key = leaf_key;
	spki_hex(leaf_key, "sha256", 0, hex, sizeof(hex));
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	cfg_set(&cfg, "SSL_fingerprint", hex);
	log_set_debug(1);
	logbuf[0] = '\0';
	connect_once(&cfg, HOST, &so, &r);
	log_set_debug(0);
	OK(r.ok, "debug handshake");
	(void)snprintf(want, sizeof(want),
	    "\nPeer certificate SPKI fingerprint: sha256$%s\n", hex);
	OK(strstr(logbuf, want) != NULL, "debug: SPKI fingerprint in "
	    "SSL_fingerprint form");
	(void)snprintf(want, sizeof(want),
	    "\nPeer certificate matches pinned SPKI digest %s\n", hex);
	OK(strstr(logbuf, want) != NULL, "debug: matching pin");
	OK(strstr(logbuf, "[1] preverify=1\n  Issuer Name: /CN=Test CA\n"
	    "  Subject Name: /CN=Test CA\n") != NULL, "debug: CA in chain");
	OK(strstr(logbuf, "[0] preverify=1\n  Issuer Name: /CN=Test CA\n"
	    "  Subject Name: /CN=" HOST "\n") != NULL, "debug: leaf");
	OK(strstr(logbuf, "\nSSL protocol: TLSv1.3 (0x304)\n") != NULL,
	    "debug: protocol");
	OK(strstr(logbuf, "\nSSL cipher: TLS_") != NULL, "debug: cipher");
	OK(strstr(logbuf, "Loaded 1 trusted certificate(s)") != NULL,
	    "debug: trust store size");
	if (tap_failed)
		fprintf(stderr, "%s", logbuf);
	tls_config_free(&cfg);
}

/* (7) non-blocking: records in pieces, pending data, full send buffer. */
static void
test_nonblocking(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct tls_ctx *ctx;
	struct net_stream *s;
	struct traffic_stats st;
	unsigned char *out, *in;
	char *e = NULL, err[512], line[256], big[200];
	size_t total, got, i, sz = 64 * 1024;
	ssize_t n;
	int fd, again = 0, partial = 0, sndbuf = 4096, r;
	int nopollout = 0, gate;

	so.cert = leaf_cert;
	so.key = leaf_key;
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	ctx = tls_ctx_new(&cfg, &e);

	/* Through a relay passing three bytes at a time. */
	fd = relay_start(server_start(&so), &gate);
	s = stream_new(fd);
	OK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, "stream fd non-blocking");
	OK(stream_start_tls(s, ctx, HOST) == 0, "start TLS via relay");
	/* The ClientHello goes out; no reply can have come yet. */
	OK(stream_handshake(s) == 0, "handshake waits for the server");
	OK(stream_out_pending(s) == 0 && (stream_events(s) & POLLIN),
	    "and asks to read (events %#x)", stream_events(s));
	close(gate);
	OK(handshake(s, err, sizeof(err)) == 1,
	    "handshake in 3-byte pieces (%s)", err);
	OK(read_line(s, line, sizeof(line)) == 0 &&
	    strncmp(line, "* OK sni=", 9) == 0, "greeting via relay");
	out = malloc(sz);
	in = malloc(sz);
	for (i = 0; i < sz; i++)
		out[i] = (unsigned char)(i * 7 + i / 253);
	OK(stream_queue(s, out, sz) == 0, "queue 64 KiB");
	OK(stream_out_pending(s) == sz, "all queued");
	got = 0;
	while (got < sz) {
		if ((r = stream_flush(s)) == -1)
			break;
		n = stream_read(s, in + got, sz - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			break;
		again++;
		if (stream_wait(s, 10000) != 1)
			break;
	}
	OK(got == sz && memcmp(in, out, sz) == 0,
	    "64 KiB echoed through the relay (%zu)", got);
	OK(again > 10, "reads found partial records %d times", again);
	stream_stats(s, &st);
	OK(st.sent == sz && st.recv == sz + strlen(line),
	    "plain counters: sent %llu recv %llu",
	    (unsigned long long)st.sent, (unsigned long long)st.recv);
	OK(st.sent_raw == 0 && st.recv_raw == 0,
	    "raw counters reported as 0 without compression");
	stream_free(s);
	(void)server_wait();
	(void)waitpid(relay_pid, NULL, 0);

	/* A 16000-byte record read 100 bytes at a time. */
	so.mode = SRV_BIG;
	fd = server_start(&so);
	s = stream_new(fd);
	(void)stream_start_tls(s, ctx, HOST);
	OK(handshake(s, err, sizeof(err)) == 1, "handshake (big)");
	OK(read_line(s, line, sizeof(line)) == 0, "greeting (big)");
	OK(stream_pending(s) == 0, "nothing pending after the greeting");
	while ((n = stream_read(s, big, 100)) == -1 && errno == EAGAIN)
		(void)stream_wait(s, 10000);
	OK(n == 100, "first 100 bytes of the big record");
	OK(stream_pending(s) == 15900, "stream_pending: %zu bytes of the "
	    "record already decrypted", stream_pending(s));
	total = 100;
	while (stream_pending(s) > 0 &&
	    (n = stream_read(s, big, sizeof(big) / 2)) > 0)
		total += (size_t)n;
	OK(total == 16000, "the whole record read without polling (%zu)",
	    total);
	OK(big[98] == '\r' && big[99] == '\n', "record ends in CRLF");

	/* A small send buffer: flush must report "pending". */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(out, 'y', sz);
	for (i = 0; i < 16; i++)
		(void)stream_queue(s, out, sz);
	got = 0;
	while (got < 16 * sz) {
		r = stream_flush(s);
		if (r == -1)
			break;
		if (r == 1) {
			partial++;
			if ((stream_events(s) & POLLOUT) == 0)
				nopollout++;
		}
		n = stream_read(s, in, sz);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			break;
		if (stream_wait(s, 10000) != 1)
			break;
	}
	OK(got == 16 * sz, "1 MiB echoed (%zu)", got);
	OK(partial > 0, "stream_flush returned pending %d times", partial);
	OK(nopollout == 0, "POLLOUT wanted whenever output was left queued");
	OK(stream_out_pending(s) == 0, "queue drained");
	stream_free(s);
	(void)server_wait();
	free(out);
	free(in);
	tls_ctx_free(ctx);
	tls_config_free(&cfg);
}

static void
test_starttls(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct tls_ctx *ctx;
	struct net_stream *s;
	char *e = NULL, err[512], line[256];
	ssize_t n;
	size_t got = 0;
	int fd;

	so.cert = leaf_cert;
	so.key = leaf_key;
	so.mode = SRV_STARTTLS;
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	ctx = tls_ctx_new(&cfg, &e);
	fd = server_start(&so);
	s = stream_new(fd);
	OK(read_line(s, line, sizeof(line)) == 0 &&
	    strcmp(line, "* OK plain\r\n") == 0, "plain greeting");
	(void)stream_queue(s, "a STARTTLS\r\n", 12);
	OK(stream_start_tls(s, ctx, HOST) == -1, "TLS refused while output "
	    "is queued");
	IS_STR(stream_error(s), "TLS can't start with output queued",
	    "queued output reason");
	stream_free(s);
	(void)server_wait();

	fd = server_start(&so);
	s = stream_new(fd);
	OK(read_line(s, line, sizeof(line)) == 0, "plain greeting again");
	(void)stream_queue(s, "a STARTTLS\r\n", 12);
	(void)stream_cmd_end(s);
	while (stream_flush(s) == 1)
		(void)stream_wait(s, 10000);
	/* Exactly the OK line, as a line parser would take it. */
	while (got < 16) {
		n = stream_read(s, line + got, 16 - got);
		if (n == -1 && errno == EAGAIN) {
			(void)stream_wait(s, 10000);
			continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	IS_STR(line, "a OK Begin TLS\r\n", "tagged OK to STARTTLS");
	usleep(100000);
	IS_INT(stream_discard_buffered(s), 15, "injected bytes discarded");
	OK(stream_start_tls(s, ctx, HOST) == 0, "STARTTLS");
	OK(handshake(s, err, sizeof(err)) == 1, "STARTTLS handshake "
	    "(%s)", err);
	OK(read_line(s, line, sizeof(line)) == 0 &&
	    strncmp(line, "* OK sni=" HOST, 9 + strlen(HOST)) == 0,
	    "TLS greeting after STARTTLS: %s", line);
	OK(stream_is_tls(s) && !stream_is_compressed(s), "stream state");
	IS_STR(stream_tls_version(s), "TLSv1.3", "version");
	OK(stream_start_tls(s, ctx, HOST) == -1, "no TLS twice");
	stream_free(s);
	(void)server_wait();
	tls_ctx_free(ctx);
	tls_config_free(&cfg);
}

/* Errors on an established session are "SSL ERROR"s. */
static void
test_io_errors(void)
{
	struct srv_opts so = srv_leaf;
	struct tls_config cfg;
	struct tls_ctx *ctx;
	struct net_stream *s;
	char *e = NULL, err[512], line[256];
	ssize_t n;
	int fd;

	so.cert = leaf_cert;
	so.key = leaf_key;
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", ca_file);
	ctx = tls_ctx_new(&cfg, &e);
	fd = server_start(&so);
	s = stream_new(fd);
	(void)stream_start_tls(s, ctx, HOST);
	(void)handshake(s, err, sizeof(err));
	(void)read_line(s, line, sizeof(line));
	/* The server ends: it closes after our write side shuts. */
	(void)shutdown(fd, SHUT_WR);
	while ((n = stream_read(s, line, sizeof(line))) == -1 &&
	    errno == EAGAIN)
		(void)stream_wait(s, 10000);
	IS_INT(n, 0, "end of stream after the server's close_notify");
	if (n != 0)
		fprintf(stderr, "# %s\n", stream_error(s));
	OK(stream_events(s) == 0, "nothing to poll for at EOF");
	/* Writing on the torn session: the connection's end. */
	(void)stream_queue(s, "a NOOP\r\n", 8);
	OK(stream_flush(s) == -1 && stream_error_is_ssl(s) &&
	    stream_error_lost(s), "a write on a closed session: an SSL "
	    "ERROR, the connection lost (%s)", stream_error(s));
	stream_free(s);
	(void)server_wait();

	/* The peer goes away in the middle of the handshake. */
	{
		int sv[2];

		(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		s = stream_new(sv[0]);
		(void)stream_start_tls(s, ctx, HOST);
		OK(stream_handshaking(s), "handshake under way");
		IS_INT(stream_handshake(s), 0, "ClientHello sent");
		(void)shutdown(sv[1], SHUT_WR);
		OK(handshake(s, err, sizeof(err)) == -1 &&
		    stream_error_lost(s), "EOF in the handshake: the "
		    "connection lost, not TLS's verdict (%s)", err);
		OK(!stream_handshaking(s), "no handshake under way after it");
		close(sv[1]);
		stream_free(s);

		(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		s = stream_new(sv[0]);
		(void)stream_start_tls(s, ctx, HOST);
		close(sv[1]);
		OK(handshake(s, err, sizeof(err)) == -1 &&
		    stream_error_lost(s), "peer gone before the "
		    "ClientHello: the connection lost (%s)", err);
		stream_free(s);
	}

	/* Garbage instead of a TLS record. */
	{
		int sv[2];

		(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		s = stream_new(sv[0]);
		(void)stream_start_tls(s, ctx, HOST);
		if (write(sv[1], "* OK not TLS at all\r\n", 21) != 21)
			OK(0, "write");
		OK(handshake(s, err, sizeof(err)) == -1,
		    "handshake with a plain-text server fails");
		OK(strncmp(err, "Can't initiate TLS/SSL handshake: ", 34) ==
		    0 && !stream_error_is_ssl(s), "reason: %s", err);
		OK(!stream_error_lost(s), "a server that speaks no TLS: "
		    "permanent (the configuration's), not a lost "
		    "connection");
		close(sv[1]);
		stream_free(s);
	}
	tls_ctx_free(ctx);
	tls_config_free(&cfg);
}

/*
 * The handshake inside the net child's real seccomp policy: the CA
 * directory and the default store were read before, OpenSSL opens
 * nothing afterwards (a forbidden call kills the child with SIGSYS).
 * Compression over TLS on the way.
 */
static int
sandboxed_client(int fd, const char *key, const char *value)
{
	struct tls_config cfg;
	struct tls_ctx *ctx;
	struct net_stream *s;
	struct traffic_stats st;
	char *e = NULL, err[512], line[256], cmd[4096], echo[4096];
	size_t i;

	tls_config_init(&cfg);
	cfg_set(&cfg, key, value);
	if ((ctx = tls_ctx_new(&cfg, &e)) == NULL)
		return 10;
	log_set_debug(1);
	net_sandbox();
	s = stream_new(fd);
	if (stream_start_tls(s, ctx, HOST) == -1 ||
	    handshake(s, err, sizeof(err)) != 1)
		return 11;
	if (read_line(s, line, sizeof(line)) == -1)
		return 12;
	if (stream_start_compress(s, NULL, 0) == -1)
		return 13;
	for (i = 0; i < sizeof(cmd) - 2; i++)
		cmd[i] = "a NOOP "[i % 7];
	cmd[i] = '\r';
	cmd[i + 1] = '\n';
	if (stream_queue(s, cmd, sizeof(cmd)) == -1 ||
	    stream_cmd_end(s) == -1)
		return 14;
	while (stream_flush(s) == 1)
		(void)stream_wait(s, 10000);
	for (i = 0; i < sizeof(echo);) {
		ssize_t n = stream_read(s, echo + i, sizeof(echo) - i);

		if (n == -1 && errno == EAGAIN) {
			if (stream_wait(s, 10000) != 1)
				return 15;
			continue;
		}
		if (n <= 0)
			return 16;
		i += (size_t)n;
	}
	if (memcmp(cmd, echo, sizeof(cmd)) != 0)
		return 17;
	stream_stats(s, &st);
	if (st.sent != sizeof(cmd) || st.recv != sizeof(echo) +
	    strlen(line) || st.sent_raw == 0 || st.sent_raw > 200 ||
	    st.recv_raw < strlen(line) || st.recv_raw > 300)
		return 18;
	stream_free(s);
	return 0;
}

static void
test_sandbox(void)
{
	static const struct {
		const char	*key, *value, *what;
	} t[] = {
		{ "SSL_CApath", ca_dir, "CApath" },
		{ "SSL_CAfile", ca_file, "CAfile" },
		{ "SSL_protocol_min", "TLSv1.2", "default store" },
	};
	struct srv_opts so = srv_leaf;
	char dir[600];
	pid_t pid;
	size_t i;
	int fd, status;

	so.cert = leaf_cert;
	so.key = leaf_key;
	so.mode = SRV_ZECHO;
	(void)snprintf(dir, sizeof(dir), "%s", ca_dir);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		/* The default store: SSL_CERT_DIR names the CA directory. */
		setenv("SSL_CERT_FILE", "/nonexistent", 1);
		setenv("SSL_CERT_DIR", dir, 1);
		fd = server_start(&so);
		if ((pid = fork()) == 0)
			_exit(sandboxed_client(fd, t[i].key, t[i].value));
		close(fd);
		(void)waitpid(pid, &status, 0);
		OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "handshake, TLS and DEFLATE inside the net sandbox (%s): "
		    "status %#x", t[i].what, status);
		(void)server_wait();
		unsetenv("SSL_CERT_FILE");
		unsetenv("SSL_CERT_DIR");
	}
}

/* ------------------------------------------------------------------ */
/* Real Dovecot (tests/lib/common.sh's dovecot_server) */

static pid_t	 dc_pid = -1;
static int	 dc_keep = -1;	/* closing it stops the server */

/*
 * Starts a network Dovecot through the shell library; returns 0 and
 * the ports and CA file, or -1.  The script holds the server until our
 * end of its stdin closes, then its EXIT trap stops it.
 */
static int
dovecot_start(int *imap_port, int *imaps_port, char *cert, size_t certlen)
{
	static const char script[] =
	    "TESTNAME=unit-tls-dovecot\n"
	    /* Scratch under the build directory ctest runs us in. */
	    "export BUILDDIR=${BUILDDIR:-$PWD}\n"
	    "source \"$SRCDIR/tests/lib/common.sh\" || exit 1\n"
	    "t_setup >&2\n"
	    "dovecot_server tlsd >&2 || exit 1\n"
	    "echo \"$DOVECOT_TLSD_IMAP_PORT $DOVECOT_TLSD_IMAPS_PORT "
	    "$DOVECOT_TLSD_CERT\"\n"
	    "read -r _\n"
	    "t_pass dovecot >&2\n"
	    "t_done >&2\n";
	char srcdir[1024], line[1024], *p;
	int in[2], out[2];
	FILE *f;

	/* This file is <srcdir>/tests/unit/test_tls.c. */
	(void)snprintf(srcdir, sizeof(srcdir), "%s", __FILE__);
	if ((p = strstr(srcdir, "/tests/unit/test_tls.c")) == NULL)
		return -1;
	*p = '\0';
	if (pipe(in) == -1 || pipe(out) == -1)
		return -1;
	if ((dc_pid = fork()) == -1)
		return -1;
	if (dc_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		setenv("SRCDIR", srcdir, 1);
		execl("/bin/bash", "bash", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	dc_keep = in[1];
	if ((f = fdopen(out[0], "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "%d %d %1000s", imap_port, imaps_port, srcdir) != 3) {
		fclose(f);
		return -1;
	}
	fclose(f);
	(void)snprintf(cert, certlen, "%s", srcdir);
	return 0;
}

static int
dovecot_stop(void)
{
	int status = -1;

	if (dc_keep != -1)
		close(dc_keep);
	if (dc_pid > 0)
		(void)waitpid(dc_pid, &status, 0);
	return status;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends a command; reads lines up to the tagged one (returned). */
static int
dc_cmd(struct net_stream *s, const char *tag, const char *cmd, char *reply,
    size_t len)
{
	char line[1024];

	(void)snprintf(line, sizeof(line), "%s %s\r\n", tag, cmd);
	if (stream_queue(s, line, strlen(line)) == -1 ||
	    stream_cmd_end(s) == -1)
		return -1;
	while (stream_flush(s) == 1)
		(void)stream_wait(s, 10000);
	do {
		if (read_line(s, reply, len) == -1)
			return -1;
	} while (strncmp(reply, tag, strlen(tag)) != 0 ||
	    reply[strlen(tag)] != ' ');
	return 0;
}

static void
test_dovecot(void)
{
	struct tls_config cfg;
	struct tls_ctx *ctx;
	struct net_stream *s;
	struct traffic_stats st;
	char cert[1024], *e = NULL, err[512], line[1024];
	int imap_port = 0, imaps_port = 0, fd, status, i;

	if (dovecot_start(&imap_port, &imaps_port, cert, sizeof(cert)) ==
	    -1) {
		OK(0, "dovecot_server started");
		(void)dovecot_stop();
		return;
	}
	OK(1, "dovecot_server started (imap %d, imaps %d)", imap_port,
	    imaps_port);
	tls_config_init(&cfg);
	cfg_set(&cfg, "SSL_CAfile", cert);
	ctx = tls_ctx_new(&cfg, &e);
	OK(ctx != NULL, "context for Dovecot's certificate");

	/* imaps, then LOGIN and COMPRESS=DEFLATE over TLS. */
	fd = tcp_connect(imaps_port);
	s = stream_new(fd);
	OK(stream_start_tls(s, ctx, "localhost") == 0, "imaps: start TLS");
	OK(handshake(s, err, sizeof(err)) == 1, "imaps: handshake "
	    "with Dovecot (%s)", err);
	OK(read_line(s, line, sizeof(line)) == 0 &&
	    strncmp(line, "* OK ", 5) == 0, "imaps: greeting %s", line);
	OK(dc_cmd(s, "a", "LOGIN user pass", line, sizeof(line)) == 0 &&
	    strncmp(line, "a OK ", 5) == 0, "imaps: LOGIN %s", line);
	OK(dc_cmd(s, "b", "COMPRESS DEFLATE", line, sizeof(line)) == 0 &&
	    strncmp(line, "b OK ", 5) == 0, "imaps: COMPRESS %s", line);
	OK(stream_start_compress(s, NULL, 0) == 0, "compression on");
	/* Repeated responses: the deflate history makes them shrink. */
	for (i = 0; i < 5; i++)
		if (dc_cmd(s, "c", "LIST \"\" *", line, sizeof(line)) == -1 ||
		    strncmp(line, "c OK ", 5) != 0)
			break;
	IS_INT(i, 5, "imaps: 5 LIST commands, compressed");
	OK(dc_cmd(s, "d", "LOGOUT", line, sizeof(line)) == 0 &&
	    strncmp(line, "d OK ", 5) == 0, "imaps: LOGOUT %s", line);
	stream_stats(s, &st);
	/* 39 bytes before COMPRESS, then 75 deflated. */
	OK(st.sent == 114 && st.sent_raw > 39 && st.sent_raw < st.sent &&
	    st.recv_raw != st.recv,
	    "counters: recv %llu/%llu sent %llu/%llu",
	    (unsigned long long)st.recv, (unsigned long long)st.recv_raw,
	    (unsigned long long)st.sent, (unsigned long long)st.sent_raw);
	stream_free(s);

	/* STARTTLS on the plain port. */
	fd = tcp_connect(imap_port);
	s = stream_new(fd);
	OK(read_line(s, line, sizeof(line)) == 0 &&
	    strncmp(line, "* OK ", 5) == 0 && strstr(line, "STARTTLS") !=
	    NULL, "imap: plain greeting offers STARTTLS");
	OK(dc_cmd(s, "a", "STARTTLS", line, sizeof(line)) == 0 &&
	    strncmp(line, "a OK ", 5) == 0, "imap: STARTTLS %s", line);
	IS_INT(stream_discard_buffered(s), 0, "imap: nothing injected");
	OK(stream_start_tls(s, ctx, "localhost") == 0, "imap: start TLS");
	OK(handshake(s, err, sizeof(err)) == 1, "imap: STARTTLS "
	    "handshake with Dovecot (%s)", err);
	OK(dc_cmd(s, "b", "CAPABILITY", line, sizeof(line)) == 0 &&
	    strncmp(line, "b OK ", 5) == 0, "imap: CAPABILITY over TLS: %s",
	    line);
	stream_free(s);

	/* The wrong name, against Dovecot's certificate. */
	fd = tcp_connect(imaps_port);
	s = stream_new(fd);
	(void)stream_start_tls(s, ctx, "imap.invalid");
	OK(handshake(s, err, sizeof(err)) == -1, "wrong name fails");
	IS_STR(err, "Can't initiate TLS/SSL handshake: certificate does not "
	    "match host name imap.invalid", "Dovecot: host name reason");
	stream_free(s);
	tls_ctx_free(ctx);
	tls_config_free(&cfg);
	status = dovecot_stop();
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "Dovecot stopped cleanly (%#x)", status);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_sink(capture);
	make_certs();
	test_config();
	test_ctx_errors();
	test_trust();
	test_pins();
	test_protocols();
	test_sni();
	test_debug_log();
	test_nonblocking();
	test_starttls();
	test_io_errors();
	test_sandbox();
	test_dovecot();
	rm_rf(tmpdir);
	return tap_done();
}
