/*
 * Command formatting and UID-set helpers: tables from REFERENCE-BEHAVIOUR
 * sections 4.4, 4.5 and 4.8, then the same functions run against the
 * reference's own (Net::IMAP::InterIMAP, through perl) on random input.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_fmt.h"
#include "net_sandbox.h"
#include "tap.h"
#include "uidset.h"

static const struct {
	const char	*in;
	size_t		 len;
	int		 kind;
	const char	*out;
} astrings[] = {
#define A(s, k, o)	{ s, sizeof(s) - 1, k, o }
	/* observed in the reference's commands */
	A("INBOX", IMAP_ASTR_ATOM, "INBOX"),
	A("a b", IMAP_ASTR_QUOTED, "\"a b\""),
	A("q\\x", IMAP_ASTR_QUOTED, "\"q\\\\x\""),
	A("&AOk-t&AOk-", IMAP_ASTR_ATOM, "&AOk-t&AOk-"),
	A("q*", IMAP_ASTR_QUOTED, "\"q*\""),
	A("%", IMAP_ASTR_QUOTED, "\"%\""),
	/* the rest of the rules */
	A("", IMAP_ASTR_QUOTED, "\"\""),
	A("a]b", IMAP_ASTR_ATOM, "a]b"),
	A("foo/bar.baz-1_2+3", IMAP_ASTR_ATOM, "foo/bar.baz-1_2+3"),
	A("a\"b", IMAP_ASTR_QUOTED, "\"a\\\"b\""),
	A("\"\\", IMAP_ASTR_QUOTED, "\"\\\"\\\\\""),
	A("a(b", IMAP_ASTR_QUOTED, "\"a(b\""),
	A("a)b", IMAP_ASTR_QUOTED, "\"a)b\""),
	A("{5}", IMAP_ASTR_QUOTED, "\"{5}\""),
	A("}", IMAP_ASTR_ATOM, "}"),
	A("\x7f", IMAP_ASTR_QUOTED, "\"\x7f\""),
	A("tab\there", IMAP_ASTR_QUOTED, "\"tab\there\""),
	A("\x01", IMAP_ASTR_QUOTED, "\"\x01\""),
	A("caf\xc3\xa9", IMAP_ASTR_LITERAL, ""),
	A("a\r\nb", IMAP_ASTR_LITERAL, ""),
	A("a\rb", IMAP_ASTR_LITERAL, ""),
	A("a\0b", IMAP_ASTR_LITERAL, ""),
#undef A
};

static void
test_astring(void)
{
	struct imap_buf	b;
	size_t		i;
	int		k;

	imap_buf_init(&b);
	for (i = 0; i < sizeof(astrings) / sizeof(astrings[0]); i++) {
		imap_buf_reset(&b);
		imap_buf_str(&b, "X ");
		IS_INT(imap_astring_kind(astrings[i].in, astrings[i].len),
		    astrings[i].kind, "kind");
		k = imap_fmt_astring(&b, astrings[i].in, astrings[i].len);
		IS_INT(k, astrings[i].kind, "kind written");
		OK(b.len == 2 + strlen(astrings[i].out) &&
		    memcmp(b.data + 2, astrings[i].out, b.len - 2) == 0,
		    "astring %zu written as [%s]", i, b.data + 2);
	}
	imap_buf_reset(&b);
	IS_INT(imap_fmt_quoted(&b, "INBOX", 5), 0, "quoted");
	IS_STR(b.data, "\"INBOX\"", "always quoted");
	IS_INT(imap_fmt_quoted(&b, "a\nb", 3), -1, "no LF in quoted");
	IS_STR(b.data, "\"INBOX\"", "nothing written on error");

	imap_buf_reset(&b);
	imap_fmt_literal_hdr(&b, 5, 0);
	imap_fmt_literal_hdr(&b, 5, 1);
	imap_fmt_literal_hdr(&b, 18446744073709551615ULL, 1);
	IS_STR(b.data, "{5}\r\n{5+}\r\n{18446744073709551615+}\r\n",
	    "literal headers");
	IS_INT(imap_buf_ok(&b), 0, "buffer fine");
	imap_buf_free(&b);
}

