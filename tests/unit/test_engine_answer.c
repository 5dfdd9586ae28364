/*
 * The engine's decoders of the nets' and priv's answers (engine/answer.c):
 * what each accepts, what it refuses (length, NUL, ranges), and the
 * numbers in IMSG_IMAP_DONE's code data, which must be digits that fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "imap_proto.h"
#include "answer.h"
#include "tap.h"

static struct ipc_buf buf;
static struct ipc_msg msg;

static void
start(void)
{
	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
}

/* The message of type from buf, cut to len bytes (-1: all of them). */
static struct ipc_msg *
made(uint32_t type, long len)
{
	memset(&msg, 0, sizeof(msg));
	msg.fd = -1;
	msg.hdr.type = type;
	msg.len = len < 0 ? buf.len : (size_t)len;
	msg.hdr.len = (uint32_t)msg.len;
	msg.data = msg.len > 0 ? buf.data : NULL;
	return &msg;
}

static void
test_done(void)
{
	struct ans_done a;

	start();
	ipc_put_u32(&buf, IMAP_DONE_NO);
	ipc_put_u32(&buf, IMAP_CODE_TRYCREATE);
	ipc_put_str(&buf, "");
	ipc_put_str(&buf, "no such mailbox");
	OK(ans_imap_done(made(IMSG_IMAP_DONE, -1), &a) == 0, "done: accepted");
	IS_INT(a.status, IMAP_DONE_NO, "done: status");
	IS_INT(a.code, IMAP_CODE_TRYCREATE, "done: code");
	IS_STR(a.data, "", "done: data");
	IS_STR(a.text, "no such mailbox", "done: text");
	free(a.data);
	free(a.text);
	OK(ans_imap_done(made(IMSG_IMAP_DONE, (long)buf.len - 1), &a) == -1 &&
	    a.data == NULL && a.text == NULL, "done: short, nothing kept");
	start();
	ipc_put_u32(&buf, IMAP_DONE_BAD + 1);
	ipc_put_u32(&buf, 0);
	ipc_put_str(&buf, "");
	ipc_put_str(&buf, "");
	OK(ans_imap_done(made(IMSG_IMAP_DONE, -1), &a) == -1,
	    "done: status past BAD");
	start();
	ipc_put_u32(&buf, IMAP_DONE_OK);
	ipc_put_u32(&buf, 0);
	ipc_put_data(&buf, "a\0b", 3);
	ipc_put_str(&buf, "");
	OK(ans_imap_done(made(IMSG_IMAP_DONE, -1), &a) == -1,
	    "done: a NUL in the data");
}

static void
test_code_number(void)
{
	static const struct {
		const char	*s;
		int		 ok;
		uint64_t	 v;
	} c[] = {
		{ "0", 1, 0 },
		{ "1", 1, 1 },
		{ "4294967296", 1, 4294967296ULL },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "", 0, 0 },
		{ "1a", 0, 0 },
		{ "1 ", 0, 0 },
		/* strtoull() would have taken these */
		{ "18446744073709551616", 0, 0 },
		{ "99999999999999999999999", 0, 0 },
		{ "-1", 0, 0 },
		{ "+1", 0, 0 },
		{ " 1", 0, 0 },
		{ "\t1", 0, 0 },
	};
	size_t i;
	uint64_t v;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		IS_INT(ans_code_number(c[i].s, &v), c[i].ok ? 0 : -1,
		    c[i].s);
		IS_INT(v, c[i].v, "its value");
	}
}

static void
test_appenduid(void)
{
	static const struct {
		const char	*s;
		uint32_t	 uv;	/* 0: refused */
		uint64_t	 count;
	} c[] = {
		{ "1 1", 1, 1 },
		{ "4294967295 3:5,7", 4294967295U, 4 },
		{ "1234 7:5", 1234, 3 },
		{ "0 1", 0, 0 },
		{ "1", 0, 0 },
		{ "1 ", 0, 0 },
		{ "1 0", 0, 0 },
		{ "1 *", 0, 0 },
		{ "x 1", 0, 0 },
		{ " 1 1", 0, 0 },
		/* strtoul() and a cast to 32 bits would have taken these */
		{ "4294967296 1", 0, 0 },
		{ "4294967297 1", 0, 0 },
		{ "-1 1", 0, 0 },
		{ "-4294967295 1", 0, 0 },
		{ "+5 1", 0, 0 },
		{ "\t5 1", 0, 0 },
	};
	struct uidranges rs;
	size_t i;
	uint32_t uv;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		IS_INT(ans_appenduid(c[i].s, &uv, &rs), c[i].uv ? 0 : -1,
		    c[i].s);
		IS_INT(uv, c[i].uv, "its UIDVALIDITY");
		IS_INT(uidranges_count(&rs), c[i].count, "its UIDs");
		uidranges_free(&rs);
	}
}

