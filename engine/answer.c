/*
 * The decoders of the answers from the nets and from priv (answer.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "imap_proto.h"
#include "proc.h"
#include "answer.h"

int
ans_imap_done(const struct ipc_msg *msg, struct ans_done *a)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	a->status = ipc_get_u32(&rd);
	a->code = ipc_get_u32(&rd);
	a->data = ipc_get_str(&rd);
	a->text = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || a->status > IMAP_DONE_BAD) {
		free(a->data);
		free(a->text);
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

/*
 * The decimal number of len bytes at s, digits only (no sign, no blank),
 * not past max; -1 if it is none.  strtoul() would take " +1", "-1" (as
 * its negation) and clamp an overflow: the text is a net's, whatever it
 * says must be what the server sent.
 */
static int
ans_number(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	size_t i;
	uint64_t d;

	*v = 0;
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		d = (uint64_t)(s[i] - '0');
		if (*v > (max - d) / 10)
			goto bad;
		*v = *v * 10 + d;
	}
	return 0;
bad:
	*v = 0;
	return -1;
}

int
ans_code_number(const char *s, uint64_t *v)
{
	return ans_number(s, strlen(s), UINT64_MAX, v);
}

int
ans_appenduid(const char *s, uint32_t *uv, struct uidranges *set)
{
	const char *sp;
	uint64_t v;

	memset(set, 0, sizeof(*set));
	*uv = 0;
	if ((sp = strchr(s, ' ')) == NULL ||
	    ans_number(s, (size_t)(sp - s), UINT32_MAX, &v) == -1 || v == 0)
		return -1;
	if (uidset_parse(sp + 1, set) == -1) {
		uidranges_free(set);
		memset(set, 0, sizeof(*set));
		return -1;
	}
	*uv = (uint32_t)v;
	return 0;
}

int
ans_imap_code(const struct ipc_msg *msg, uint32_t *code, uint64_t *value)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	*code = ipc_get_u32(&rd);
	*value = ipc_get_u64(&rd);
	free(ipc_get_str(&rd));
	return ipc_rd_end(&rd);
}

int
ans_vanished(const struct ipc_msg *msg, uint32_t *earlier, char **set)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	*earlier = ipc_get_u32(&rd);
	*set = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || *set == NULL) {
		free(*set);
		*set = NULL;
		return -1;
	}
	return 0;
}

int
ans_list_item(const struct ipc_msg *msg, struct ans_list *a)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	a->attrs = ipc_get_u32(&rd);
	a->delim = ipc_get_u32(&rd);
	a->name = ipc_get_data(&rd, &a->len);
	if (ipc_rd_end(&rd) == -1 || a->name == NULL ||
	    memchr(a->name, '\0', a->len) != NULL || a->delim == 0 ||
	    a->delim > IMAP_DELIM_NIL) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
ans_status_item(const struct ipc_msg *msg, struct ans_status *a)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	a->name = ipc_get_data(&rd, &a->len);
	a->mask = ipc_get_u32(&rd);
	a->uidvalidity = ipc_get_u32(&rd);
	a->uidnext = ipc_get_u32(&rd);
	a->hms = ipc_get_u64(&rd);
	a->messages = ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1 || a->name == NULL ||
	    memchr(a->name, '\0', a->len) != NULL) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
ans_db_result(const struct ipc_msg *msg, uint32_t *status, uint64_t *value,
    char **err)
{
	struct ipc_rd rd;

	ipc_rd_init(&rd, msg);
	*status = ipc_get_u32(&rd);
	*value = ipc_get_u64(&rd);
	*err = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1) {
		free(*err);
		*err = NULL;
		return -1;
	}
	return 0;
}

int
ans_mailbox_row(const struct ipc_msg *msg, struct ans_mbox_row *a)
{
	struct ipc_rd rd;
	int s;

	ipc_rd_init(&rd, msg);
	a->idx = ipc_get_u64(&rd);
	a->name = ipc_get_data(&rd, &a->len);
	a->subscribed = ipc_get_u32(&rd);
	a->has_state = ipc_get_u32(&rd);
	for (s = 0; s < 2; s++) {
		a->uidvalidity[s] = ipc_get_u32(&rd);
		a->uidnext[s] = ipc_get_u32(&rd);
		a->hms[s] = ipc_get_u64(&rd);
	}
	if (ipc_rd_end(&rd) == -1 || a->name == NULL || a->len == 0 ||
	    a->idx == 0 || a->idx > INT64_MAX) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
ans_map_rows(const struct ipc_msg *msg, struct ans_map_rows *a)
{
	ipc_rd_init(&a->rd, msg);
	a->idx = ipc_get_u64(&a->rd);
	a->n = ipc_get_u32(&a->rd);
	if (a->rd.error || a->rd.left != (size_t)a->n * 8) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

void
ans_map_pair(struct ans_map_rows *a, uint32_t *luid, uint32_t *ruid)
{
	*luid = ipc_get_u32(&a->rd);
	*ruid = ipc_get_u32(&a->rd);
}

int
ans_flag_rows(const struct ipc_msg *msg, struct ans_flag_rows *a)
{
	ipc_rd_init(&a->rd, msg);
	a->idx = ipc_get_u64(&a->rd);
	a->side = ipc_get_u32(&a->rd);
	a->n = ipc_get_u32(&a->rd);
	/* A row takes 8 bytes at least (u32 UID, u32 length). */
	if (a->rd.error || (a->side != SIDE_LOCAL &&
	    a->side != SIDE_REMOTE) || a->n > a->rd.left / 8) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
ans_flag_row(struct ans_flag_rows *a, uint32_t *uid, char **flags)
{
	*uid = ipc_get_u32(&a->rd);
	*flags = ipc_get_str(&a->rd);
	if (a->rd.error || *flags == NULL || *uid == 0) {
		free(*flags);
		*flags = NULL;
		return -1;
	}
	return 0;
}
