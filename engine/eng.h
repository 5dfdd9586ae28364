/*
 * The engine's internals.
 *
 * Shape (HOUSE-STYLE "Event loops"): one poll loop at the top of the
 * call graph (loop.c) reads priv and both nets and hands each message to
 * its handler; no handler ever waits.  Work that needs answers is a
 * task (task.c): a state machine whose step function sends requests and
 * returns; each answer, when it arrives, is consumed by the request's
 * callback and releases the task, and when nothing the task sent is
 * still in flight its step runs again and moves the state on.
 *
 * The tasks:
 *  - the run (run.c): peers ready, listing (mbox.c), the database's
 *    migration and mailbox rows, reconciliation, the queue of mailbox
 *    jobs, the end;
 *  - one job per mailbox to synchronise (job.c), started in mailbox
 *    order, several at once up to eng->jobs_max.  A job loads its UID
 *    mapping, then leases a connection to each server (lease.c) for the
 *    commands that need its mailbox selected, and runs the reference's
 *    sync of that mailbox (REFERENCE-BEHAVIOUR §6.3-6.6): known messages
 *    (known.c), copies recognised (adopt.c), new messages (xfer.c),
 *    interrupted syncs resumed (resume.c), --repair (repair.c);
 *  - request groups (rgroup.c): one logical request whose UID set is
 *    sent in as many pieces as the IPC bound needs, answered once all
 *    pieces are.
 *
 * Everything a server says on its own (EXISTS, VANISHED, flag changes,
 * response codes) is folded by netc into the state of the mailbox it is
 * about (struct msel), whatever request is in flight, as the reference's
 * client library does; data belonging to a request (LIST items, FETCHed
 * items and bodies) also goes to that request's callback.
 *
 * Ownership rules:
 *  - struct req belongs to its peer from netc_send() to its answer; the
 *    callbacks see it, then netc frees it.  Callbacks copy what they keep.
 *  - A task belongs to whoever made it (the run, the job list, the job
 *    that made a group); it is freed by its fin callback once done.
 *  - Mailbox entries (struct mbox) belong to the table in struct eng and
 *    live for the whole run; peers, jobs and requests only point to them.
 *  - Strings handed to netc_* and dbc_* are copied into the message.
 */
#ifndef ENGINE_ENG_H
#define ENGINE_ENG_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "proc.h"
#include "uidset.h"
#include "util.h"

struct eng;
struct peer;
struct req;
struct mbox;
struct job;
struct task;

#define OTHER(s)	((s) == SIDE_LOCAL ? SIDE_REMOTE : SIDE_LOCAL)

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
/* Tasks (task.c). */

typedef void	 task_fn(struct task *);

struct task {
	task_fn		*step;		/* moves the state on */
	task_fn		*fin;		/* frees it once done (may be NULL) */
	const char	*what;		/* for diagnostics */
	int		 state;
	int		 pending;	/* requests in flight for it */
	int		 stepping;	/* inside step */
	int		 waiting;	/* for something other than answers */
	int		 done;
	int		 queued;	/* on the run queue (eng_wake) */
	struct task	*rnext;
};

void	 task_init(struct task *, const char *, task_fn *, task_fn *);
/* One more request in flight for t. */
void	 task_hold(struct task *);
/* An answer for t was consumed: runs its step when nothing is left. */
void	 task_release(struct task *);
/* Runs the step now. */
void	 task_run(struct task *);
/* Runs a waiting task's step from the top of the loop (not nested). */
void	 eng_wake(struct eng *, struct task *);
/* Runs the woken tasks; 1 if any ran. */
int	 eng_run_woken(struct eng *);

/* ------------------------------------------------------------------ */
/* Per-mailbox, per-side values (the reference's cache and pcache). */

#define MC_UIDVALIDITY	0x01
#define MC_UIDNEXT	0x02
#define MC_HMS		0x04
#define MC_EXISTS	0x08
#define MC_MESSAGES	0x10	/* LIST-STATUS MESSAGES, this listing's */

struct mcache {
	unsigned int	 has;		/* MC_* */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 hms;		/* HIGHESTMODSEQ */
	uint32_t	 exists;
	uint32_t	 messages;	/* MC_MESSAGES */
	int		 nomodseq;
	int		 uidnotsticky;
};

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

/*
 * What a server said about a mailbox while it was selected, not yet
 * consumed by its job (the reference keeps these per connection, for
 * the selected mailbox only).
 */
