/*
 * conf_dump() (conf.h), for the tests only: compiled into the test build
 * (interimap-test, with ipc/testhooks.c's INTERIMAP_TEST_DUMP_CONFIG) and
 * test_conf, never into the installed binary (tests/integration/
 * release_hooks.sh looks for its strings there).
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"

static void	dump_quoted(FILE *, const char *, size_t);
static void	dump_section(FILE *, const char *, const struct conf_section *);

/* "..." with \" \\ and control bytes as \xHH: unambiguous, one line. */
static void
dump_quoted(FILE *fp, const char *s, size_t len)
{
	size_t i;

	fputc('"', fp);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02X", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void
dump_section(FILE *fp, const char *name, const struct conf_section *s)
{
	size_t i;

	fprintf(fp, "[%s]\n", name);
	for (i = 0; i < s->nkv; i++) {
		fprintf(fp, "%s = ", s->kv[i].key);
		if (strcmp(s->kv[i].key, "password") == 0)
			fputs("\"********\"", fp);
		else
			dump_quoted(fp, s->kv[i].value, strlen(s->kv[i].value));
		fputc('\n', fp);
	}
}

void
conf_dump(const struct conf *conf, FILE *fp)
{
	size_t i;

	fputs("# config ", fp);
	dump_quoted(fp, conf->path, strlen(conf->path));
	fputc('\n', fp);
	dump_section(fp, "_", &conf->def);
	dump_section(fp, "local", &conf->local);
	dump_section(fp, "remote", &conf->remote);
	fputs("# derived\n", fp);
	fputs("database = ", fp);
	dump_quoted(fp, conf->database, strlen(conf->database));
	fputs("\nlogfile = ", fp);
	if (conf->logfile != NULL)
		dump_quoted(fp, conf->logfile, strlen(conf->logfile));
	else
		fputs("none", fp);
	fputs("\nlog-prefix = ", fp);
	dump_quoted(fp, conf->log_prefix, strlen(conf->log_prefix));
	fputs("\nlist-mailbox =", fp);
	if (conf->list_mailbox == NULL)
		fputs(" none", fp);
	for (i = 0; i < conf->nlist_mailbox; i++) {
		fputc(' ', fp);
		dump_quoted(fp, conf->list_mailbox[i].bytes,
		    conf->list_mailbox[i].len);
	}
	fputs("\nlist-select-opts = ", fp);
	if (conf->list_select_opts != NULL)
		dump_quoted(fp, conf->list_select_opts,
		    strlen(conf->list_select_opts));
	else
		fputs("none", fp);
	fputs("\nignore-mailbox = ", fp);
	if (conf->ignore_mailbox != NULL)
		dump_quoted(fp, conf->ignore_mailbox,
		    strlen(conf->ignore_mailbox));
	else
		fputs("none", fp);
	fputc('\n', fp);
}
