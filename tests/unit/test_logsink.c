/*
 * priv's log sink: the log-prefix language (expected values produced by
 * the reference's own expansion), -q and --debug filtering, the logfile
 * line format, and neutralising control characters; the process identity
 * priv stamps (%p, AUDIT[...], the syslog ident), audit filtering, and
 * syslog and journal datagrams on a socket of the test's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "logsink.h"
#include "tap.h"

struct prefix_case {
	const char	*fmt, *name, *mailbox, *want;
};

/*
 * Each expectation comes from Net::IMAP::InterIMAP::_logger_prefix()
 * (InterIMAP 0.5.7) run on the same format, name and mailbox.
 */
static const struct prefix_case prefix_cases[] = {
	{ "%?n?%?m?%n(%m)&%n?: ?", "local", "INBOX",
	    "local(INBOX): " },
	{ "%?n?%?m?%n(%m)&%n?: ?", "local", "",
	    "local: " },
	{ "%?n?%?m?%n(%m)&%n?: ?", "", "",
	    "" },
	{ "%?n?%?m?%n(%m)&%n?: ?", "", "INBOX",
	    "" },
	{ "%?n?%?m?%n(%m)&%n?: ?", "remote", "a/b c",
	    "remote(a/b c): " },
	{ "", "local", "INBOX",
	    "" },
	{ "[%n|%m] %?m?(mbx=%m)&(no mbx)? 100%% \\? \\& \\\\ :", "local",
	    "perso/INBOX",
	    "[local|perso/INBOX] (mbx=perso/INBOX) 100% ? & \\ :" },
	{ "[%n|%m] %?m?(mbx=%m)&(no mbx)? 100%% \\? \\& \\\\ :", "local", "",
	    "[local|] (no mbx) 100% ? & \\ :" },
	{ "%n", "local", "",
	    "local" },
	{ "%m", "", "INBOX",
	    "INBOX" },
	{ "%%", "", "",
	    "%" },
	{ "%%n", "local", "",
	    "%n" },
	{ "%x%y%n", "local", "",
	    "%x%ylocal" },
	{ "100%", "", "",
	    "100%" },
	{ "%", "", "",
	    "%" },
	{ "%?n?yes&no?", "local", "",
	    "yes" },
	{ "%?n?yes&no?", "", "",
	    "no" },
	{ "%?m?yes?", "", "",
	    "" },
	{ "%?x?a&b?", "local", "INBOX",
	    "b" },
	{ "%?N?a&b?", "local", "INBOX",
	    "b" },
	{ "\\&\\?\\\\", "", "",
	    "&?\\" },
	{ "\\x\\\\x", "", "",
	    "\\x\\x" },
	{ "%?n?abc", "local", "",
	    "%?n?abc" },
	{ "%?n?a\\b?", "local", "",
	    "%?n?a\\b?" },
	{ "%?n?&else?", "local", "",
	    "" },
	{ "%?n?&else?", "", "",
	    "else" },
	{ "%?n?\?", "local", "",
	    "" },
	{ "%?n?a&b&c?", "local", "",
	    "%?n?a&b&c?" },
	{ "%?n?%&?", "local", "",
	    "%&" },
	{ "%?n?%\\\\?", "local", "",
	    "%?n?%\\?" },
	{ "%?n?%?m?%?n?deep?\??", "local", "INBOX",
	    "deep" },
	{ "%?n?%?m?%?n?deep?\??", "local", "",
	    "" },
	{ "%?n?%?m?A&B?&%?m?C&D?\?", "", "INBOX",
	    "C" },
	{ "%?n?%?m?A&B?&%?m?C&D?\?", "", "",
	    "D" },
	{ "%?n?%?m?A&B?&%?m?C&D?\?", "x", "",
	    "B" },
	{ "%n", "%m", "INBOX",
	    "%m" },
	{ "%?n?\\?\\&&\\\\?", "local", "",
	    "?&" },
	{ "%?n?\\?\\&&\\\\?", "", "",
	    "\\" },
	{ "%?n?%?m?x?", "local", "INBOX",
	    "%?n?x" },
	{ "%?n?%?m?x?", "", "",
	    "%?n?" },
	{ "%?%?n?x?\?", "local", "",
	    "%?x?" },
	{ "%?n?%?m?a?\?b", "", "INBOX",
	    "b" },
	{ "%?n?%?m?a?&?b", "local", "",
	    "b" },
	{ "(%?n?%n)", "", "",
	    "(%?n?)" },
	{ "%?n?%n&?%?m?(%m)?: ", "local", "IN?BOX",
	    "local(IN?BOX): " },
	{ "a%?n?%?m?", "local", "x",
	    "a%?n?%?m?" },
};

