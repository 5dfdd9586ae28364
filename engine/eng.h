/*
 * The engine's internals: the run context, the two peers (netc.c), the
 * database client (dbc.c), the mailbox table (mbox.c), the UID mapping of
 * the mailbox in hand (map.c), the MODIFIED table (modtab.c) and the
 * synchronisation itself (sync.c).
 *
 * Shape (HOUSE-STYLE: isync's driver interface): the algorithm in sync.c
 * talks to each server only through netc's small asynchronous interface.
 * A request is sent at once and answered later; the caller either waits
 * for it (netc_wait) or lets an on_done callback consume it.  Everything
 * the servers say on their own (EXISTS, VANISHED, flag changes, response
 * codes) is folded into the peer's state by netc as it arrives, whatever
 * request is waiting, exactly as the reference's client library does;
 * data belonging to a request (LIST items, FETCHed bodies) also goes to
 * that request's callback.  Waiting on one peer runs the poll loop over
 * all three channels, so the other peer and priv progress meanwhile.
 *
 * Ownership rules:
 *  - struct req is owned by the peer while in flight.  netc_send() gives
 *    the caller a pointer it must hand back with netc_req_free() after
 *    the request is done, unless REQ_AUTOFREE was given (then netc frees
 *    it right after its on_done callback, and the caller keeps nothing).
 *  - A message passed to a callback belongs to netc; callbacks copy what
 *    they keep.
 *  - Mailbox entries (struct mbox) belong to the table in struct eng and
 *    live for the whole run; peers and the sync only point to them.
 *  - Strings handed to netc_* are copied into the request.
 */
#ifndef ENGINE_ENG_H
#define ENGINE_ENG_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "uidset.h"
#include "util.h"

struct eng;
struct peer;
struct req;
struct mbox;

/* ------------------------------------------------------------------ */
/* Configuration (IMSG_ENGINE_CONF, ipc/conf_proto.h). */

struct eng_data {
	char	*bytes;		/* NUL-terminated after len bytes */
	size_t	 len;
};

struct eng_conf {
	uint32_t	 debug;
	uint32_t	 flags;		/* ENGINE_CONF_* */
	uint32_t	 command;	/* ENGINE_CMD_* */
	uint32_t	 targets;	/* ENGINE_TARGET_* */
	uint32_t	 watch;		/* seconds; 0 = one pass */
	struct eng_data	*mailbox;	/* MAILBOX arguments */
	size_t		 nmailbox;
	struct eng_data	*pattern;	/* list-mailbox */
	size_t		 npattern;
	char		*list_select_opts;	/* NULL if unset */
	char		*ignore_mailbox;	/* NULL if unset */
	char		*list_reference[2];	/* by SIDE_* */
};

/* ------------------------------------------------------------------ */
/* Per-mailbox, per-side values (the reference's cache and pcache). */

#define MC_UIDVALIDITY	0x01
#define MC_UIDNEXT	0x02
#define MC_HMS		0x04
#define MC_EXISTS	0x08

struct mcache {
	unsigned int	 has;		/* MC_* */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 hms;		/* HIGHESTMODSEQ */
	uint32_t	 exists;
	int		 nomodseq;
	int		 uidnotsticky;
};

/* A mailbox, by internal name (reference removed, delimiter = NUL). */
struct mbox {
	char		*name;		/* NUL-terminated after len bytes */
	size_t		 len;
	char		*pretty;	/* local delimiter, no reference */
	char		*srv[2];	/* server names, by SIDE_* */
	int		 listed[2];	/* a LIST reply named it */
	uint32_t	 attrs[2];	/* IMAP_MBX_* */
	struct mcache	 cache[2];	/* live server values */
	struct mcache	 pcache[2];	/* last synchronised state */
	int64_t		 idx;		/* database index, 0 if none */
	int		 db_subscribed;
	int		 has_state;	/* DB rows local/remote exist */
	uint32_t	 db_uidvalidity[2];
	uint32_t	 db_uidnext[2];
	uint64_t	 db_hms[2];
	int		 known;		/* the reference's KNOWN_INDEXES */
	int		 sync;		/* in the list of mailboxes to sync */
	int		 ignored;	/* ignore-mailbox matched */
	int		 prefetched;	/* first sync, one side empty */
};

/* ------------------------------------------------------------------ */
/* The MODIFIED table: uid -> (modseq, flags or unknown). modtab.c */

struct modent {
	uint32_t	 uid;		/* 0: empty slot */
	uint64_t	 modseq;
	char		*flags;		/* NULL: unknown */
};

struct modtab {
	struct modent	*t;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 n;
};

struct modent	*modtab_get(struct modtab *, uint32_t);
/* Inserts or replaces uid; takes ownership of flags (may be NULL). */
void		 modtab_put(struct modtab *, uint32_t, uint64_t, char *);
void		 modtab_del(struct modtab *, uint32_t);
void		 modtab_clear(struct modtab *);
void		 modtab_free(struct modtab *);
/*
 * Moves every entry into a new array sorted by UID (caller frees the
 * array and each flags) and empties the table.
 */
