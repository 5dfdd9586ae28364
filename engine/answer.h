/*
 * The decoders of the answers the engine receives: from a net, IMAP
 * results (ipc/imap_proto.h; FETCH items have theirs, fitem_decode()),
 * from priv, the database's (ipc/db_proto.h).  Bytes in, checked fields
 * out, or -1 for a broken layout; nothing else is touched, so that the
 * handlers act only on what these return, and the fuzz target
 * fuzz_engine_msg can feed them anything.  A name is returned as a
 * pointer into the message (valid while it is) and its length.
 *
 * IMSG_IMAP_READY, IMSG_IMAP_EXISTS and IMSG_IMAP_BODY_END are one u32
 * each: ipc_get_u32() and ipc_rd_end() are all there is to them.
 */
#ifndef ENGINE_ANSWER_H
#define ENGINE_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "uidset.h"

/* IMSG_IMAP_DONE: the status is an IMAP_DONE_*; data and text freed. */
struct ans_done {
	uint32_t	 status;
	uint32_t	 code;		/* IMAP_CODE_*, or 0 */
	char		*data;		/* the code's data */
	char		*text;
};
int	 ans_imap_done(const struct ipc_msg *, struct ans_done *);

/*
 * The number of a tagged [UIDVALIDITY n], [UIDNEXT n] or
 * [HIGHESTMODSEQ n] (IMSG_IMAP_DONE's code data): decimal digits only,
 * up to 2^64-1; -1 if it is none.
 */
int	 ans_code_number(const char *, uint64_t *);

/*
 * IMSG_IMAP_DONE's data for [APPENDUID uidvalidity uid-set]: the
 * UIDVALIDITY (digits only, 1 to 2^32-1) and the set (caller frees); -1
 * if broken, nothing to free.
 */
int	 ans_appenduid(const char *, uint32_t *, struct uidranges *);

/* IMSG_IMAP_CODE: the code and its value (the rest is not used). */
int	 ans_imap_code(const struct ipc_msg *, uint32_t *, uint64_t *);

/* IMSG_IMAP_VANISHED: (EARLIER) and the UID set, a string caller frees. */
int	 ans_vanished(const struct ipc_msg *, uint32_t *, char **);

/* IMSG_IMAP_LIST_ITEM: no NUL in the name; delim 1 to IMAP_DELIM_NIL. */
struct ans_list {
	uint32_t	 attrs;
	uint32_t	 delim;
	const char	*name;
	size_t		 len;
};
int	 ans_list_item(const struct ipc_msg *, struct ans_list *);

/* IMSG_IMAP_STATUS_ITEM: no NUL in the name. */
struct ans_status {
	const char	*name;
	size_t		 len;
	uint32_t	 mask;		/* IMAP_ST_* */
	uint32_t	 uidvalidity, uidnext;
	uint64_t	 hms;
	uint32_t	 messages;
};
int	 ans_status_item(const struct ipc_msg *, struct ans_status *);

/* IMSG_DB_RESULT: status, value, and the error (NULL or caller frees). */
int	 ans_db_result(const struct ipc_msg *, uint32_t *, uint64_t *,
	    char **);

/*
 * IMSG_DB_MAILBOX_ROW: a non-empty internal name (delimiters as NUL),
 * an idx from 1 to INT64_MAX, per side (local, remote) the state.
 */
struct ans_mbox_row {
	uint64_t	 idx;
	const char	*name;
	size_t		 len;
	uint32_t	 subscribed, has_state;
	uint32_t	 uidvalidity[2], uidnext[2];
	uint64_t	 hms[2];
};
int	 ans_mailbox_row(const struct ipc_msg *, struct ans_mbox_row *);

/*
 * IMSG_DB_MAP_ROWS: idx and n, exactly n pairs following; each read
 * with ans_map_pair(), n times.
 */
struct ans_map_rows {
	uint64_t	 idx;
	uint32_t	 n;
	struct ipc_rd	 rd;
};
int	 ans_map_rows(const struct ipc_msg *, struct ans_map_rows *);
void	 ans_map_pair(struct ans_map_rows *, uint32_t *, uint32_t *);

/*
 * IMSG_DB_FLAG_ROWS: idx, side (SIDE_LOCAL or SIDE_REMOTE) and n, no
 * more rows announced than the bytes could hold; each row read with
 * ans_flag_row(), n times, then ipc_rd_end(&rd) says whether exactly n
 * were there.
 */
struct ans_flag_rows {
	uint64_t	 idx;
	uint32_t	 side;
	uint32_t	 n;
	struct ipc_rd	 rd;
};
int	 ans_flag_rows(const struct ipc_msg *, struct ans_flag_rows *);
/* The next row: its UID (> 0) and flags (caller frees); -1 if broken. */
int	 ans_flag_row(struct ans_flag_rows *, uint32_t *, char **);

#endif