static void
test_code_vanished(void)
{
	uint32_t u;
	uint64_t v;
	char *s;

	start();
	ipc_put_u32(&buf, IMAP_CODE_HIGHESTMODSEQ);
	ipc_put_u64(&buf, 42);
	ipc_put_str(&buf, NULL);
	OK(ans_imap_code(made(IMSG_IMAP_CODE, -1), &u, &v) == 0 &&
	    u == IMAP_CODE_HIGHESTMODSEQ && v == 42, "code: accepted");
	OK(ans_imap_code(made(IMSG_IMAP_CODE, 11), &u, &v) == -1,
	    "code: short");
	start();
	ipc_put_u32(&buf, 1);
	ipc_put_str(&buf, "1:3");
	OK(ans_vanished(made(IMSG_IMAP_VANISHED, -1), &u, &s) == 0 &&
	    u == 1 && s != NULL && strcmp(s, "1:3") == 0,
	    "vanished: accepted");
	free(s);
	start();
	ipc_put_u32(&buf, 0);
	ipc_put_str(&buf, NULL);
	OK(ans_vanished(made(IMSG_IMAP_VANISHED, -1), &u, &s) == -1 &&
	    s == NULL, "vanished: no set");
	start();
	ipc_put_u32(&buf, 0);
	ipc_put_str(&buf, "1");
	ipc_put_u32(&buf, 0);
	OK(ans_vanished(made(IMSG_IMAP_VANISHED, -1), &u, &s) == -1 &&
	    s == NULL, "vanished: bytes left over");
}

static int
list_item(uint32_t delim, const char *name, size_t len, struct ans_list *a)
{
	start();
	ipc_put_u32(&buf, 0x5);
	ipc_put_u32(&buf, delim);
	ipc_put_data(&buf, name, len);
	return ans_list_item(made(IMSG_IMAP_LIST_ITEM, -1), a);
}

static void
test_list_status(void)
{
	struct ans_list li;
	struct ans_status st;

	OK(list_item('/', "INBOX", 5, &li) == 0 && li.attrs == 0x5 &&
	    li.delim == '/' && li.len == 5 && memcmp(li.name, "INBOX", 5) == 0,
	    "list item: accepted");
	OK(list_item(IMAP_DELIM_NIL, "", 0, &li) == 0, "list item: NIL, ''");
	OK(list_item(0, "a", 1, &li) == -1, "list item: delimiter 0");
	OK(list_item(IMAP_DELIM_NIL + 1, "a", 1, &li) == -1,
	    "list item: delimiter past NIL");
	OK(list_item('.', "a\0b", 3, &li) == -1, "list item: a NUL");
	OK(list_item('.', NULL, 0, &li) == -1, "list item: no name");

	start();
	ipc_put_data(&buf, "Sent", 4);
	ipc_put_u32(&buf, IMAP_ST_UIDNEXT | IMAP_ST_HIGHESTMODSEQ);
	ipc_put_u32(&buf, 7);
	ipc_put_u32(&buf, 8);
	ipc_put_u64(&buf, 9);
	ipc_put_u32(&buf, 10);
	OK(ans_status_item(made(IMSG_IMAP_STATUS_ITEM, -1), &st) == 0 &&
	    st.len == 4 && memcmp(st.name, "Sent", 4) == 0 &&
	    st.mask == (IMAP_ST_UIDNEXT | IMAP_ST_HIGHESTMODSEQ) &&
	    st.uidvalidity == 7 && st.uidnext == 8 && st.hms == 9,
	    "status item: accepted");
	OK(ans_status_item(made(IMSG_IMAP_STATUS_ITEM, (long)buf.len - 1),
	    &st) == -1 && st.name == NULL, "status item: short");
	start();
	ipc_put_data(&buf, "S\0", 2);
	ipc_put_u32(&buf, 0);
	ipc_put_u32(&buf, 0);
	ipc_put_u32(&buf, 0);
	ipc_put_u64(&buf, 0);
	ipc_put_u32(&buf, 0);
	OK(ans_status_item(made(IMSG_IMAP_STATUS_ITEM, -1), &st) == -1,
	    "status item: a NUL");
}

static int
mbox_row(uint64_t idx, const char *name, size_t len, struct ans_mbox_row *a)
{
	int s;

	start();
	ipc_put_u64(&buf, idx);
	ipc_put_data(&buf, name, len);
	ipc_put_u32(&buf, 1);
	ipc_put_u32(&buf, 1);
	for (s = 0; s < 2; s++) {
		ipc_put_u32(&buf, 100 + s);
		ipc_put_u32(&buf, 200 + s);
		ipc_put_u64(&buf, 300 + s);
	}
	return ans_mailbox_row(made(IMSG_DB_MAILBOX_ROW, -1), a);
}

