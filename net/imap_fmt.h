/*
 * Formatting IMAP command arguments (the client side of RFC 3501 section
 * 9), the way the reference does (REFERENCE-BEHAVIOUR.md section 4.4):
 *
 * - a string is sent as an atom if it is one or more ASTRING-CHARs
 *   (printable ASCII but SP " % ( ) * \ { and DEL; "]" allowed), else
 *   double-quoted (with \ and " escaped) if every byte is a TEXT-CHAR
 *   (0x01-0x7f but CR and LF; the empty string too), else as a literal.
 *   Whether the literal is synchronising ({N}, wait for "+") or not
 *   ({N+}, LITERAL+) is the caller's choice: the formatter only says that
 *   a literal is needed and writes its header;
 * - flag lists "(\Seen foo)", dates "\"dd-Mon-yyyy hh:mm:ss +zzzz\"".
 *
 * UID sets (compaction, splitting, the QRESYNC sample) are uidset.h.
 *
 * struct imap_buf is a growable byte buffer, always NUL-terminated after
 * len.  An allocation failure is remembered: later appends do nothing and
 * imap_buf_ok() returns -1, so a caller checks once at the end.
 */
#ifndef NET_IMAP_FMT_H
#define NET_IMAP_FMT_H

#include <stddef.h>
#include <stdint.h>

struct imap_buf {
	char	*data;
	size_t	 len, cap;
	int	 failed;
};

void	imap_buf_init(struct imap_buf *);
void	imap_buf_free(struct imap_buf *);
void	imap_buf_reset(struct imap_buf *);	/* len = 0, keep memory */
void	imap_buf_add(struct imap_buf *, const void *, size_t);
void	imap_buf_str(struct imap_buf *, const char *);
void	imap_buf_printf(struct imap_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	imap_buf_ok(const struct imap_buf *);	/* 0, or -1 if out of memory */

enum imap_astr {
	IMAP_ASTR_ATOM,
	IMAP_ASTR_QUOTED,
	IMAP_ASTR_LITERAL,
};

/* How the string (bytes) must be sent. */
enum imap_astr imap_astring_kind(const void *, size_t);
/*
 * Appends the string as an atom or a quoted string and says which; for
 * IMAP_ASTR_LITERAL nothing is written: the caller writes
 * imap_fmt_literal_hdr() and then the bytes themselves (after the "+"
 * continuation unless nonsync).
 */
enum imap_astr imap_fmt_astring(struct imap_buf *, const void *, size_t);
/* Always quoted; -1 (nothing written) if a byte is not a TEXT-CHAR. */
int	imap_fmt_quoted(struct imap_buf *, const void *, size_t);
/* "{N}" CRLF, or "{N+}" CRLF when nonsync (LITERAL+). */
void	imap_fmt_literal_hdr(struct imap_buf *, uint64_t, int);

/* 1 if s (n bytes) is a flag: "\" atom or atom (no "\*"). */
int	imap_flag_valid(const char *, size_t);
/*
 * Appends "(" flags ")" from a space-separated list (empty: "()"),
 * leaving out \Recent (case-insensitively) when drop_recent, since no
 * server lets a client set it.  -1, nothing written, if a flag is not
 * valid.
 */
int	imap_fmt_flag_list(struct imap_buf *, const char *, int);
/*
 * The canonical form interimap compares and stores: the flags sorted
 * bytewise, \Recent removed case-insensitively, joined by single spaces
 * ("" for none).  Caller frees; NULL if out of memory.
 */
char	*imap_flags_join(char *const *, size_t);
/* Appends "\"date\""; -1, nothing written, if not an RFC 3501 date-time. */
int	imap_fmt_date(struct imap_buf *, const char *);

#endif
