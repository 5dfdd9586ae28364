/*
 * The configuration: INI reader, value rules, list-mailbox, XDG paths,
 * conf_load() end to end (inheritance, defaults, messages, what is
 * created), and conf_dump() against the golden files of
 * tests/data/config.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "cli.h"
#include "conf.h"
#include "conf_int.h"

/* Rows name only the fields they care about; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#ifndef CONF_TEST_DATA
#error "CONF_TEST_DATA (tests/data/config) must be defined"
#endif

static char	T[512];		/* scratch root; paths are built on it */

/* ------------------------------------------------------------------ */
/* Helpers */

static char *
xstrdup(const char *s)
{
	char *d;

	if ((d = strdup(s)) == NULL)
		abort();
	return d;
}

/* s with every occurrence of from replaced by to; caller frees. */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *r, *o;

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	if ((r = malloc(strlen(s) + n * tl + 1)) == NULL)
		abort();
	for (o = r, p = s; *p != '\0'; ) {
		if (strncmp(p, from, fl) == 0) {
			memcpy(o, to, tl);
			o += tl;
			p += fl;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return r;
}

static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1 ||
	    write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) == -1 ||
	    close(fd) == -1) {
		perror(path);
		abort();
	}
}

static char *
read_file(const char *path)
{
	FILE *fp;
	char *buf;
	long len;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	if ((buf = malloc((size_t)len + 1)) == NULL)
		abort();
	if (fread(buf, 1, (size_t)len, fp) != (size_t)len)
		abort();
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/* stderr (fd 2) into a temporary file while a test runs. */
static FILE	*cap_tmp;
static int	 cap_saved = -1;

static void
capture_begin(void)
{
	fflush(stderr);
	if ((cap_tmp = tmpfile()) == NULL || (cap_saved = dup(2)) == -1 ||
	    dup2(fileno(cap_tmp), 2) == -1)
		abort();
}

/* What was written, with the scratch root as "@T@"; caller frees. */
static char *
capture_end(void)
{
	char buf[8192], *r;
	size_t len;

	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	rewind(cap_tmp);
	len = fread(buf, 1, sizeof(buf) - 1, cap_tmp);
	buf[len] = '\0';
	fclose(cap_tmp);
	r = replace(buf, T, "@T@");
	return r;
}

static void
rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		abort();
}

static void
mkdir_p(const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", T, sub);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		abort();
}

/* A fresh scratch tree: config/, data/, home/, XDG variables set. */
static void
env_reset(void)
{
	char path[PATH_MAX];

	rm_rf(T);
	if (mkdir(T, 0700) == -1)
		abort();
	mkdir_p("config");
	mkdir_p("config/interimap");
	mkdir_p("data");
	mkdir_p("home");
	snprintf(path, sizeof(path), "%s/config", T);
	setenv("XDG_CONFIG_HOME", path, 1);
	snprintf(path, sizeof(path), "%s/data", T);
	setenv("XDG_DATA_HOME", path, 1);
	snprintf(path, sizeof(path), "%s/home", T);
	setenv("HOME", path, 1);
}

static int
exists(const char *sub)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", T, sub);
	return stat(path, &st) == 0;
}

/*
 * Writes text as $XDG_CONFIG_HOME/interimap/test.ini (mode 0600) and
 * loads it with --config=test.ini; *err gets stderr.
 */
static int
load_text(const char *text, size_t len, const struct cli *cli,
    struct conf *conf, char **err)
{
	char path[PATH_MAX];
	struct cli c;
	int r;

	snprintf(path, sizeof(path), "%s/config/interimap/test.ini", T);
	write_file(path, text, len, 0600);
	if (cli != NULL)
		c = *cli;
	else
		memset(&c, 0, sizeof(c));
	c.config = (char *)"test.ini";
	capture_begin();
	r = conf_load(conf, &c);
	*err = capture_end();
	return r;
}

/* ------------------------------------------------------------------ */
/* The INI reader */

/* "[sec]key=value@line..." with NUL bytes shown as \0. */
static char *
ini_render(const struct ini *ini)
{
	char *buf = NULL, num[16];
	size_t len = 0, i, j, k;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	for (i = 0; i < ini->nsec; i++) {
		fputc('[', fp);
		fwrite(ini->sec[i].name, 1, ini->sec[i].namelen, fp);
		fputc(']', fp);
		for (j = 0; j < ini->sec[i].nkv; j++) {
			const struct ini_kv *kv = &ini->sec[i].kv[j];

			for (k = 0; k < kv->keylen; k++)
				if (kv->key[k] == '\0')
					fputs("\\0", fp);
				else
					fputc(kv->key[k], fp);
			fputc('=', fp);
			for (k = 0; k < kv->vallen; k++)
				if (kv->value[k] == '\0')
					fputs("\\0", fp);
				else
					fputc(kv->value[k], fp);
			snprintf(num, sizeof(num), "@%d;", kv->line);
			fputs(num, fp);
		}
	}
	fclose(fp);
	return buf;
}