static void
test_db(void)
{
	struct ans_mbox_row a;
	struct ans_map_rows m;
	struct ans_flag_rows fr;
	uint32_t st, l, r;
	uint64_t v;
	char *err, *fl;

	OK(mbox_row(3, "a\0b", 3, &a) == 0 && a.idx == 3 && a.len == 3 &&
	    memcmp(a.name, "a\0b", 3) == 0 && a.subscribed == 1 &&
	    a.has_state == 1 && a.uidvalidity[1] == 101 &&
	    a.uidnext[0] == 200 && a.hms[1] == 301,
	    "mailbox row: accepted (a NUL is a delimiter)");
	OK(mbox_row((uint64_t)INT64_MAX, "a", 1, &a) == 0,
	    "mailbox row: idx 2^63-1");
	OK(mbox_row((uint64_t)INT64_MAX + 1, "a", 1, &a) == -1,
	    "mailbox row: idx 2^63");
	OK(mbox_row(0, "a", 1, &a) == -1, "mailbox row: idx 0");
	OK(mbox_row(1, "", 0, &a) == -1, "mailbox row: empty name");
	OK(mbox_row(1, NULL, 0, &a) == -1, "mailbox row: no name");

	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 2);
	ipc_put_u32(&buf, 1);
	ipc_put_u32(&buf, 11);
	ipc_put_u32(&buf, 2);
	ipc_put_u32(&buf, 12);
	OK(ans_map_rows(made(IMSG_DB_MAP_ROWS, -1), &m) == 0 && m.idx == 5 &&
	    m.n == 2, "map rows: accepted");
	ans_map_pair(&m, &l, &r);
	OK(l == 1 && r == 11, "map rows: first pair");
	ans_map_pair(&m, &l, &r);
	OK(l == 2 && r == 12 && ipc_rd_end(&m.rd) == 0,
	    "map rows: second pair, the end");
	OK(ans_map_rows(made(IMSG_DB_MAP_ROWS, (long)buf.len - 4), &m) == -1,
	    "map rows: half a pair short");
	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 0x20000000);	/* n * 8 is 2^32 */
	OK(ans_map_rows(made(IMSG_DB_MAP_ROWS, -1), &m) == -1,
	    "map rows: 2^29 announced, none there");

	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 1);
	ipc_put_u32(&buf, 2);
	ipc_put_u32(&buf, 3);
	ipc_put_str(&buf, "\\Seen $X");
	ipc_put_u32(&buf, 4);
	ipc_put_str(&buf, "");
	OK(ans_flag_rows(made(IMSG_DB_FLAG_ROWS, -1), &fr) == 0 &&
	    fr.idx == 5 && fr.side == 1 && fr.n == 2, "flag rows: accepted");
	OK(ans_flag_row(&fr, &l, &fl) == 0 && l == 3 &&
	    strcmp(fl, "\\Seen $X") == 0, "flag rows: first row");
	free(fl);
	OK(ans_flag_row(&fr, &l, &fl) == 0 && l == 4 && strcmp(fl, "") == 0 &&
	    ipc_rd_end(&fr.rd) == 0, "flag rows: second row (no flags), the end");
	free(fl);
	OK(ans_flag_rows(made(IMSG_DB_FLAG_ROWS, (long)buf.len - 2), &fr) == 0 &&
	    ans_flag_row(&fr, &l, &fl) == 0, "flag rows: cut short, first row");
	free(fl);
	OK(ans_flag_row(&fr, &l, &fl) == -1 && fl == NULL,
	    "flag rows: cut short, the second row refused");
	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 2);
	ipc_put_u32(&buf, 0);
	OK(ans_flag_rows(made(IMSG_DB_FLAG_ROWS, -1), &fr) == -1,
	    "flag rows: side 2");
	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 0);
	ipc_put_u32(&buf, 2);
	ipc_put_u32(&buf, 7);
	ipc_put_str(&buf, "a");
	OK(ans_flag_rows(made(IMSG_DB_FLAG_ROWS, -1), &fr) == -1,
	    "flag rows: 2 announced, bytes for 1");
	start();
	ipc_put_u64(&buf, 5);
	ipc_put_u32(&buf, 0);
	ipc_put_u32(&buf, 1);
	ipc_put_u32(&buf, 0);
	ipc_put_str(&buf, "a");
	OK(ans_flag_rows(made(IMSG_DB_FLAG_ROWS, -1), &fr) == 0 &&
	    ans_flag_row(&fr, &l, &fl) == -1 && fl == NULL,
	    "flag rows: UID 0");

	start();
	ipc_put_u32(&buf, 1);
	ipc_put_u64(&buf, 9);
	ipc_put_str(&buf, "disk full");
	OK(ans_db_result(made(IMSG_DB_RESULT, -1), &st, &v, &err) == 0 &&
	    st == 1 && v == 9 && err != NULL && strcmp(err, "disk full") == 0,
	    "result: accepted");
	free(err);
	OK(ans_db_result(made(IMSG_DB_RESULT, 15), &st, &v, &err) == -1 &&
	    err == NULL, "result: short");
}

int
main(void)
{
	test_done();
	test_code_number();
	test_appenduid();
	test_code_vanished();
	test_list_status();
	test_db();
	return tap_done();
}
