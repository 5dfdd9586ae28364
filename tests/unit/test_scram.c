/*
 * The SCRAM client (net/scram.c) against the example exchanges of
 * RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3
 * (SCRAM-SHA-256), and what a server may get wrong.  The RFCs give no
 * example with channel binding: the -PLUS and "y" exchanges below were
 * computed by an independent implementation (Python's hashlib and hmac,
 * a dozen lines that also reproduce the RFC 7677 example), from the
 * same password, nonces and salt and the binding data given here.
 */
#include <string.h>

#include "tap.h"
#include "scram.h"

struct vector {
	const char *mech, *cnonce, *first, *sfirst, *cfinal, *sfinal;
	struct scram_cb cb;
};

/* Binding data for the vectors: 0, 1, 2, ... */
static const unsigned char cbdata[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

static const struct vector vectors[] = {
	{ "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
	    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", { 'n', NULL, NULL, 0 } },
	{ "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
	    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	    { 'n', NULL, NULL, 0 } },
	/* RFC 7677's exchange, bound to 32 bytes of tls-exporter. */
	{ "SCRAM-SHA-256-PLUS", "rOprNGfwEbeRWgbNEkqO",
	    "p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhsc"
	    "HR4f,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=QC6CS20quADQRb3mT99YUH+n3VJxUvzuK0K0E1Vrs2M=",
	    "v=2GiAgapEppLVlUXbxUDksL3VgYHzuqiK5tR4mhJGgvs=",
	    { 'p', "tls-exporter", cbdata, 32 } },
	/* RFC 5802's, bound to 12 bytes of tls-unique (a TLS 1.2 one). */
	{ "SCRAM-SHA-1-PLUS", "fyko+d2lbbFgONRv9qkxdawL",
	    "p=tls-unique,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=cD10bHMtdW5pcXVlLCwAAQIDBAUGBwgJCgs=,"
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=ResgVA2w6fEFiwzXkrPSGTt/RSg=",
	    "v=HKBeWjn99U5AvtgAjz6m1d81mhk=",
	    { 'p', "tls-unique", cbdata, 12 } },
	/* RFC 7677's with "y": we could bind, the server offers no -PLUS. */
	{ "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
	    "y,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=FoqiHTtQEDE8lz1CdaEe3tK4mS+iMDTl77SPyDS53DY=",
	    "v=dI4KpiQJwBr1+V+K6U1dA6l6I4I9DUNXWND4pcpRU3U=",
	    { 'y', NULL, NULL, 0 } },
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
		s = scram_new_nonce(v->mech, "user", "pencil", &v->cb,
		    v->cnonce);
		OK(s != NULL, "%s: a state", v->first);
		if (s == NULL)
			continue;
		out = scram_client_first(s);
		if (out == NULL)
			out = "(null)";
		OK(strcmp(out, v->first) == 0,
		    "%s: client-first-message (%s)", v->mech, out);
		OK(strcmp(scram_cb_type(s) != NULL ? scram_cb_type(s) :
		    "none", v->cb.flag == 'p' ? v->cb.name : "none") == 0,
		    "%s: the binding type", v->mech);
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

	s = scram_new_nonce("SCRAM-SHA-256", "user", "pencil", NULL, "abc");
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

	s = scram_new_nonce("SCRAM-SHA-256", "us,er=", "p", NULL, "n");
	IS_STR(scram_client_first(s), "n,,n=us=2Cer=3D,r=n",
	    "\",\" and \"=\" escaped in the user name");
	OK(scram_client_first(s) == NULL, "client-first only once");
	scram_free(s);
	OK(scram_new("CRAM-MD5", "u", "p", NULL) == NULL,
	    "not a SCRAM mechanism");
	OK(scram_mech("SCRAM-SHA-256") && scram_mech("SCRAM-SHA-1") &&
	    scram_mech("SCRAM-SHA-256-PLUS") && scram_mech("SCRAM-SHA-1-PLUS") &&
	    !scram_mech("PLAIN") && !scram_mech("SCRAM-SHA-512") &&
	    !scram_mech("SCRAM-SHA-256-PLUSX") && !scram_mech("-PLUS"),
	    "the mechanisms we have");
	OK(scram_mech_plus("SCRAM-SHA-1-PLUS") &&
	    !scram_mech_plus("SCRAM-SHA-1") && !scram_mech_plus("PLAIN-PLUS"),
	    "the -PLUS ones");
}

/* A binding that does not fit the mechanism, or a wrong one. */
static void
test_binding(void)
{
	static const struct scram_cb nocb = { 'n', NULL, NULL, 0 };
	static const struct scram_cb ycb = { 'y', NULL, NULL, 0 };
	static const struct scram_cb pcb = { 'p', "tls-exporter", cbdata, 32 };
	static const struct scram_cb empty = { 'p', "tls-exporter", cbdata, 0 };
	static const struct scram_cb badname = { 'p', "tls,x", cbdata, 32 };
	static const struct scram_cb other = { 'p', "tls-exporter", cbdata + 1,
	    31 };
	static const char *sfirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAf"
	    "uxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	struct scram *s;
	const char *out;

	OK(scram_new("SCRAM-SHA-256-PLUS", "u", "p", NULL) == NULL,
	    "-PLUS without a binding: refused");
	OK(scram_new("SCRAM-SHA-256-PLUS", "u", "p", &nocb) == NULL,
	    "-PLUS with 'n': refused");
	OK(scram_new("SCRAM-SHA-256-PLUS", "u", "p", &ycb) == NULL,
	    "-PLUS with 'y': refused");
	OK(scram_new("SCRAM-SHA-256", "u", "p", &pcb) == NULL,
	    "a binding without -PLUS: refused");
	OK(scram_new("SCRAM-SHA-256-PLUS", "u", "p", &empty) == NULL,
	    "no binding data: refused");
	OK(scram_new("SCRAM-SHA-256-PLUS", "u", "p", &badname) == NULL,
	    "a type name outside cb-name: refused");

	/* Other binding data, another proof: a relay's TLS shows. */
	s = scram_new_nonce("SCRAM-SHA-256-PLUS", "user", "pencil", &other,
	    "rOprNGfwEbeRWgbNEkqO");
	(void)scram_client_first(s);
	out = scram_client_final(s, sfirst, strlen(sfirst));
	OK(out != NULL && strncmp(out, "c=cD10bHMtZXhwb3J0ZXIsLAECAwQF", 30)
	    == 0, "the binding data follows the GS2 header in c= (%s)",
	    out != NULL ? out : scram_error(s));
	OK(out != NULL && strstr(out,
	    ",p=QC6CS20quADQRb3mT99YUH+n3VJxUvzuK0K0E1Vrs2M=") == NULL,
	    "another binding, another proof");
	out = "v=2GiAgapEppLVlUXbxUDksL3VgYHzuqiK5tR4mhJGgvs=";
	OK(scram_server_final(s, out, strlen(out)) == -1,
	    "the signature over the other binding does not verify");
	scram_free(s);

	s = scram_new_nonce("SCRAM-SHA-256-PLUS", "user", "pencil", &pcb,
	    "rOprNGfwEbeRWgbNEkqO");
	(void)scram_client_first(s);
	(void)scram_client_final(s, sfirst, strlen(sfirst));
	out = "e=channel-bindings-dont-match";
	OK(scram_server_final(s, out, strlen(out)) == -1 &&
	    strstr(scram_error(s), "channel-bindings-dont-match") != NULL,
	    "the server's verdict on the binding shown (%s)", scram_error(s));
	scram_free(s);
}

int
main(void)
{
	test_vectors();
	test_refusals();
	test_binding();
	return tap_done();
}
