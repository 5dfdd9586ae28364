/*
 * UID lists and IMAP UID sets, the engine's own (net has its own
 * formatter; only ipc/ headers cross directories).
 *
 * compact_set and compact_list follow the reference (REFERENCE-BEHAVIOUR
 * §4.5): a set is sorted and deduplicated ("1,3:5"), a list keeps its
 * order and merges runs going up or down by one ("5:3,7").
 */
#ifndef ENGINE_UIDSET_H
#define ENGINE_UIDSET_H

#include <stddef.h>
#include <stdint.h>

/* A growable array of UIDs; zero-initialised is empty.  Owns v. */
struct uidvec {
	uint32_t	*v;
	size_t		 n, cap;
};

void	 uidvec_push(struct uidvec *, uint32_t);
void	 uidvec_append(struct uidvec *, const uint32_t *, size_t);
void	 uidvec_clear(struct uidvec *);	/* n = 0, memory kept */
void	 uidvec_free(struct uidvec *);
/* Sorts ascending and drops duplicates. */
void	 uidvec_sort_uniq(struct uidvec *);
/* Membership in a vector sorted by uidvec_sort_uniq(). */
int	 uidvec_has(const struct uidvec *, uint32_t);
/* Removes from v every UID of the sorted vector drop (order kept). */
void	 uidvec_remove(struct uidvec *, const struct uidvec *);

/* An inclusive range lo <= hi. */
struct uid_range {
	uint32_t	lo, hi;
};

/* A growable array of ranges, in the order parsed.  Owns r. */
struct uidranges {
	struct uid_range *r;
	size_t		  n, cap;
};

void	 uidranges_push(struct uidranges *, uint32_t, uint32_t);
void	 uidranges_free(struct uidranges *);
/* Number of UIDs covered, counting overlaps twice. */
uint64_t uidranges_count(const struct uidranges *);
/* Sorts and merges overlapping or adjacent ranges. */
void	 uidranges_normalize(struct uidranges *);
/* Membership in normalized ranges (a binary search). */
int	 uidranges_has(const struct uidranges *, uint32_t);
/* Appends the runs of a sorted, duplicate-free array. */
void	 uidranges_from_vec(struct uidranges *, const uint32_t *, size_t);
/* Removes the UIDs of a sorted array (the ranges get normalized). */
void	 uidranges_minus(struct uidranges *, const uint32_t *, size_t);
/* Removes the UIDs of b (both get normalized). */
void	 uidranges_minus_ranges(struct uidranges *, struct uidranges *);
/* Drops every UID >= below (normalized ranges stay so). */
void	 uidranges_clip(struct uidranges *, uint32_t);
/*
 * Appends to out the compact text of the ranges from index from on, as
 * many as fit in max bytes (one at least); returns the index of the
 * first range left out (rs->n when all went).
 */
struct sbuf;
size_t	 uidranges_piece(const struct uidranges *, size_t, size_t,
	    struct sbuf *);
/* The compact text of all ranges (NULL when empty); caller frees. */
char	*uidranges_str(const struct uidranges *);

/*
 * Parses a sequence-set of numbers and "a:b" ranges (either order) into
 * rs (appending).  "*" is refused: the engine never needs it.  0 or -1
 * if the text is not a set of non-zero 32-bit numbers.
 */
int	 uidset_parse(const char *, struct uidranges *);
/*
 * The reference's membership test: n, a:b (either order), n:* and *
 * (which matches everything).  1 if x belongs to set, 0 if not (or if
 * the set is malformed).
 */
int	 uidset_contains(const char *, uint32_t);

/*
 * compact_set / compact_list.  Return a new string the caller frees;
 * n must be > 0 (an empty list is a bug in the caller: NULL).
 * uid_compact_set does not modify its input.
 */
char	*uid_compact_set(const uint32_t *, size_t);
char	*uid_compact_list(const uint32_t *, size_t);

/* "1:<n>" for UIDs 1..n (n > 0); caller frees. */
char	*uid_range_str(uint32_t, uint32_t);

#endif