static const struct {
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	const char	*want;		/* render, or "ERR <line> <text>" */
} ini_cases[] = {
	{ "", 0, "[_]" },
	{ "a=b", 0, "[_]a=b@1;" },
	{ "  a  =  b  ", 0, "[_]a=b@1;" },
	{ "a b = c d", 0, "[_]a b=c d@1;" },
	{ "a==b", 0, "[_]a==b@1;" },
	{ "a=", 0, "[_]a=@1;" },
	{ "a =   ", 0, "[_]a=@1;" },
	{ "=b", 0, "ERR 1 =b" },
	/* Blanks only before "=": the last one is the key. */
	{ " =b", 0, "[_] =b@1;" },
	{ "\t =b", 0, "[_] =b@1;" },
	{ "a", 0, "ERR 1 a" },
	{ "x=1\nbad line\ny=2", 0, "ERR 2 bad line" },
	/* Comments and blank lines. */
	{ "# c\n; c\n   # c\n\n \t\n\t;x", 0, "[_]" },
	{ "#a=b\n;a=b", 0, "[_]" },
	/* Inline comments: blank, ";", blank, then something. */
	{ "a = b ; c", 0, "[_]a=b@1;" },
	{ "a = b;c", 0, "[_]a=b;c@1;" },
	{ "a = b ;c", 0, "[_]a=b ;c@1;" },
	{ "a = b; c", 0, "[_]a=b; c@1;" },
	{ "a = b ; ", 0, "[_]a=b ;@1;" },
	{ "a = b ;  ", 0, "[_]a=b@1;" },
	{ "a = b ;  x", 0, "[_]a=b@1;" },
	{ "a = b\t;\tc ; d", 0, "[_]a=b@1;" },
	{ "a = b # c", 0, "[_]a=b # c@1;" },
	{ "a ; b = c", 0, "ERR 1 a ; b = c" },
	/* Values are never unquoted. */
	{ "a = \"x y\"", 0, "[_]a=\"x y\"@1;" },
	{ "a = 'x'", 0, "[_]a='x'@1;" },
	/* Sections. */
	{ "[local]\na=1\n[remote]\na=2\n[local]\nb=3", 0,
	    "[_][local]a=1@2;b=3@6;[remote]a=2@4;" },
	{ "[ local ]\na=1", 0, "[_][local]a=1@2;" },
	{ "  [\tlocal\t]  \na=1", 0, "[_][local]a=1@2;" },
	{ "[lo cal]", 0, "[_][lo cal]" },
	{ "[Local]", 0, "[_][Local]" },
	{ "[]", 0, "ERR 1 []" },
	{ "[ ]", 0, "[_][ ]" },
	{ "[  \t]", 0, "[_][\t]" },
	{ "[a]]", 0, "[_][a]]" },
	{ "[[a]", 0, "[_][[a]" },
	{ "[a] x", 0, "ERR 1 [a] x" },
	{ "[a", 0, "ERR 1 [a" },
	{ "[a] = b", 0, "[_][a]=b@1;" },
	{ "[a=b]", 0, "[_][a=b]" },
	{ "[local] ; comment", 0, "[_][local]" },
	{ "[local];x", 0, "ERR 1 [local];x" },
	{ "[lo ; cal]", 0, "ERR 1 [lo ; cal]" },
	/* "_" is the default section. */
	{ "a=1\n[_]\nb=2\n[ _ ]\nc=3", 0, "[_]a=1@1;b=2@3;c=3@5;" },
	{ "[x]\na=1\n[_]\nb=2", 0, "[_]b=2@4;[x]a=1@2;" },
	/* Later duplicates win, keep their place, take the new line. */
	{ "a=1\nb=2\na=3", 0, "[_]a=3@3;b=2@2;" },
	/* Line ends: LF, CR LF, CR CR LF, lone CR. */
	{ "a=1\r\nb=2\rc=3\r\r\nd=4\n\re=5", 0,
	    "[_]a=1@1;b=2@2;c=3@3;d=4@4;e=5@6;" },
	{ "a=1\r\r\r\nb=2", 0, "[_]a=1@1;b=2@3;" },
	{ "a=1\n\n\nb=2\n", 0, "[_]a=1@1;b=2@4;" },
	{ "\n\n[s]\r\nk = v\r\n", 0, "[_][s]k=v@4;" },
	/* Whitespace is space, \t, \v, \f (and CR/LF); 0xA0 is not. */
	{ "\v a = b \f", 0, "[_]a=b@1;" },
	{ "\xa0" "a = b", 0, "[_]\xa0" "a=b@1;" },
	{ "a = b\xa0", 0, "[_]a=b\xa0@1;" },
	/* NUL bytes are kept for the validation to refuse. */
	{ "a\0b=c", 5, "[_]a\\0b=c@1;" },
	{ "a=b\0c", 5, "[_]a=b\\0c@1;" },
	{ "a=\0", 3, "[_]a=\\0@1;" },
};

static void
test_ini(void)
{
	struct ini ini;
	char *got, what[64], errbuf[256];
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(ini_cases) / sizeof(ini_cases[0]); i++) {
		len = ini_cases[i].len ? ini_cases[i].len :
		    strlen(ini_cases[i].text);
		r = conf_ini_parse(&ini, ini_cases[i].text, len);
		if (r == 0)
			got = ini_render(&ini);
		else {
			snprintf(errbuf, sizeof(errbuf), "ERR %d %s",
			    ini.errline, ini.errtext ? ini.errtext : "");
			got = xstrdup(errbuf);
		}
		snprintf(what, sizeof(what), "ini %zu", i);
		IS_STR(got, ini_cases[i].want, what);
		free(got);
		conf_ini_free(&ini);
	}
}

/* ------------------------------------------------------------------ */
/* Value rules */

#define V_OK	CONF_OK
#define V_BAD	CONF_BADVALUE
#define V_KEY	CONF_BADKEY

