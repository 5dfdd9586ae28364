/*
 * The flags kept of a server synced without CONDSTORE (sync-method
 * plain, IMAP_CAP_PLAIN_SYNC).  Such a server cannot say which messages
 * changed since the last sync: its net reports the flags of every known
 * message as a change (ipc/imap_proto.h), and a job tells the real
 * changes from the flags the message had when last synced, kept in the
 * database beside the reference's schema (table flagstate, loaded with
 * the mapping).
 *
 * What a job keeps for each message of such a side, by its UID there:
 *  - the flags it reported, when they differ from the kept ones (a
 *    change, which known.c propagates) or none were kept yet (a message
 *    synced before by another method: its flags then are taken as
 *    synced, so that nothing is propagated on a guess);
 *  - the flags the server answered a STORE of ours with (fgroup.c);
 *  - the flags of each message copied to or from it (append.c).
 * The rows go to priv with the next commit of the job (pflags_flush()
 * before each dbc_commit()), so they are committed with the mapping and
 * the HIGHESTMODSEQ of the same step: a run interrupted before the
 * commit finds the same changes again.  priv deletes a pair's rows with
 * its mapping row.
 */
#include <stdlib.h>
#include <string.h>

#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"

/*
 * Payload bytes per IMSG_DB_FLAGS_SET: rows are added while below this,
 * and a row's flags are below 64 KiB (priv refuses more), so that a
 * message stays below IPC_MAX_PAYLOAD.
 */
#define PFLAGS_BYTES_PER_MSG	(128 * 1024)

int
pflags_side(const struct job *j, uint32_t s)
{
	return (j->e->peer[s].caps & IMAP_CAP_PLAIN_SYNC) != 0;
}

uint32_t
pflags_sides(const struct job *j)
{
	return (pflags_side(j, SIDE_LOCAL) ? DB_FLAGS_LOCAL : 0) |
	    (pflags_side(j, SIDE_REMOTE) ? DB_FLAGS_REMOTE : 0);
}

/* A loaded row (IMSG_DB_FLAG_ROWS): kept, not to be written again. */
void
pflags_load(struct job *j, uint32_t s, uint32_t uid, const char *flags)
{
	modtab_put(&j->pf[s].kept, uid, 0, flags_sorted(flags));
}

void
pflags_set(struct job *j, uint32_t s, uint32_t uid, const char *flags)
{
	struct modent *me;

	if (!pflags_side(j, s) || uid == 0 || flags == NULL)
		return;
	me = modtab_get(&j->pf[s].kept, uid);
	if (me != NULL && me->flags != NULL && strcmp(me->flags, flags) == 0)
		return;
	modtab_put(&j->pf[s].kept, uid, 0, eng_strdup(flags));
	modtab_put(&j->pf[s].dirty, uid, 0, eng_strdup(flags));
}

int
pflags_changed(struct job *j, uint32_t s, uint32_t uid, const char *flags)
{
	struct modent *me = modtab_get(&j->pf[s].kept, uid);

	if (me == NULL || me->flags == NULL) {
		/*
		 * Nothing kept: synced as they are (see the top), if a pair
		 * names the message.  One that none names (left out, or a
		 * server's lie) gets no row either: nothing is done with
		 * it, as the other methods do nothing with it until it
		 * changes (--repair is what finds it).
		 */
		if (map_lookup(&j->map, s, uid) != 0)
			pflags_set(j, s, uid, flags);
		return 0;
	}
	if (strcmp(me->flags, flags) == 0)
		return 0;
	pflags_set(j, s, uid, flags);
	return 1;
}

void
pflags_flush(struct job *j)
{
	struct modent *ent;
	struct ipc_buf buf;
	size_t i, k, n, bytes;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if (j->pf[s].dirty.n == 0)
			continue;
		ent = modtab_drain(&j->pf[s].dirty, &n);
		for (i = 0; i < n; i = k) {
			bytes = 0;
			for (k = i; k < n && (k == i ||
			    bytes < PFLAGS_BYTES_PER_MSG); k++)
				bytes += 8 + strlen(ent[k].flags);
			ipc_buf_init(&buf);
			ipc_put_u64(&buf, (uint64_t)j->mb->idx);
			ipc_put_u32(&buf, s);
			ipc_put_u32(&buf, (uint32_t)(k - i));
			for (; i < k; i++) {
				ipc_put_u32(&buf, ent[i].uid);
				ipc_put_str(&buf, ent[i].flags);
			}
			dbc_send(j->e, NULL, IMSG_DB_FLAGS_SET, &buf, NULL,
			    NULL, NULL);
			ipc_buf_free(&buf);
		}
		for (i = 0; i < n; i++)
			free(ent[i].flags);
		free(ent);
	}
}

void
pflags_free(struct job *j)
{
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		modtab_free(&j->pf[s].kept);
		modtab_free(&j->pf[s].dirty);
	}
}