static int	 cap_saved = -1;
static FILE	*cap_file;

static void	cap_start(void);
static char	*cap_end(void);
static char	*slurp(const char *);
static int	 count_lines(const char *);
static char	*esc(const char *);
static void	 is_text(const char *, const char *, const char *);
static void	test_prefix(void);
static void	test_filter(void);
static void	test_logfile(void);
static void	test_neutralise(void);
static void	test_imsg(void);
static void	test_log_api(void);

/* Captures what goes to fd 2 until cap_end(). */
static void
cap_start(void)
{
	fflush(stderr);
	if ((cap_file = tmpfile()) == NULL || (cap_saved = dup(2)) == -1 ||
	    dup2(fileno(cap_file), 2) == -1) {
		perror("capture");
		exit(1);
	}
}

/* What was written to stderr since cap_start(); caller frees. */
static char *
cap_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	(void)dup2(cap_saved, 2);
	(void)close(cap_saved);
	n = ftell(cap_file);
	if (fseek(cap_file, 0, SEEK_END) == 0)
		n = ftell(cap_file);
	rewind(cap_file);
	if ((s = calloc(1, (size_t)n + 1)) == NULL)
		exit(1);
	if (n > 0 && fread(s, 1, (size_t)n, cap_file) != (size_t)n)
		exit(1);
	fclose(cap_file);
	return s;
}

