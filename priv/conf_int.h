/*
 * Internals of the configuration module, shared by conf.c, conf_parse.c,
 * conf_validate.c, xdg.c and the unit test; nothing outside priv/conf*
 * and priv/xdg.c includes this.
 */
#ifndef PRIV_CONF_INT_H
#define PRIV_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

struct conf_pattern;

/*
 * The INI file as read, before any validation.  Keys and values are
 * NUL-terminated copies but may hold NUL bytes themselves (the file is
 * raw bytes), hence the lengths.
 */
struct ini_kv {
	char		*key;
	size_t		 keylen;
	char		*value;
	size_t		 vallen;
	int		 line;
};

struct ini_section {
	char		*name;
	size_t		 namelen;
	struct ini_kv	*kv;
	size_t		 nkv;
};

struct ini {
	struct ini_section *sec;	/* sec[0] is always "_", the default */
	size_t		 nsec;
	/*
	 * On a syntax error: its line number and the line text; on a value
	 * longer than CONF_VALUE_MAX (errvallen set): the line number and
	 * the key.
	 */
	int		 errline;
	char		*errtext;
	size_t		 errlen;
	size_t		 errvallen;
};

#define INI_DEFAULT	"_"

/*
 * The longest value a line may give a key, in bytes.  A section's keys
 * reach its net in one IMSG_NET_CONF (at most 64 KiB, ipc/catalogue.h):
 * the 17 keys a net gets (type, host, STARTTLS, auth, username, password,
 * compress and the 10 SSL_* keys), each at most this long, and the
 * oauth-token (at most CONNECT_CMD_OUT_MAX, 4 KiB) fit with room to
 * spare, whatever the file holds.  No sane value comes near it.
 */
#define CONF_VALUE_MAX	3072

/*
 * Parses buf (len bytes) with Config::Tiny's rules.  Returns 0, or -1 on
 * a syntax error (ini->errline, ini->errtext set), a value too long
 * (errline, errtext the key, errvallen the value's length) or out of
 * memory (errline 0).  The caller frees with conf_ini_free() in either case.
 */
int	 conf_ini_parse(struct ini *, const char *, size_t);
void	 conf_ini_free(struct ini *);
/* The section named name, or NULL. */
const struct ini_section *conf_ini_section(const struct ini *, const char *);
/*
 * One section's keys, also used to build the effective sections
 * (conf.c): conf_ini_set() sets key (klen bytes) to a copy of the value
 * (a repeated key keeps its place and takes the new line), 0 or -1 if
 * out of memory; conf_ini_get() is the value or NULL; conf_ini_clear()
 * frees the keys, wiping the values (passwords), not the name.
 */
int	 conf_ini_set(struct ini_section *, const char *, size_t, const char *,
	    size_t, int);
const char *conf_ini_get(const struct ini_section *, const char *);
void	 conf_ini_clear(struct ini_section *);
/* A NUL-terminated copy of n bytes that may hold NUL; NULL if no memory. */
char	*conf_dupmem(const char *, size_t);

/* Decoding of values as UTF-8, invalid bytes standing for Latin-1. */
uint32_t conf_utf8_next(const unsigned char *, size_t, size_t *);
/* 1 if no code point of s[0..len) is a control character (Cc). */
int	 conf_nocontrol(const char *, size_t);
/* 1 if every code point is printable (Cc, U+2028, U+2029 are not). */
int	 conf_printable(const char *, size_t);

/* Value validation. */
enum conf_check {
	CONF_OK = 0,
	CONF_BADVALUE = -1,
	CONF_BADKEY = -2,
};
enum conf_check conf_check(const char *, size_t, const char *, size_t);
/* 1 if key is one of the YES/NO options. */
int	 conf_is_bool(const char *);

/*
 * Tokenises a list-mailbox value.  Returns 0 and a new array (caller frees
 * with conf_patterns_free()), or -1 if the value is malformed.
 */
int	 conf_list_mailbox(const char *, struct conf_pattern **, size_t *);
void	 conf_patterns_free(struct conf_pattern *, size_t);

/*
 * The reference's XDG rule: path if absolute, else
 * <$envvar or $HOME/fallback>/interimap/path, creating the interimap
 * directory (mode 0700).  Returns a string the caller frees, or NULL after
 * logging the reason.
 */
char	*conf_xdg_path(const char *, const char *, const char *);

/* Errors go through the log with no name: stderr until logsink_init(). */
void	 conf_error(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