struct msel {
	struct uidranges vanished;	/* VANISHED, as reported */
	struct modtab	 modified;	/* flag changes */
	uint64_t	 newmail;	/* the reference's _NEW */
	uint64_t	 exists_self;	/* our appends not yet in EXISTS */
	/*
	 * The request the last [HIGHESTMODSEQ] code came with: the head of
	 * the queue when it came untagged, or the request whose tagged OK
	 * carried it.  An APPEND that sees its own id there knows the
	 * server reported the new HIGHESTMODSEQ; one at or after our UID
	 * EXPUNGE covers it (known.c).  Not the MODSEQ of a FETCH item:
	 * Dovecot runs a STORE sent after the EXPUNGE alongside it, and may
	 * give the STORE the lower MODSEQ.
	 */
	uint32_t	 hms_req;
	/*
	 * The UIDNEXT and HIGHESTMODSEQ the session reported while mb was
	 * selected (codes, FETCH items; seen: MC_UIDNEXT | MC_HMS): every
	 * change up to seen_hms was reported to us then.  Never a STATUS
	 * (NOTIFY, LIST-STATUS) about mb while another mailbox was selected,
	 * as the live cache takes: that is the server's value, with changes
	 * nobody reported to us.  A SELECT again from there, or a last
	 * synchronised state stored from there, would lose them (an expunge
	 * made meanwhile never reported VANISHED).
	 */
	unsigned int	 seen;
	uint32_t	 seen_uidnext;
	uint64_t	 seen_hms;
	/*
	 * The order (peer.nev) of the last VANISHED reported live (not
	 * EARLIER) and of the last [HIGHESTMODSEQ]: a HIGHESTMODSEQ after
	 * the VANISHED covers its expunges; Cyrus reports none after them.
	 */
	uint64_t	 van_ev;
	uint64_t	 hms_ev;
	uint64_t	 van_asked;	/* van_ev a SELECT went for (known.c) */
	/*
	 * Our APPENDs answered since seen_hms was last set, their
	 * [HIGHESTMODSEQ] not taken (each one MODSEQ: netc_append_hms()).
	 */
	uint32_t	 own;
};

/* A copy a job made: its UID and the hash of the flags it was given. */
struct copyent {
	uint32_t	 uid;
	uint32_t	 fh;		/* flags_hash() */
};

struct copyvec {
	struct copyent	*v;
	size_t		 n, cap;
	size_t		 sorted;	/* n when last sorted by UID */
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
	struct msel	 sel[2];	/* selected-state reports */
	int64_t		 idx;		/* database index, 0 if none */
	int		 db_subscribed;
	int		 has_state;	/* DB rows local/remote exist */
	uint32_t	 db_uidvalidity[2];
	uint32_t	 db_uidnext[2];
	uint64_t	 db_hms[2];
	int		 known;		/* the reference's KNOWN_INDEXES */
	int		 sync;		/* in the list of mailboxes to sync */
	int		 uncreated;	/* a server refused its CREATE: no sync */
	struct uidvec	 refused[2];	/* source UIDs whose copy the other side
					   refused this pass (append.c) */
	int		 ignored;	/* ignore-mailbox matched */
	int		 resumed;	/* an interrupted sync to resume */
	struct uidvec	 intr[2];	/* its mapping rows (lUID, rUID) */
	struct job	*job;		/* the job on it, if any */
	int		 queued;	/* a job for it is queued */
};

/* ------------------------------------------------------------------ */
/* The UID mapping of one mailbox.  map.c */

struct map_pair {
	uint32_t	 luid, ruid;
};

/* 12 bytes a pair, plus up to a third of slack (none once reserved). */
struct map {
	struct map_pair	*pairs;		/* sorted by luid */
	uint32_t	*byr;		/* positions in pairs, by ruid */
	uint64_t	*dead_set;	/* a bit per position: deleted */
	size_t		 n, cap;	/* entries in pairs and byr */
	size_t		 dead;		/* deleted, not yet compacted */
};

void	 map_init(struct map *);
void	 map_free(struct map *);
void	 map_add(struct map *, uint32_t, uint32_t);
/*
 * Room for that many more pairs, exactly (no slack), so that adding
 * them does not grow the map by half again: for a caller who knows how
 * many are coming.
 */
void	 map_reserve(struct map *, size_t);
/* The other side's UID for a UID of side (SIDE_*): 0 if unmapped. */
uint32_t map_lookup(const struct map *, uint32_t, uint32_t);
/* Deletes by a UID of side; returns the other UID, 0 if none. */
uint32_t map_del(struct map *, uint32_t, uint32_t);
size_t	 map_count(const struct map *);
/*
 * The live pairs in increasing order of side's UID: map_lower_bound()
 * compacts the map and returns the position in that order of the first
 * pair whose side UID is at least uid; map_side_at() reads the pair at
 * a position, below map_count().  Valid until the next map_add() or
 * map_del().
 */
