/*
 * The message sequence numbers of the selected mailbox, for a server
 * synced without QRESYNC (imap_ops.c): such a server reports expunges as
 * "* n EXPUNGE" and others' flag changes as "* n FETCH" without UID, and
 * the engine speaks UIDs only.
 *
 * One entry per message, in sequence order (which is UID order): its
 * UID, or 0 while unknown (a message announced by EXISTS whose UID no
 * response has carried yet).  An expunge marks its entry dead; a
 * Fenwick tree over the live marks finds the n-th live entry in
 * O(log n), so a mass expunge stays O(n log n), and the dead entries are
 * dropped once they outnumber the live ones.  8 bytes per message.
 * Messages EXISTS announced beyond the last entry are only counted
 * (tail) until a FETCH tells one's UID, so a server's "* 4000000000
 * EXISTS" costs nothing.
 */
#ifndef NET_SEQMAP_H
#define NET_SEQMAP_H

#include <stddef.h>
#include <stdint.h>

struct seqmap {
	uint32_t	*uid;		/* per entry; dead: UINT32_MAX */
	uint32_t	*tree;		/* Fenwick tree of live marks, 1-based */
	size_t		 n;		/* entries, live or dead */
	size_t		 cap;
	size_t		 live;		/* live entries */
	size_t		 dead;
	uint32_t	 tail;		/* unknown messages after the entries */
};

void	 seqmap_init(struct seqmap *);
void	 seqmap_free(struct seqmap *);
/* Forgets every message (another mailbox, or none, is selected). */
void	 seqmap_clear(struct seqmap *);
/*
 * The mailbox holds the n UIDs of uids (strictly increasing, none
 * UINT32_MAX: -1 otherwise) followed by tail messages not known yet.
 */
int	 seqmap_set(struct seqmap *, const uint32_t *, size_t, uint32_t);
/*
 * EXISTS count: messages beyond the known ones are counted, UID
 * unknown.  -1 if count is below the current count (EXISTS never
 * shrinks the mailbox).  Out of memory is fatal everywhere.
 */
int	 seqmap_exists(struct seqmap *, uint32_t);
/* The UID of message seq (1-based): 0 if unknown; -1 if no such seq. */
int64_t	 seqmap_uid(const struct seqmap *, uint32_t);
/*
 * A FETCH response says message seq has UID uid: fills an unknown UID
 * (one far into the tail is let be: it stays unknown).  -1 if there is
 * no such seq, or seq already has another UID, or uid would break the
 * increasing order of the known UIDs around it.
 */
int	 seqmap_learn(struct seqmap *, uint32_t, uint32_t);
/*
 * "* seq EXPUNGE": removes the message; returns its UID (0 if unknown),
 * or -1 if there is no such seq.
 */
int64_t	 seqmap_expunge(struct seqmap *, uint32_t);
/* The mailbox's message count. */
uint64_t seqmap_count(const struct seqmap *);

#endif /* NET_SEQMAP_H */