struct modent	*modtab_drain(struct modtab *, size_t *);

/* ------------------------------------------------------------------ */
/* The UID mapping of the mailbox in hand.  map.c */

struct map_pair {
	uint32_t	 luid, ruid;	/* 0 in the key side: deleted */
};

struct map {
	struct map_pair	*byl;		/* sorted by luid */
	struct map_pair	*byr;		/* sorted by ruid */
	size_t		 n, cap;	/* entries in each array */
	size_t		 dead;		/* deleted, not yet compacted */
};

void	 map_init(struct map *);
void	 map_free(struct map *);
void	 map_add(struct map *, uint32_t, uint32_t);
/* The other side's UID for a UID of side (SIDE_*): 0 if unmapped. */
uint32_t map_lookup(const struct map *, uint32_t, uint32_t);
/* Deletes by a UID of side; returns the other UID, 0 if none. */
uint32_t map_del(struct map *, uint32_t, uint32_t);
size_t	 map_count(const struct map *);
/*
 * The QRESYNC sample (REFERENCE-BEHAVIOUR §4.8) for side: *seqset and
 * *uidset (caller frees) or both NULL when the map is empty.
 */
void	 map_sample(struct map *, uint32_t, char **, char **);

/* ------------------------------------------------------------------ */
/* Requests to a net (netc.c). */

typedef void	 req_cb(struct peer *, struct req *, struct ipc_msg *);
typedef void	 req_done_cb(struct peer *, struct req *);

#define REQ_AUTOFREE	0x1
#define REQ_NOMOD	0x2	/* FETCH answers without FLAGS are no change */

struct req {
	struct req	*next;
	struct peer	*p;
	uint32_t	 id;
	uint32_t	 type;
	int		 flags;		/* REQ_* */
	int		 done;
	uint32_t	 status;	/* IMAP_DONE_* */
	uint32_t	 code;		/* IMAP_CODE_* */
	char		*codedata;
	char		*text;
	req_cb		*cb;		/* data belonging to the request */
	req_done_cb	*on_done;
	void		*arg;
	struct mbox	*mb;		/* SELECT: the mailbox */
	uint64_t	 n;		/* caller's use */
};

/* One server, through its net process. */
struct peer {
	struct eng	*e;
	uint32_t	 side;		/* SIDE_* */
	const char	*name;		/* "local", "remote" */
	struct ipc_chan	*chan;
	uint32_t	 caps;		/* IMAP_CAP_* from IMSG_IMAP_READY */
	int		 ready;
	uint32_t	 next_id;
	struct req	*head, *tail;	/* in flight, oldest first */
	size_t		 inflight;

	/* The hierarchy delimiter: -1 unknown, a byte, or IMAP_DELIM_NIL. */
	int		 delim;

	/* Selection (the reference's _SELECTED, _SELECTED_DELAYED). */
	int		 selected;	/* state SELECTED (log prefix) */
	struct mbox	*sel;
	struct mbox	*sel_delayed;

	/* For the selected mailbox only. */
	struct uidranges vanished;
	struct modtab	 modified;
	uint64_t	 newmail;	/* the reference's _NEW */
	uint64_t	 exists_self;	/* our appends not yet in EXISTS */

	/* FETCH continuation: items after a body literal. */
	uint32_t	 body_uid;	/* uid of the last BODY_END, or 0 */
};

void	 netc_init(struct peer *, struct eng *, uint32_t, struct ipc_chan *);
void	 netc_free(struct peer *);
/*
 * Queues a request (type, payload in buf, emptied); returns it (see the
 * ownership rules above).
 */
struct req *netc_send(struct peer *, uint32_t, struct ipc_buf *, req_cb *,
	    req_done_cb *, void *, int);
/* Queues a message that continues the request (APPEND_*), same id. */
void	 netc_send_more(struct peer *, struct req *, uint32_t, const void *,
	    size_t);
void	 netc_wait(struct req *);
void	 netc_req_free(struct req *);
/* Waits for every request in flight on both peers. */
void	 netc_wait_all(struct eng *);
/* Dispatches one message from this peer's net. */
void	 netc_dispatch(struct peer *, struct ipc_msg *);
/* A request that failed where the reference calls fail(): exits. */
__attribute__((noreturn))
void	 netc_fail_req(struct peer *, struct req *);
/* The log-prefix mailbox: the selected mailbox's server name, or NULL. */
const char *netc_mbox(const struct peer *);

/* Mailbox commands with a done state (the reference's API). */
/* SELECT, with QRESYNC from the pcache and the sample (may be NULL). */
struct req *netc_select(struct peer *, struct mbox *, const char *,
	    const char *);