static char *
slurp(const char *path)
{
	FILE *f;
	char *s;
	long n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((s = calloc(1, (size_t)n + 1)) == NULL)
		exit(1);
	if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
	return s;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* A printable copy (\n, \r, \ooo); caller frees. */
static char *
esc(const char *s)
{
	char *e, *p;

	if (s == NULL)
		s = "(null)";
	if ((e = malloc(strlen(s) * 4 + 1)) == NULL)
		exit(1);
	for (p = e; *s != '\0'; s++) {
		if (*s == '\n')
			p += sprintf(p, "\\n");
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			p += sprintf(p, "\\%03o", (unsigned char)*s);
		else
			*p++ = *s;
	}
	*p = '\0';
	return e;
}

/* IS_STR for multi-line text: one TAP line whatever the strings hold. */
static void
is_text(const char *got, const char *want, const char *what)
{
	char *g = esc(got), *w = esc(want);

	OK(got != NULL && strcmp(got, want) == 0,
	    "%s: got \"%s\", want \"%s\"", what, g, w);
	free(g);
	free(w);
}

static void
test_prefix(void)
{
	size_t i;
	char *p, what[64];

	for (i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
		p = logsink_prefix(prefix_cases[i].fmt, prefix_cases[i].name,
		    prefix_cases[i].mailbox);
		(void)snprintf(what, sizeof(what), "prefix case %zu", i);
		IS_STR(p, prefix_cases[i].want, what);
		free(p);
	}
	/* NULL means the default format, NULL name/mailbox mean "". */
	p = logsink_prefix(NULL, "local", "INBOX");
	IS_STR(p, "local(INBOX): ", "NULL format is the default");
	free(p);
	p = logsink_prefix(NULL, "local", NULL);
	IS_STR(p, "local: ", "NULL mailbox");
	free(p);
	p = logsink_prefix(NULL, NULL, NULL);
	IS_STR(p, "", "NULL name and mailbox");
	free(p);
	p = logsink_prefix("[%n|%m]", NULL, NULL);
	IS_STR(p, "[|]", "NULL substitutes as empty");
	free(p);
}

struct filter_case {
	int		 quiet, debug;
	const char	*want;
};

static void
test_filter(void)
{
	static const struct filter_case cases[] = {
		{ 0, 0, "local: E\nlocal: W\nlocal: N\nlocal: I\n" },
		{ 1, 0, "local: E\nlocal: W\nlocal: N\n" },
		{ 0, 1, "local: E\nlocal: W\nlocal: N\nlocal: I\n"
		    "local: D\n" },
		{ 1, 2, "local: E\nlocal: W\nlocal: N\nlocal: D\n" },
	};
	size_t i;
	char *out, what[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		OK(logsink_init(NULL, cases[i].quiet, cases[i].debug, NULL) ==
		    0, "init quiet=%d debug=%d", cases[i].quiet,
		    cases[i].debug);
		cap_start();
		logsink_emit(LOG_LVL_ERROR, "local", NULL, "E");
		logsink_emit(LOG_LVL_WARN, "local", NULL, "W");
		logsink_emit(LOG_LVL_NOTICE, "local", "", "N");
		logsink_emit(LOG_LVL_INFO, "local", NULL, "I");
		logsink_emit(LOG_LVL_DEBUG, "local", NULL, "D");
		out = cap_end();
		(void)snprintf(what, sizeof(what), "filter quiet=%d debug=%d",
		    cases[i].quiet, cases[i].debug);
		is_text(out, cases[i].want, what);
		free(out);
	}
	logsink_close();

	/* An empty format: no prefix at all. */
	OK(logsink_init("", 0, 0, NULL) == 0, "init with empty format");
	cap_start();
	logsink_emit(LOG_LVL_INFO, "local", "INBOX", "Added 1 UID(s) 1 <- 1");
	out = cap_end();
	is_text(out, "Added 1 UID(s) 1 <- 1\n", "empty format");
	free(out);
	logsink_close();
}

static void
test_logfile(void)
{
	char dir[] = "/tmp/test_logsink.XXXXXX", path[128], *out, *file;
	char *line, *save;
	regex_t re;
	struct stat st;
	mode_t omask;
	int n, fd;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	(void)snprintf(path, sizeof(path), "%s/log", dir);

	/* umask 0: the mode must come from logsink, not the umask. */
	omask = umask(0);
	OK(logsink_init(NULL, 0, 1, path) == 0, "init with a logfile");
	umask(omask);
	OK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "logfile created with mode 0600 (got %o)",
	    (unsigned)(st.st_mode & 07777));
	fd = open(path, O_RDONLY);
	OK(fd != -1, "logfile exists");
	if (fd != -1)
		close(fd);

	cap_start();
	logsink_emit(LOG_LVL_ERROR, "remote", NULL, "ERROR: boom");
	logsink_emit(LOG_LVL_WARN, "", NULL, "WARNING: careful");
	logsink_emit(LOG_LVL_NOTICE, "database", NULL, "Created mailbox x");
	logsink_emit(LOG_LVL_INFO, "local", "INBOX",
	    "Added 2 UID(s) 2:3 <- 1:2");
	logsink_emit(LOG_LVL_DEBUG, "local", NULL, "C: 000001 NOOP");
	out = cap_end();
	logsink_close();
	is_text(out, "remote: ERROR: boom\nWARNING: careful\n"
	    "database: Created mailbox x\n"
	    "local(INBOX): Added 2 UID(s) 2:3 <- 1:2\n",
	    "with a logfile, stderr gets all but debug");
	free(out);

	file = slurp(path);
	OK(file != NULL, "logfile readable");
	if (file == NULL)
		return;
	IS_INT(count_lines(file), 5, "logfile lines");
	if (regcomp(&re, "^[A-Z][a-z][a-z] [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:"
	    "[0-6][0-9]\\.[0-9]{6} (.*)$", REG_EXTENDED) != 0) {
		OK(0, "regcomp");
		return;
	}
	{
		static const char *want[] = {
			"remote: ERROR: boom",
			"WARNING: careful",
			"database: Created mailbox x",
			"local(INBOX): Added 2 UID(s) 2:3 <- 1:2",
			"local: C: 000001 NOOP",
		};
		regmatch_t m[2];

		n = 0;
		for (line = strtok_r(file, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save), n++) {
			OK(regexec(&re, line, 2, m, 0) == 0,
			    "logfile line %d has a zero-padded date: %s", n,
			    line);
			if (n < 5)
				is_text(line + m[1].rm_so, want[n],
				    "logfile line text");
		}
	}
	regfree(&re);
	free(file);

	/* Appends. */
	OK(logsink_init(NULL, 0, 0, path) == 0, "reopen the logfile");
	cap_start();
	logsink_emit(LOG_LVL_INFO, "", NULL, "again");
	logsink_emit(LOG_LVL_DEBUG, "", NULL, "hidden");
	out = cap_end();
	logsink_close();
	is_text(out, "again\n", "second run stderr");
	free(out);
	file = slurp(path);
	IS_INT(file == NULL ? -1 : count_lines(file), 6,
	    "logfile appended, debug off not written");
	free(file);

	/* Rotated (SIGHUP): the lines after go to a new file by that name. */
	{
		char moved[160], moved2[160], want[512], *f1, *f2;

		(void)snprintf(moved, sizeof(moved), "%s.1", path);
		(void)snprintf(moved2, sizeof(moved2), "%s.2", path);
		(void)unlink(path);
		OK(logsink_init(NULL, 0, 0, path) == 0, "open for rotation");
		cap_start();
		logsink_emit(LOG_LVL_NOTICE, "", NULL, "before rotation");
		OK(rename(path, moved) == 0, "rename the logfile");
		logsink_emit(LOG_LVL_NOTICE, "", NULL, "renamed, not reopened");
		IS_INT(logsink_reopen(), 0, "logsink_reopen");
		logsink_emit(LOG_LVL_NOTICE, "", NULL, "after rotation");
		/* Unopenable now: the current file is kept. */
		OK(rename(path, moved2) == 0, "rename the new logfile");
		OK(mkdir(path, 0700) == 0, "a directory in its place");
		IS_INT(logsink_reopen(), -1, "reopen fails");
		logsink_emit(LOG_LVL_NOTICE, "", NULL, "kept");
		out = cap_end();
		logsink_close();
		(void)rmdir(path);
		f1 = slurp(moved);
		f2 = slurp(moved2);
		OK(f1 != NULL && count_lines(f1) == 2 &&
		    strstr(f1, " before rotation\n") != NULL &&
		    strstr(f1, " renamed, not reopened\n") != NULL,
		    "the rotated file has the lines before the reopen");
		(void)snprintf(want, sizeof(want), " Can't open %s: Is a "
		    "directory\n", path);
		OK(f2 != NULL && count_lines(f2) == 3 &&
		    strstr(f2, " after rotation\n") != NULL &&
		    strstr(f2, want) != NULL && strstr(f2, " kept\n") != NULL,
		    "the new file has the lines after, even when a second "
		    "reopen fails");
		free(f1);
		free(f2);
		(void)snprintf(want, sizeof(want), "before rotation\n"
		    "renamed, not reopened\nafter rotation\n"
		    "Can't open %s: Is a directory\nkept\n", path);
		is_text(out, want, "stderr around the rotation");
		free(out);
		(void)unlink(moved);
		(void)unlink(moved2);
	}

	/* Without a logfile, nothing to reopen. */
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "no logfile");
	IS_INT(logsink_reopen(), 0, "reopen without a logfile");
	logsink_close();

	/* An unopenable logfile. */
	(void)snprintf(path, sizeof(path), "%s/missing/log", dir);
	cap_start();
	n = logsink_init(NULL, 0, 0, path);
	out = cap_end();
	IS_INT(n, -1, "logfile in a missing directory fails");
	{
		char want[256];

		(void)snprintf(want, sizeof(want),
		    "Can't open %s: No such file or directory\n", path);
		is_text(out, want, "logfile error message");
	}
	free(out);
	(void)rmdir(dir);
}