static void
test_flags(void)
{
	static const struct {
		const char	*in;
		int		 drop;
		int		 rv;
		const char	*out;
	} t[] = {
		{ "", 0, 0, "()" },
		{ "\\Seen foo", 0, 0, "(\\Seen foo)" },
		{ "\\Seen \\Recent", 1, 0, "(\\Seen)" },
		{ "\\Seen \\RECENT x", 1, 0, "(\\Seen x)" },
		{ "\\Seen \\Recent", 0, 0, "(\\Seen \\Recent)" },
		{ "  a  b ", 0, 0, "(a b)" },
		{ "$Forwarded $Label1 NonJunk", 0, 0,
		  "($Forwarded $Label1 NonJunk)" },
		{ "a(b", 0, -1, "" },
		{ "\\", 0, -1, "" },
		{ "\\*", 0, -1, "" },
		{ "a]", 0, -1, "" },
		{ "caf\xc3\xa9", 0, -1, "" },
		{ "a\"b", 0, -1, "" },
	};
	struct imap_buf	 b;
	size_t		 i;
	char		*s;
	char		 f1[] = "foo", f2[] = "\\Seen", f3[] = "\\Recent",
			 f4[] = "bar", f5[] = "\\Flagged";
	char		*v[] = { f1, f2, f3, f4, f5 };

	imap_buf_init(&b);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		imap_buf_reset(&b);
		IS_INT(imap_fmt_flag_list(&b, t[i].in, t[i].drop), t[i].rv,
		    "flag list result");
		IS_STR(b.data ? b.data : "", t[i].out, "flag list");
	}
	OK(imap_flag_valid("\\Seen", 5) && imap_flag_valid("$x", 2) &&
	    !imap_flag_valid("", 0) && !imap_flag_valid("a b", 3),
	    "flag validity");

	/* Sorted bytewise, as the reference's flag strings are. */
	s = imap_flags_join(v, 5);
	IS_STR(s, "\\Flagged \\Seen bar foo", "flags joined");
	free(s);
	s = imap_flags_join(v + 2, 1);
	IS_STR(s, "", "only \\Recent: empty");
	free(s);
	s = imap_flags_join(NULL, 0);
	IS_STR(s, "", "no flags");
	free(s);

	imap_buf_reset(&b);
	IS_INT(imap_fmt_date(&b, " 7-Feb-1994 21:52:25 -0800"), 0, "date");
	IS_INT(imap_fmt_date(&b, "7-Feb-1994 21:52:25 -0800"), -1,
	    "bad date");
	IS_STR(b.data, "\" 7-Feb-1994 21:52:25 -0800\"", "date quoted");
	imap_buf_free(&b);

	/* The buffer grows, and printf formats. */
	imap_buf_init(&b);
	for (i = 0; i < 10000; i++)
		imap_buf_printf(&b, "%06zu ", i);
	IS_INT(b.len, 70000, "buffer grew");
	OK(memcmp(b.data + 69993, "009999 ", 7) == 0 &&
	    b.data[70000] == '\0', "buffer content");
	imap_buf_free(&b);
}

/*
 * A FETCH may carry many keywords: joining them sorts a large array,
 * and glibc's qsort() then asks sysinfo(2) how much memory there is.
 * That must work inside the net child's filter (or a server could have
 * the child killed by SIGSYS with one FETCH).
 */
static void
test_flags_sandboxed(void)
{
	static char names[300][16];
	char *v[300], *s;
	pid_t pid;
	size_t i;
	int status = -1;

	for (i = 0; i < 300; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "kw%03zu", 299 - i);
		v[i] = names[i];
	}
	if ((pid = fork()) == 0) {
		net_sandbox();
		s = imap_flags_join(v, 300);
		_exit(s != NULL && strncmp(s, "kw000 kw001 ", 12) == 0 ? 0 :
		    1);
	}
	(void)waitpid(pid, &status, 0);
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "300 flags joined inside the net sandbox (status %#x)", status);
}