static const struct {
	const char	*key;
	const char	*value;
	int		 want;
} check_cases[] = {
	/* Unknown and miscased keys. */
	{ "foo", "x", V_KEY },
	{ "Host", "x", V_KEY },
	{ "starttls", "YES", V_KEY },
	{ "ssl_verify", "YES", V_KEY },
	{ "list_mailbox", "x", V_KEY },
	{ "", "x", V_KEY },
	{ " host", "x", V_KEY },
	/* 1+ characters, no control. */
	{ "host", "imap.example.net", V_OK },
	{ "host", "[127.0.0.1]", V_OK },
	{ "host", "", V_BAD },
	{ "host", "a\tb", V_BAD },
	{ "host", "a\x7f", V_BAD },
	{ "host", "a b", V_OK },
	{ "port", "993", V_OK },
	{ "port", "imaps", V_OK },
	{ "port", "", V_BAD },
	{ "proxy", "socks5h://u:p@h:1080", V_OK },
	{ "proxy", "", V_BAD },
	{ "command", "doveadm exec imap", V_OK },
	{ "command", "a\x01", V_BAD },
	{ "command", "", V_BAD },
	{ "SSL_protocol_min", "TLSv1.2", V_OK },
	{ "SSL_protocol_min", "", V_BAD },
	{ "SSL_protocol_max", "TLSv1.3", V_OK },
	{ "SSL_protocol_max", "", V_BAD },
	{ "SSL_cipherlist", "HIGH:!aNULL", V_OK },
	{ "SSL_cipherlist", "", V_BAD },
	{ "SSL_CApath", "/etc/ssl/certs", V_OK },
	{ "SSL_CApath", "", V_BAD },
	{ "SSL_CAfile", "/etc/ssl/ca.pem", V_OK },
	{ "SSL_CAfile", "", V_BAD },
	{ "database", "x.db", V_OK },
	{ "database", "", V_BAD },
	/* UTF-8 (fix): accepted, even with 0x80-0x9F continuation bytes. */
	{ "host", "caf\xc3\xa9", V_OK },
	{ "database", "\xc5\x91.db", V_OK },
	{ "command", "\xe2\x80\x94", V_OK },
	{ "host", "\xf0\x9f\x98\x80", V_OK },
	/* C1 controls, as code points or as stray bytes, are refused. */
	{ "host", "a\xc2\x85", V_BAD },
	{ "host", "a\xc2\x9f", V_BAD },
	{ "host", "a\x85", V_BAD },
	{ "host", "a\x9f", V_BAD },
	/* Invalid UTF-8 bytes count as Latin-1 (the reference's view). */
	{ "host", "a\xa0\xff", V_OK },
	{ "host", "\xc3", V_OK },
	{ "host", "\xe2\x80", V_BAD },		/* 0x80 alone */
	{ "host", "\xc0\x80", V_BAD },		/* overlong: 0x80 */
	{ "host", "\xed\xa0\x80", V_BAD },	/* surrogate: 0xA0 0x80 */
	{ "host", "a\xc2\xa0", V_OK },		/* NBSP */
	/* 0+ characters, no control. */
	{ "SSL_ciphersuites", "", V_OK },
	{ "SSL_ciphersuites", "TLS_AES_256_GCM_SHA384", V_OK },
	{ "SSL_ciphersuites", "\x1b", V_BAD },
	{ "SSL_hostname", "", V_OK },
	{ "SSL_hostname", "imap.example.net", V_OK },
	{ "SSL_hostname", "a\nb", V_BAD },
	{ "log-prefix", "", V_OK },
	{ "log-prefix", "%n: ", V_OK },
	{ "log-prefix", "\x7f", V_BAD },
	/* type. */
	{ "type", "imap", V_OK },
	{ "type", "imaps", V_OK },
	{ "type", "tunnel", V_OK },
	{ "type", "IMAP", V_BAD },
	{ "type", "imapss", V_BAD },
	{ "type", "", V_BAD },
	{ "type", "tunnel ", V_BAD },
	/* YES/NO. */
	{ "STARTTLS", "YES", V_OK },
	{ "STARTTLS", "no", V_OK },
	{ "STARTTLS", "Yes", V_OK },
	{ "STARTTLS", "nO", V_OK },
	{ "STARTTLS", "1", V_BAD },
	{ "STARTTLS", "true", V_BAD },
	{ "STARTTLS", "", V_BAD },
	{ "STARTTLS", "YESS", V_BAD },
	{ "null-stderr", "YES", V_OK },
	{ "null-stderr", "0", V_BAD },
	{ "compress", "no", V_OK },
	{ "compress", "off", V_BAD },
	{ "SSL_verify", "NO", V_OK },
	{ "SSL_verify", "N", V_BAD },
	/* username, password: 1+ bytes 0x01-0x7F. */
	{ "username", "user@example.net", V_OK },
	{ "username", "a\x01\x7f", V_OK },
	{ "username", "", V_BAD },
	{ "username", "caf\xc3\xa9", V_BAD },
	{ "password", "p a\"ss;", V_OK },
	{ "password", "\t", V_OK },
	{ "password", "", V_BAD },
	{ "password", "\x80", V_BAD },
	/* auth: atoms separated by single spaces. */
	{ "auth", "PLAIN", V_OK },
	{ "auth", "PLAIN LOGIN", V_OK },
	{ "auth", "SCRAM-SHA-1 X-FOO.bar", V_OK },
	{ "auth", "", V_BAD },
	{ "auth", "PLAIN  LOGIN", V_BAD },
	{ "auth", " PLAIN", V_BAD },
	{ "auth", "PLAIN ", V_BAD },
	{ "auth", "PL(AIN", V_BAD },
	{ "auth", "PL*", V_BAD },
	{ "auth", "a]", V_BAD },
	{ "auth", "a%", V_BAD },
	{ "auth", "a{", V_BAD },
	{ "auth", "a\"", V_BAD },
	{ "auth", "a\\", V_BAD },
	{ "auth", "a[", V_OK },
	{ "auth", "a}", V_OK },
	/* SSL_protocols. */
	{ "SSL_protocols", "TLSv1.2", V_OK },
	{ "SSL_protocols", "!SSLv2 !SSLv3 TLSv1 TLSv1.0 TLSv1.1 TLSv1.3",
	    V_OK },
	{ "SSL_protocols", "TLSv1.4", V_BAD },
	{ "SSL_protocols", "SSLv4", V_BAD },
	{ "SSL_protocols", "!!TLSv1", V_BAD },
	{ "SSL_protocols", "tlsv1", V_BAD },
	{ "SSL_protocols", "TLSv1  TLSv1.2", V_BAD },
	{ "SSL_protocols", "", V_BAD },
	{ "SSL_protocols", "!", V_BAD },
	/* SSL_fingerprint. */
	{ "SSL_fingerprint", "0123abcdEF", V_OK },
	{ "SSL_fingerprint", "sha256$0123", V_OK },
	{ "SSL_fingerprint", "sha256$01 sha1$ab cd", V_OK },
	{ "SSL_fingerprint", "sha-256$01", V_BAD },
	{ "SSL_fingerprint", "$01", V_BAD },
	{ "SSL_fingerprint", "sha256$", V_BAD },
	{ "SSL_fingerprint", "sha256$0g", V_BAD },
	{ "SSL_fingerprint", "a$b$c", V_BAD },
	{ "SSL_fingerprint", "01:02", V_BAD },
	{ "SSL_fingerprint", "", V_BAD },
	{ "SSL_fingerprint", "ab  cd", V_BAD },
	/* logfile: "/" and 1+ characters. */
	{ "logfile", "/var/log/interimap.log", V_OK },
	{ "logfile", "/", V_BAD },
	{ "logfile", "//", V_OK },
	{ "logfile", "log", V_BAD },
	{ "logfile", "", V_BAD },
	{ "logfile", "/a\tb", V_BAD },
	/* TEXT-CHAR values. */
	{ "list-reference", "", V_OK },
	{ "list-reference", "perso/", V_OK },
	{ "list-reference", "a\x01\x0b\x0c\x7f", V_OK },
	{ "list-reference", "a\r", V_BAD },
	{ "list-reference", "\xc3\xa9", V_BAD },
	{ "list-mailbox", "INBOX \"a b\"", V_OK },
	{ "list-mailbox", "", V_BAD },
	{ "list-mailbox", "\x80", V_BAD },
	{ "ignore-mailbox", "^virtual(?:\\x00|$)", V_OK },
	{ "ignore-mailbox", "", V_BAD },
	{ "ignore-mailbox", "\xe9", V_BAD },
	/* list-select-opts: spaces and ATOM-CHARs. */
	{ "list-select-opts", "", V_OK },
	{ "list-select-opts", "SUBSCRIBED REMOTE", V_OK },
	{ "list-select-opts", "  recursivematch ", V_OK },
	{ "list-select-opts", "(SUBSCRIBED)", V_BAD },
	{ "list-select-opts", "a*", V_BAD },
	{ "list-select-opts", "a\tb", V_BAD },
};