size_t	 map_lower_bound(struct map *, uint32_t, uint32_t);
const struct map_pair *map_side_at(const struct map *, uint32_t, size_t);
/* qsort() order of pairs by local UID. */
int	 map_pair_cmp_luid(const void *, const void *);
/*
 * The QRESYNC sample (REFERENCE-BEHAVIOUR §4.8) for side: *seqset and
 * *uidset (caller frees) or both NULL when the map is empty.
 */
void	 map_sample(struct map *, uint32_t, char **, char **);

/* ------------------------------------------------------------------ */
/* A FETCH item from a net, decoded (fetch.c). */

struct fitem {
	uint32_t	 seq;
	uint32_t	 uid;		/* 0 if absent */
	uint64_t	 modseq;
	uint32_t	 mask;		/* IMAP_FETCH_* present */
	char		*flags;		/* NULL unless IMAP_FETCH_FLAGS */
	char		*date;		/* NULL unless IMAP_FETCH_INTERNALDATE */
	char		*env;		/* NULL unless IMAP_FETCH_ENVELOPE */
	uint64_t	 size;		/* IMAP_FETCH_BODY: body bytes, else
					   IMAP_FETCH_SIZE: RFC822.SIZE */
	int		 cont;		/* items sent after a body literal */
};

/* -1 if the payload breaks the layout (fi then holds nothing). */
int	 fitem_decode(const struct ipc_msg *, struct fitem *);
void	 fitem_free(struct fitem *);

/* ------------------------------------------------------------------ */
/* Requests to a net (netc.c). */

/* What a request's data callback gets. */
enum rdata_kind {
	RD_LIST,		/* IMSG_IMAP_LIST_ITEM / STATUS_ITEM: msg */
	RD_ITEM,		/* a FETCH item: fi */
	RD_BODY,		/* body bytes: data, len */
	RD_END,			/* end of the body: uid */
};

struct rdata {
	enum rdata_kind	 kind;
	struct ipc_msg	*msg;
	const struct fitem *fi;
	const void	*data;
	size_t		 len;
	uint32_t	 uid;
};

typedef void	 req_data_cb(struct req *, const struct rdata *);
typedef void	 req_done_cb(struct req *);

#define REQ_NOMOD	0x1	/* FETCH answers without FLAGS are no change */
#define REQ_META	0x2	/* its FETCH answers are no change at all */
#define REQ_HMS_TAKEN	0x4	/* APPEND: its [HIGHESTMODSEQ] taken as
				   reported (netc_append_hms()) */

struct req {
	struct req	*next;
	struct peer	*p;
	struct task	*t;		/* released when answered */
	uint32_t	 id;
	uint32_t	 type;
	int		 flags;		/* REQ_* */
	int		 opened;	/* SELECT: the mailbox switch is done */
	uint32_t	 status;	/* IMAP_DONE_* */
	uint32_t	 code;		/* IMAP_CODE_* */
	char		*codedata;
	char		*text;
	struct mbox	*mb;		/* the mailbox it is about */
	struct uidranges set;		/* FETCH: its UIDs, sorted */
	req_data_cb	*data;
	req_done_cb	*done;
	void		*arg;
	uint64_t	 n;		/* caller's use */
};

/* One server, through its net process. */
struct peer {
	struct eng	*e;
	uint32_t	 side;		/* SIDE_* */
	const char	*name;		/* "local", "remote" */
	struct ipc_chan	*chan;
	uint32_t	 caps;		/* IMAP_CAP_* from IMSG_IMAP_READY */
	uint64_t	 appendlimit;	/* its APPENDLIMIT, 0: none */
	int		 ready;
	uint32_t	 next_id;
	uint64_t	 nev;		/* VANISHED and HIGHESTMODSEQ counted */
	struct req	*head, *tail;	/* in flight, oldest first */
	size_t		 inflight;

	/* The hierarchy delimiter: -1 unknown, a byte, or IMAP_DELIM_NIL. */
	int		 delim;

	/*
	 * Selection.  sel: the mailbox the server's untagged data is about
	 * at this point of the response stream (switched at [CLOSED] or
	 * at the SELECT's answer); selected: the reference's SELECTED
	 * state; qsel: the mailbox selected once everything sent so far is
	 * done.
	 */
	struct mbox	*sel;
	int		 selected;
	struct mbox	*qsel;

	/*
	 * The request the last FETCH body went to (items after the body
	 * literal go there too), and whether the body is still streaming.
	 */
	struct req	*body_req;
	int		 body_open;
	int		 modseq_due;	/* a body item came without MODSEQ */

