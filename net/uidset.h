/*
 * UID sets as text, the way the reference writes them
 * (REFERENCE-BEHAVIOUR.md sections 4.4, 4.5 and 4.8).
 *
 * Splitting a long set for UID FETCH/STORE/EXPUNGE:
 *
 *	while (len > 0) {
 *		if ((n = imap_uids_chunk(s, len, UIDSET_CHUNK_MAX)) == 0)
 *			error;
 *		send a command with the n bytes at s;
 *		if (n == len)
 *			break;
 *		s += n + 1;		(the comma)
 *		len -= n + 1;
 *	}
 */
#ifndef NET_UIDSET_H
#define NET_UIDSET_H

#include <stddef.h>
#include <stdint.h>

#define UIDSET_CHUNK_MAX	4096	/* chars per command */
#define UIDSET_SAMPLE_UIDS	1024	/* QRESYNC sample: UIDs looked at */
#define UIDSET_SAMPLE_LEN	256	/* ... and length of the UID set */

/*
 * compact_set: sorted, duplicates dropped, consecutive runs as "a:b",
 * e.g. {5, 1, 3, 4, 3} -> "1,3:5".  Caller frees; NULL if n is 0 (an
 * empty set is a bug) or out of memory.
 */
char	*imap_uids_compact_set(const uint32_t *, size_t);
/*
 * compact_list: input order kept, runs going up or down by one merged
 * (a run's direction is set by its second element), e.g. {5, 4, 3, 7}
 * -> "5:3,7".  Only for the "Added ..." log message.  Caller frees;
 * NULL if n is 0 or out of memory.
 */
char	*imap_uids_compact_list(const uint32_t *, size_t);
/*
 * The length of the first chunk of a set of len bytes: len if it is at
 * most max, else the position of the last comma at or before max.  0 if
 * there is no such comma (an element longer than max).
 */
size_t	 imap_uids_chunk(const char *, size_t, size_t);
/*
 * The QRESYNC message sequence match data for SELECT (RFC 7162 3.2.5.2):
 * from uids, the mailbox's mapped UIDs in descending order (only the
 * first UIDSET_SAMPLE_UIDS are looked at), and count, the number of
 * mapped messages: *uidset holds the highest UIDs as ascending ranges,
 * stopping once it is longer than UIDSET_SAMPLE_LEN (the range that
 * crossed the limit kept), *seqset "<count-n+1>:<count>" for the n UIDs
 * it covers.  count 0 means no sample: 0 with both NULL.  Caller frees
 * both.  -1 on bad input (no UIDs, a UID 0, n > count) or out of memory.
 */
int	 imap_uids_qresync_sample(const uint32_t *, size_t, uint64_t, char **,
	    char **);
/*
 * 1 if x is in the set (elements "n", "a:b" in either order, "n:*",
 * "*:n", "*"; a "*" alone matches anything), 0 if not, -1 if the set is
 * malformed.
 */
int	 imap_uids_contains(const char *, uint32_t);

#endif
