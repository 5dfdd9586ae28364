/*
 * conf_load(): from the file to the effective configuration.
 *
 * Steps, as the reference takes them: resolve the file name (XDG), read
 * it (INI, conf_parse.c), build the default, local and remote sections
 * (default-section keys inherited, defaults applied), validate every key
 * (conf_validate.c), then derive the database path, log settings and
 * LIST parameters.
 *
 * Deliberate differences from the reference, all in what is reported:
 *  - a syntax error is "<file>:<line>: syntax error: <line>" (upstream
 *    says "No such section local", whatever the section);
 *  - errors name the file, the line where there is one, and the key:
 *    "<file>:<line>: Invalid option <key> = <value>";
 *  - list-mailbox and ignore-mailbox are checked on every run, not only
 *    when they are used, so a broken value is found before it matters;
 *    ignore-mailbox is compiled with PCRE2 here;
 *  - a file readable by group or others gets a warning;
 *  - an invalid password is not shown, nor a proxy URI's userinfo;
 *  - UTF-8 values are accepted (see conf_validate.c).
 * Within a section keys are validated in file order (upstream: Perl's
 * hash order), so the first bad line is the one reported.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "log.h"
#include "cli.h"
#include "conf.h"
#include "conf_int.h"
#include "logsink.h"
#include "proxy.h"

#define CONF_MAXSIZE		(16 * 1024 * 1024)
#define CONF_DEFAULT_FILE	"config"
#define CONF_DEFAULT_PREFIX	"%?n?%?m?%n(%m)&%n?: ?"

/*
 * A section being built is a struct ini_section (conf_int.h) with no
 * name: its entries own their strings, which may still hold NUL bytes
 * (the file is raw bytes) until they are validated.
 */

static int	conf_read(const char *, char **, size_t *);
static int	build_section(struct conf *, const struct ini *,
		    const char *, struct conf_section *);
static int	kv_line_cmp(const void *, const void *);
static int	kv_key_cmp(const void *, const void *);
static char	*escape(const char *, size_t);
static char	*shown_value(const struct ini_kv *);
static void	section_free(struct conf_section *);
static int	derive(struct conf *, const struct cli *);
static int	conf_logging(struct conf *, const struct conf_section *);

void
conf_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, "", NULL, fmt, ap);
	va_end(ap);
}

/*
 * A copy of s[0..len) fit for a message: the bytes of control characters
 * as \xHH, C1 included (a terminal may take 0x9B for CSI), whether a
 * lone byte or UTF-8 (C2 80..C2 9F); other UTF-8 is kept, as are stray
 * bytes 0xA0-0xFF.  Caller frees; NULL if out of memory.
 */
static char *
escape(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *e, *p;
	size_t i, k, adv;
	uint32_t cp;

	if ((e = reallocarray(NULL, len + 1, 4)) == NULL)
		return NULL;
	for (p = e, i = 0; i < len; i += adv) {
		cp = conf_utf8_next(u + i, len - i, &adv);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			for (k = 0; k < adv; k++)
				p += snprintf(p, 5, "\\x%02X", u[i + k]);
		} else {
			memcpy(p, u + i, adv);
			p += adv;
		}
	}
	*p = '\0';
	return e;
}

/*
 * A bad value as an error message shows it: escaped, and never a secret
 * (the reference printed them): a password is masked, a proxy URI loses
 * its userinfo.  Caller frees; NULL if out of memory.
 */
static char *
shown_value(const struct ini_kv *kv)
{
	char *e, *r;

	if (strcmp(kv->key, "password") == 0)
		return strdup(kv->vallen > 0 ? "********" : "");
	if ((e = escape(kv->value, kv->vallen)) == NULL ||
	    strcmp(kv->key, "proxy") != 0)
		return e;
	r = socks5_uri_redact(e);
	freezero(e, strlen(e) + 1);
	return r;
}

/*
 * Reads the whole file.  The reference wants an existing regular file it
 * may read, else "No such config file"; we say why when it exists but
 * cannot be read.
 */