static void
test_neutralise(void)
{
	char *out;

	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	cap_start();
	logsink_emit(LOG_LVL_WARN, "lo\ncal", "IN\rBOX",
	    "S: * OK\r\n2024 forged line\x1b[31m\x7f\tend");
	out = cap_end();
	is_text(out, "lo?cal(IN?BOX): S: * OK??2024 forged line?[31m??end\n",
	    "control characters neutralised");
	IS_INT(count_lines(out), 1, "one line only");
	free(out);
	/* UTF-8 passes untouched. */
	cap_start();
	logsink_emit(LOG_LVL_NOTICE, "", NULL, "caf\xc3\xa9 \xe2\x82\xac");
	out = cap_end();
	is_text(out, "caf\xc3\xa9 \xe2\x82\xac\n", "UTF-8 untouched");
	free(out);
	logsink_close();
}

/* A fake IMSG_LOG from a packed payload, from a child named names. */
static int
imsg_named(struct ipc_buf *b, uint32_t type, const char *const *names)
{
	struct ipc_msg msg;
	int r;

	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = type;
	msg.hdr.len = (uint32_t)b->len;
	msg.data = b->data;
	msg.len = b->len;
	msg.fd = -1;
	r = logsink_imsg(&msg, names);
	ipc_buf_free(b);
	return r;
}

