/*
 * What a configuration value may hold: the reference's rule for each key,
 * and the list-mailbox tokeniser.
 *
 * Deliberate difference: the reference matches \P{Control} against raw
 * bytes taken as Latin-1, so UTF-8 text whose encoding has a byte in
 * 0x80-0x9F (most of Latin Extended-A, Cyrillic, CJK...) is refused.  We
 * decode UTF-8 and refuse the control characters themselves (C0, DEL,
 * C1); a byte that is not part of valid UTF-8 still counts as its Latin-1
 * character, so whatever the reference accepts, we accept.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

enum conf_rule {
	R_NOCTRL1,	/* 1+ characters, no control */
	R_NOCTRL0,	/* 0+ characters, no control */
	R_TYPE,		/* imap, imaps, tunnel */
	R_BOOL,		/* YES/NO, any case */
	R_ASCII1,	/* 1+ bytes 0x01-0x7F */
	R_AUTH,		/* atoms separated by single spaces */
	R_SSLPROTOS,	/* [!]proto, space-separated */
	R_FINGERPRINT,	/* [algo$]hex, space-separated */
	R_LOGFILE,	/* "/" and 1+ characters, no control */
	R_TEXT0,	/* 0+ TEXT-CHAR */
	R_TEXT1,	/* 1+ TEXT-CHAR */
	R_SELECTOPTS,	/* 0+ of space and ATOM-CHAR */
};

/* Every key the reference knows, server and interimap keys alike. */
static const struct {
	const char	*key;
	enum conf_rule	 rule;
} conf_keys[] = {
	{ "host",		R_NOCTRL1 },
	{ "port",		R_NOCTRL1 },
	{ "proxy",		R_NOCTRL1 },
	{ "type",		R_TYPE },
	{ "STARTTLS",		R_BOOL },
	{ "username",		R_ASCII1 },
	{ "password",		R_ASCII1 },
	/* Ours: the reference does not know it. */
	{ "password-command",	R_NOCTRL1 },
	{ "oauth-token-command", R_NOCTRL1 },
	{ "auth",		R_AUTH },
	{ "command",		R_NOCTRL1 },
	{ "null-stderr",	R_BOOL },
	{ "compress",		R_BOOL },
	{ "SSL_protocols",	R_SSLPROTOS },
	{ "SSL_protocol_min",	R_NOCTRL1 },
	{ "SSL_protocol_max",	R_NOCTRL1 },
	{ "SSL_fingerprint",	R_FINGERPRINT },
	/* Ours: SCRAM -PLUS channel binding type (net/tls.c checks it). */
	{ "SSL_channel_binding", R_NOCTRL1 },
	{ "SSL_cipherlist",	R_NOCTRL1 },
	{ "SSL_ciphersuites",	R_NOCTRL0 },
	{ "SSL_hostname",	R_NOCTRL0 },
	{ "SSL_verify",		R_BOOL },
	{ "SSL_CApath",		R_NOCTRL1 },
	{ "SSL_CAfile",		R_NOCTRL1 },
	/* Ours: connections per server (conf.c checks the number). */
	{ "connections",	R_NOCTRL1 },
	/* Ours: QRESYNC or CONDSTORE (conf.c checks the value). */
	{ "sync-method",	R_NOCTRL1 },
	{ "database",		R_NOCTRL1 },
	{ "logfile",		R_LOGFILE },
	{ "log-prefix",		R_NOCTRL0 },
	/* Ours: audit lines, syslog and the journal. */
	{ "audit",		R_BOOL },
	{ "log-syslog",		R_NOCTRL1 },
	{ "log-syslog-facility", R_NOCTRL1 },
	{ "log-syslog-socket",	R_LOGFILE },
	{ "list-reference",	R_TEXT0 },
	{ "list-mailbox",	R_TEXT1 },
	{ "list-select-opts",	R_SELECTOPTS },
	{ "ignore-mailbox",	R_TEXT1 },
};

static int	atom_char(unsigned char);
static int	text_char(unsigned char);
static int	hex_digit(unsigned char);
static int	check_atoms(const char *, size_t);
static int	check_sslprotos(const char *, size_t);
static int	check_fingerprint(const char *, size_t);
static int	check_bool(const char *, size_t);
static int	list_unquoted(unsigned char);
static int	list_quoted(unsigned char);
static int	hex_value(unsigned char);
static size_t	list_quoted_token(const char *, size_t, size_t, char *,
		    size_t *);
static int	list_space(char);
static int	pattern_add(struct conf_pattern **, size_t *, const char *,
		    size_t);

/*
 * Next code point of s[0..len) (len > 0): a well-formed UTF-8 sequence
 * (no overlong form, no surrogate, at most U+10FFFF), else the first byte
 * alone as a Latin-1 character.  *adv is the number of bytes used.
 */