static int
conf_read(const char *path, char **pbuf, size_t *plen)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	*pbuf = NULL;
	*plen = 0;
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error("No such config file %s", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		conf_error("Can't open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error("No such config file %s", path);
		(void)close(fd);
		return -1;
	}
	if (st.st_size > CONF_MAXSIZE) {
		conf_error("%s: file too large", path);
		(void)close(fd);
		return -1;
	}
	/* Passwords live here: say so when anyone else may read them. */
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_msg(LOG_LVL_WARN, "", NULL, "WARNING: %s is readable by "
		    "others and may contain passwords", path);

	/* The size is a hint; read until EOF within the bound. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		conf_error("out of memory");
		(void)close(fd);
		return -1;
	}
	for (;;) {
		if (len == (size_t)st.st_size) {
			/* Grown since fstat? One more byte says. */
			char c;

			n = read(fd, &c, 1);
			if (n == 0)
				break;
			if (n == 1) {
				conf_error("%s: changed while read", path);
				goto fail;
			}
		} else
			n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			conf_error("Can't read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	*pbuf = buf;
	*plen = len;
	return 0;
fail:
	freezero(buf, (size_t)st.st_size + 1);
	(void)close(fd);
	return -1;
}

static int
kv_line_cmp(const void *a, const void *b)
{
	const struct ini_kv *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static int
kv_key_cmp(const void *a, const void *b)
{
	const struct conf_kv *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* Adds a default unless key is set. */
#define DEFAULT(b, key, value)						\
	(conf_ini_get((b), (key)) != NULL ? 0 :				\
	    conf_ini_set((b), (key), strlen(key), (value), strlen(value), 0))

/*
 * The effective section name ("_" for the default): a copy of the default
 * section, the section's own keys over it, the reference's defaults for
 * what is still unset, every key validated.
 */
static int
build_section(struct conf *conf, const struct ini *ini, const char *name,
    struct conf_section *out)
{
	const struct ini_section *dflt, *sec;
	const struct ini_kv *ik;
	struct ini_section b = { NULL, 0, NULL, 0 };
	struct ini_kv *kv;
	const char *type;
	char *ek, *ev;
	size_t i;

	out->kv = NULL;
	out->nkv = 0;
	dflt = conf_ini_section(ini, INI_DEFAULT);
	sec = dflt;
	if (strcmp(name, INI_DEFAULT) != 0 &&
	    (sec = conf_ini_section(ini, name)) == NULL) {
		conf_error("%s: No such section %s", conf->path, name);
		return -1;
	}

	for (i = 0; i < dflt->nkv; i++) {
		ik = &dflt->kv[i];
		if (conf_ini_set(&b, ik->key, ik->keylen, ik->value, ik->vallen,
		    ik->line) == -1)
			goto nomem;
	}
	for (i = 0; sec != dflt && i < sec->nkv; i++) {
		ik = &sec->kv[i];
		if (conf_ini_set(&b, ik->key, ik->keylen, ik->value, ik->vallen,
		    ik->line) == -1)
			goto nomem;
	}

	/* The reference's defaults; no port for a tunnel (or a bad type). */
	if (DEFAULT(&b, "type", "imaps") == -1 ||
	    DEFAULT(&b, "host", "localhost") == -1)
		goto nomem;
	type = conf_ini_get(&b, "type");
	if (strcmp(type, "imaps") == 0 && DEFAULT(&b, "port", "993") == -1)
		goto nomem;
	if (strcmp(type, "imap") == 0 && DEFAULT(&b, "port", "143") == -1)
		goto nomem;
	if (DEFAULT(&b, "auth", "PLAIN LOGIN") == -1 ||
	    DEFAULT(&b, "STARTTLS", "YES") == -1)
		goto nomem;

	/* Validate in file order; the defaults (line 0) are valid. */
	qsort(b.kv, b.nkv, sizeof(*b.kv), kv_line_cmp);
	for (i = 0; i < b.nkv; i++) {
		kv = &b.kv[i];
		switch (conf_check(kv->key, kv->keylen, kv->value,
		    kv->vallen)) {
		case CONF_OK:
			break;
		case CONF_BADKEY:
			ek = escape(kv->key, kv->keylen);
			conf_error("%s:%d: Invalid option %s", conf->path,
			    kv->line, ek ? ek : "");
			free(ek);
			goto fail;
		case CONF_BADVALUE:
			ev = shown_value(kv);
			conf_error("%s:%d: Invalid option %s = %s",
			    conf->path, kv->line, kv->key, ev ? ev : "");
			freezero(ev, ev ? strlen(ev) + 1 : 0);
			goto fail;
		}
		if (conf_is_bool(kv->key)) {
			/* Normalised for conf_get_bool() and the dump. */
			ev = conf_dupmem(strcasecmp(kv->value, "YES") == 0 ?
			    "YES" : "NO", strcasecmp(kv->value, "YES") == 0 ?
			    3 : 2);
			if (ev == NULL)
				goto nomem;
			free(kv->value);
			kv->value = ev;
			kv->vallen = strlen(ev);
		}
	}
	/* Which password, if both are given, is not for us to guess. */
	if (conf_ini_get(&b, "password") != NULL &&
	    conf_ini_get(&b, "password-command") != NULL) {
		conf_error("%s: [%s]: password and password-command are both "
		    "set: keep one", conf->path, name);
		goto fail;
	}
	/* Set after validation by the reference, for the servers only. */
	if (strcmp(name, INI_DEFAULT) != 0 &&
	    DEFAULT(&b, "list-reference", "") == -1)
		goto nomem;

	/* Valid keys and values hold no NUL: plain strings from here. */
	if ((out->kv = calloc(b.nkv ? b.nkv : 1, sizeof(*out->kv))) == NULL)
		goto nomem;
	for (i = 0; i < b.nkv; i++) {
		out->kv[i].key = b.kv[i].key;
		out->kv[i].value = b.kv[i].value;
		out->kv[i].line = b.kv[i].line;
		b.kv[i].key = b.kv[i].value = NULL;
		b.kv[i].vallen = 0;
	}
	out->nkv = b.nkv;
	conf_ini_clear(&b);
	qsort(out->kv, out->nkv, sizeof(*out->kv), kv_key_cmp);
	return 0;
nomem:
	conf_error("out of memory");
fail:
	conf_ini_clear(&b);
	return -1;
}

static void
section_free(struct conf_section *s)
{
	size_t i;

	for (i = 0; i < s->nkv; i++) {
		free(s->kv[i].key);
		freezero(s->kv[i].value, strlen(s->kv[i].value) + 1);
	}
	free(s->kv);
	s->kv = NULL;
	s->nkv = 0;
}

/* The settings the reference takes from the default section. */
/*
 * Ours: audit (YES/NO), log-syslog (no, yes, journal) and
 * log-syslog-facility (a syslog facility's name, mail by default).
 */
static int
conf_logging(struct conf *conf, const struct conf_section *def)
{
	static const struct {
		const char	*name;
		int		 code;
	} fac[] = {
		{ "kern", 0 }, { "user", 1 }, { "mail", 2 }, { "daemon", 3 },
		{ "auth", 4 }, { "syslog", 5 }, { "lpr", 6 }, { "news", 7 },
		{ "uucp", 8 }, { "cron", 9 }, { "authpriv", 10 }, { "ftp", 11 },
		{ "local0", 16 }, { "local1", 17 }, { "local2", 18 },
		{ "local3", 19 }, { "local4", 20 }, { "local5", 21 },
		{ "local6", 22 }, { "local7", 23 },
	};
	const char *v;
	size_t i;

	conf->audit = conf_get_bool(def, "audit", 0);
	conf->log_syslog = LOGSINK_SYSLOG_NONE;
	if ((v = conf_get(def, "log-syslog")) != NULL) {
		if (strcasecmp(v, "yes") == 0)
			conf->log_syslog = LOGSINK_SYSLOG;
		else if (strcasecmp(v, "journal") == 0)
			conf->log_syslog = LOGSINK_JOURNAL;
		else if (strcasecmp(v, "no") != 0) {
			conf_error("%s:%d: Invalid option log-syslog = %s "
			    "(no, yes or journal)", conf->path,
			    conf_get_line(def, "log-syslog"), v);
			return -1;
		}
	}
	conf->log_syslog_facility = 2;
	if ((v = conf_get(def, "log-syslog-facility")) != NULL) {
		for (i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
			if (strcasecmp(v, fac[i].name) == 0)
				break;
		if (i == sizeof(fac) / sizeof(fac[0])) {
			conf_error("%s:%d: Invalid option log-syslog-facility "
			    "= %s (a syslog facility: mail, user, daemon, "
			    "local0...)", conf->path,
			    conf_get_line(def, "log-syslog-facility"), v);
			return -1;
		}
		conf->log_syslog_facility = fac[i].code;
	}
	return 0;
}

/*
 * Ours: connections = N (1 to CONF_CONNECTIONS_MAX) in [local] and
 * [remote], or in the default section for both: how many connections a
 * one-shot run may open to that server, each served by a net of its own,
 * so that that many mailboxes are synchronised at once.
 */
static int
conf_connections(struct conf *conf)
{
	const struct conf_section *sec[2] = { &conf->local, &conf->remote };
	const char *v;
	char *end;
	unsigned long n;
	int side;

	for (side = 0; side < 2; side++) {
		conf->connections[side] = 1;
		if ((v = conf_get(sec[side], "connections")) == NULL)
			continue;
		errno = 0;
		n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
		    n < 1 || n > CONF_CONNECTIONS_MAX) {
			conf_error("%s:%d: Invalid option connections = %s "
			    "(a number from 1 to %d)", conf->path,
			    conf_get_line(sec[side], "connections"), v,
			    CONF_CONNECTIONS_MAX);
			return -1;
		}
		conf->connections[side] = (unsigned int)n;
	}
	return 0;
}

/*
 * Ours: sync-method = auto | qresync | condstore | plain in [local] and
 * [remote],
 * or in the default section for both: how a server's changes are found
 * (net/imap_conn.h).  Its net reads the value; checked here so that a
 * typo fails before anything is connected.
 */
static int
conf_sync_method(struct conf *conf)
{
	const struct conf_section *sec[2] = { &conf->local, &conf->remote };
	const char *v;
	int side;

	for (side = 0; side < 2; side++) {
		if ((v = conf_get(sec[side], "sync-method")) == NULL ||
		    strcasecmp(v, "auto") == 0 ||
		    strcasecmp(v, "qresync") == 0 ||
		    strcasecmp(v, "condstore") == 0 ||
		    strcasecmp(v, "plain") == 0)
			continue;
		conf_error("%s:%d: Invalid option sync-method = %s (auto, "
		    "qresync, condstore or plain)", conf->path,
		    conf_get_line(sec[side], "sync-method"), v);
		return -1;
	}
	return 0;
}

static int
derive(struct conf *conf, const struct cli *cli)
{
	const struct conf_section *def = &conf->def;
	const char *v;
	char *db;
	struct conf_pattern *pats;
	size_t npats, i;
	pcre2_code *re;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int err, listing;

	/* LIST parameters apply to a sync or --repair without MAILBOX. */
	listing = cli == NULL || ((cli->command == CMD_SYNC ||
	    cli->command == CMD_REPAIR) && cli->nmailboxes == 0);

	if ((v = conf_get(def, "list-mailbox")) != NULL) {
		if (conf_list_mailbox(v, &pats, &npats) == -1) {
			conf_error("%s:%d: Invalid value for list-mailbox: %s",
			    conf->path, conf_get_line(def, "list-mailbox"), v);
			return -1;
		}
		if (listing) {
			conf->list_mailbox = pats;
			conf->nlist_mailbox = npats;
		} else
			conf_patterns_free(pats, npats);
	}

	if ((v = conf_get(def, "list-select-opts")) != NULL && *v != '\0' &&
	    (cli == NULL || cli->command == CMD_SYNC ||
	    cli->command == CMD_REPAIR)) {
		if ((conf->list_select_opts = strdup(v)) == NULL)
			goto nomem;
		for (i = 0; conf->list_select_opts[i] != '\0'; i++)
			if (conf->list_select_opts[i] >= 'a' &&
			    conf->list_select_opts[i] <= 'z')
				conf->list_select_opts[i] -= 'a' - 'A';
	}

	if ((v = conf_get(def, "ignore-mailbox")) != NULL) {
		/* Perl's qr// on bytes: no flags, never UTF mode. */
		re = pcre2_compile((PCRE2_SPTR)v, strlen(v), PCRE2_NEVER_UTF,
		    &err, &off, NULL);
		if (re == NULL) {
			if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
				(void)strlcpy((char *)msg, "unknown error",
				    sizeof(msg));
			conf_error("%s:%d: Invalid option ignore-mailbox = %s: "
			    "%s at offset %zu", conf->path,
			    conf_get_line(def, "ignore-mailbox"), v,
			    (char *)msg, (size_t)off);
			return -1;
		}
		if (listing) {
			if ((conf->ignore_mailbox = strdup(v)) == NULL) {
				pcre2_code_free(re);
				goto nomem;
			}
			conf->ignore_re = re;
		} else
			pcre2_code_free(re);
	}

	v = conf_get(def, "log-prefix");
	if ((conf->log_prefix = strdup(v != NULL ? v : CONF_DEFAULT_PREFIX)) ==
	    NULL)
		goto nomem;
	if ((v = conf_get(def, "logfile")) != NULL &&
	    (conf->logfile = strdup(v)) == NULL)
		goto nomem;
	if (conf_logging(conf, def) == -1 || conf_connections(conf) == -1 ||
	    conf_sync_method(conf) == -1)
		return -1;
	if ((v = conf_get(def, "log-syslog-socket")) != NULL &&
	    (conf->log_syslog_socket = strdup(v)) == NULL)
		goto nomem;

	/*
	 * The database: "database" from the default section, else the remote
	 * host's name (which defaults to localhost, so upstream's "Missing
	 * option database" cannot happen).  Resolved last: it creates the
	 * data directory, and nothing may be created for a broken config.
	 */
	if ((v = conf_get(def, "database")) != NULL)
		db = strdup(v);
	else if (asprintf(&db, "%s.db", conf_get(&conf->remote, "host")) ==
	    -1)
		db = NULL;
	if (db == NULL)
		goto nomem;
	conf->database = conf_xdg_path("XDG_DATA_HOME", ".local/share", db);
	free(db);
	return conf->database == NULL ? -1 : 0;
nomem:
	conf_error("out of memory");
	return -1;
}

int
conf_load(struct conf *conf, const struct cli *cli)
{
	struct ini ini;
	char *buf, *et;
	size_t len;
	int r;

	memset(conf, 0, sizeof(*conf));
	conf->path = conf_xdg_path("XDG_CONFIG_HOME", ".config",
	    cli != NULL && cli->config != NULL ? cli->config :
	    CONF_DEFAULT_FILE);
	if (conf->path == NULL)
		return -1;
	if (conf_read(conf->path, &buf, &len) == -1)
		return -1;

	r = conf_ini_parse(&ini, buf, len);
	freezero(buf, len + 1);
	if (r == -1) {
		if (ini.errline == 0)
			conf_error("out of memory");
		else if (ini.errvallen > 0) {
			et = escape(ini.errtext, ini.errlen);
			conf_error("%s:%d: value too long: %s (%zu bytes, at "
			    "most %d)", conf->path, ini.errline, et ? et : "",
			    ini.errvallen, CONF_VALUE_MAX);
			free(et);
		} else {
			et = escape(ini.errtext, ini.errlen);
			conf_error("%s:%d: syntax error: %s", conf->path,
			    ini.errline, et ? et : "");
			freezero(et, et ? strlen(et) + 1 : 0);
		}
		conf_ini_free(&ini);
		return -1;
	}

	/* The reference's order: default, local, remote. */
	r = build_section(conf, &ini, INI_DEFAULT, &conf->def);
	if (r == 0)
		r = build_section(conf, &ini, "local", &conf->local);
	if (r == 0)
		r = build_section(conf, &ini, "remote", &conf->remote);
	conf_ini_free(&ini);
	if (r == -1)
		return -1;
	return derive(conf, cli);
}

void
conf_free(struct conf *conf)
{
	free(conf->path);
	section_free(&conf->def);
	section_free(&conf->local);
	section_free(&conf->remote);
	free(conf->database);
	free(conf->logfile);
	free(conf->log_prefix);
	free(conf->log_syslog_socket);
	conf_patterns_free(conf->list_mailbox, conf->nlist_mailbox);
	free(conf->list_select_opts);
	free(conf->ignore_mailbox);
	pcre2_code_free(conf->ignore_re);
	memset(conf, 0, sizeof(*conf));
}

const char *
conf_get(const struct conf_section *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].value;
	return NULL;
}

int
conf_get_bool(const struct conf_section *s, const char *key, int dflt)
{
	const char *v;

	if ((v = conf_get(s, key)) == NULL)
		return dflt;
	return strcasecmp(v, "YES") == 0;
}

int
conf_get_line(const struct conf_section *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].line;
	return 0;
}

int
conf_ignore_match(const struct conf *conf, const char *name, size_t len)
{
	pcre2_match_data *md;
	int r;

	if (conf->ignore_re == NULL)
		return 0;
	md = pcre2_match_data_create_from_pattern(conf->ignore_re, NULL);
	if (md == NULL)
		return -1;
	r = pcre2_match(conf->ignore_re, (PCRE2_SPTR)name, len, 0, 0, md,
	    NULL);
	pcre2_match_data_free(md);
	if (r >= 0)
		return 1;
	return r == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