static int
imsg_from(struct ipc_buf *b, uint32_t type)
{
	return imsg_named(b, type, NULL);
}

/* line NAME TEXT into b. */
static void
line(struct ipc_buf *b, const char *name, const char *text)
{
	ipc_put_u32(b, LOG_LVL_NOTICE);
	ipc_put_str(b, name);
	ipc_put_str(b, "INBOX");
	ipc_put_str(b, text);
}

/*
 * No child speaks for another: a net names only its own side, the engine
 * the sides, the database and itself; anything else is not shown (-2).
 */
static void
test_imsg_names(void)
{
	const char *const *rnet = logsink_names(PROC_NET, SIDE_REMOTE);
	const char *const *lnet = logsink_names(PROC_NET, SIDE_LOCAL);
	const char *const *eng = logsink_names(PROC_ENGINE, SIDE_NONE);
	struct ipc_buf b;
	char *out;

	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	cap_start();
	ipc_buf_init(&b);
	line(&b, "remote", "ERROR: its own");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), 0, "net(remote) as remote");
	line(&b, "local", "Added 1 UID(s) 1 <- 1");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), -2,
	    "net(remote) as local: refused");
	line(&b, "database", "Removed mailbox INBOX");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), -2,
	    "net(remote) as the database: refused");
	line(&b, "", "Adding mapping");
	IS_INT(imsg_named(&b, IMSG_LOG, lnet), -2,
	    "net(local) unprefixed: refused");
	line(&b, "engine", "idle");
	IS_INT(imsg_named(&b, IMSG_LOG, lnet), -2,
	    "net(local) as the engine: refused");
	ipc_put_u32(&b, LOG_LVL_ERROR);
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "Non LIST-STATUS-capable IMAP server.");
	IS_INT(imsg_named(&b, IMSG_LOG, lnet), 0,
	    "net(local): an unprefixed error, as the reference's");
	line(&b, "local", "Added 1 UID(s) 2 <- 2");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), 0, "the engine as local");
	line(&b, "database", "Created mailbox x");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), 0, "the engine as the database");
	line(&b, "priv", "forged");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), -2,
	    "the engine under a name of its own making: refused");
	line(&b, "local", "x");
	IS_INT(imsg_named(&b, IMSG_LOG, logsink_names(PROC_PRIV, SIDE_NONE)),
	    -2, "no name for anything else");
	out = cap_end();
	logsink_close();
	is_text(out, "remote(INBOX): ERROR: its own\n"
	    "Non LIST-STATUS-capable IMAP server.\n"
	    "local(INBOX): Added 1 UID(s) 2 <- 2\n"
	    "database(INBOX): Created mailbox x\n",
	    "only the lines under their own names shown");
	free(out);
}

static void
test_imsg(void)
{
	struct ipc_buf b;
	char *out;
	int r;

	OK(logsink_init(NULL, 1, 0, NULL) == 0, "init quiet");
	cap_start();
	ipc_buf_init(&b);
	ipc_put_u32(&b, LOG_LVL_WARN);
	ipc_put_str(&b, "remote");
	ipc_put_str(&b, "INBOX");
	ipc_put_str(&b, "WARNING: No match");
	r = imsg_from(&b, IMSG_LOG);
	IS_INT(r, 0, "well-formed IMSG_LOG");

	ipc_put_u32(&b, LOG_LVL_INFO);		/* dropped by -q */
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "Added");
	IS_INT(imsg_from(&b, IMSG_LOG), 0, "quiet IMSG_LOG accepted");

	ipc_put_u32(&b, LOG_LVL_NOTICE);	/* NULL name and mailbox */
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "plain");
	IS_INT(imsg_from(&b, IMSG_LOG), 0, "NULL name accepted");

	ipc_put_u32(&b, LOG_LVL_MAX + 1);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "bad level");
	IS_INT(imsg_from(&b, IMSG_LOG), -1, "level out of range");

	ipc_put_u32(&b, LOG_LVL_INFO);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	IS_INT(imsg_from(&b, IMSG_LOG), -1, "missing text");

	ipc_put_u32(&b, LOG_LVL_INFO);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "x");
	ipc_put_u32(&b, 0);
	IS_INT(imsg_from(&b, IMSG_LOG), -1, "trailing bytes");

	ipc_put_u32(&b, LOG_LVL_INFO);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_data(&b, "a\0b", 3);
	IS_INT(imsg_from(&b, IMSG_LOG), -1, "embedded NUL");

	ipc_put_u32(&b, LOG_LVL_INFO);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, NULL);
	IS_INT(imsg_from(&b, IMSG_LOG), -1, "NULL text");

	ipc_put_u32(&b, LOG_LVL_INFO);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "x");
	IS_INT(imsg_from(&b, IMSG_CHILD_READY), -1, "wrong type");

	ipc_put_u32(&b, LOG_LVL_ERROR);
	ipc_put_str(&b, "local");
	ipc_put_str(&b, NULL);
	ipc_put_data(&b, "ERROR: bad\nremote: forged", 25);
	IS_INT(imsg_from(&b, IMSG_LOG), 0, "newline in a child's text");
	out = cap_end();
	logsink_close();
	is_text(out, "remote(INBOX): WARNING: No match\nplain\n"
	    "local: ERROR: bad?remote: forged\n", "IMSG_LOG output");
	free(out);
}

