/*
 * The INI reader: the rules of Perl's Config::Tiny (which the reference
 * uses), re-stated over raw bytes.
 *
 *  - lines end at CR LF, CR CR LF, a lone CR or a lone LF;
 *  - a line that is blank or whose first non-blank byte is "#" or ";" is
 *    skipped;
 *  - a whitespace, ";", whitespace and at least one more byte, up to the
 *    end of the line, is an inline comment and is cut (first occurrence);
 *  - "[ name ]" starts (or continues) a section; "_" is the default one,
 *    which also holds every line before the first header;
 *  - "key = value": key before the first "=", both trimmed, values kept
 *    verbatim otherwise (never unquoted); a later key replaces an earlier;
 *  - anything else is a syntax error.
 *
 * Whitespace is Perl's \s on bytes: space, \t, \n, \v, \f, \r.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

static int	ini_space(unsigned char);
static struct ini_section *ini_find(const struct ini *, const char *,
		    size_t);
static struct ini_section *ini_add_section(struct ini *, const char *,
		    size_t);
static int	ini_line(struct ini *, struct ini_section **, const char *,
		    size_t, int);

static int
ini_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

char *
conf_dupmem(const char *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static struct ini_section *
ini_find(const struct ini *ini, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ini->nsec; i++)
		if (ini->sec[i].namelen == len &&
		    memcmp(ini->sec[i].name, name, len) == 0)
			return &ini->sec[i];
	return NULL;
}

static struct ini_section *
ini_add_section(struct ini *ini, const char *name, size_t len)
{
	struct ini_section *sec, *s;

	if ((s = ini_find(ini, name, len)) != NULL)
		return s;
	sec = reallocarray(ini->sec, ini->nsec + 1, sizeof(*sec));
	if (sec == NULL)
		return NULL;
	ini->sec = sec;
	s = &sec[ini->nsec];
	memset(s, 0, sizeof(*s));
	if ((s->name = conf_dupmem(name, len)) == NULL)
		return NULL;
	s->namelen = len;
	ini->nsec++;
	return s;
}

int
conf_ini_set(struct ini_section *sec, const char *key, size_t klen,
    const char *val, size_t vlen, int line)
{
	struct ini_kv *kv;
	char *v;
	size_t i;

	if ((v = conf_dupmem(val, vlen)) == NULL)
		return -1;
	for (i = 0; i < sec->nkv; i++) {
		kv = &sec->kv[i];
		if (kv->keylen == klen && memcmp(kv->key, key, klen) == 0) {
			freezero(kv->value, kv->vallen + 1);
			kv->value = v;
			kv->vallen = vlen;
			kv->line = line;
			return 0;
		}
	}
	kv = reallocarray(sec->kv, sec->nkv + 1, sizeof(*kv));
	if (kv == NULL) {
		freezero(v, vlen + 1);
		return -1;
	}
	sec->kv = kv;
	kv = &kv[sec->nkv];
	if ((kv->key = conf_dupmem(key, klen)) == NULL) {
		freezero(v, vlen + 1);
		return -1;
	}
	kv->keylen = klen;
	kv->value = v;
	kv->vallen = vlen;
	kv->line = line;
	sec->nkv++;
	return 0;
}

/*
 * One line (without its terminator).  Returns 0, 1 on a syntax error, 2
 * for a value longer than CONF_VALUE_MAX (ini->errtext: the key,
 * errvallen), -1 if out of memory.
 */
