/*
 * The IMAP response parser: bytes from the server in, typed events out.
 *
 * Where it sits.  The net child reads from its peer (through TLS and
 * inflate, net/tls.c and net/compress.c) into a buffer of its own and
 * hands each buffer to the parser; what the parser gives back is already
 * structured, so no server byte is interpreted anywhere else.  Nothing
 * here reads a socket, logs or exits: a hostile server can make the
 * parser report an error, never crash it, hang it or make it allocate
 * without bound.
 *
 * Model (pull, zero-copy for bodies):
 *
 *	imap_parser_feed(p, buf, n);		buf stays valid and unchanged
 *	while ((t = imap_parser_next(p, &ev)) != IMAP_EV_NEED_MORE) {
 *		if (t == IMAP_EV_ERROR || t == IMAP_EV_EOF)
 *			end the session (ev.error says why);
 *		handle ev;
 *	}
 *	read more, feed again; at end of stream call imap_parser_eof(p)
 *	and drain imap_parser_next() once more.
 *
 * IMAP_EV_NEED_MORE means the whole window given to imap_parser_feed()
 * has been consumed (a partial line is copied into the parser), so the
 * caller may reuse its buffer.
 *
 * Framing and bounds.  A response is a line, possibly continued after
 * literals {N}.  The parser keeps the current response (its line bytes
 * and the small literals inside it) in one buffer of at most
 * limits.line_max bytes; a longer response is an error, so an endless
 * line costs line_max bytes and no more.  A literal is absorbed into that
 * buffer if it is at most limits.literal_max bytes (mailbox names,
 * ENVELOPE strings...); a bigger one is an error, except when it is the
 * value of a FETCH body item (BODY[...]<...>, BINARY[...], RFC822,
 * RFC822.HEADER, RFC822.TEXT): those are never buffered.  The parser
 * then reports, in order,
 *
 *	IMAP_EV_BODY_BEGIN	with ev.fetch = the items of this FETCH seen
 *				so far (seq, and UID, MODSEQ, FLAGS... when
 *				the server sent them before the body), the
 *				section name and the announced size;
 *	IMAP_EV_BODY_CHUNK	ev.data/ev.len, pointing into the caller's
 *				buffer (or the parser's), valid until the
 *				next call; zero or more, summing to the size;
 *	IMAP_EV_BODY_END;
 *
 * and carries on with the rest of the FETCH, which ends with the
 * IMAP_EV_RESPONSE of the complete FETCH (every item, the body's size and
 * state, but not its bytes).  Quoted (and small, already absorbed)
 * bodies produce the same three events.  A body literal larger than
 * limits.body_max produces IMAP_EV_BODY_TOOBIG instead (ev.error says
 * so); its bytes are consumed and dropped so the stream stays in sync,
 * and the FETCH's body_state says IMAP_BODY_SKIPPED.  Sizes are parsed
 * as uint64 with overflow checks: a claimed 100 TB literal allocates
 * nothing.
 *
 * Errors.  Anything that is not IMAP (syntax errors, NUL bytes, lines not
 * ending in CRLF, unbalanced parentheses, numbers out of range, limits
 * exceeded, end of stream inside a response) yields IMAP_EV_ERROR with a
 * message naming the problem; the parser then stays in that state (every
 * later call returns the same error) because the stream can no longer be
 * trusted: the consumer ends the session.  Unknown untagged responses
 * and unknown FETCH items or response codes are not errors: they are
 * kept generically or skipped.
 *
 * Ownership.  ev.resp of IMAP_EV_RESPONSE belongs to the parser and lives
 * until the next imap_parser_next() or imap_parser_free(), unless the
 * caller takes it with imap_parser_steal() and later imap_resp_free()s
 * it.  Every string in a response is NUL-terminated (NUL bytes are never
 * accepted outside body literals) and lives as long as the response.
 * Mailbox names are bytes as sent (modified UTF-7 untouched), except that
 * a name equal to INBOX case-insensitively is reported as "INBOX".
 */