	/*
	 * The APPEND whose messages are still being sent (nothing else may
	 * go to this net until its APPEND_END), or NULL.
	 */
	struct req	*appending;
	/*
	 * Copies from this server whose bodies are still coming: while
	 * there are, none goes the other way on the lane (xfer.c).
	 */
	int		 copying;
	/*
	 * A pass ahead of its turn fetches from this server (xfer_early()):
	 * its net is read whatever the other net's queue (loop.c).
	 */
	int		 early;
	/* The job allowed to send selected-state commands (the lease). */
	struct job	*holder;
	/* Its lane lost this net between jobs (lanes other than 0). */
	int		 dead;

	/* --notify: how the server tells of changes (run.c). */
	int		 wait;		/* PEER_WAIT_* */
	int		 armed;		/* NOTIFY SET sent */
};

#define PEER_WAIT_NONE		0	/* the interval alone */
#define PEER_WAIT_NOTIFY	1	/* NOTIFY SET (personal ...) */
#define PEER_WAIT_IDLE		2	/* IDLE on INBOX, LIST each interval */

void	 netc_init(struct peer *, struct eng *, uint32_t, struct ipc_chan *);
void	 netc_free(struct peer *);
/*
 * Queues a request (type, payload in buf, emptied) on behalf of task t
 * (held until the answer) about mailbox mb (may be NULL); returns it.
 */
struct req *netc_send(struct peer *, struct task *, uint32_t,
	    struct ipc_buf *, struct mbox *, req_data_cb *, req_done_cb *,
	    void *);
/* Queues a message that continues the request (APPEND_*), same id. */
void	 netc_send_more(struct peer *, struct req *, uint32_t, const void *,
	    size_t);
/* Dispatches one message from this peer's net. */
void	 netc_dispatch(struct peer *, struct ipc_msg *);
/* A request that failed where the reference calls fail(): exits. */
__attribute__((noreturn))
void	 netc_fail_req(struct req *);
/* A done callback: an answer other than OK is such a failure. */
void	 netc_done_ok(struct req *);
/* The log-prefix mailbox of a request's failure, or NULL. */
const char *netc_req_mbox(const struct req *);

/* SELECT mb, with QRESYNC from the pcache and the sample (may be NULL). */
struct req *netc_select(struct peer *, struct task *, struct mbox *,
	    const char *, const char *);
/* The id of the last request sent to the peer, once one was. */
uint32_t netc_last_id(const struct peer *);
/*
 * SELECT mb again for its job, from what the job last saw of it (the
 * live state), why saying what for (debug): for the job's next command
 * after another job's SELECT, or for the HIGHESTMODSEQ after its
 * expunges (known.c).
 */
void	 netc_reselect(struct peer *, struct task *, struct mbox *,
	    const char *);
struct req *netc_fetch(struct peer *, struct task *, struct mbox *,
	    const char *, uint32_t, int, req_data_cb *, req_done_cb *, void *);
struct req *netc_mailbox_op(struct peer *, struct task *, uint32_t,
	    const char *, const char *, req_done_cb *, void *);
struct req *netc_list(struct peer *, struct task *, uint32_t,
	    const char *, const char *, char *const *, size_t,
	    req_data_cb *, req_done_cb *, void *);

/* UIDVALIDITY bookkeeping shared by STATUS, SELECT codes, APPENDUID. */
void	 netc_set_uidvalidity(struct peer *, struct mbox *, uint32_t);
/* The reference's set_cache() for the pcache. */
void	 netc_set_pcache(struct peer *, struct mbox *, unsigned int,
	    uint32_t, uint32_t, uint64_t);
int	 netc_is_dirty(struct peer *, struct mbox *);
int	 netc_unreported(const struct peer *, const struct mbox *);
/* What a last synchronised HIGHESTMODSEQ may be (netc_state.c). */
uint64_t netc_synced_hms(const struct mbox *, uint32_t);
void	 netc_trust_hms(struct peer *, struct mbox *, uint64_t);
void	 netc_append_hms(struct peer *, struct req *, uint64_t);
int	 netc_confirm(struct peer *, struct task *, struct mbox *);
/* known_new.c: reports about new messages and our copies during a job. */
void	 known_copied(struct job *, uint32_t, uint32_t, uint32_t);
int	 known_echo(struct job *, uint32_t, struct modent *);
int	 known_hold(struct job *, uint32_t, struct modent *);
void	 known_held(struct job *, uint32_t, struct modtab *);
void	 known_vnew(struct job *, uint32_t, uint32_t, struct uidranges *);

/* Flags: sorted, space-joined copy (bytewise, as Perl's sort). */
char	*flags_sorted(const char *);
/* The union of two flag strings, sorted and deduplicated. */
char	*flags_union(const char *, const char *);
uint32_t flags_hash(const char *);

