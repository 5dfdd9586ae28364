/*
 * The SCRAM client (net/scram.c) against the example exchanges of
 * RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3
 * (SCRAM-SHA-256), and what a server may get wrong.
 */
#include <string.h>

#include "tap.h"
#include "scram.h"

struct vector {
	const char *mech, *cnonce, *first, *sfirst, *cfinal, *sfinal;
};

static const struct vector vectors[] = {
	{ "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
	    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
	{ "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
	    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
};

static void
test_vectors(void)
{
	const struct vector *v;
	struct scram *s;
	const char *out;
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		v = &vectors[i];
		s = scram_new_nonce(v->mech, "user", "pencil", v->cnonce);
		OK(s != NULL, "%s: a state", v->mech);
		if (s == NULL)
			continue;
		out = scram_client_first(s);
		if (out == NULL)
			out = "(null)";
		OK(strcmp(out, v->first) == 0,
		    "%s: client-first-message (%s)", v->mech, out);
		out = scram_client_final(s, v->sfirst, strlen(v->sfirst));
		if (out == NULL)
			out = scram_error(s);
		OK(strcmp(out, v->cfinal) == 0,
		    "%s: client-final-message, the proof (%s)", v->mech, out);
		OK(!scram_verified(s), "%s: not verified before", v->mech);
		OK(scram_server_final(s, v->sfinal, strlen(v->sfinal)) == 0,
		    "%s: the server's signature verified (%s)", v->mech,
		    scram_error(s));
		OK(scram_verified(s), "%s: verified", v->mech);
		scram_free(s);
	}
}

/* server-first, then what client-final or the server's final must say. */
static void
refused(const char *sfirst, const char *sfinal, const char *want,
    const char *what)
{
	struct scram *s;
	const char *out;

	s = scram_new_nonce("SCRAM-SHA-256", "user", "pencil", "abc");
	(void)scram_client_first(s);
	out = scram_client_final(s, sfirst, strlen(sfirst));
	if (sfinal == NULL) {
		OK(out == NULL, "%s: refused", what);
	} else {
		OK(out != NULL, "%s: a proof first", what);
		OK(scram_server_final(s, sfinal, strlen(sfinal)) == -1,
		    "%s: refused", what);
	}
	OK(strstr(scram_error(s), want) != NULL, "%s: \"%s\" (%s)", what,
	    want, scram_error(s));
	OK(!scram_verified(s), "%s: not verified", what);
	scram_free(s);
}

static void
test_refusals(void)
{
	struct scram *s;

	refused("r=xyz,s=c2FsdA==,i=4096", NULL, "does not extend ours",
	    "another nonce");
	refused("r=abc,s=c2FsdA==,i=4096", NULL, "does not extend ours",
	    "our nonce alone");
	refused("r=abcd,s=c2FsdA==,i=100000000", NULL, "iteration count",
	    "100 million iterations");
	refused("r=abcd,s=c2FsdA==,i=0", NULL, "iteration count",
	    "no iteration");
	refused("r=abcd,s=c2Fsd,i=4096", NULL, "bad salt", "salt not base64");
	refused("m=ext,r=abcd,s=c2FsdA==,i=4096", NULL, "extension",
	    "a mandatory extension");
	refused("e=unknown-user", NULL, "unknown-user", "the server's error");
	refused("r=abcd,s=c2FsdA==,i=16", "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "signature is wrong", "a wrong signature");
	refused("r=abcd,s=c2FsdA==,i=16", "e=invalid-proof",
	    "invalid-proof", "the server rejects the proof");
	refused("r=abcd,s=c2FsdA==,i=16", "x=1", "malformed",
	    "no signature");

	s = scram_new_nonce("SCRAM-SHA-256", "us,er=", "p", "n");
	IS_STR(scram_client_first(s), "n,,n=us=2Cer=3D,r=n",
	    "\",\" and \"=\" escaped in the user name");
	OK(scram_client_first(s) == NULL, "client-first only once");
	scram_free(s);
	OK(scram_new("CRAM-MD5", "u", "p") == NULL, "not a SCRAM mechanism");
	OK(scram_mech("SCRAM-SHA-256") && scram_mech("SCRAM-SHA-1") &&
	    !scram_mech("SCRAM-SHA-256-PLUS") && !scram_mech("PLAIN"),
	    "the mechanisms we have");
}

int
main(void)
{
	test_vectors();
	test_refusals();
	return tap_done();
}