static void
test_sets(void)
{
	static const struct {
		uint32_t	v[8];
		size_t		n;
		const char	*set, *list;
	} t[] = {
		{ { 5, 1, 3, 4, 3 }, 5, "1,3:5", "5,1,3:4,3" },
		{ { 5, 4, 3, 7 }, 4, "3:5,7", "5:3,7" },
		{ { 1 }, 1, "1", "1" },
		{ { 2, 1 }, 2, "1:2", "2:1" },
		{ { 1, 2, 3 }, 3, "1:3", "1:3" },
		{ { 3, 2, 1, 2, 3 }, 5, "1:3", "3:1,2:3" },
		{ { 1, 1 }, 2, "1", "1,1" },
		{ { 1, 3, 2 }, 3, "1:3", "1,3:2" },
		{ { 7, 7, 7 }, 3, "7", "7,7,7" },
		{ { 4294967295U, 4294967294U, 1 }, 3,
		  "1,4294967294:4294967295", "4294967295:4294967294,1" },
		{ { 4294967294U, 4294967295U }, 2, "4294967294:4294967295",
		  "4294967294:4294967295" },
		/* Appendix A: "Added 2 UID(s) 2:3 <- 1:2" */
		{ { 2, 3 }, 2, "2:3", "2:3" },
	};
	size_t	 i;
	char	*s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = imap_uids_compact_set(t[i].v, t[i].n);
		IS_STR(s, t[i].set, "compact_set");
		free(s);
		s = imap_uids_compact_list(t[i].v, t[i].n);
		IS_STR(s, t[i].list, "compact_list");
		free(s);
	}
	OK(imap_uids_compact_set(NULL, 0) == NULL, "empty set: NULL");
	OK(imap_uids_compact_list(NULL, 0) == NULL, "empty list: NULL");
}

static void
test_chunks(void)
{
	char	*set, *p;
	size_t	 len, n, i, total = 0, nchunks = 0, max = 0;
	uint32_t v[3000];

	IS_INT(imap_uids_chunk("1,2,3,4,5", 9, 5), 5, "chunk cut at comma");
	IS_INT(imap_uids_chunk("4,5", 3, 5), 3, "short set whole");
	IS_INT(imap_uids_chunk("12345,6", 7, 5), 5, "comma at max");
	IS_INT(imap_uids_chunk("123456,7", 8, 5), 0, "element over max");
	IS_INT(imap_uids_chunk("1:1000000,5", 11, 5), 0, "range over max");

	/* 3000 scattered UIDs: chunks of at most 4096, cut at commas. */
	for (i = 0; i < 3000; i++)
		v[i] = (uint32_t)(i * 3 + 1000000);
	set = imap_uids_compact_set(v, 3000);
	len = strlen(set);
	OK(len > 2 * UIDSET_CHUNK_MAX, "a long set (%zu chars)", len);
	for (p = set; len > 0;) {
		n = imap_uids_chunk(p, len, UIDSET_CHUNK_MAX);
		if (n == 0)
			break;
		if (n > max)
			max = n;
		nchunks++;
		total += n;
		OK(n == len || p[n] == ',', "chunk %zu ends before a comma",
		    nchunks);
		if (n == len)
			break;
		total++;
		p += n + 1;
		len -= n + 1;
	}
	IS_INT(total, strlen(set), "chunks cover the set");
	OK(max <= UIDSET_CHUNK_MAX, "no chunk over 4096 (max %zu)", max);
	IS_INT(nchunks, 6, "six chunks");
	free(set);
}