/* ------------------------------------------------------------------ */
/* Request groups: one UID set in pieces (rgroup.c). */

struct rgroup;
typedef void	 rgroup_done_cb(struct rgroup *);

struct rgroup {
	struct task	 t;
	struct task	*parent;
	struct peer	*p;
	struct mbox	*mb;
	size_t		 nreq;		/* pieces sent */
	uint32_t	 status;	/* the worst answer */
	struct req	*failed;	/* unused: see text */
	char		*text;		/* the first non-OK answer's text */
	uint32_t	 code;		/* ... and its code */
	struct uidranges modified;	/* STORE: the [MODIFIED] sets */
	rgroup_done_cb	*done;
	req_data_cb	*data;
	void		*arg;
};

/*
 * The IPC bound on a request's UID set text (net cuts it again into
 * IMAP commands of at most 4,096 bytes).
 */
#define RG_SET_MAX	(65536 - 256)

/*
 * Each sends the UIDs of the sorted, duplicate-free array (or ranges)
 * as one request per piece, answers gathered: done (may be NULL) runs
 * once every piece is answered, then the parent task is released.  An
 * empty set sends nothing and calls nothing.  data gets every FETCH
 * item and body of every piece.
 */
void	 rg_fetch(struct task *, struct peer *, struct mbox *,
	    const struct uidranges *, uint32_t, int, req_data_cb *,
	    rgroup_done_cb *, void *);
void	 rg_store(struct task *, struct peer *, struct mbox *,
	    const struct uidranges *, uint64_t, uint32_t, const char *,
	    rgroup_done_cb *, void *);
void	 rg_expunge(struct task *, struct peer *, struct mbox *,
	    const struct uidranges *, rgroup_done_cb *, void *);
/* A non-OK piece where the reference calls fail(): exits. */
void	 rg_check(struct rgroup *);

/* ------------------------------------------------------------------ */
/* The database, through priv (dbc.c). */

typedef void	 dbc_row_cb(struct eng *, struct ipc_msg *, void *);
typedef void	 dbc_done_cb(struct eng *, uint64_t, void *);

/*
 * Sends a request; rows go to row (may be NULL), the result's value to
 * done (may be NULL); t (may be NULL: a write nobody waits for) is held
 * until the answer.  priv answers in order; a refusal ends the engine.
 */
void	 dbc_send(struct eng *, struct task *, uint32_t, struct ipc_buf *,
	    dbc_row_cb *, dbc_done_cb *, void *);
void	 dbc_dispatch(struct eng *, struct ipc_msg *);
/*
 * IMSG_DB_MIGRATE with both servers' delimiters (the schema checked or
 * created, names converted): t waits for the answer.
 */
void	 dbc_migrate(struct eng *, struct task *);

/* Typed writes, posted (nobody waits). */
void	 dbc_commit(struct eng *);
void	 dbc_subscribe(struct eng *, int64_t, int);
void	 dbc_state_init(struct eng *, int64_t, uint32_t, uint32_t);
void	 dbc_state_set(struct eng *, int64_t, uint32_t, uint32_t, uint64_t,
	    uint32_t, uint64_t);
void	 dbc_map_add(struct eng *, int64_t, const uint32_t *,
	    const uint32_t *, size_t);
void	 dbc_map_del(struct eng *, int64_t, uint32_t, const uint32_t *,
	    size_t);
/*
 * Loads a job's mapping into j->map for its task, and the flags kept
 * of its sides synced plain into j->pf (pflags.c).
 */
void	 dbc_map_load(struct eng *, struct job *);

/* ------------------------------------------------------------------ */
/* Mailbox jobs (job.c). */

struct job_log;
struct job_logs {
	struct job_log	*head, *tail;
};
struct pflags {
	struct modtab	 kept;		/* uid -> flags, as last synced */
	struct modtab	 dirty;		/* uid -> flags, to be written */
};
struct known;
struct xfer;
struct adopt;
struct resume;
struct repair;

enum job_kind {
	JOB_SYNC,
	JOB_RESUME,
	JOB_REPAIR,		/* --repair of a mailbox with synced state */
};

