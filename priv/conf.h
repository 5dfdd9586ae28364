/*
 * The configuration file (INI, the reference's rules and keys) and the
 * settings derived from it.
 */
#ifndef PRIV_CONF_H
#define PRIV_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "ipc.h"

/* connections = N: at most one net per lane (ipc/proc.h). */
#define CONF_CONNECTIONS_MAX	IPC_LANES_MAX

struct cli;

/* One effective section: default-section keys, overlaid, defaults applied. */
struct conf_kv {
	char		*key;
	char		*value;		/* YES/NO options: "YES" or "NO" */
	int		 line;		/* where it was set; 0 for a default */
};

struct conf_section {
	struct conf_kv	*kv;		/* sorted by key (strcmp) */
	size_t		 nkv;
};

/* A list-mailbox pattern: may contain NUL (the delimiter stand-in). */
struct conf_pattern {
	char		*bytes;		/* NUL-terminated after len bytes */
	size_t		 len;
};

/*
 * The settings below "path" are derived.  Those the reference only uses
 * for a sync or --repair without MAILBOX arguments (list_mailbox,
 * list_select_opts, ignore_mailbox/ignore_re) are validated in every
 * case but left NULL when they do not apply, so a caller can take them
 * as they are.
 */
struct conf {
	char			*path;		/* the config file */
	struct conf_section	 def, local, remote;
	char			*database;	/* absolute path */
	char			*logfile;	/* NULL: stderr only */
	char			*log_prefix;	/* never NULL */
	int			 audit;		/* audit = yes */
	/* connections = N of [local] and [remote] (1 by default). */
	unsigned int		 connections[2];
	int			 log_syslog;	/* LOGSINK_* (logsink.h) */
	int			 log_syslog_facility; /* syslog code, e.g. 2 */
	char			*log_syslog_socket; /* NULL: the default */
	struct conf_pattern	*list_mailbox;	/* NULL if unset */
	size_t			 nlist_mailbox;
	char			*list_select_opts; /* upper-cased; NULL */
	char			*ignore_mailbox;   /* PCRE2 source; NULL */
	void			*ignore_re;	   /* pcre2_code * */
};

/*
 * Reads the config file (--config or the XDG default), validates every
 * key and derives the settings; the directory of the database is created
 * (as the reference does), nothing else is touched.  Returns 0, or -1
 * after printing the reason (the caller exits with EXIT_CONFIG).  cli may
 * be NULL (a plain sync, default config file).  Free with conf_free(),
 * also after a failure.
 */
int		 conf_load(struct conf *, const struct cli *);
/* Frees what conf_load() allocated, wiping the values (passwords). */
void		 conf_free(struct conf *);

/* NULL when the key is unset. */
const char	*conf_get(const struct conf_section *, const char *);
/* YES/NO keys: 1/0, or dflt when unset. */
int		 conf_get_bool(const struct conf_section *, const char *, int);
/* Line of the file where key was set, 0 for a default or an unset key. */
int		 conf_get_line(const struct conf_section *, const char *);

/*
 * ignore-mailbox against an internal mailbox name (delimiters as NUL):
 * 1 if it matches, 0 if not (or no ignore-mailbox applies), -1 if PCRE2
 * failed (e.g. match limit).
 */
int		 conf_ignore_match(const struct conf *, const char *, size_t);

/*
 * Test hook (INTERIMAP_TEST_DUMP_CONFIG=1): the normalised configuration,
 * sections and keys sorted, passwords masked, every value quoted.  In
 * conf_dump.c, linked into the test build and test_conf only.
 */
void		 conf_dump(const struct conf *, FILE *);

#endif
