/*
 * libFuzzer target for the engine's decoders of the answers it receives
 * (engine/answer.c): the input's first byte picks the message, the rest
 * is its payload.
 *
 *	0 IMSG_IMAP_DONE	a net; its code data too: the number of a
 *				[UIDVALIDITY], [UIDNEXT] or [HIGHESTMODSEQ],
 *				the UIDVALIDITY and set of an [APPENDUID]
 *	1 IMSG_IMAP_CODE	a net
 *	2 IMSG_IMAP_VANISHED	a net
 *	3 IMSG_IMAP_LIST_ITEM	a net
 *	4 IMSG_IMAP_STATUS_ITEM	a net
 *	5 IMSG_DB_RESULT	priv
 *	6 IMSG_DB_MAILBOX_ROW	priv
 *	7 IMSG_DB_MAP_ROWS	priv
 *	8 IMSG_DB_FLAG_ROWS	priv
 *
 * FETCH items (fitem_decode()) are fuzz_ipc_msg's; the UID sets
 * themselves, fuzz_uidset's.  A payload outside the catalogue's length
 * bounds never reaches a decoder (ipc_get() refuses it): skipped.  What a
 * decoder accepts must be in its ranges; what it refuses leaves nothing
 * to free.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "imap_proto.h"
#include "answer.h"
#include "fuzz_common.h"
#include "fuzz_msg.h"

static const uint32_t types[] = {
	IMSG_IMAP_DONE, IMSG_IMAP_CODE, IMSG_IMAP_VANISHED,
	IMSG_IMAP_LIST_ITEM, IMSG_IMAP_STATUS_ITEM, IMSG_DB_RESULT,
	IMSG_DB_MAILBOX_ROW, IMSG_DB_MAP_ROWS, IMSG_DB_FLAG_ROWS,
};

/* Every byte of a name, so that ASan sees one outside the message. */
static void
fuzz_name(const char *name, size_t len, int nul_ok)
{
	volatile size_t n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (name[i] == '\0' && !nul_ok)
			abort();
		n += (unsigned char)name[i];
	}
	(void)n;
}

static void
fuzz_code_data(uint32_t code, const char *data)
{
	struct uidranges rs;
	uint64_t v;
	uint32_t uv;
	const char *p;

	switch (code) {
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_HIGHESTMODSEQ:
		if (ans_code_number(data, &v) == 0) {
			if (*data == '\0')
				abort();
			for (p = data; *p != '\0'; p++)
				if (*p < '0' || *p > '9')
					abort();
		} else if (v != 0)
			abort();
		break;
	case IMAP_CODE_APPENDUID:
		if (ans_appenduid(data, &uv, &rs) == 0) {
			if (uv == 0 || uidranges_count(&rs) == 0)
				abort();
			uidranges_free(&rs);
		} else if (uv != 0 || rs.r != NULL || rs.n != 0)
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg	 msg;
	struct ans_done	 done;
	struct ans_list	 li;
	struct ans_status st;
	struct ans_mbox_row row;
	struct ans_map_rows rows;
	struct ans_flag_rows frows;
	uint32_t	 u, l, r, i;
	uint64_t	 v;
	char		*s;

	if (size < 1)
		return 0;
	if (fuzz_msg(&msg, types[data[0] % (sizeof(types) /
	    sizeof(types[0]))], data + 1, size - 1) == -1)
		return 0;
	switch (msg.hdr.type) {
	case IMSG_IMAP_DONE:
		if (ans_imap_done(&msg, &done) == 0) {
			if (done.status > IMAP_DONE_BAD)
				abort();
			if (done.data != NULL)
				fuzz_code_data(done.code, done.data);
			free(done.data);
			free(done.text);
		} else if (done.data != NULL || done.text != NULL)
			abort();
		break;
	case IMSG_IMAP_CODE:
		(void)ans_imap_code(&msg, &u, &v);
		break;
	case IMSG_IMAP_VANISHED:
		if (ans_vanished(&msg, &u, &s) == 0) {
			if (s == NULL)
				abort();
			fuzz_name(s, strlen(s), 0);
			free(s);
		} else if (s != NULL)
			abort();
		break;
	case IMSG_IMAP_LIST_ITEM:
		if (ans_list_item(&msg, &li) == 0) {
			if (li.name == NULL || li.delim == 0 ||
			    li.delim > IMAP_DELIM_NIL)
				abort();
			fuzz_name(li.name, li.len, 0);
		}
		break;
	case IMSG_IMAP_STATUS_ITEM:
		if (ans_status_item(&msg, &st) == 0) {
			if (st.name == NULL)
				abort();
			fuzz_name(st.name, st.len, 0);
		}
		break;
	case IMSG_DB_RESULT:
		if (ans_db_result(&msg, &u, &v, &s) == 0) {
			if (s != NULL)
				fuzz_name(s, strlen(s), 0);
			free(s);
		} else if (s != NULL)
			abort();
		break;
	case IMSG_DB_MAILBOX_ROW:
		if (ans_mailbox_row(&msg, &row) == 0) {
			if (row.name == NULL || row.len == 0 || row.idx == 0 ||
			    row.idx > INT64_MAX)
				abort();
			fuzz_name(row.name, row.len, 1);
		}
		break;
	case IMSG_DB_MAP_ROWS:
		if (ans_map_rows(&msg, &rows) == 0) {
			for (i = 0; i < rows.n; i++)
				ans_map_pair(&rows, &l, &r);
			/* Exactly n pairs: all read, nothing left. */
			if (ipc_rd_end(&rows.rd) == -1)
				abort();
		}
		break;
	case IMSG_DB_FLAG_ROWS:
		if (ans_flag_rows(&msg, &frows) == 0) {
			if (frows.side > 1)
				abort();
			for (i = 0; i < frows.n; i++) {
				if (ans_flag_row(&frows, &u, &s) == -1) {
					if (s != NULL)
						abort();
					break;
				}
				if (u == 0)
					abort();
				fuzz_name(s, strlen(s), 0);
				free(s);
			}
		}
		break;
	}
	ipc_msg_free(&msg);
	return 0;
}