struct job {
	struct task	 t;
	struct eng	*e;
	struct mbox	*mb;
	enum job_kind	 kind;
	struct job	*next;		/* e->jobs, in start order */
	struct job	*wnext;		/* waiting for a lease */
	struct peer	*p[2];		/* its lane's, by SIDE_*, once leased */
	/*
	 * The first sync of a mailbox whose messages are all on side lsrc,
	 * FETCHed with the SELECT: it shares its lane (job.c, the lease).
	 */
	int		 lend;
	uint32_t	 lsrc;
	/* A sync of a known mailbox: both sides lent once SELECTed. */
	int		 share;
	int		 started[2];	/* its SELECT sent, by SIDE_* */
	int		 batch_wait;	/* for another job's APPEND to end */
	int		 copy_wait;	/* for the lane's other way (xfer.c) */
	unsigned int	 lent;		/* 1 << SIDE_*: lent (lease_lend()) */

	struct map	 map;		/* the mailbox's UID mapping */
	struct pflags	 pf[2];		/* sides synced plain (pflags.c) */
	int		 state_inited;	/* local/remote rows written */
	int		 found;		/* sync_known found something */
	int		 again;		/* the local pass appended */
	int		 prefetched;	/* new mailbox, FETCH sent with SELECT */
	int		 finished;	/* only its kept lines remain */

	struct known	*known;		/* sync_known_messages in progress */
	struct xfer	*x;		/* a pass of new messages */
	struct xfer	*pre;		/* a FETCH sent with the SELECT */
	struct adopt	*adopt;
	struct adopt	*apre;		/* candidates fetched with the SELECT */
	struct resume	*resume;
	struct repair	*repair;
	struct uidvec	 ignore[2];	/* §6.5: not to be copied */
	struct uidvec	 removed[2];	/* UIDs its expunges removed */
	struct uidvec	 mapdel;	/* local UIDs of mapping rows whose
					   deletion waits for the state
					   (job_flush()) */
	struct uidranges vgone[2];	/* UIDs it saw VANISHED and handled */
	struct uidranges vnew[2];	/* VANISHED at or above the synced
					   UIDNEXT, kept for their copies */
	uint32_t	 uidnext0[2];	/* the synced UIDNEXT at its SELECT */
	struct modtab	 mnew[2];	/* flag changes of new messages,
					   held back (known.c) */
	struct copyvec	 copies[2];	/* what its APPENDs made */
	unsigned int	 rechecks;	/* J_CHECK found it dirty, in a row,
					   with no command sent since */
	uint32_t	 check_id[2];	/* the peers' next_id then */

	/*
	 * The local side's new messages below early_uidnext (0: none
	 * known) and their bytes, as adoption fetched them: the local
	 * pass's FETCH may go with the remote pass's (xfer_early()).
	 */
	uint32_t	 early_uidnext;
	uint64_t	 early_bytes;

	/* Lines logged while another job owns the log. */
	struct job_logs	 logs;
};

/*
 * The flags kept of the messages of a side synced plain (pflags.c), by
 * UID there: as last synced, and those to write with the next commit.
 */
int	 pflags_side(const struct job *, uint32_t);
/* DB_FLAGS_* of the job's sides synced plain. */
uint32_t pflags_sides(const struct job *);
void	 pflags_load(struct job *, uint32_t, uint32_t, const char *);
/* Keeps flags (sorted) for uid of a side synced plain; else nothing. */
void	 pflags_set(struct job *, uint32_t, uint32_t, const char *);
/*
 * 1 if flags (sorted), reported by side's server for uid, differ from
 * those kept (which they replace); 0 if the same, or if none were kept
 * (then kept from now on where a pair names uid).
 */
int	 pflags_changed(struct job *, uint32_t, uint32_t, const char *);
/* Posts the rows to write: before each of the job's commits. */
void	 pflags_flush(struct job *);
void	 pflags_free(struct job *);

/* Logs as the job: at once if its lines are next, else kept in order. */
void	 jlog(struct job *, int, const char *, const char *, const char *,
	    ...) __attribute__((format(printf, 5, 6)));
/* The same, or into *hold (not NULL) until jlog_release(). */
void	 jlog_to(struct job *, struct job_logs *, int, const char *,
	    const char *, const char *, ...)
	    __attribute__((format(printf, 6, 7)));
void	 jlog_release(struct job *, struct job_logs *);
/* Posts the job's local/remote rows if not yet (before its first write). */
void	 job_state_init(struct job *);
void	 job_flush(struct job *);

/* The sub-machines; each ends by setting j->t.state = j->ret. */
void	 known_start(struct job *, int);
void	 known_step(struct job *);
void	 known_free(struct known *);
void	 xfer_start(struct job *, uint32_t, int);
void	 xfer_step(struct job *);
void	 xfer_free(struct xfer *);
/* A sync job where one side only can have new messages: their FETCH. */
void	 xfer_prefetch(struct job *);
/* The lines of a pass ahead of its turn, said now (the run ends). */
void	 xfer_release_log(struct xfer *);
/* 1 if xfer_prefetch() would wait for the other side's copies: waits. */
int	 xfer_prefetch_wait(struct job *);
/* 1 if xfer_prefetch() would FETCH with the SELECT, and from which side. */
int	 xfer_prefetch_side(struct job *, uint32_t *);
/*
 * The UIDs of side's new messages (from the synced UIDNEXT up, minus the
 * ignore list and mapped UIDs), ending with n:4294967295; *first is the
 * lowest.
 */
