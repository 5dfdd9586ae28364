/*
 * Flag pushes grouped by flag string (fgroup.c).
 */
#ifndef ENGINE_FGROUP_H
#define ENGINE_FGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "uidset.h"

struct job;
struct peer;

struct fentry {
	char		*flags;		/* owned */
	uint32_t	 uid;
};

/* One group: entries first .. first+n-1 of the sorted array. */
struct fgroup {
	size_t		 first, n;
	int		 answered;
	uint32_t	 status;
	char		*text;
	struct uidranges modified;	/* [MODIFIED]: changed meanwhile */
};

/* Zero-initialised is empty. */
struct fgroups {
	struct fentry	*v;
	size_t		 n, cap;
	struct fgroup	*g;
	size_t		 ng;
};

/* uid of the side is to get flags (copied). */
void	 fgroups_add(struct fgroups *, const char *, uint32_t);
size_t	 fgroups_count(const struct fgroups *);
/* Sends the STOREs for the job (its task waits for them). */
void	 fgroups_send(struct job *, struct peer *, struct fgroups *);
/* Once answered: results into MODIFIED, the log lines. */
void	 fgroups_finish(struct job *, struct peer *, struct fgroups *);
void	 fgroups_free(struct fgroups *);

#endif