static int
ini_line(struct ini *ini, struct ini_section **cur, const char *p,
    size_t n, int lineno)
{
	size_t i, j, b, e, eq, rb;

	/* Blank lines and comments. */
	for (i = 0; i < n && ini_space((unsigned char)p[i]); i++)
		;
	if (i == n || p[i] == '#' || p[i] == ';')
		return 0;

	/*
	 * Inline comment: the leftmost whitespace ";" whitespace followed by
	 * at least one byte; everything from there on goes.
	 */
	for (j = 0; j + 3 < n; j++) {
		if (ini_space((unsigned char)p[j]) && p[j + 1] == ';' &&
		    ini_space((unsigned char)p[j + 2])) {
			n = j;
			break;
		}
	}

	/*
	 * Section header: optional blanks, "[", the name, "]", blanks.  The
	 * name is what lies between the first "[" and the last "]", trimmed,
	 * but at least one byte: an all-blank name keeps its last blank (the
	 * outcome of the non-greedy match Config::Tiny uses).
	 */
	e = n;
	while (e > 0 && ini_space((unsigned char)p[e - 1]))
		e--;
	if (i < e && p[i] == '[' && e - i >= 3 && p[e - 1] == ']') {
		rb = e - 1;		/* the last "]" */
		b = i + 1;
		e = rb;
		while (b < e && ini_space((unsigned char)p[b]))
			b++;
		while (e > b && ini_space((unsigned char)p[e - 1]))
			e--;
		if (b == e) {
			/* All blank: the blank just before "]" is the name. */
			b = rb - 1;
			e = rb;
		}
		if ((*cur = ini_add_section(ini, p + b, e - b)) == NULL)
			return -1;
		return 0;
	}

	/*
	 * Property: the key is everything before the first "=", trimmed
	 * (an all-blank key keeps its last blank, as above); the value is
	 * the rest, trimmed.
	 */
	for (eq = i; eq < n && p[eq] != '='; eq++)
		;
	if (eq == n || eq == 0)
		return 1;
	b = i;
	e = eq;
	while (e > b && ini_space((unsigned char)p[e - 1]))
		e--;
	if (b == e) {
		/* Blanks only before "=" (at least one, since eq > 0). */
		b = eq - 1;
		e = eq;
	}
	i = eq + 1;
	while (i < n && ini_space((unsigned char)p[i]))
		i++;
	j = n;
	while (j > i && ini_space((unsigned char)p[j - 1]))
		j--;
	if (j - i > CONF_VALUE_MAX) {
		if ((ini->errtext = conf_dupmem(p + b, e - b)) == NULL)
			return -1;
		ini->errlen = e - b;
		ini->errvallen = j - i;
		return 2;
	}
	if (conf_ini_set(*cur, p + b, e - b, p + i, j - i, lineno) == -1)
		return -1;
	return 0;
}

int
conf_ini_parse(struct ini *ini, const char *buf, size_t len)
{
	struct ini_section *cur;
	size_t start, i, next;
	int lineno, r;

	memset(ini, 0, sizeof(*ini));
	if ((cur = ini_add_section(ini, INI_DEFAULT, 1)) == NULL)
		return -1;

	lineno = 0;
	start = 0;
	while (start < len) {
		/* Find the end of the line and the start of the next one. */
		for (i = start; i < len && buf[i] != '\r' && buf[i] != '\n';
		    i++)
			;
		if (i == len)
			next = len;
		else if (buf[i] == '\n')
			next = i + 1;
		else if (i + 2 < len && buf[i + 1] == '\r' &&
		    buf[i + 2] == '\n')
			next = i + 3;
		else if (i + 1 < len && buf[i + 1] == '\n')
			next = i + 2;
		else
			next = i + 1;
		lineno++;
		/* cur moves when a header is met; the default is sec[0]. */
		r = ini_line(ini, &cur, buf + start, i - start, lineno);
		if (r == -1)
			return -1;
		if (r == 2) {
			ini->errline = lineno;
			return -1;
		}
		if (r == 1) {
			ini->errline = lineno;
			ini->errlen = i - start;
			ini->errtext = conf_dupmem(buf + start, i - start);
			if (ini->errtext == NULL)
				ini->errline = 0;
			return -1;
		}
		start = next;
	}
	return 0;
}

const char *
conf_ini_get(const struct ini_section *sec, const char *key)
{
	size_t i, klen = strlen(key);

	for (i = 0; i < sec->nkv; i++)
		if (sec->kv[i].keylen == klen &&
		    memcmp(sec->kv[i].key, key, klen) == 0)
			return sec->kv[i].value;
	return NULL;
}

void
conf_ini_clear(struct ini_section *sec)
{
	size_t i;

	for (i = 0; i < sec->nkv; i++) {
		free(sec->kv[i].key);
		/* Values may be passwords. */
		freezero(sec->kv[i].value, sec->kv[i].vallen + 1);
	}
	free(sec->kv);
	sec->kv = NULL;
	sec->nkv = 0;
}

void
conf_ini_free(struct ini *ini)
{
	size_t i;

	for (i = 0; i < ini->nsec; i++) {
		conf_ini_clear(&ini->sec[i]);
		free(ini->sec[i].name);
	}
	free(ini->sec);
	if (ini->errtext != NULL)
		freezero(ini->errtext, ini->errlen + 1);
	memset(ini, 0, sizeof(*ini));
}

const struct ini_section *
conf_ini_section(const struct ini *ini, const char *name)
{
	return ini_find(ini, name, strlen(name));
}