void	 xfer_new_range(struct job *, uint32_t, struct uidranges *,
	    uint32_t *);
void	 adopt_start(struct job *, int);
/* A sync job with new messages on both sides: the candidates' FETCH. */
void	 adopt_prefetch(struct job *);
void	 adopt_step(struct job *);
void	 adopt_free(struct adopt *);
void	 resume_start(struct job *, int);
void	 resume_step(struct job *);
void	 resume_free(struct resume *);
void	 repair_start(struct job *, int);
void	 repair_step(struct job *);
void	 repair_free(struct repair *);
/*
 * The UIDs of side the expunges removed (now reported VANISHED) are
 * dropped from VANISHED and MODIFIED, logged and kept in j->removed;
 * the others go to failed.  rm is sorted.  Returns how many are gone.
 */
size_t	 known_removal_finish(struct job *, uint32_t, const struct uidvec *,
	    struct uidvec *, int);
/* §9.8: copy back UIDs of side whose expunge the server refused. */
void	 xfer_restore(struct job *, uint32_t, const struct uidvec *, int);
/*
 * --repair: copy the UIDs of side (sorted) to the other side again,
 * each logged with its sender (§6.6).
 */
void	 xfer_recopy(struct job *, uint32_t, const struct uidvec *, int);

/* Sub-machine states: each machine its own hundred; the job's below. */
#define JOB_SUB		100	/* known.c */
#define XFER_SUB	200	/* xfer.c */
#define ADOPT_SUB	300	/* adopt.c */
#define RESUME_SUB	400	/* resume.c */
#define REPAIR_SUB	500	/* repair.c */

/* The scheduler (job.c). */
void	 jobs_queue(struct eng *, struct mbox *, enum job_kind);
/* Starts queued jobs up to the limit; 1 while any is queued or running. */
int	 jobs_busy(struct eng *);
/* Flushes every job's kept lines (before an error ends the run). */
void	 jobs_flush_logs(struct eng *);

/* The lease of the connections (lease.c). */
/* Both servers speak QRESYNC and UIDPLUS themselves: jobs may share. */
int	 lease_can_share(const struct eng *);
/*
 * J_SELECT of a sharing job (j->lend): the SELECTs it may send now; 1
 * once both are sent, else 0 (lease_wake() sends the rest).
 */
int	 lease_select_shared(struct job *);
/* Leases both peers of a free lane to j (j->p), or queues it (0). */
int	 lease_acquire(struct job *);
void	 lease_release(struct job *);
/*
 * A sharing job (j->lend, j->share) needs side s selected no longer for
 * itself alone: the next job may send its SELECT there.  Its own commands that
 * come later are preceded by a SELECT again where needed (netc_send).
 */
void	 lease_lend(struct job *, uint32_t);
/* netc SELECTed the job's mailbox on side s (j->started). */
void	 lease_selected(struct job *, uint32_t);
/* An APPEND batch ended: jobs that waited for it may go on. */
void	 lease_batch_closed(struct eng *);
/* A server's copies are all received: those waiting to go the other way. */
void	 lease_copy_done(struct eng *);
/* A lane asked for (`connections') is still coming up. */
int	 lease_lanes_coming(const struct eng *);
/* A lane is free or has come up: the first job waiting may take it. */
void	 lease_wake(struct eng *);
/*
 * The net of lane k, side s, is gone (its connection refused or lost):
 * 1 if the run goes on without the lane (not lane 0, no job on it,
 * nothing in flight), 0 if the run cannot.
 */
int	 lease_drop(struct eng *, size_t, uint32_t);

/* ------------------------------------------------------------------ */
/* The run. */

struct dbreq;
struct run;

#define ENG_JOBS_MAX	4	/* jobs in flight at once, by default */

struct eng {
	struct ipc_chan	*parent;
	struct eng_conf	*conf;
	/*
	 * The connections, by lane and SIDE_*: lane 0 is peer[], which
	 * also carries everything that is not a mailbox job's (listing,
	 * creating, watching); the others (the `connections' key, one-shot
	 * runs only) serve jobs alone.
	 */
	struct peer	 peer[2];
	size_t		 nlanes;
	size_t		 lanes_asked;	/* IMSG_ENGINE_LANES sent for */
	struct peer	*lane[IPC_LANES_MAX][2];
	struct ipc_chan	*netchan[IPC_LANES_MAX][2];
	int		 quiet;