#ifndef NET_IMAP_PARSE_H
#define NET_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct imap_limits {
	size_t		line_max;	/* one response: line bytes, CRLFs
					   and absorbed literals */
	size_t		literal_max;	/* a literal that is not a body */
	uint64_t	body_max;	/* a FETCH body; bigger: skipped */
	size_t		chunk_max;	/* largest BODY_CHUNK (0: no limit) */
	uint32_t	literals_max;	/* literals in one response */
	uint32_t	depth_max;	/* nesting of parenthesised lists */
	uint32_t	set_max;	/* ranges in one sequence set */
	size_t		mem_max;	/* parsed form of one response */
};

#define IMAP_DEF_LINE_MAX	(1024 * 1024)
#define IMAP_DEF_LITERAL_MAX	(64 * 1024)
#define IMAP_DEF_BODY_MAX	((uint64_t)1 << 30)
#define IMAP_DEF_CHUNK_MAX	(64 * 1024)
#define IMAP_DEF_LITERALS_MAX	4096
#define IMAP_DEF_DEPTH_MAX	64
#define IMAP_DEF_SET_MAX	(256 * 1024)
#define IMAP_DEF_MEM_MAX	(16 * IMAP_DEF_LINE_MAX)

/* Fills in the defaults above. */
void	imap_limits_default(struct imap_limits *);

/* ---- parsed responses ------------------------------------------------ */

enum imap_resp_type {
	IMAP_RESP_TAGGED = 1,	/* tag OK/NO/BAD: tag, cond */
	IMAP_RESP_CONT,		/* "+ text" or a bare "+": cond.text */
	IMAP_RESP_COND,		/* * OK/NO/BAD/PREAUTH/BYE: cond */
	IMAP_RESP_CAPABILITY,	/* atoms */
	IMAP_RESP_ENABLED,	/* atoms (possibly none) */
	IMAP_RESP_FLAGS,	/* atoms: the flags */
	IMAP_RESP_LIST,		/* list (LIST, and LSUB with list.lsub) */
	IMAP_RESP_STATUS,	/* status */
	IMAP_RESP_EXISTS,	/* num */
	IMAP_RESP_RECENT,	/* num */
	IMAP_RESP_EXPUNGE,	/* num */
	IMAP_RESP_FETCH,	/* fetch */
	IMAP_RESP_VANISHED,	/* vanished */
	IMAP_RESP_SEARCH,	/* search */
	IMAP_RESP_ESEARCH,	/* esearch */
	IMAP_RESP_OTHER,	/* other: an untagged response we don't know */
};

enum imap_cond_status {
	IMAP_COND_OK = 1,
	IMAP_COND_NO,
	IMAP_COND_BAD,
	IMAP_COND_PREAUTH,
	IMAP_COND_BYE,
};

/* Response codes ("[...]" at the start of a response text). */
enum imap_rc {
	IMAP_RC_NONE = 0,	/* no code */
	IMAP_RC_ALERT,
	IMAP_RC_BADCHARSET,	/* list: the charsets, if given */
	IMAP_RC_CAPABILITY,	/* list */
	IMAP_RC_PARSE,
	IMAP_RC_PERMANENTFLAGS,	/* list (may hold "\*") */
	IMAP_RC_READ_ONLY,
	IMAP_RC_READ_WRITE,
	IMAP_RC_TRYCREATE,
	IMAP_RC_UIDNEXT,	/* num */
	IMAP_RC_UIDVALIDITY,	/* num */
	IMAP_RC_UNSEEN,		/* num */
	IMAP_RC_HIGHESTMODSEQ,	/* modseq */
	IMAP_RC_NOMODSEQ,
	IMAP_RC_MODIFIED,	/* set */
	IMAP_RC_CLOSED,
	IMAP_RC_UIDNOTSTICKY,
	IMAP_RC_APPENDUID,	/* num = uidvalidity, set = the new uids */
	IMAP_RC_COPYUID,	/* num = uidvalidity, set = source uids,
				   set2 = destination uids */
	IMAP_RC_COMPRESSIONACTIVE,
	IMAP_RC_NOTIFICATIONOVERFLOW,
	IMAP_RC_BADEVENT,	/* list: the events */
	IMAP_RC_OTHER,		/* name and arg only */
};

/* A list of strings (atoms, flags, capabilities). */
struct imap_strlist {
	char		**v;
	size_t		  n;
};