static void
test_sample(void)
{
	/* Expected values from the reference's sample() on the same rows. */
	static uint32_t	 a[2000];
	char		*seq, *uids;
	size_t		 i;

	for (i = 0; i < 10; i++)
		a[i] = (uint32_t)(10 - i);
	IS_INT(imap_uids_qresync_sample(a, 10, 10, &seq, &uids), 0, "sample");
	IS_STR(seq, "1:10", "sample 1..10 seqset");
	IS_STR(uids, "1:10", "sample 1..10 uidset");
	free(seq);
	free(uids);

	IS_INT(imap_uids_qresync_sample(a, 10, 100, &seq, &uids), 0,
	    "sample");
	IS_STR(seq, "91:100", "count beyond the uids");
	IS_STR(uids, "1:10", "count beyond the uids: uidset");
	free(seq);
	free(uids);

	{
		uint32_t	b[] = { 5, 4, 2, 1 };

		imap_uids_qresync_sample(b, 4, 5, &seq, &uids);
		IS_STR(seq, "2:5", "gap seqset");
		IS_STR(uids, "1:2,4:5", "gap uidset");
		free(seq);
		free(uids);
	}
	{
		uint32_t	b[] = { 9, 7, 5, 3, 1 };

		imap_uids_qresync_sample(b, 5, 7, &seq, &uids);
		IS_STR(seq, "3:7", "sparse seqset");
		IS_STR(uids, "1,3,5,7,9", "sparse uidset");
		free(seq);
		free(uids);
	}
	{
		uint32_t	b[] = { 4294967295U };

		imap_uids_qresync_sample(b, 1, 1, &seq, &uids);
		IS_STR(seq, "1:1", "one uid seqset");
		IS_STR(uids, "4294967295", "one uid uidset");
		free(seq);
		free(uids);
	}
	/* 1500 even UIDs: stops once the set passes 256 chars. */
	for (i = 0; i < 1500; i++)
		a[i] = (uint32_t)((1500 - i) * 2);
	imap_uids_qresync_sample(a, 1500, 3000, &seq, &uids);
	IS_STR(seq, "2949:3000", "long sample seqset");
	IS_STR(uids, "2898,2900,2902,2904,2906,2908,2910,2912,2914,2916,2918,"
	    "2920,2922,2924,2926,2928,2930,2932,2934,2936,2938,2940,2942,2944,"
	    "2946,2948,2950,2952,2954,2956,2958,2960,2962,2964,2966,2968,2970,"
	    "2972,2974,2976,2978,2980,2982,2984,2986,2988,2990,2992,2994,2996,"
	    "2998,3000", "long sample uidset");
	free(seq);
	free(uids);
	/* 2000 consecutive UIDs: only the first 1024 are looked at. */
	for (i = 0; i < 2000; i++)
		a[i] = (uint32_t)(2000 - i);
	imap_uids_qresync_sample(a, 2000, 2000, &seq, &uids);
	IS_STR(seq, "977:2000", "1024 cap seqset");
	IS_STR(uids, "977:2000", "1024 cap uidset");
	free(seq);
	free(uids);
	/* Stepping by 3 from 1000003: the crossing element is kept. */
	for (i = 0; i < 200; i++)
		a[i] = (uint32_t)((200 - i) * 3 + 1000000);
	imap_uids_qresync_sample(a, 200, 200, &seq, &uids);
	IS_STR(seq, "168:200", "crossing seqset");
	OK(strncmp(uids, "1000504,1000507,", 16) == 0 &&
	    strcmp(uids + strlen(uids) - 8, ",1000600") == 0 &&
	    strlen(uids) == 33 * 8 - 1, "crossing uidset (%zu chars)",
	    strlen(uids));
	free(seq);
	free(uids);

	IS_INT(imap_uids_qresync_sample(a, 200, 0, &seq, &uids), 0,
	    "count 0: no sample");
	OK(seq == NULL && uids == NULL, "count 0: both NULL");
	IS_INT(imap_uids_qresync_sample(a, 0, 5, &seq, &uids), -1,
	    "no uids but a count");
	IS_INT(imap_uids_qresync_sample(a, 200, 10, &seq, &uids), -1,
	    "more uids than the count");
	a[0] = 0;
	IS_INT(imap_uids_qresync_sample(a, 5, 10, &seq, &uids), -1, "uid 0");
}