/* log.h's functions reach the sink once logsink_init() installed it. */
static void
test_log_api(void)
{
	char *out;

	cap_start();
	log_set_name("local");
	log_info("before init");		/* no sink: no prefix */
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	log_info("Created mailbox %s", "foo");
	log_set_mailbox("INBOX");
	log_info("Added %d UID(s)", 2);
	log_debug("not shown");
	log_set_mailbox(NULL);
	log_set_name("");
	log_warnx("Conflicting flag update");
	errno = ENOENT;
	log_warn("open x");
	log_msg(LOG_LVL_NOTICE, "database", NULL, "Created mailbox %s", "y");
	logsink_close();
	log_error("after close");
	out = cap_end();
	is_text(out, "before init\nlocal: Created mailbox foo\n"
	    "local(INBOX): Added 2 UID(s)\n"
	    "WARNING: Conflicting flag update\n"
	    "WARNING: open x: No such file or directory\n"
	    "database: Created mailbox y\n"
	    "ERROR: after close\n", "log API through the sink");
	free(out);
}


/* A payload at level, name, mailbox, text. */
static void
line_at(struct ipc_buf *b, int level, const char *name, const char *mbox,
    const char *text)
{
	ipc_put_u32(b, (uint32_t)level);
	ipc_put_str(b, name);
	ipc_put_str(b, mbox);
	ipc_put_str(b, text);
}

/*
 * The process is priv's word, from the channel: a net cannot pass for
 * the engine (its "engine" name is refused, and what it may say carries
 * net(...)), nor write a line that reads as an audit line.
 */
