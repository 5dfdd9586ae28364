/*
 * TLS for the net child (OpenSSL).
 *
 * Two phases, because the child sandboxes itself in between:
 *  - before the sandbox, tls_ctx_new() builds the SSL_CTX from the
 *    section's SSL_* keys and loads every trusted certificate into memory
 *    (CAfile, CApath, or the system's default file and directory);
 *  - inside the sandbox, tls_conn_new() and tls_conn_handshake() talk to
 *    the server on the descriptor priv passed in, without opening a file.
 *
 * OpenSSL's hashed-directory lookup (X509_LOOKUP_hash_dir) opens files on
 * demand during verification, which the sandbox forbids; so no directory
 * lookup is ever installed: the files a directory lookup would consult
 * (<hash>.<n>) are read eagerly instead, with the same result.
 */
#ifndef NET_TLS_H
#define NET_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* The section's SSL_* keys as given; NULL when unset. */
struct tls_config {
	int	 verify;	/* SSL_verify, default YES */
	char	*cafile;	/* SSL_CAfile */
	char	*capath;	/* SSL_CApath */
	char	*hostname;	/* SSL_hostname: SNI; "" sends none */
	char	*proto_min;	/* SSL_protocol_min */
	char	*proto_max;	/* SSL_protocol_max */
	char	*protocols;	/* SSL_protocols (deprecated) */
	char	*cipherlist;	/* SSL_cipherlist (TLS <= 1.2) */
	char	*ciphersuites;	/* SSL_ciphersuites (TLS 1.3) */
	char	*fingerprint;	/* SSL_fingerprint: "[ALGO$]HEX ..." */
	char	*cbtype;	/* SSL_channel_binding (ours) */
};

void	 tls_config_init(struct tls_config *);
void	 tls_config_free(struct tls_config *);
/*
 * Takes one key of the section: 1 if it is a TLS key (value copied),
 * 0 if it is not ours, -1 for an invalid value (err says which).
 */
int	 tls_config_set(struct tls_config *, const char *, const char *,
	    char *, size_t);

struct tls_ctx;
struct tls_conn;

/*
 * Builds the context; call before entering the sandbox.  Logs the
 * SSL_protocols deprecation warning and, with --debug, the protocol
 * choices.  NULL on error with *err set (caller frees).  The config may
 * be freed afterwards.
 */
struct tls_ctx	*tls_ctx_new(const struct tls_config *, char **);
void		 tls_ctx_free(struct tls_ctx *);

/*
 * A client connection on fd (not owned) to host, the configured host
 * name (may be "[::1]"-bracketed or an IP literal): used for the
 * certificate check and, unless SSL_hostname says otherwise, for SNI.
 * NULL on error with the reason in err.
 */
struct tls_conn	*tls_conn_new(struct tls_ctx *, int, const char *,
		    char *, size_t);
void		 tls_conn_free(struct tls_conn *);

/*
 * Non-blocking I/O.  *want is set to POLLIN or POLLOUT when the call
 * could not progress (then: handshake 0, read/write -1 with errno
 * EAGAIN); on failure the reason goes into err.
 *
 * tls_conn_handshake: 1 done, 0 in progress, -1 failed; the reason says
 * what failed (untrusted chain, host name, pin, protocol version, ...).
 * tls_conn_read: >0 bytes, 0 end of stream, -1.
 * tls_conn_write: >0 bytes taken (partial writes), -1.
 */
int	 tls_conn_handshake(struct tls_conn *, int *, char *, size_t);
ssize_t	 tls_conn_read(struct tls_conn *, void *, size_t, int *, char *,
	    size_t);
ssize_t	 tls_conn_write(struct tls_conn *, const void *, size_t, int *,
	    char *, size_t);
/*
 * After a failure: 1 if it was the connection's (the peer closed or
 * reset it during the handshake, or an established session broke: a
 * read or write error, an alert, a bad record), 0 if it was TLS's own
 * verdict on the peer or the settings (certificate, host name, pin,
 * protocol version, cipher): see imap_conn.h for what each means.
 */
int	 tls_conn_lost(const struct tls_conn *);
/* Decrypted bytes OpenSSL holds: readable now, without polling. */
size_t	 tls_conn_pending(struct tls_conn *);
/* Sends close_notify, best effort (non-blocking). */
void	 tls_conn_shutdown(struct tls_conn *);
const char *tls_conn_version(struct tls_conn *);
/* 1 if the session is TLS 1.3 (or later). */
int	 tls_conn_is_tls13(struct tls_conn *);

/*
 * Channel binding for SCRAM's -PLUS mechanisms (RFC 5056, RFC 5802 6),
 * from the established session, in buf (TLS_CB_MAX bytes): returns the
 * length and sets *name to the type's name, or -1 with the reason in err.
 * The type is SSL_channel_binding's, else the RFCs' default for the
 * version: tls-exporter (RFC 9266) on TLS 1.3, tls-unique (RFC 5929 3)
 * below.
 *  - tls-exporter: 32 bytes exported with the label
 *    "EXPORTER-Channel-Binding" and no context; below TLS 1.3 only with
 *    the extended master secret (RFC 7627), else it is not unique;
 *  - tls-unique: the first Finished message of the handshake (ours, the
 *    client's, as no session is resumed); RFC 5929 defines it up to
 *    TLS 1.2 only, but Cyrus computes it on TLS 1.3 the same way;
 *  - tls-server-end-point (RFC 5929 4.1): the hash of the server's
 *    certificate (DER), with its signature's hash, SHA-256 for MD5 and
 *    SHA-1; undefined (an error) for a signature without a separate hash
 *    (Ed25519).
 */
#define TLS_CB_MAX	64
int	 tls_conn_channel_binding(struct tls_conn *, const char **,
	    unsigned char *, char *, size_t);
const char *tls_conn_cipher(struct tls_conn *);
/* With --debug: OpenSSL's error queue, one log line each; else cleared. */
void	 tls_log_errors(void);

/*
 * The SPKI digest of a DER certificate in SSL_fingerprint form
 * ("sha256$<hex>", lower case) into buf; -1 on error.  Tests and the
 * debug log use it.
 */
int	 tls_spki_fingerprint(const void *, size_t, const char *, char *,
	    size_t);

#endif
