/*
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), the client's side,
 * and their -PLUS variants with channel binding: the messages of the
 * exchange, built and checked here, base64 left to the caller.  The
 * password is only used to compute the salted password, and wiped with
 * the state.
 *
 *	scram_new()		mechanism, user name, password, binding
 *	scram_client_first()	"<gs2-header>n=<user>,r=<nonce>"
 *	scram_client_final()	from the server's first message: the proof
 *	scram_server_final()	the server's signature checked: 0 only if it
 *				proves that the server knows the password
 *
 * A failure returns -1 with a message for the user in scram_error().
 */
#ifndef NET_SCRAM_H
#define NET_SCRAM_H

#include <stddef.h>

/* A hostile server must not make us spend minutes in PBKDF2. */
#define SCRAM_ITER_MAX	1000000

struct scram;

/*
 * The GS2 header's channel-binding flag (RFC 5802 6, 7):
 *  'n'	we do not bind: no TLS, or the user chose SCRAM without -PLUS
 *	while the server offers it;
 *  'y'	we could bind (TLS) but the server offers no -PLUS variant: a
 *	server that does support binding then knows the offer was
 *	tampered with and fails the exchange;
 *  'p'	bound (the -PLUS mechanisms only): name is the type
 *	("tls-exporter", ...), data its len bytes from the TLS session.
 * The client-final message's c= is base64(gs2 header + data).
 */
struct scram_cb {
	char			 flag;
	const char		*name;
	const unsigned char	*data;
	size_t			 len;
};

/* Before the sandbox: what OpenSSL loads on first use, loaded now. */
void		 scram_preload(void);
/*
 * mech, user, password, binding (NULL: 'n').  NULL if mech is not a SCRAM
 * mechanism we have, if the binding does not fit it (a -PLUS mechanism
 * binds, the others do not), or out of memory.
 */
struct scram	*scram_new(const char *, const char *, const char *,
		    const struct scram_cb *);
/*
 * The same with the client nonce given (printable, no ","): scram_new()
 * draws it from RAND_bytes(); the RFCs' examples give theirs.
 */
struct scram	*scram_new_nonce(const char *, const char *, const char *,
		    const struct scram_cb *, const char *);
void		 scram_free(struct scram *);
const char	*scram_error(const struct scram *);
/*
 * Is mech one of ours ("SCRAM-SHA-256", "SCRAM-SHA-1", and the same with
 * "-PLUS")?  scram_mech_plus(): a -PLUS one.
 */
int		 scram_mech(const char *);
int		 scram_mech_plus(const char *);

/* The messages: NUL-terminated, owned by the state, valid until freed. */
const char	*scram_client_first(struct scram *);
const char	*scram_client_final(struct scram *, const char *, size_t);
int		 scram_server_final(struct scram *, const char *, size_t);
/* The channel binding type used, NULL if none ('n' or 'y'). */
const char	*scram_cb_type(const struct scram *);
/* 1 once scram_server_final() succeeded. */
int		 scram_verified(const struct scram *);

#endif