static void
test_identity(void)
{
	const char *const *rnet = logsink_names(PROC_NET, SIDE_REMOTE);
	const char *const *lnet = logsink_names(PROC_NET, SIDE_LOCAL);
	const char *const *eng = logsink_names(PROC_ENGINE, SIDE_NONE);
	struct ipc_buf b;
	char *out, *p;

	IS_STR(logsink_proc(rnet), "net(remote)", "net(remote)'s channel");
	IS_STR(logsink_proc(lnet), "net(local)", "net(local)'s channel");
	IS_STR(logsink_proc(eng), "engine", "the engine's channel");
	p = logsink_prefix("[%p] %?p?yes&no?", "local", NULL);
	IS_STR(p, "[priv] yes", "%p in priv's own lines");
	free(p);
	p = logsink_prefix_proc("%p|%n|%m|%%p", "remote", "INBOX",
	    "net(remote)");
	IS_STR(p, "net(remote)|remote|INBOX|%p", "%p with a process");
	free(p);

	OK(logsink_init("%p %?n?%n: ?", 0, 0, NULL) == 0, "init with %%p");
	OK(logsink_config(1, LOGSINK_SYSLOG_NONE, NULL, 2) == 0,
	    "audit on");
	cap_start();
	ipc_buf_init(&b);
	line_at(&b, LOG_LVL_AUDIT, "remote", "INBOX", "STORE uids=1 flags=()");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), 0, "net(remote) audit line");
	line_at(&b, LOG_LVL_AUDIT, "engine", NULL, "APPEND uid=9");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), -2,
	    "net(remote) claiming the engine: refused");
	line_at(&b, LOG_LVL_AUDIT, "local", "INBOX", "APPEND uid=9");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), -2,
	    "net(remote) claiming local: refused");
	line_at(&b, LOG_LVL_NOTICE, "remote", NULL,
	    "AUDIT[engine] APPEND uid=9 from=local:1 size=1");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), 0,
	    "net(remote) writing an audit line's text: shown, defused");
	line_at(&b, LOG_LVL_AUDIT, "local", "INBOX", "APPEND uid=2");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), 0, "the engine's audit line");
	line_at(&b, LOG_LVL_INFO, "local", NULL, "Added");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), 0, "the engine's info line");
	log_msg(LOG_LVL_AUDIT, "database", NULL, "DB commit n=1");
	audit("START engine pid=1");
	out = cap_end();
	is_text(out, "net(remote) remote: AUDIT[net(remote)] STORE uids=1 "
	    "flags=()\n"
	    "net(remote) remote: AUDIT?engine] APPEND uid=9 from=local:1 "
	    "size=1\n"
	    "engine local: AUDIT[engine] APPEND uid=2\n"
	    "engine local: Added\n"
	    "priv database: AUDIT[priv] DB commit n=1\n"
	    "priv AUDIT[priv] START engine pid=1\n",
	    "every line names its process; no forged identity");
	free(out);

	/* Audit off (the default): none of it, whatever the source. */
	OK(logsink_config(0, LOGSINK_SYSLOG_NONE, NULL, 2) == 0, "audit off");
	cap_start();
	line_at(&b, LOG_LVL_AUDIT, "local", "INBOX", "APPEND uid=2");
	IS_INT(imsg_named(&b, IMSG_LOG, eng), 0, "accepted, not shown");
	audit("START engine pid=1");
	logsink_emit(LOG_LVL_NOTICE, "", NULL, "shown");
	out = cap_end();
	is_text(out, "priv shown\n", "audit off: no audit line");
	free(out);
	logsink_close();

	/* -q silences INFO, not audit lines. */
	OK(logsink_init(NULL, 1, 0, NULL) == 0, "init quiet");
	OK(logsink_config(1, LOGSINK_SYSLOG_NONE, NULL, 2) == 0, "audit on");
	cap_start();
	logsink_emit(LOG_LVL_INFO, "local", "INBOX", "Added");
	logsink_emit(LOG_LVL_AUDIT, "local", "INBOX", "APPEND uid=1");
	out = cap_end();
	is_text(out, "local(INBOX): AUDIT[priv] APPEND uid=1\n",
	    "-q keeps audit lines");
	free(out);
	logsink_close();
}

/* A datagram socket of ours standing for /dev/log or the journal. */
static int
dgram_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror(path);
		exit(1);
	}
	return fd;
}

