/*
 * Private to the IMAP parser: the grammar that imap_parse.c runs over one
 * complete response held in memory, and the arena the parsed form lives
 * in.  imap_syntax.c holds the arena and the primitives (cursor, errors,
 * atoms, numbers, strings, lists, sets, generic values),
 * imap_syntax_resp.c every response but FETCH, imap_syntax_fetch.c FETCH.
 *
 * The grammar reads a buffer holding one response without its final
 * CRLF; a literal appears in it as "{N}" CRLF followed by its N bytes.
 * In partial mode the buffer ends with the CRLF of a literal whose bytes
 * have not arrived yet (the framer asks the FETCH parser whether that
 * literal is a body to stream); reaching those missing bytes makes the
 * parse "incomplete" rather than wrong.
 *
 * Every function returning int gives 0, or -1 with the cursor's error set
 * (or, in partial mode, incomplete set).
 */
#ifndef NET_IMAP_SYNTAX_H
#define NET_IMAP_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"

/* Memory the parser holds, for imap_parser_mem_hiwat(). */
struct imap_memacct {
	size_t		cur, hiwat;
};

/* Bump allocator; everything is freed at once.  NULL when out of memory. */
struct imap_arena *imap_arena_new(size_t, struct imap_memacct *);
void	*imap_arena_alloc(struct imap_arena *, size_t);
void	 imap_arena_free(struct imap_arena *);
/* Stops charging the arena to the parser's account (resp stolen). */
void	 imap_arena_detach(struct imap_arena *);

struct imap_sx {
	const unsigned char *b;
	size_t		 pos, len;
	int		 partial;	/* b ends at a pending literal */
	int		 incomplete;	/* partial, and we got there */
	int		 failed;
	char		*err;		/* the first error, for humans */
	size_t		 errsz;
	const char	*what;		/* "LIST response"... */
	struct imap_arena *ar;
	const struct imap_limits *lim;
	uint32_t	 depth;
};

void	imap_sx_init(struct imap_sx *, const unsigned char *, size_t,
	    struct imap_arena *, const struct imap_limits *, char *, size_t);

/* ---- the parser's entry points --------------------------------------- */

/* A whole response other than FETCH. */
int	imap_sx_response(struct imap_sx *, struct imap_resp *);

/* FETCH: "* n FETCH (" first, then the items one at a time. */
int	imap_sx_fetch_head(struct imap_sx *, struct imap_fetch *);

struct imap_sx_body {
	char		*section;	/* the item name as sent (arena) */
	int		 whole;		/* BODY[], BINARY[], RFC822 */
	int		 nil;
	int		 pending;	/* a literal whose bytes are to come */
	uint64_t	 size;
	const unsigned char *data;	/* !pending: the bytes */
};

enum imap_sx_fetch_result {
	SX_FX_ITEM,		/* an item was parsed; go on */
	SX_FX_BODY,		/* a body item: see struct imap_sx_body */
	SX_FX_DONE,		/* the closing parenthesis and end of line */
	SX_FX_NEED,		/* incomplete: pos is back at the item */
	SX_FX_ERROR,
};
/* *nitems counts items parsed so far, for the separating spaces. */
enum imap_sx_fetch_result imap_sx_fetch_item(struct imap_sx *,
	    struct imap_fetch *, uint32_t *, struct imap_sx_body *);

/* ---- primitives (imap_syntax.c) --------------------------------------- */

/* Errors: a syntax error at the cursor, or a limit (text as given). */
void	imap_sx_fail(struct imap_sx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	imap_sx_failx(struct imap_sx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Arena allocations that set the cursor's error on failure. */
void	*imap_sx_alloc(struct imap_sx *, size_t);
char	*imap_sx_strndup(struct imap_sx *, const unsigned char *, size_t);

/* A growable array in the arena. */
struct imap_sx_vec {
	void	*v;
	size_t	 n, cap;
};
/* Room for one more element (zeroed); NULL on failure. */
void	*imap_sx_vec_add(struct imap_sx *, struct imap_sx_vec *, size_t);

int	imap_sx_eol(const struct imap_sx *);
int	imap_sx_peek(const struct imap_sx *);	/* -1 at end of line */
int	imap_sx_char(struct imap_sx *, int);	/* expect this byte */
int	imap_sx_end(struct imap_sx *);		/* expect end of line */

/* Character classes of RFC 3501. */
int	imap_sx_atom_char(int);
int	imap_sx_astring_char(int);
int	imap_sx_list_char(int);
int	imap_sx_tag_char(int);
/* How many bytes of the class at the cursor. */
size_t	imap_sx_span(const struct imap_sx *, int (*)(int));
/* The n bytes at the cursor are this keyword (case-insensitive). */
int	imap_sx_word_is(const struct imap_sx *, size_t, const char *);
/* 1*class into *out (arena; out NULL: skip). */
int	imap_sx_token(struct imap_sx *, int (*)(int), char **, const char *);

int	imap_sx_num64(struct imap_sx *, uint64_t *);
int	imap_sx_u32(struct imap_sx *, uint32_t *, int);	/* int: non-zero */
int	imap_sx_modseq(struct imap_sx *, uint64_t *);	/* <= 2^63-1 */

/* Strings; out NULL: skip without allocating. */
int	imap_sx_quoted(struct imap_sx *, char **, size_t *);
int	imap_sx_literal_hdr(struct imap_sx *, uint64_t *);
int	imap_sx_string(struct imap_sx *, char **);
int	imap_sx_is_nil(const struct imap_sx *);
int	imap_sx_nstring(struct imap_sx *, char **);	/* NULL for NIL */
int	imap_sx_astring(struct imap_sx *, char **);
void	imap_sx_inbox_norm(char *);
int	imap_sx_mailbox(struct imap_sx *, char **);	/* INBOX normalised */
int	imap_sx_text(struct imap_sx *, char **);	/* rest of the line */

/* Flags, lists, sets, generic values. */
int	imap_sx_flag(struct imap_sx *, char **, int);	/* int: "\*" ok */
int	imap_sx_flag_list(struct imap_sx *, struct imap_strlist *, int, int);
int	imap_sx_atom_list(struct imap_sx *, struct imap_strlist *, size_t);
int	imap_sx_set(struct imap_sx *, struct imap_set *, int);	/* "*" ok */
int	imap_sx_value(struct imap_sx *, struct imap_value *);	/* NULL: skip */

#endif