uint32_t
conf_utf8_next(const unsigned char *s, size_t len, size_t *adv)
{
	uint32_t cp, min;
	size_t n, i;

	*adv = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return s[0];
	if (n > len)
		return s[0];
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return s[0];
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return s[0];
	*adv = n;
	return cp;
}

int
conf_nocontrol(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i, adv;

	for (i = 0; i < len; i += adv) {
		cp = conf_utf8_next(p + i, len - i, &adv);
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f))
			return 0;
	}
	return 1;
}

/*
 * The reference asks for Perl's \p{Print}; we refuse what can break a
 * path on a terminal or in a log line (controls and the two Unicode line
 * separators) and leave the Unicode tables aside.
 */
int
conf_printable(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i, adv;

	for (i = 0; i < len; i += adv) {
		cp = conf_utf8_next(p + i, len - i, &adv);
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0x2028 || cp == 0x2029)
			return 0;
	}
	return 1;
}

/* RFC 3501 ATOM-CHAR. */
static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}

/* RFC 3501 TEXT-CHAR: any 7-bit byte but NUL, CR, LF. */
static int
text_char(unsigned char c)
{
	return c >= 0x01 && c <= 0x7f && c != '\r' && c != '\n';
}

static int
hex_digit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Tokens are separated by exactly one space (none leading or trailing). */
static int
check_atoms(const char *s, size_t len)
{
	size_t b, e, i;

	if (len == 0)
		return 0;
	for (b = 0; b <= len; b = e + 1) {
		for (e = b; e < len && s[e] != ' '; e++)
			;
		if (e == b)
			return 0;
		for (i = b; i < e; i++)
			if (!atom_char((unsigned char)s[i]))
				return 0;
	}
	return 1;
}

static int
check_sslprotos(const char *s, size_t len)
{
	static const char *protos[] = { "SSLv2", "SSLv3", "TLSv1", "TLSv1.0",
	    "TLSv1.1", "TLSv1.2", "TLSv1.3" };
	size_t b, e, i, n;

	if (len == 0)
		return 0;
	for (b = 0; b <= len; b = e + 1) {
		for (e = b; e < len && s[e] != ' '; e++)
			;
		i = b;
		if (i < e && s[i] == '!')
			i++;
		for (n = 0; n < sizeof(protos) / sizeof(protos[0]); n++)
			if (strlen(protos[n]) == e - i &&
			    memcmp(protos[n], s + i, e - i) == 0)
				break;
		if (n == sizeof(protos) / sizeof(protos[0]))
			return 0;
	}
	return 1;
}

static int
check_fingerprint(const char *s, size_t len)
{
	const char *dollar;
	size_t b, e, i, h;

	if (len == 0)
		return 0;
	for (b = 0; b <= len; b = e + 1) {
		for (e = b; e < len && s[e] != ' '; e++)
			;
		h = b;
		dollar = memchr(s + b, '$', e - b);
		if (dollar != NULL) {
			h = (size_t)(dollar - s);
			if (h == b)
				return 0;
			for (i = b; i < h; i++)
				if (!((s[i] >= 'a' && s[i] <= 'z') ||
				    (s[i] >= 'A' && s[i] <= 'Z') ||
				    (s[i] >= '0' && s[i] <= '9')))
					return 0;
			h++;
		}
		if (h == e)
			return 0;
		for (i = h; i < e; i++)
			if (!hex_digit((unsigned char)s[i]))
				return 0;
	}
	return 1;
}

static int
check_bool(const char *s, size_t len)
{
	return (len == 3 && strncasecmp(s, "YES", 3) == 0) ||
	    (len == 2 && strncasecmp(s, "NO", 2) == 0);
}

int
conf_is_bool(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strcmp(conf_keys[i].key, key) == 0)
			return conf_keys[i].rule == R_BOOL;
	return 0;
}

/*
 * Checks key (klen bytes) and its value.  Keys are case-sensitive, as in
 * the reference.
 */
enum conf_check
conf_check(const char *key, size_t klen, const char *v, size_t len)
{
	size_t i, k;
	int ok;

	for (k = 0; k < sizeof(conf_keys) / sizeof(conf_keys[0]); k++)
		if (strlen(conf_keys[k].key) == klen &&
		    memcmp(conf_keys[k].key, key, klen) == 0)
			break;
	if (k == sizeof(conf_keys) / sizeof(conf_keys[0]))
		return CONF_BADKEY;

	ok = 1;
	switch (conf_keys[k].rule) {
	case R_NOCTRL1:
		ok = len > 0 && conf_nocontrol(v, len);
		break;
	case R_NOCTRL0:
		ok = conf_nocontrol(v, len);
		break;
	case R_TYPE:
		ok = (len == 4 && memcmp(v, "imap", 4) == 0) ||
		    (len == 5 && memcmp(v, "imaps", 5) == 0) ||
		    (len == 6 && memcmp(v, "tunnel", 6) == 0);
		break;
	case R_BOOL:
		ok = check_bool(v, len);
		break;
	case R_ASCII1:
		ok = len > 0;
		for (i = 0; i < len && ok; i++)
			ok = (unsigned char)v[i] >= 0x01 &&
			    (unsigned char)v[i] <= 0x7f;
		break;
	case R_AUTH:
		ok = check_atoms(v, len);
		break;
	case R_SSLPROTOS:
		ok = check_sslprotos(v, len);
		break;
	case R_FINGERPRINT:
		ok = check_fingerprint(v, len);
		break;
	case R_LOGFILE:
		ok = len > 1 && v[0] == '/' && conf_nocontrol(v + 1, len - 1);
		break;
	case R_TEXT1:
		ok = len > 0;
		/* FALLTHROUGH */
	case R_TEXT0:
		for (i = 0; i < len && ok; i++)
			ok = text_char((unsigned char)v[i]);
		break;
	case R_SELECTOPTS:
		for (i = 0; i < len && ok; i++)
			ok = v[i] == ' ' || atom_char((unsigned char)v[i]);
		break;
	}
	return ok ? CONF_OK : CONF_BADVALUE;
}

