/*
 * The configuration file (INI, the reference's rules and keys) and the
 * settings derived from it.
 */
#ifndef PRIV_CONF_H
#define PRIV_CONF_H

#include <stddef.h>

/* One effective section: default-section keys, overlaid, defaults applied. */
struct conf_kv {
	char		*key;
	char		*value;
	int		 line;		/* where it was set; 0 for a default */
};

struct conf_section {
	struct conf_kv	*kv;
	size_t		 nkv;
};

/* A list-mailbox pattern: may contain NUL (the delimiter stand-in). */
struct conf_pattern {
	char		*bytes;
	size_t		 len;
};

struct conf {
	char			*path;		/* the config file */
	struct conf_section	 def, local, remote;
	char			*database;	/* absolute path */
	char			*logfile;	/* NULL: stderr only */
	char			*log_prefix;	/* never NULL */
	struct conf_pattern	*list_mailbox;	/* NULL if unset */
	size_t			 nlist_mailbox;
	char			*list_select_opts; /* upper-cased; NULL */
	char			*ignore_mailbox;   /* PCRE2 source; NULL */
	void			*ignore_re;	   /* pcre2_code * */
};

/* NULL when the key is unset. */
const char	*conf_get(const struct conf_section *, const char *);
/* YES/NO keys: 1/0, or dflt when unset. */
int		 conf_get_bool(const struct conf_section *, const char *, int);

#endif