/*
 * A sequence or UID set: ranges in the order the server sent them, each
 * with lo <= hi.  IMAP_SET_STAR (0, which no sequence number or UID can
 * be) stands for "*"; a range with a "*" end has that end in hi
 * ("5:*" and "*:5" both are {5, IMAP_SET_STAR}).  Sets that may not hold
 * "*" (uid-set, known-uids) are rejected when they do.
 */
#define IMAP_SET_STAR	0U
struct imap_range {
	uint32_t	lo, hi;
};
struct imap_set {
	struct imap_range *r;
	size_t		  n;
};

struct imap_code {
	enum imap_rc	 kind;
	char		*name;		/* as sent, NULL if no code */
	char		*arg;		/* raw text after "NAME ", or NULL */
	uint32_t	 num;
	uint64_t	 modseq;
	struct imap_strlist list;
	struct imap_set	 set, set2;
};

struct imap_cond {
	enum imap_cond_status status;	/* 0 for IMAP_RESP_CONT */
	struct imap_code code;
	char		*text;		/* human text, "" if none */
};

/* A generic value (RFC 4466 tagged-ext-val and the like). */
enum imap_val_type {
	IMAP_VAL_NIL = 1,
	IMAP_VAL_ATOM,		/* also numbers and sequence sets */
	IMAP_VAL_STRING,	/* quoted or literal */
	IMAP_VAL_LIST,
};
struct imap_value {
	enum imap_val_type type;
	char		*str;		/* ATOM, STRING */
	struct imap_value *v;		/* LIST elements */
	size_t		 n;
};

struct imap_ext_item {
	char		*tag;
	struct imap_value val;
};

struct imap_list {
	int		 lsub;
	struct imap_strlist attrs;	/* as sent, e.g. "\HasChildren" */
	int		 delim;		/* the delimiter byte, -1 for NIL */
	char		*name;
	struct imap_ext_item *ext;	/* LIST-EXTENDED data items */
	size_t		 next;
	int		 has_childinfo;
	struct imap_strlist childinfo;	/* CHILDINFO options */
	char		*oldname;	/* OLDNAME, or NULL */
};

/* STATUS items present (imap_status_resp.mask). */
#define IMAP_SA_MESSAGES	0x01
#define IMAP_SA_RECENT		0x02
#define IMAP_SA_UIDNEXT		0x04
#define IMAP_SA_UIDVALIDITY	0x08
#define IMAP_SA_UNSEEN		0x10
#define IMAP_SA_HIGHESTMODSEQ	0x20

struct imap_status_resp {
	char		*name;
	uint32_t	 mask;
	uint32_t	 messages, recent, uidnext, uidvalidity, unseen;
	uint64_t	 highestmodseq;
};

/* FETCH items present (imap_fetch.mask). */
#define IMAP_FA_UID		0x01
#define IMAP_FA_MODSEQ		0x02
#define IMAP_FA_FLAGS		0x04
#define IMAP_FA_INTERNALDATE	0x08
#define IMAP_FA_RFC822_SIZE	0x10
#define IMAP_FA_ENVELOPE	0x20
#define IMAP_FA_BODY		0x40	/* BODY[], BINARY[] or RFC822 */

enum imap_body_state {
	IMAP_BODY_NONE = 0,	/* no whole-message body item */
	IMAP_BODY_NIL,		/* the server sent NIL */
	IMAP_BODY_DATA,		/* delivered by BODY_BEGIN/CHUNK/END */
	IMAP_BODY_SKIPPED,	/* larger than body_max: BODY_TOOBIG */
};

struct imap_fetch {
	uint32_t	 seq;
	uint32_t	 mask;
	uint32_t	 uid;
	uint64_t	 modseq;
	struct imap_strlist flags;	/* \Recent removed */
	char		*internaldate;	/* as sent, syntax checked */
	uint64_t	 rfc822_size;
	/*
	 * ENVELOPE: "mailbox@host" of the first address of the first
	 * non-empty list among From, Sender and Reply-To; "" if there is
	 * none or its mailbox or host is NIL.
	 */
	char		*env_from;
	enum imap_body_state body_state;
	uint64_t	 body_size;
	uint32_t	 nsections;	/* body items (any section) seen */
};

struct imap_vanished {
	int		 earlier;
	struct imap_set	 uids;
};

struct imap_search {
	uint32_t	*v;
	size_t		 n;
	int		 has_modseq;
	uint64_t	 modseq;
};