/*
 * list-mailbox.  An unquoted token is a run of printable ASCII but space,
 * '"', '(', ')', '\\' and '{'; a quoted one holds printable ASCII but '"'
 * and '\\', and the escapes \" \\ \0 \a \b \t \n \v \f \r \xHH.
 *
 * Fix: the reference decodes \v to the letter "v" (Perl has no \v
 * escape); we decode it to the vertical tab, as the manual's "C-style
 * escape sequences" promise.
 */
static int
list_unquoted(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '(' && c != ')' &&
	    c != '\\' && c != '{';
}

static int
list_quoted(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static int
pattern_add(struct conf_pattern **pats, size_t *npats, const char *p,
    size_t len)
{
	struct conf_pattern *n;

	n = reallocarray(*pats, *npats + 1, sizeof(**pats));
	if (n == NULL)
		return -1;
	*pats = n;
	if ((n[*npats].bytes = malloc(len + 1)) == NULL)
		return -1;
	memcpy(n[*npats].bytes, p, len);
	n[*npats].bytes[len] = '\0';
	n[*npats].len = len;
	(*npats)++;
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/*
 * The quoted token opening at v[i] ('"'): decodes it into buf (*olen
 * bytes) and returns the index past the closing quote, or 0 if it is
 * malformed (no closing quote, no item, a bad byte or escape).
 */
static size_t
list_quoted_token(const char *v, size_t len, size_t i, char *buf,
    size_t *olen)
{
	static const char escin[] = "\"\\0abtnvfr";
	static const char escout[] = "\"\\\0\a\b\t\n\v\f\r";
	const char *esc;
	size_t j, o = 0;

	for (j = i + 1; j < len && v[j] != '"'; ) {
		if (list_quoted((unsigned char)v[j])) {
			buf[o++] = v[j++];
			continue;
		}
		if (v[j] != '\\' || j + 1 >= len)
			return 0;
		if (v[j + 1] == 'x') {
			if (j + 3 >= len ||
			    !hex_digit((unsigned char)v[j + 2]) ||
			    !hex_digit((unsigned char)v[j + 3]))
				return 0;
			buf[o++] = (char)(hex_value((unsigned char)v[j + 2]) *
			    16 + hex_value((unsigned char)v[j + 3]));
			j += 4;
			continue;
		}
		if ((esc = strchr(escin, v[j + 1])) == NULL)
			return 0;
		buf[o++] = escout[esc - escin];
		j += 2;
	}
	if (j >= len || o == 0)
		return 0;
	*olen = o;
	return j + 1;
}

static int
list_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' ||
	    c == '\n';
}

int
conf_list_mailbox(const char *v, struct conf_pattern **ppats, size_t *pn)
{
	struct conf_pattern *pats = NULL;
	size_t npats = 0, len = strlen(v), i = 0, j, o;
	char *buf;

	*ppats = NULL;
	*pn = 0;
	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	/* Tokens separated by whitespace; anything left over is an error. */
	for (;;) {
		if (i < len && list_unquoted((unsigned char)v[i])) {
			for (j = i; j < len &&
			    list_unquoted((unsigned char)v[j]); j++)
				;
			if (pattern_add(&pats, &npats, v + i, j - i) == -1)
				goto fail;
			i = j;
		} else if (i < len && v[i] == '"' &&
		    (j = list_quoted_token(v, len, i, buf, &o)) != 0) {
			if (pattern_add(&pats, &npats, buf, o) == -1)
				goto fail;
			i = j;
		}
		if (i >= len || !list_space(v[i]))
			break;
		while (i < len && list_space(v[i]))
			i++;
	}
	if (i != len)
		goto fail;
	free(buf);
	*ppats = pats;
	*pn = npats;
	return 0;
fail:
	free(buf);
	conf_patterns_free(pats, npats);
	return -1;
}

void
conf_patterns_free(struct conf_pattern *pats, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(pats[i].bytes);
	free(pats);
}