struct req *netc_fetch(struct peer *, const char *, uint32_t, req_cb *,
	    void *);
struct req *netc_store(struct peer *, const char *, uint64_t, uint32_t,
	    const char *);
struct req *netc_expunge(struct peer *, const char *);
struct req *netc_mailbox_op(struct peer *, uint32_t, const char *,
	    const char *);
struct req *netc_list(struct peer *, uint32_t, const char *, const char *,
	    char *const *, size_t, req_cb *, void *);

/* UIDVALIDITY bookkeeping shared by STATUS, SELECT codes, APPENDUID. */
void	 netc_set_uidvalidity(struct peer *, struct mbox *, uint32_t);
/* The reference's set_cache() for the pcache. */
void	 netc_set_pcache(struct peer *, struct mbox *, unsigned int,
	    uint32_t, uint32_t, uint64_t);
int	 netc_is_dirty(struct peer *, struct mbox *);

/* Flags: sorted, space-joined copy (bytewise, as Perl's sort). */
char	*flags_sorted(const char *);
/* The union of two flag strings, sorted and deduplicated. */
char	*flags_union(const char *, const char *);

/* ------------------------------------------------------------------ */
/* The database, through priv (dbc.c). */

typedef void	 dbc_row_cb(struct eng *, struct ipc_msg *, void *);

/* Sends a request and waits for its result; value (may be NULL). */
void	 dbc_call(struct eng *, uint32_t, struct ipc_buf *, dbc_row_cb *,
	    void *, uint64_t *);
/* Sends a request whose result is only checked (errors are fatal). */
void	 dbc_post(struct eng *, uint32_t, struct ipc_buf *);
void	 dbc_commit(struct eng *);
/* Waits until every database request is answered. */
void	 dbc_wait_all(struct eng *);
void	 dbc_dispatch(struct eng *, struct ipc_msg *);

/* Typed requests (ipc/db_proto.h). */
int64_t	 dbc_mailbox_add(struct eng *, const struct mbox *, int);
void	 dbc_subscribe(struct eng *, int64_t, int);
void	 dbc_state_init(struct eng *, int64_t, uint32_t, uint32_t);
void	 dbc_state_set(struct eng *, int64_t, uint32_t, uint32_t, uint64_t,
	    uint32_t, uint64_t);
void	 dbc_map_add(struct eng *, int64_t, const uint32_t *,
	    const uint32_t *, size_t);
void	 dbc_map_del(struct eng *, int64_t, uint32_t, const uint32_t *,
	    size_t);
void	 dbc_map_load(struct eng *, int64_t, struct map *);

/* ------------------------------------------------------------------ */
/* The run. */

struct dbreq;
struct xfer;

struct eng {
	struct ipc_chan	*parent;
	struct ipc_chan	*netchan[2];
	struct eng_conf	*conf;
	struct peer	 peer[2];	/* by SIDE_* */
	int		 quiet;

	/* Database requests in flight, oldest first. */
	struct dbreq	*dbhead, *dbtail;

	/* Mailboxes, sorted by internal name once listed. */
	struct mbox	**mbox;
	size_t		 nmbox;
	void		*ignore_re;	/* pcre2_code *, or NULL */

	/* The mailbox in hand and its mapping. */
	struct mbox	*cur;
	struct xfer	*pre;		/* a FETCH sent with the SELECT */
	struct map	 map;
	int		 map_loaded;

	int		 shutdown;	/* IMSG_SHUTDOWN seen */
	int		 done;		/* IMSG_ENGINE_DONE sent */
};

/* The event loop: one round of poll + dispatch over the channels. */
void	 eng_poll(struct eng *);

/*
 * Logs "ERROR: ..." as component name (NULL = none) and mailbox, tells
 * priv the exit code with IMSG_ENGINE_DONE, and exits.
 */
__attribute__((noreturn, format(printf, 5, 6)))
void	 eng_fail(struct eng *, int, const char *, const char *,
	    const char *, ...);
__attribute__((noreturn))
void	 eng_exit(struct eng *, int);
/* Tells priv the run is over (IMSG_ENGINE_DONE); the loop goes on. */
void	 eng_done(struct eng *, int);

/* mbox.c */
struct mbox *mbox_find(struct eng *, const char *, size_t);
struct mbox *mbox_get(struct eng *, const char *, size_t);
/* Server name -> mailbox (NULL when outside the reference). */
struct mbox *mbox_by_server(struct eng *, uint32_t, const char *);
int	 mbox_list(struct eng *);
int	 mbox_reconcile(struct eng *);
void	 mbox_free_all(struct eng *);

/* sync.c */
int	 sync_run(struct eng *);
/* An INTERNALDATE as seconds since the epoch; INT64_MIN if invalid. */
int64_t	 eng_internaldate(const char *);

/* The engine's whole run (engine.c calls it after the set-up). */
int	 eng_main_run(struct eng *);

#endif