static char *
dgram_recv(int fd)
{
	static char buf[8192];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void
test_syslog(void)
{
	char dir[] = "/tmp/test_logsink.XXXXXX", path[128], *out, *d;
	const char *want;
	const char *const *rnet = logsink_names(PROC_NET, SIDE_REMOTE);
	struct ipc_buf b;
	regex_t re;
	int fd;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	(void)snprintf(path, sizeof(path), "%s/log", dir);
	fd = dgram_listen(path);

	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	/* facility mail (2): notice = 2*8+5 = 21, info 22, error 19. */
	OK(logsink_config(1, LOGSINK_SYSLOG, path, 2) == 0, "syslog on");
	cap_start();
	ipc_buf_init(&b);
	line_at(&b, LOG_LVL_INFO, "remote", "INBOX", "Added 1 UID(s)");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), 0, "a net's line");
	logsink_emit(LOG_LVL_ERROR, "", NULL, "ERROR: boom");
	logsink_emit(LOG_LVL_AUDIT, "database", NULL, "DB commit n=1");
	out = cap_end();
	is_text(out, "remote(INBOX): Added 1 UID(s)\nERROR: boom\n"
	    "database: AUDIT[priv] DB commit n=1\n",
	    "stderr as without syslog");
	free(out);
	OK(regcomp(&re, "^<22>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]{8} "
	    "interimap/net\\(remote\\)\\[[0-9]+\\]: remote\\(INBOX\\): "
	    "Added 1 UID\\(s\\)$", REG_EXTENDED) == 0, "regcomp");
	d = dgram_recv(fd);
	OK(regexec(&re, d, 0, NULL, 0) == 0, "RFC 3164, net(remote)'s "
	    "ident: %s", d);
	regfree(&re);
	d = dgram_recv(fd);
	OK(strncmp(d, "<19>", 4) == 0 && strstr(d, " interimap/priv[") !=
	    NULL && strstr(d, "]: ERROR: boom") != NULL, "priv's error: %s",
	    d);
	d = dgram_recv(fd);
	OK(strncmp(d, "<21>", 4) == 0 && strstr(d, "]: database: "
	    "AUDIT[priv] DB commit n=1") != NULL, "an audit notice: %s", d);
	logsink_close();

	/* The journal's native protocol, its fields. */
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	OK(logsink_config(0, LOGSINK_JOURNAL, path, 16) == 0, "journal on");
	cap_start();
	line_at(&b, LOG_LVL_WARN, "remote", "a\nb", "WARNING: x");
	IS_INT(imsg_named(&b, IMSG_LOG, rnet), 0, "a net's warning");
	free(cap_end());
	d = dgram_recv(fd);
	want = "MESSAGE=remote(a?b): WARNING: x\nPRIORITY=4\n"
	    "SYSLOG_FACILITY=16\nSYSLOG_IDENTIFIER=interimap/net(remote)\n"
	    "SYSLOG_PID=";
	OK(strncmp(d, want, strlen(want)) == 0, "journal fields: %s", d);
	OK(strstr(d, "\nINTERIMAP_PROCESS=net(remote)\nINTERIMAP_PEER=remote\n"
	    "INTERIMAP_MAILBOX=a?b\n") != NULL, "journal: process, peer, "
	    "mailbox");
	logsink_close();

	/* Under systemd, stderr that is the journal gets nothing twice. */
	cap_start();
	{
		struct stat st;
		char js[64];

		OK(fstat(STDERR_FILENO, &st) == 0, "fstat stderr");
		(void)snprintf(js, sizeof(js), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		OK(setenv("JOURNAL_STREAM", js, 1) == 0, "JOURNAL_STREAM");
	}
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	OK(logsink_config(1, LOGSINK_JOURNAL, path, 2) == 0, "journal on");
	logsink_emit(LOG_LVL_AUDIT, "local", "INBOX", "APPEND uid=1");
	logsink_close();
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	OK(logsink_config(0, LOGSINK_SYSLOG, path, 2) == 0, "syslog on");
	logsink_emit(LOG_LVL_NOTICE, "", NULL, "syslog keeps stderr");
	logsink_close();
	(void)unsetenv("JOURNAL_STREAM");
	out = cap_end();
	is_text(out, "syslog keeps stderr\n",
	    "stderr that is the journal: not written to as well");
	free(out);
	d = dgram_recv(fd);
	OK(strncmp(d, "MESSAGE=local(INBOX): AUDIT[priv] APPEND uid=1\n",
	    47) == 0 && strstr(d, "\nINTERIMAP_AUDIT=1\n") != NULL,
	    "the audit line went to the journal: %s", d);
	(void)dgram_recv(fd);

	/* Nobody listening: the line still reaches stderr, one warning. */
	(void)close(fd);
	(void)unlink(path);
	OK(logsink_init(NULL, 0, 0, NULL) == 0, "init");
	OK(logsink_config(0, LOGSINK_SYSLOG, path, 2) == 0, "syslog on");
	cap_start();
	logsink_emit(LOG_LVL_NOTICE, "", NULL, "one");
	logsink_emit(LOG_LVL_NOTICE, "", NULL, "two");
	out = cap_end();
	OK(strstr(out, "one\n") != NULL && strstr(out, "two\n") != NULL &&
	    strstr(out, "WARNING: syslog ") != NULL &&
	    strstr(strstr(out, "WARNING: syslog ") + 1, "WARNING") == NULL,
	    "no receiver: lines kept, one warning: %s", out);
	free(out);
	logsink_close();
	(void)rmdir(dir);
}

int
main(void)
{
	test_prefix();
	test_filter();
	test_logfile();
	test_neutralise();
	test_imsg();
	test_imsg_names();
	test_log_api();
	test_identity();
	test_syslog();
	return tap_done();
}