#define IMAP_ES_MIN	0x01
#define IMAP_ES_MAX	0x02
#define IMAP_ES_COUNT	0x04
#define IMAP_ES_ALL	0x08
#define IMAP_ES_MODSEQ	0x10

struct imap_esearch {
	char		*tag;		/* correlator, or NULL */
	int		 uid;
	uint32_t	 mask;
	uint32_t	 min, max, count;
	struct imap_set	 all;
	uint64_t	 modseq;
};

struct imap_other {
	char		*name;		/* the response name as sent */
	int		 has_num;	/* "* <num> NAME ..." */
	uint32_t	 num;
	char		*raw;		/* the rest of the line, "" if none */
};

struct imap_arena;

struct imap_resp {
	enum imap_resp_type type;
	char		*tag;		/* TAGGED */
	struct imap_cond cond;		/* TAGGED, COND, CONT */
	uint32_t	 num;		/* EXISTS, RECENT, EXPUNGE */
	struct imap_strlist atoms;	/* CAPABILITY, ENABLED, FLAGS */
	struct imap_list list;
	struct imap_status_resp status;
	struct imap_fetch fetch;
	struct imap_vanished vanished;
	struct imap_search search;
	struct imap_esearch esearch;
	struct imap_other other;
	struct imap_arena *arena;	/* private: owns everything above */
};

void	imap_resp_free(struct imap_resp *);

/* ---- the parser ------------------------------------------------------- */

enum imap_ev_type {
	IMAP_EV_NEED_MORE = 0,	/* window consumed: feed more */
	IMAP_EV_RESPONSE,	/* resp */
	IMAP_EV_BODY_BEGIN,	/* fetch, section, whole, size */
	IMAP_EV_BODY_CHUNK,	/* fetch, section, data, len */
	IMAP_EV_BODY_END,	/* fetch, section */
	IMAP_EV_BODY_TOOBIG,	/* fetch, section, whole, size, error */
	IMAP_EV_EOF,		/* clean end of stream between responses */
	IMAP_EV_ERROR,		/* error; sticky */
};

struct imap_event {
	enum imap_ev_type type;
	struct imap_resp *resp;
	const struct imap_fetch *fetch;	/* the FETCH being parsed */
	const char	*section;	/* "BODY[]", "RFC822", ... */
	int		 whole;		/* the whole message (BODY[], RFC822) */
	uint64_t	 size;
	const unsigned char *data;
	size_t		 len;
	const char	*error;
};

struct imap_parser;

/* NULL limits means the defaults.  Returns NULL if out of memory. */
struct imap_parser *imap_parser_new(const struct imap_limits *);
void	imap_parser_free(struct imap_parser *);
/*
 * Gives the parser the next bytes of the stream.  The buffer must stay
 * valid and unchanged until imap_parser_next() returns IMAP_EV_NEED_MORE
 * (or an error).  Returns -1 if the previous window was not consumed yet,
 * or after imap_parser_eof().
 */
int	imap_parser_feed(struct imap_parser *, const void *, size_t);
/* The stream has ended: a response in progress becomes an error. */
void	imap_parser_eof(struct imap_parser *);
/* The next event; ev is filled in.  See the top of this file. */
enum imap_ev_type imap_parser_next(struct imap_parser *, struct imap_event *);
/*
 * Takes ownership of the response of the last IMAP_EV_RESPONSE (caller
 * frees with imap_resp_free()); NULL if there is none.
 */
struct imap_resp *imap_parser_steal(struct imap_parser *);
/* The most memory the parser (buffer and current response) ever held. */
size_t	imap_parser_mem_hiwat(const struct imap_parser *);

/* ---- helpers ---------------------------------------------------------- */

/* 1 if the string is an RFC 3501 date-time (without its quotes). */
int	imap_date_time_valid(const char *);
/* 1 if the list holds s, compared case-insensitively. */
int	imap_strlist_has(const struct imap_strlist *, const char *);
/* The number of UIDs in a set (a "*" counts as one), 0 if empty. */
uint64_t imap_set_count(const struct imap_set *);
/* 1 if x is in the set; a range "n:*" holds every x >= n. */
int	imap_set_contains(const struct imap_set *, uint32_t);
/* A printable name for a response type, e.g. "FETCH". */
const char *imap_resp_type_name(enum imap_resp_type);

#endif