	/* Database requests in flight, oldest first. */
	struct dbreq	*dbhead, *dbtail;
	size_t		 dbinflight;

	/* Mailboxes, sorted by internal name once listed. */
	struct mbox	**mbox;
	size_t		 nmbox;
	void		*ignore_re;	/* pcre2_code *, or NULL */

	/* Jobs: queued, running (in start order), waiting for a lease. */
	struct mbox	**queue;
	enum job_kind	*queue_kind;
	size_t		 nqueue, queue_off, capqueue;
	struct job	*jobs, *jobstail;
	size_t		 njobs;
	size_t		 jobs_max;
	struct job	*lwait, *lwaittail;

	struct task	*runq, *runqtail;	/* woken tasks */

	/* One timer (watch mode's sleep), and a wake-up from priv. */
	int64_t		 timer_at;	/* clock_ms() */
	struct task	*timer_task;	/* woken when it fires, or NULL */
	int		 timer_fired;
	int		 wake;		/* IMSG_ENGINE_WAKE seen */
	int		 notified;	/* a server reported a change */
	size_t		 pass_jobs;	/* jobs started this pass */

	/* The pass's progress, for priv's progress line (progress.c). */
	int		 progress;	/* ENGINE_CONF_PROGRESS */
	uint32_t	 prog_done, prog_total;
	uint64_t	 prog_msgs, prog_bytes, prog_expected;
	int64_t		 prog_sent_at;	/* clock_ms() of the last update */

	struct run	*run;
	int		 finished;	/* the run is over */
	int		 code;		/* its exit code */
	int		 shutdown;	/* IMSG_SHUTDOWN seen */
	int		 done;		/* IMSG_ENGINE_DONE sent */
};

/*
 * The connections: nets[2k + side] is lane k's channel to side's net,
 * for nlanes lanes (1 to IPC_LANES_MAX).
 */
void	 eng_lanes_init(struct eng *, struct ipc_chan *, size_t);
/* The event loop: one round of poll + dispatch over the channels. */
void	 eng_poll(struct eng *);
/* The timer wakes t after ms (clock_ms()). */
void	 eng_timer_set(struct eng *, struct task *, uint64_t);
void	 eng_timer_cancel(struct eng *);
/* Something the run may be waiting for happened (run.c). */
void	 run_wake(struct eng *);
/* --notify: a server reported a change on its own (run.c). */
void	 run_notified(struct eng *);

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
struct mbox *mbox_by_idx(struct eng *, int64_t);
/* Server name -> internal name (caller frees), NULL outside the ref. */
char	*mbox_unname(struct eng *, uint32_t, const char *, size_t *);
/* Internal name -> server name of side (SIDE_NONE: pretty); caller frees. */
char	*mbox_server_name(struct eng *, uint32_t, const char *, size_t);
/* The reference's print_delimiter(); caller frees. */
char	*mbox_delim_str(int);
/* Listed on side, and neither \NonExistent nor \NoSelect. */
int	 mbox_exists(const struct mbox *, uint32_t);
int	 mbox_subscribed(const struct mbox *, uint32_t);
/*
 * Has side new messages, as its LIST-STATUS says against the last synced
 * state: 1 yes, 0 no, -1 cannot tell (not listed, a value missing, the
 * UIDVALIDITY changed or the UIDNEXT went back).
 */
int	 mbox_listed_new(const struct mbox *, uint32_t);
void	 mbox_free_all(struct eng *);
/*
 * Listing and reconciliation, steps of the run task: each returns 1
 * when its phase is complete, 0 when it sent requests (the run's step
 * comes back once they are answered).
 */
int	 mbox_list_step(struct eng *, struct task *);
int	 mbox_reconcile_step(struct eng *, struct task *);

/*
 * progress.c: the pass's progress, sent to priv when it asked for it
 * (a terminal): a job queued (with what its mailbox may bring), a job
 * done, a batch of copies answered, the pass over.
 */
void	 progress_queued(struct eng *, const struct mbox *);
void	 progress_job_done(struct eng *);
void	 progress_copied(struct eng *, uint32_t, uint64_t);
void	 progress_pass_end(struct eng *);

/* maint.c: --delete and --rename, once both servers are ready. */
void	 maint_start(struct eng *);

/* run.c: the whole run; returns the exit code. */
int	 sync_run(struct eng *);
/* An INTERNALDATE as seconds since the epoch; INT64_MIN if invalid. */
int64_t	 eng_internaldate(const char *);

#endif