static void
test_check(void)
{
	char what[128];
	size_t i;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		snprintf(what, sizeof(what), "check %zu %s", i,
		    check_cases[i].key);
		IS_INT(conf_check(check_cases[i].key,
		    strlen(check_cases[i].key), check_cases[i].value,
		    strlen(check_cases[i].value)), check_cases[i].want, what);
	}
	/* NUL bytes are control characters for every rule. */
	IS_INT(conf_check("host", 4, "a\0b", 3), V_BAD, "check NUL host");
	IS_INT(conf_check("password", 8, "a\0b", 3), V_BAD,
	    "check NUL password");
	IS_INT(conf_check("log-prefix", 10, "\0", 1), V_BAD,
	    "check NUL log-prefix");
	IS_INT(conf_check("list-reference", 14, "\0", 1), V_BAD,
	    "check NUL list-reference");
	IS_INT(conf_check("host\0x", 6, "a", 1), V_KEY, "check NUL key");
	OK(conf_is_bool("STARTTLS") && conf_is_bool("compress") &&
	    conf_is_bool("null-stderr") && conf_is_bool("SSL_verify") &&
	    !conf_is_bool("host") && !conf_is_bool("nope"), "conf_is_bool");
}

/* ------------------------------------------------------------------ */
/* list-mailbox */

/* Patterns as "<p1>|<p2>|..." with bytes outside 0x21-0x7E as \xHH. */
static char *
patterns_render(const struct conf_pattern *p, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i, j;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc('|', fp);
		OK(p[i].bytes[p[i].len] == '\0', "pattern %zu terminated", i);
		for (j = 0; j < p[i].len; j++) {
			unsigned char c = (unsigned char)p[i].bytes[j];

			if (c <= 0x20 || c >= 0x7f || c == '|')
				fprintf(fp, "\\x%02X", c);
			else
				fputc(c, fp);
		}
	}
	fclose(fp);
	return buf;
}

static const struct {
	const char	*value;
	const char	*want;		/* NULL: invalid */
} lm_cases[] = {
	{ "INBOX", "INBOX" },
	{ "*", "*" },
	{ "INBOX foo/* %", "INBOX|foo/*|%" },
	{ "a\tb\vc\fd", "a|b|c|d" },
	{ "a    b", "a|b" },
	{ "!#$&'+,-./09:;<=>?@AZ[]^_`az|}~",
	    "!#$&'+,-./09:;<=>?@AZ[]^_`az\\x7C}~" },
	{ "\"a b\"", "a\\x20b" },
	{ "\"(x){y}\"", "(x){y}" },
	{ "\"foo\\x00bar\"", "foo\\x00bar" },
	{ "\"\\x41\\x7e\\xFf\"", "A~\\xFF" },
	{ "\"\\\"\\\\\"", "\"\\" },
	{ "\"\\0\\a\\b\\t\\n\\f\\r\"",
	    "\\x00\\x07\\x08\\x09\\x0A\\x0C\\x0D" },
	/* Fix: \v is the vertical tab (the reference gives "v"). */
	{ "\"\\v\"", "\\x0B" },
	{ "\"a\\vb\"", "a\\x0Bb" },
	/* \0 is one NUL, never an octal escape. */
	{ "\"\\012\"", "\\x0012" },
	{ "INBOX \"Sent Items\" \"a\\x00b\"", "INBOX|Sent\\x20Items|a\\x00b" },
	/* Errors. */
	{ "\"\"", NULL },
	{ "\"a", NULL },
	{ "a\"b\"", NULL },
	{ "\"a\"b", NULL },
	{ "\"a\" \"b", NULL },
	{ "(a)", NULL },
	{ "a (b)", NULL },
	{ "a{1}", NULL },
	{ "a\\b", NULL },
	{ "\"\\q\"", NULL },
	{ "\"\\x4\"", NULL },
	{ "\"\\x4g\"", NULL },
	{ "\"\\x\"", NULL },
	{ "\"a\\\"", NULL },
	{ "\"\t\"", NULL },
	{ "\"\x7f\"", NULL },
	{ "a \x7f", NULL },
};

static void
test_list_mailbox(void)
{
	struct conf_pattern *p;
	char *got, what[64];
	size_t i, n;
	int r;

	for (i = 0; i < sizeof(lm_cases) / sizeof(lm_cases[0]); i++) {
		snprintf(what, sizeof(what), "list-mailbox %zu", i);
		r = conf_list_mailbox(lm_cases[i].value, &p, &n);
		if (lm_cases[i].want == NULL) {
			IS_INT(r, -1, what);
			OK(p == NULL && n == 0, "%s: nothing returned", what);
			continue;
		}
		IS_INT(r, 0, what);
		got = patterns_render(p, n);
		IS_STR(got, lm_cases[i].want, what);
		free(got);
		conf_patterns_free(p, n);
	}
}

/* ------------------------------------------------------------------ */
/* XDG paths */

