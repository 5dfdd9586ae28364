/*
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), the client's side,
 * without channel binding ("n,,"): the messages of the exchange, built
 * and checked here, base64 left to the caller.  The password is only
 * used to compute the salted password, and wiped with the state.
 *
 *	scram_new()		mechanism, user name, password
 *	scram_client_first()	"n,,n=<user>,r=<nonce>"
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

/* Before the sandbox: what OpenSSL loads on first use, loaded now. */
void		 scram_preload(void);
/* NULL if mech is not a SCRAM mechanism we have (or out of memory). */
struct scram	*scram_new(const char *, const char *, const char *);
/*
 * The same with the client nonce given (printable, no ","): scram_new()
 * draws it from RAND_bytes(); the RFCs' examples give theirs.
 */
struct scram	*scram_new_nonce(const char *, const char *, const char *,
		    const char *);
void		 scram_free(struct scram *);
const char	*scram_error(const struct scram *);
/* Is mech one of ours ("SCRAM-SHA-256", "SCRAM-SHA-1")? */
int		 scram_mech(const char *);

/* The messages: NUL-terminated, owned by the state, valid until freed. */
const char	*scram_client_first(struct scram *);
const char	*scram_client_final(struct scram *, const char *, size_t);
int		 scram_server_final(struct scram *, const char *, size_t);
/* 1 once scram_server_final() succeeded. */
int		 scram_verified(const struct scram *);

#endif
