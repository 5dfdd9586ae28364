/*
 * A pass of new messages, shared by xfer.c (the FETCH side and the
 * machine) and append.c (the APPEND side: batches, APPENDUID, mapping).
 */
#ifndef ENGINE_XFER_H
#define ENGINE_XFER_H

#include <stdint.h>

#include "eng.h"

/* Batches of MULTIAPPEND, as the reference: 128 messages or 1 MiB. */
#define BATCH_MAXMSG	128
#define BATCH_MAXBYTES	(1024 * 1024)

/* What a new message is fetched with (§6.4). */
#define XFER_ITEMS	(IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS |		\
			 IMAP_FETCH_INTERNALDATE | IMAP_FETCH_BODY)
#define XFER_META	(IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS |		\
			 IMAP_FETCH_INTERNALDATE)
/*
 * The most bytes of new local messages whose FETCH goes with the remote
 * pass's (xfer_early()): what the engine may hold for the remote net.
 */
#define XFER_EARLY_MAX	(4 * 1024 * 1024)

/* A line of the pass's: held while it runs ahead of its turn. */
#define xlog(x, ...)							\
	jlog_to((x)->j, (x)->early ? &(x)->held : NULL, __VA_ARGS__)

enum {
	X_START = XFER_SUB,	/* the range of new UIDs, the FETCH */
	X_COPY,			/* restore, recopy: their FETCH (x->cset) */
	X_FETCHED,		/* the FETCH and its APPENDs answered */
	X_LATE_META,		/* late messages: their metadata */
	X_LATE_BODY,		/* ... then their bodies */
	X_MODSEQ,		/* the copies' MODSEQ, if no code told */
	X_RESTORED,		/* restore: our own \Deleted echo dropped */
	X_END,
};

/* The message being received. */
enum {
	M_NONE = 0,
	M_STREAM,	/* forwarded chunk by chunk */
	M_SKIP,		/* 0-length: not copied */
	M_LATE,		/* metadata after the body: fetched again */
};

struct batch {
	struct xfer	*x;
	struct req	*req;
	struct uidvec	 suids;		/* source UIDs, in order */
	struct uidvec	 ssizes;	/* their sizes (audit; capped) */
	char		**flags;	/* their flags, sorted, where a side
					   is synced plain (pflags.c) */
	uint32_t	*fh;		/* flags_hash() of their flags */
	uint64_t	 bytes;
	uint32_t	 n;
	uint32_t	 self;		/* counted in exists_self */
};

struct latemeta {
	uint32_t	 uid;		/* first: eng_find_uid() */
	uint64_t	 modseq;
	char		*flags;
	char		*date;
};

struct xfer {
	struct job	*j;
	struct mbox	*mb;
	struct peer	*src, *dst;
	uint32_t	 sside;
	int		 ret;
	int		 pre;		/* the FETCH went with the SELECT */
	int		 early;		/* ahead of its turn (xfer_early()) */
	int		 early_reading;	/* counted in src->early */
	struct job_logs	 held;		/* its lines until its turn */
	int		 copying;	/* counted in src->copying */
	struct uidranges cset;		/* X_COPY: the UIDs */
	uint32_t	 citems;	/* X_COPY: the items */
	int		 restore;	/* §9.8 mode */
	int		 recopy;	/* --repair: given UIDs, logged */
	uint32_t	 uidnext;	/* the reference's local $UIDNEXT */
	struct batch	*cur;		/* open APPEND, or NULL */
	size_t		 ntuids;	/* target UIDs created */
	int		 maxmsg;
	struct modtab	 copied;	/* restore: flags copied, by uid */
	struct uidvec	 restored;	/* restore: the UIDs */
	struct uidvec	 nomodseq;	/* copies no [HIGHESTMODSEQ] covered */
	struct uidvec	 retry;		/* of batches refused whole: sent again
					   one by one (append.c) */
	int		 retried;	/* ... and they are being */

	/* The message being received. */
	int		 mode;		/* M_* */
	uint32_t	 uid;
	uint64_t	 size, got;
	int		 late_uid;	/* M_LATE without a UID yet */
	int		 zero_uid;	/* 0-length without a UID yet */
	struct uidvec	 zero;		/* 0-length, said at the FETCH's end */

	/* Messages whose metadata came after their body. */
	struct uidvec	 late;
	struct latemeta	*lm;		/* sorted by uid once fetched */
	size_t		 nlm;
	size_t		 late_out;	/* body FETCHes not answered */
};

struct xfer *xfer_new(struct job *, uint32_t);
/* 1 if a copy may go to dst now; else the job waits (copy_wait). */
int	 xfer_may_copy_to(struct job *, const struct peer *);
/* Counts x's copies in its source's copying (on), or not (off). */
void	 xfer_copying(struct xfer *, int);
void	 xfer_data(struct req *, const struct rdata *);
void	 xfer_fetch_done(struct rgroup *);
/* The local pass's FETCH with the remote pass's (xfer_pre.c). */
void	 xfer_early(struct job *);
void	 xfer_early_fetched(struct xfer *);

/* Opens the APPEND if needed and announces x's message (its body next). */
void	 xfer_msg_start(struct xfer *, const char *, const char *, uint64_t);
/* Ends the open APPEND, if any. */
void	 batch_close(struct xfer *);

#endif