static void
test_xdg(void)
{
	char *r, *err, want[PATH_MAX], path[PATH_MAX];
	struct stat st;

	env_reset();

	/* Absolute: itself, nothing created. */
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "/x/y.db");
	err = capture_end();
	IS_STR(r, "/x/y.db", "xdg absolute");
	IS_STR(err, "", "xdg absolute: silent");
	OK(!exists("data/interimap"), "xdg absolute: nothing created");
	free(r);
	free(err);

	/* Relative under $XDG_DATA_HOME: interimap/ made 0700. */
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	snprintf(want, sizeof(want), "%s/data/interimap/a.db", T);
	IS_STR(r, want, "xdg relative");
	snprintf(path, sizeof(path), "%s/data/interimap", T);
	OK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0700, "xdg: directory 0700");
	free(r);
	/* Existing: fine. */
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "sub/b.db");
	snprintf(want, sizeof(want), "%s/data/interimap/sub/b.db", T);
	IS_STR(r, want, "xdg existing directory");
	free(r);

	/* Unset: $HOME/fallback, which must exist. */
	unsetenv("XDG_DATA_HOME");
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg unset, no ~/.local/share: fails");
	IS_STR(err, "No such directory: @T@/home/.local/share\n",
	    "xdg unset: message");
	free(err);
	mkdir_p("home/.local");
	mkdir_p("home/.local/share");
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	snprintf(want, sizeof(want), "%s/home/.local/share/interimap/a.db",
	    T);
	IS_STR(r, want, "xdg unset: under HOME");
	free(r);

	/* Set but empty: the base is "", no directory. */
	setenv("XDG_DATA_HOME", "", 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg empty: fails");
	IS_STR(err, "No such directory: \n", "xdg empty: message");
	free(err);

	/* Set to a file, or to nothing that exists. */
	snprintf(path, sizeof(path), "%s/file", T);
	write_file(path, "", 0, 0600);
	setenv("XDG_DATA_HOME", path, 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg file: fails");
	IS_STR(err, "No such directory: @T@/file\n", "xdg file: message");
	free(err);

	/* Relative base: insecure, even if it exists. */
	if (chdir(T) == -1)
		abort();
	setenv("XDG_DATA_HOME", "data", 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg relative base: fails");
	IS_STR(err, "Insecure data/interimap\n", "xdg relative base: message");
	free(err);
	if (chdir("/") == -1)
		abort();

	/* HOME unset: "/" + fallback. */
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".no-such-dir-for-test", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg no HOME: fails");
	IS_STR(err, "No such directory: /.no-such-dir-for-test\n",
	    "xdg no HOME: message");
	free(err);

	/* Non-printable paths and bases. */
	env_reset();
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "");
	err = capture_end();
	OK(r == NULL, "xdg empty path: fails");
	IS_STR(err, "Insecure \n", "xdg empty path: message");
	free(err);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a\tb");
	err = capture_end();
	OK(r == NULL, "xdg tab in path: fails");
	IS_STR(err, "Insecure a\tb\n", "xdg tab in path: message");
	free(err);
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "caf\xc3\xa9.db");
	snprintf(want, sizeof(want), "%s/data/interimap/caf\xc3\xa9.db", T);
	IS_STR(r, want, "xdg UTF-8 path");
	free(r);
	snprintf(path, sizeof(path), "%s/d\x01", T);
	if (mkdir(path, 0700) == -1)
		abort();
	setenv("XDG_DATA_HOME", path, 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg control in base: fails");
	IS_STR(err, "Insecure @T@/d\x01/interimap\n",
	    "xdg control in base: message");
	free(err);

	/* A base that does not exist. */
	env_reset();
	snprintf(path, sizeof(path), "%s/data/no/such", T);
	setenv("XDG_DATA_HOME", path, 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg missing base: fails");
	IS_STR(err, "No such directory: @T@/data/no/such\n",
	    "xdg missing base: message");
	free(err);

	/* mkdir failing for another reason than EEXIST (even for root). */
	setenv("XDG_DATA_HOME", "/proc/self", 1);
	capture_begin();
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	err = capture_end();
	OK(r == NULL, "xdg mkdir error: fails");
	OK(strncmp(err, "Couldn't create /proc/self/interimap: ", 38) == 0,
	    "xdg mkdir error: message (%s)", err);
	free(err);

	/* interimap exists as a file: EEXIST is ignored, as upstream. */
	env_reset();
	snprintf(path, sizeof(path), "%s/data/interimap", T);
	write_file(path, "", 0, 0600);
	r = conf_xdg_path("XDG_DATA_HOME", ".local/share", "a.db");
	snprintf(want, sizeof(want), "%s/data/interimap/a.db", T);
	IS_STR(r, want, "xdg interimap is a file");
	free(r);
	env_reset();
}

/* ------------------------------------------------------------------ */
/* conf_load() */

#define MINIMAL	"[local]\n[remote]\n"

/*
 * checks: ";"-separated "sec:key=value" (sec: _, local, remote),
 * "sec:key!" (unset), or a derived setting: "database=", "logfile=",
 * "prefix=", "list=" (as patterns_render), "select=", "ignore=" ("!" for
 * NULL).  "@T@" stands for the scratch root.
 */
static const struct {
	const char	*text;
	int		 rc;
	const char	*err;		/* exact stderr */
	const char	*checks;
	int		 command;	/* CMD_* */
	int		 nmailboxes;
} load_cases[] = {
	/* The smallest config: every default. */
	{ MINIMAL, 0, "",
	    "_:type=imaps;_:host=localhost;_:port=993;_:auth=PLAIN LOGIN;"
	    "_:STARTTLS=YES;_:list-reference!;_:username!;"
	    "local:type=imaps;local:host=localhost;local:port=993;"
	    "local:auth=PLAIN LOGIN;local:STARTTLS=YES;"
	    "local:list-reference=;local:compress!;"
	    "remote:port=993;remote:list-reference=;"
	    "database=@T@/data/interimap/localhost.db;logfile=!;"
	    "prefix=%?n?%?m?%n(%m)&%n?: ?;list=!;select=!;ignore=!" },
	/* Default-section keys are inherited, sections override. */
	{ "username = me\nhost = h0\n[local]\nhost = h1\n[remote]\n"
	  "username = you\n", 0, "",
	    "_:username=me;local:username=me;remote:username=you;"
	    "_:host=h0;local:host=h1;remote:host=h0;"
	    "database=@T@/data/interimap/h0.db" },
	/* Port follows the type; tunnels have none. */
	{ "[local]\ntype = imap\n[remote]\ntype = tunnel\ncommand = x\n", 0,
	    "", "local:port=143;remote:port!;remote:command=x;_:port=993;"
	    "database=@T@/data/interimap/localhost.db" },
	{ "type = imap\n[local]\n[remote]\ntype = imaps\n", 0, "",
	    "_:port=143;local:port=143;remote:port=993" },
	{ "[local]\nport = 1993\n[remote]\n", 0, "",
	    "local:port=1993;remote:port=993" },
	/* Booleans: any case, normalised. */
	{ "[local]\nSTARTTLS = no\ncompress = Yes\nnull-stderr = NO\n"
	  "SSL_verify = yes\n[remote]\n", 0, "",
	    "local:STARTTLS=NO;local:compress=YES;local:null-stderr=NO;"
	    "local:SSL_verify=YES;remote:STARTTLS=YES" },
	/* Values are kept verbatim. */
	{ "[local]\npassword = \"se cret\"\n[remote]\n", 0, "",
	    "local:password=\"se cret\"" },
	/* database: relative (XDG data), absolute, remote host. */
	{ "database = my.db\n" MINIMAL, 0, "",
	    "database=@T@/data/interimap/my.db" },
	{ "database = /abs/x.db\n" MINIMAL, 0, "",
	    "database=/abs/x.db" },
	{ "[local]\nhost = l\n[remote]\nhost = [::1]\n", 0, "",
	    "database=@T@/data/interimap/[::1].db" },
	/* database in a server section is accepted and ignored. */
	{ "[local]\ndatabase = l.db\n[remote]\nhost = r\n", 0, "",
	    "database=@T@/data/interimap/r.db;local:database=l.db" },
	/* Derived settings. */
	{ "logfile = /tmp/x.log\nlog-prefix = \n" MINIMAL, 0, "",
	    "logfile=/tmp/x.log;prefix=" },
	{ "log-prefix = %n: \n" MINIMAL, 0, "", "prefix=%n:" },
	{ "list-mailbox = INBOX \"a b\" \"x\\x00y\" \"\\v\"\n" MINIMAL, 0,
	    "", "list=INBOX|a\\x20b|x\\x00y|\\x0B" },
	{ "list-select-opts = subscribed Remote\n" MINIMAL, 0, "",
	    "select=SUBSCRIBED REMOTE" },
	{ "list-select-opts = \n" MINIMAL, 0, "", "select=!" },
	{ "ignore-mailbox = ^virtual(?:\\x00|$)\n" MINIMAL, 0, "",
	    "ignore=^virtual(?:\\x00|$)" },
	{ "list-reference = perso/\n" MINIMAL, 0, "",
	    "_:list-reference=perso/;local:list-reference=perso/;"
	    "remote:list-reference=perso/" },
	{ "[local]\nlist-reference = perso/\n[remote]\n", 0, "",
	    "local:list-reference=perso/;remote:list-reference=" },
	/* LIST parameters only for a sync/repair without MAILBOX. */
	{ "list-mailbox = a\nlist-select-opts = x\nignore-mailbox = y\n"
	  MINIMAL, 0, "", "list=a;select=X;ignore=y", CMD_REPAIR },
	{ "list-mailbox = a\nlist-select-opts = x\nignore-mailbox = y\n"
	  MINIMAL, 0, "", "list=!;select=X;ignore=!", CMD_SYNC, 1 },
	{ "list-mailbox = a\nlist-select-opts = x\nignore-mailbox = y\n"
	  MINIMAL, 0, "", "list=!;select=!;ignore=!", CMD_DELETE, 1 },
	/* ... but they are checked in every case. */
	{ "list-mailbox = (a)\n" MINIMAL, -1,
	    "@T@/config/interimap/test.ini:1: Invalid value for "
	    "list-mailbox: (a)\n", "", CMD_DELETE, 1 },
	{ "ignore-mailbox = a(b\n" MINIMAL, -1,
	    "@T@/config/interimap/test.ini:1: Invalid option "
	    "ignore-mailbox = a(b: missing closing parenthesis at offset "
	    "3\n", "", CMD_RENAME, 2 },
	/* UTF-8 values (fix). */
	{ "[local]\nhost = \xc5\x91.example\n[remote]\n", 0, "",
	    "local:host=\xc5\x91.example" },
	/* Other sections are neither needed nor checked. */
	{ "[other]\nfoo = \x01\n" MINIMAL, 0, "", "local:foo!" },

	/* Missing sections. */
	{ "", -1, "@T@/config/interimap/test.ini: No such section local\n" },
	{ "[remote]\n", -1,
	    "@T@/config/interimap/test.ini: No such section local\n" },
	{ "[local]\n", -1,
	    "@T@/config/interimap/test.ini: No such section remote\n" },
	{ "[Local]\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini: No such section local\n" },
	/* The default section is checked before the sections exist. */
	{ "foo = 1\n", -1,
	    "@T@/config/interimap/test.ini:1: Invalid option foo\n" },
	/* Syntax errors. */
	{ "[local]\nhost\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: syntax error: host\n" },
	{ "[local]\r\n\r\n[remote\r\n", -1,
	    "@T@/config/interimap/test.ini:3: syntax error: [remote\n" },
	{ "x\x01y\n", -1,
	    "@T@/config/interimap/test.ini:1: syntax error: x\\x01y\n" },
	/* Unknown keys and bad values: file, line, key. */
	{ "[local]\nhots = x\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option hots\n" },
	{ "[local]\n[remote]\ntype = IMAPS\n", -1,
	    "@T@/config/interimap/test.ini:3: Invalid option type = IMAPS\n" },
	{ "[local]\nSTARTTLS = 1\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option STARTTLS = 1\n" },
	{ "[local]\nhost = a\x01\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option host = "
	    "a\\x01\n" },
	/* C1 controls are escaped too, as UTF-8 or as stray bytes. */
	{ "[local]\nhost = a\xc2\x85\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option host = "
	    "a\\xC2\\x85\n" },
	{ "[local]\nhost = \xc3\xa9\x9b\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option host = "
	    "\xc3\xa9\\x9B\n" },
	{ "[local]\nx\x9b\xa0\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: syntax error: x\\x9B\xa0\n" },
	{ "[local]\nhost = @3073@\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: value too long: host "
	    "(3073 bytes, at most 3072)\n" },
	{ "logfile = rel.log\n" MINIMAL, -1,
	    "@T@/config/interimap/test.ini:1: Invalid option logfile = "
	    "rel.log\n" },
	/* The first bad line of a section is the one named. */
	{ "[local]\nb = 1\nhost = \nport =\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option b\n" },
	{ "[local]\nport =\nb = 1\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option port = \n" },
	/* A later duplicate wins, and is the one checked. */
	{ "[local]\nport = \nport = 1\n[remote]\n", 0, "", "local:port=1" },
	{ "[local]\nport = 1\nport = \n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:3: Invalid option port = \n" },
	/* An inherited bad value is reported in the default section. */
	{ "[local]\nx = 1\n[remote]\n[_]\nauth = a  b\n", -1,
	    "@T@/config/interimap/test.ini:5: Invalid option auth = a  b\n" },
	/* NUL bytes: refused, shown escaped. */
	{ "[local]\nhost = a@NUL@b\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option host = "
	    "a\\x00b\n" },
	{ "[local]\nho@NUL@st = a\n[remote]\n", -1,
	    "@T@/config/interimap/test.ini:2: Invalid option ho\\x00st\n" },
	{ "[other]\nx = @NUL@\n" MINIMAL, 0, "", "" },
};

/*
 * Replaces "@NUL@" by a NUL byte (lets the table hold NULs in text) and
 * "@3073@" by 3073 bytes "a" (one past CONF_VALUE_MAX).
 */
static size_t
unescape_nul(const char *s, char *out)
{
	size_t n = 0;

	while (*s != '\0') {
		if (strncmp(s, "@3073@", 6) == 0) {
			memset(out + n, 'a', 3073);
			n += 3073;
			s += 6;
			continue;
		}
		if (strncmp(s, "@NUL@", 5) == 0) {
			out[n++] = '\0';
			s += 5;
			continue;
		}
		out[n++] = *s++;
	}
	return n;
}

static void
check_one(const struct conf *conf, const char *check, const char *what)
{
	const struct conf_section *sec = NULL;
	char key[256], want[512], *got = NULL, *w;
	const char *eq, *colon, *v;
	size_t klen;
	int unset;

	unset = check[strlen(check) - 1] == '!';
	eq = strchr(check, '=');
	if (unset && eq == NULL)
		eq = check + strlen(check) - 1;
	klen = (size_t)(eq - check);
	if (klen >= sizeof(key))
		abort();
	memcpy(key, check, klen);
	key[klen] = '\0';
	w = replace(eq + 1, "@T@", T);
	snprintf(want, sizeof(want), "%s", w);
	free(w);
	if (strcmp(want, "!") == 0)
		unset = 1;

	if ((colon = strchr(key, ':')) != NULL) {
		if (strncmp(key, "_:", 2) == 0)
			sec = &conf->def;
		else if (strncmp(key, "local:", 6) == 0)
			sec = &conf->local;
		else
			sec = &conf->remote;
		v = conf_get(sec, colon + 1);
		if (unset)
			OK(v == NULL, "%s: %s unset", what, key);
		else
			IS_STR(v, want, what);
		return;
	}
	if (strcmp(key, "database") == 0)
		v = conf->database;
	else if (strcmp(key, "logfile") == 0)
		v = conf->logfile;
	else if (strcmp(key, "prefix") == 0)
		v = conf->log_prefix;
	else if (strcmp(key, "select") == 0)
		v = conf->list_select_opts;
	else if (strcmp(key, "ignore") == 0)
		v = conf->ignore_mailbox;
	else if (strcmp(key, "list") == 0) {
		if (unset) {
			OK(conf->list_mailbox == NULL &&
			    conf->nlist_mailbox == 0, "%s: list unset", what);
			return;
		}
		got = patterns_render(conf->list_mailbox,
		    conf->nlist_mailbox);
		IS_STR(got, want, what);
		free(got);
		return;
	} else
		abort();
	if (unset)
		OK(v == NULL, "%s: %s unset", what, key);
	else
		IS_STR(v, want, what);
	if (strcmp(key, "ignore") == 0)
		OK((conf->ignore_re != NULL) == (v != NULL),
		    "%s: compiled iff set", what);
}

static void
test_load(void)
{
	struct conf conf;
	struct cli cli;
	char *err, *checks, *c, *save, what[64], text[4096], *mbx[2];
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		env_reset();
		memset(&cli, 0, sizeof(cli));
		cli.command = load_cases[i].command;
		cli.nmailboxes = load_cases[i].nmailboxes;
		mbx[0] = (char *)"a";
		mbx[1] = (char *)"b";
		cli.mailboxes = mbx;
		len = unescape_nul(load_cases[i].text, text);
		r = load_text(text, len, &cli, &conf, &err);
		snprintf(what, sizeof(what), "load %zu rc", i);
		IS_INT(r, load_cases[i].rc, what);
		snprintf(what, sizeof(what), "load %zu stderr", i);
		IS_STR(err, load_cases[i].err, what);
		free(err);
		if (r == -1) {
			/* Nothing may be created for a broken config. */
			snprintf(what, sizeof(what), "load %zu", i);
			OK(!exists("data/interimap"),
			    "%s: no data directory", what);
		}
		if (r == 0 && load_cases[i].checks != NULL) {
			checks = xstrdup(load_cases[i].checks);
			for (c = strtok_r(checks, ";", &save); c != NULL;
			    c = strtok_r(NULL, ";", &save)) {
				snprintf(what, sizeof(what), "load %zu %s",
				    i, c);
				check_one(&conf, c, what);
			}
			free(checks);
			/* Made for a relative database only. */
			snprintf(what, sizeof(what), "load %zu", i);
			OK(exists("data/interimap") ==
			    (strncmp(conf.database, T, strlen(T)) == 0),
			    "%s: data directory made iff used", what);
		}
		conf_free(&conf);
	}
}

/* The ways to name the file, and what happens to the directories. */
static void
test_load_file(void)
{
	struct conf conf;
	struct cli cli;
	char *err, *w, path[PATH_MAX], want[PATH_MAX + 64];
	const char *text;
	int r;

	/* Missing default file: message; the config dir is made anyway. */
	env_reset();
	rm_rf(getenv("XDG_CONFIG_HOME"));
	mkdir_p("config");
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	IS_INT(r, -1, "missing config: fails");
	IS_STR(err, "No such config file @T@/config/interimap/config\n",
	    "missing config: message");
	OK(exists("config/interimap"), "missing config: config dir made");
	OK(!exists("data/interimap"), "missing config: no data dir");
	free(err);
	conf_free(&conf);

	/* The default file name. */
	snprintf(path, sizeof(path), "%s/config/interimap/config", T);
	write_file(path, MINIMAL, strlen(MINIMAL), 0600);
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	IS_INT(r, 0, "default config file");
	IS_STR(err, "", "default config file: silent");
	IS_STR(conf.path, path, "default config file: path");
	free(err);
	conf_free(&conf);

	/* An absolute --config, outside the XDG tree. */
	snprintf(path, sizeof(path), "%s/home/my.ini", T);
	write_file(path, MINIMAL, strlen(MINIMAL), 0600);
	memset(&cli, 0, sizeof(cli));
	cli.config = path;
	capture_begin();
	r = conf_load(&conf, &cli);
	err = capture_end();
	IS_INT(r, 0, "absolute --config");
	IS_STR(conf.path, path, "absolute --config: path");
	free(err);
	conf_free(&conf);

	/* A directory is no config file; neither is "". */
	cli.config = (char *)"/";
	capture_begin();
	r = conf_load(&conf, &cli);
	err = capture_end();
	IS_INT(r, -1, "directory --config");
	IS_STR(err, "No such config file /\n", "directory --config: message");
	free(err);
	conf_free(&conf);
	cli.config = (char *)"";
	capture_begin();
	r = conf_load(&conf, &cli);
	err = capture_end();
	IS_INT(r, -1, "empty --config");
	IS_STR(err, "Insecure \n", "empty --config: message");
	free(err);
	conf_free(&conf);

	/* Readable by others: a warning, once, and no failure. */
	snprintf(path, sizeof(path), "%s/config/interimap/config", T);
	write_file(path, MINIMAL, strlen(MINIMAL), 0644);
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	IS_INT(r, 0, "mode 0644: loads");
	snprintf(want, sizeof(want), "WARNING: %s is readable by others and "
	    "may contain passwords\n", path);
	w = replace(want, T, "@T@");
	IS_STR(err, w, "mode 0644: warning, once");
	free(w);
	free(err);
	conf_free(&conf);
	write_file(path, MINIMAL, strlen(MINIMAL), 0640);
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	OK(strstr(err, "readable by others") != NULL, "mode 0640: warning");
	free(err);
	conf_free(&conf);

	/* Bad data directory: a config error, nothing created. */
	env_reset();
	snprintf(path, sizeof(path), "%s/config/interimap/config", T);
	write_file(path, MINIMAL, strlen(MINIMAL), 0600);
	setenv("XDG_DATA_HOME", "", 1);
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	IS_INT(r, -1, "empty XDG_DATA_HOME: fails");
	IS_STR(err, "No such directory: \n", "empty XDG_DATA_HOME: message");
	free(err);
	conf_free(&conf);
	env_reset();

	/* conf_get_bool and conf_get_line. */
	text = "[local]\ncompress = yes\n[remote]\ncompress = no\n";
	write_file(path, text, strlen(text), 0600);
	capture_begin();
	r = conf_load(&conf, NULL);
	err = capture_end();
	IS_INT(r, 0, "bool config");
	free(err);
	IS_INT(conf_get_bool(&conf.local, "compress", 0), 1, "bool yes");
	IS_INT(conf_get_bool(&conf.remote, "compress", 1), 0, "bool no");
	IS_INT(conf_get_bool(&conf.local, "SSL_verify", 1), 1, "bool dflt 1");
	IS_INT(conf_get_bool(&conf.local, "SSL_verify", 0), 0, "bool dflt 0");
	IS_INT(conf_get_bool(&conf.local, "STARTTLS", 0), 1,
	    "bool default STARTTLS");
	IS_INT(conf_get_line(&conf.local, "compress"), 2, "line compress");
	IS_INT(conf_get_line(&conf.remote, "compress"), 4, "line remote");
	IS_INT(conf_get_line(&conf.local, "host"), 0, "line default");
	IS_INT(conf_get_line(&conf.local, "nope"), 0, "line unset");
	conf_free(&conf);
}

/* ignore-mailbox matching on internal names (NUL delimiters). */
static void
test_ignore(void)
{
	struct conf conf;
	char *err;
	static const char text[] =
	    "ignore-mailbox = ^virtual(?:\\x00|$)\n[local]\n[remote]\n";

	env_reset();
	IS_INT(load_text(text, strlen(text), NULL, &conf, &err), 0,
	    "ignore config");
	free(err);
	IS_INT(conf_ignore_match(&conf, "virtual", 7), 1, "ignore virtual");
	IS_INT(conf_ignore_match(&conf, "virtual\0a", 9), 1,
	    "ignore virtual/a");
	IS_INT(conf_ignore_match(&conf, "virtuals", 8), 0, "keep virtuals");
	IS_INT(conf_ignore_match(&conf, "a\0virtual", 9), 0,
	    "keep a/virtual");
	IS_INT(conf_ignore_match(&conf, "INBOX", 5), 0, "keep INBOX");
	conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	IS_INT(conf_ignore_match(&conf, "x", 1), 0, "no ignore-mailbox");
}

/* ------------------------------------------------------------------ */
/* Golden files: NAME.ini with NAME.dump (valid) or NAME.err (broken). */

static void
test_golden(void)
{
	char src[PATH_MAX], dst[PATH_MAX], exp[PATH_MAX], what[PATH_MAX];
	char *text, *want, *err, *buf, *got, *name;
	struct dirent **ents;
	struct conf conf;
	size_t len;
	FILE *fp;
	int i, n, r, ndump = 0, nerr = 0;

	if ((n = scandir(CONF_TEST_DATA, &ents, NULL, alphasort)) == -1) {
		OK(0, "scandir %s", CONF_TEST_DATA);
		return;
	}
	for (i = 0; i < n; i++) {
		name = ents[i]->d_name;
		len = strlen(name);
		if (len < 5 || strcmp(name + len - 4, ".ini") != 0)
			continue;
		env_reset();
		snprintf(src, sizeof(src), "%s/%s", CONF_TEST_DATA, name);
		if ((text = read_file(src)) == NULL)
			abort();
		{
			struct stat st;

			if (stat(src, &st) == -1)
				abort();
			len = (size_t)st.st_size;
		}
		snprintf(dst, sizeof(dst), "%s/config/interimap/%s", T, name);
		write_file(dst, text, len, 0600);
		free(text);

		{
			struct cli cli;

			memset(&cli, 0, sizeof(cli));
			cli.config = name;
			capture_begin();
			r = conf_load(&conf, &cli);
			err = capture_end();
		}
		snprintf(exp, sizeof(exp), "%s/%.*s.dump", CONF_TEST_DATA,
		    (int)(strlen(name) - 4), name);
		if ((want = read_file(exp)) != NULL) {
			ndump++;
			snprintf(what, sizeof(what), "golden %s loads", name);
			IS_INT(r, 0, what);
			snprintf(what, sizeof(what), "golden %s silent", name);
			IS_STR(err, "", what);
			if (r == 0) {
				buf = NULL;
				if ((fp = open_memstream(&buf, &len)) == NULL)
					abort();
				conf_dump(&conf, fp);
				fclose(fp);
				got = replace(buf, T, "@T@");
				snprintf(what, sizeof(what), "golden %s dump",
				    name);
				IS_STR(got, want, what);
				free(got);
				free(buf);
			}
			free(want);
		} else {
			snprintf(exp, sizeof(exp), "%s/%.*s.err",
			    CONF_TEST_DATA, (int)(strlen(name) - 4), name);
			want = read_file(exp);
			nerr++;
			snprintf(what, sizeof(what), "golden %s has .dump or "
			    ".err", name);
			OK(want != NULL, "%s", what);
			snprintf(what, sizeof(what), "golden %s fails", name);
			IS_INT(r, -1, what);
			snprintf(what, sizeof(what), "golden %s message",
			    name);
			if (want != NULL)
				IS_STR(err, want, what);
			snprintf(what, sizeof(what), "golden %s creates "
			    "nothing", name);
			OK(!exists("data/interimap"), "%s", what);
			free(want);
		}
		free(err);
		conf_free(&conf);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	OK(ndump >= 5 && nerr >= 5, "golden files found (%d dumps, %d errors)",
	    ndump, nerr);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(T, sizeof(T), "%s/test_conf.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(T) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* Make sure our own files never warn. */
	umask(022);

	test_ini();
	test_check();
	test_list_mailbox();
	test_xdg();
	test_load();
	test_load_file();
	test_ignore();
	test_golden();

	rm_rf(T);
	return tap_done();
}
