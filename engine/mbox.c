/*
 * The mailbox table: internal names (reference removed, delimiter =
 * NUL), the mapping between them and each server's names.  Mailboxes are
 * kept sorted by internal name (bytes), so every pass over them is in a
 * deterministic order, not the reference's hash order.  Listing is in
 * list.c, reconciliation in reconcile.c.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static int	 mbox_cmp_name(const char *, size_t, const char *, size_t);
static ssize_t	 mbox_search(struct eng *, const char *, size_t, size_t *);

static int
mbox_cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	r = memcmp(a, b, alen < blen ? alen : blen);
	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/* Index of name, or -1 with *at = where it would go. */
static ssize_t
mbox_search(struct eng *e, const char *name, size_t len, size_t *at)
{
	size_t lo = 0, hi = e->nmbox, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = mbox_cmp_name(e->mbox[mid]->name, e->mbox[mid]->len,
		    name, len);
		if (r == 0)
			return (ssize_t)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return -1;
}

struct mbox *
mbox_find(struct eng *e, const char *name, size_t len)
{
	ssize_t i;

	if ((i = mbox_search(e, name, len, NULL)) == -1)
		return NULL;
	return e->mbox[i];
}

struct mbox *
mbox_get(struct eng *e, const char *name, size_t len)
{
	struct mbox *mb;
	size_t at;
	ssize_t i;

	if ((i = mbox_search(e, name, len, &at)) != -1)
		return e->mbox[i];
	mb = eng_calloc(1, sizeof(*mb));
	mb->name = eng_memdup(name, len);
	mb->len = len;
	e->mbox = eng_reallocarray(e->mbox, e->nmbox + 1, sizeof(*e->mbox));
	memmove(&e->mbox[at + 1], &e->mbox[at],
	    (e->nmbox - at) * sizeof(*e->mbox));
	e->mbox[at] = mb;
	e->nmbox++;
	return mb;
}

void
mbox_free_all(struct eng *e)
{
	size_t i;

	for (i = 0; i < e->nmbox; i++) {
		free(e->mbox[i]->name);
		free(e->mbox[i]->pretty);
		free(e->mbox[i]->srv[0]);
		free(e->mbox[i]->srv[1]);
		for (int s = 0; s < 2; s++) {
			uidranges_free(&e->mbox[i]->sel[s].vanished);
			modtab_free(&e->mbox[i]->sel[s].modified);
			uidvec_free(&e->mbox[i]->intr[s]);
			uidvec_free(&e->mbox[i]->refused[s]);
		}
		free(e->mbox[i]);
	}
	free(e->mbox);
	e->mbox = NULL;
	e->nmbox = 0;
	if (e->ignore_re != NULL)
		pcre2_code_free(e->ignore_re);
	e->ignore_re = NULL;
}

/* ------------------------------------------------------------------ */
/* Names. */

/*
 * Server name -> internal name (caller frees): the side's reference
 * stripped (NULL when the name is not under it) and its delimiter turned
 * into NUL.
 */
char *
mbox_unname(struct eng *e, uint32_t side, const char *srv, size_t *lenp)
{
	const char *ref = e->conf->list_reference[side];
	size_t rlen = strlen(ref), i, len;
	int d = e->peer[side].delim;
	char *s;

	if (strncmp(srv, ref, rlen) != 0)
		return NULL;
	len = strlen(srv) - rlen;
	s = eng_memdup(srv + rlen, len);
	if (d >= 0 && d != IMAP_DELIM_NIL)
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] == d)
				s[i] = '\0';
	*lenp = len;
	return s;
}

/* Internal name -> server name of side (caller frees). */
char *
mbox_server_name(struct eng *e, uint32_t side, const char *name, size_t len)
{
	struct sbuf b = { NULL, 0, 0 };
	int d;
	size_t i;

	if (side != SIDE_NONE) {
		sbuf_adds(&b, e->conf->list_reference[side]);
		d = e->peer[side].delim;
	} else
		d = e->peer[SIDE_LOCAL].delim;
	for (i = 0; i < len; i++) {
		if (name[i] == '\0' && d >= 0 && d != IMAP_DELIM_NIL)
			sbuf_addc(&b, (char)d);
		else
			sbuf_addc(&b, name[i]);
	}
	if (b.s == NULL)
		sbuf_adds(&b, "");
	return sbuf_take(&b);
}

struct mbox *
mbox_by_server(struct eng *e, uint32_t side, const char *srv)
{
	struct mbox *mb;
	size_t len;
	char *name;

	if (e->peer[side].delim == -1)
		return NULL;
	if ((name = mbox_unname(e, side, srv, &len)) == NULL)
		return NULL;
	mb = mbox_find(e, name, len);
	free(name);
	return mb;
}

struct mbox *
mbox_by_idx(struct eng *e, int64_t idx)
{
	size_t i;

	for (i = 0; i < e->nmbox; i++)
		if (e->mbox[i]->idx == idx)
			return e->mbox[i];
	return NULL;
}

/* The reference's print_delimiter(): "x", "\\", "\"" or NIL. */
char *
mbox_delim_str(int d)
{
	char buf[8];

	if (d < 0 || d == IMAP_DELIM_NIL)
		return eng_strdup("NIL");
	if (d == '\\' || d == '"')
		(void)snprintf(buf, sizeof(buf), "\"\\%c\"", d);
	else
		(void)snprintf(buf, sizeof(buf), "\"%c\"", d);
	return eng_strdup(buf);
}

int
mbox_exists(const struct mbox *mb, uint32_t side)
{
	return mb->listed[side] &&
	    !(mb->attrs[side] & (IMAP_MBX_NONEXISTENT | IMAP_MBX_NOSELECT));
}

int
mbox_subscribed(const struct mbox *mb, uint32_t side)
{
	return mb->listed[side] && (mb->attrs[side] & IMAP_MBX_SUBSCRIBED);
}

int
mbox_listed_new(const struct mbox *mb, uint32_t side)
{
	const struct mcache *c = &mb->cache[side], *pc = &mb->pcache[side];
	const unsigned int both = MC_UIDNEXT | MC_UIDVALIDITY;

	if (!mb->listed[side] || (c->has & both) != both ||
	    (pc->has & both) != both || pc->uidnext == 0 ||
	    c->uidvalidity != pc->uidvalidity || c->uidnext < pc->uidnext)
		return -1;
	return c->uidnext > pc->uidnext;
}