static void
test_contains(void)
{
	static const struct {
		const char	*set;
		uint32_t	 x;
		int		 want;
	} t[] = {
		{ "1", 1, 1 }, { "1", 2, 0 }, { "1:3", 2, 1 }, { "3:1", 2, 1 },
		{ "3:1", 4, 0 }, { "5:*", 4, 0 }, { "5:*", 4294967295U, 1 },
		{ "*:5", 6, 1 }, { "*", 7, 1 }, { "1,4:6,9", 5, 1 },
		{ "1,4:6,9", 7, 0 }, { "1,4:6,9", 9, 1 },
		{ "", 1, -1 }, { "1,", 1, -1 }, { "a", 1, -1 }, { "0", 1, -1 },
		{ "4294967296", 1, -1 }, { "1::2", 1, -1 }, { "1 2", 1, -1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		IS_INT(imap_uids_contains(t[i].set, t[i].x), t[i].want,
		    t[i].set);
}

/* ---- against the reference --------------------------------------------- */

static const char perl_prog[] =
    "use strict; use Net::IMAP::InterIMAP;"
    "$| = 1;"
    "while (<STDIN>) { chomp; my ($op, @a) = split / /;"
    " if ($op eq 'S') { print Net::IMAP::InterIMAP::compact_set(@a), \"\\n\" }"
    " elsif ($op eq 'L') {"
    "  print Net::IMAP::InterIMAP::compact_list(@a), \"\\n\" }"
    " elsif ($op eq 'Q') { my $s = pack('H*', $a[0] // '');"
    "  print unpack('H*', Net::IMAP::InterIMAP::quote($s)), \"\\n\" }"
    " elsif ($op eq 'W') { my @c;"
    "  Net::IMAP::InterIMAP::with_set($a[0], sub { push @c, shift });"
    "  print join(' ', @c), \"\\n\" } }";

static uint32_t rs = 12345;

static uint32_t
rnd(void)
{
	rs = rs * 1103515245u + 12345u;
	return rs >> 8;
}

static void
hex(char *out, const unsigned char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", s[i]);
	out[2 * n] = '\0';
}

static void
test_reference(void)
{
	FILE		*in, *out;
	char		 script[] = "/tmp/test_imap_fmt.XXXXXX", cmd[256];
	char		*line = NULL, *mine, *exp = NULL, buf[600];
	size_t		 cap = 0, i, j, n, bad = 0, runs = 0;
	uint32_t	 v[64];
	unsigned char	 s[40];
	int		 fd, k;
	struct imap_buf	 b;
	FILE		*expf;
	size_t		 explen = 0;

	/*
	 * Write every query to a file, run perl once over it, then compare
	 * line by line (our answers are computed the same way, in order).
	 */
	if ((fd = mkstemp(script)) == -1 || (in = fdopen(fd, "w")) == NULL) {
		OK(0, "temporary file");
		return;
	}
	expf = open_memstream(&exp, &explen);
	imap_buf_init(&b);
	for (i = 0; i < 3000; i++) {
		n = 1 + rnd() % 40;
		for (j = 0; j < n; j++) {
			switch (rnd() % 4) {
			case 0:
				v[j] = 1 + rnd() % 20;
				break;
			case 1:
				v[j] = j > 0 ? v[j - 1] + 1 : 1;
				break;
			case 2:
				v[j] = j > 0 && v[j - 1] > 1 ? v[j - 1] - 1 : 2;
				break;
			default:
				v[j] = 4294967295U - rnd() % 4;
				break;
			}
		}
		fputs(i % 2 ? "S" : "L", in);
		for (j = 0; j < n; j++)
			fprintf(in, " %u", v[j]);
		fputs("\n", in);
		mine = i % 2 ? imap_uids_compact_set(v, n) :
		    imap_uids_compact_list(v, n);
		fprintf(expf, "%s\n", mine);
		free(mine);
	}
	for (i = 0; i < 3000; i++) {
		n = rnd() % 12;
		for (j = 0; j < n; j++) {
			k = rnd() % 10;
			s[j] = k < 5 ? "aZ09]*%(\"\\{} /&-"[rnd() % 17] :
			    k < 9 ? (unsigned char)(1 + rnd() % 127) :
			    (unsigned char)(rnd() % 256);
		}
		hex(buf, s, n);
		fprintf(in, "Q %s\n", buf);
		imap_buf_reset(&b);
		switch (imap_fmt_astring(&b, s, n)) {
		case IMAP_ASTR_LITERAL:
			/* The reference writes a literal as {N+} CRLF data. */
			imap_fmt_literal_hdr(&b, n, 1);
			imap_buf_add(&b, s, n);
			break;
		default:
			break;
		}
		hex(buf, (unsigned char *)b.data, b.len);
		fprintf(expf, "%s\n", buf);
	}
	for (i = 0; i < 200; i++) {
		n = 1 + rnd() % 64;
		for (j = 0; j < n; j++)
			v[j] = 1 + rnd() % 4000000000U;
		mine = imap_uids_compact_set(v, n);
		fprintf(in, "W %s\n", mine);
		{
			char	*p = mine;
			size_t	 len = strlen(mine), c;
			int	 first = 1;

			while (len > 0) {
				c = imap_uids_chunk(p, len, UIDSET_CHUNK_MAX);
				fprintf(expf, "%s%.*s", first ? "" : " ",
				    (int)c, p);
				first = 0;
				if (c == len || c == 0)
					break;
				p += c + 1;
				len -= c + 1;
			}
			fputs("\n", expf);
		}
		free(mine);
	}
	/* Long sets for with_set: 1500 scattered UIDs each. */
	for (i = 0; i < 5; i++) {
		static uint32_t	w[1500];

		for (j = 0; j < 1500; j++)
			w[j] = (uint32_t)(j * (2 + i) + rnd() % 2 + 1);
		mine = imap_uids_compact_set(w, 1500);
		fprintf(in, "W %s\n", mine);
		{
			char	*p = mine;
			size_t	 len = strlen(mine), c;
			int	 first = 1;

			while (len > 0) {
				c = imap_uids_chunk(p, len, UIDSET_CHUNK_MAX);
				fprintf(expf, "%s%.*s", first ? "" : " ",
				    (int)c, p);
				first = 0;
				if (c == len || c == 0)
					break;
				p += c + 1;
				len -= c + 1;
			}
			fputs("\n", expf);
		}
		free(mine);
	}
	fclose(in);
	fclose(expf);
	imap_buf_free(&b);

	/* Pass the program through the environment: no shell quoting. */
	setenv("TEST_IMAP_FMT_PROG", perl_prog, 1);
	snprintf(cmd, sizeof(cmd), "perl -e \"$TEST_IMAP_FMT_PROG\" < %s",
	    script);
	if ((out = popen(cmd, "r")) == NULL) {
		OK(0, "run perl");
		unlink(script);
		free(exp);
		return;
	}
	{
		char	*e = exp, *nl;

		while (getline(&line, &cap, out) != -1) {
			runs++;
			nl = strchr(e, '\n');
			if (nl == NULL) {
				bad++;
				break;
			}
			*nl = '\0';
			line[strcspn(line, "\n")] = '\0';
			if (strcmp(line, e) != 0) {
				if (bad++ < 5)
					printf("# reference: %s\n"
					    "# ours:      %s\n", line, e);
			}
			e = nl + 1;
		}
	}
	IS_INT(pclose(out), 0, "perl with Net::IMAP::InterIMAP ran");
	IS_INT(runs, 6205, "every query answered by the reference");
	IS_INT(bad, 0, "same answers as the reference (compact_set, "
	    "compact_list, quote, with_set)");
	free(line);
	free(exp);
	unlink(script);
}

int
main(void)
{
	test_astring();
	test_flags();
	test_flags_sandboxed();
	test_sets();
	test_chunks();
	test_sample();
	test_contains();
	test_reference();
	return tap_done();
}
