/*
 * cli_parse() and cli_targets() against the reference's observed
 * behaviour: one row per argument vector, with the exit code, the exact
 * stdout and stderr, and what was parsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "proc.h"
#include "cli.h"

#define SHORT	"Usage: interimap [OPTIONS] [COMMAND] [MAILBOX [..]]\n" \
		"Try 'interimap --help' or consult the manpage for more " \
		"information.\n"
#define LONG	"Usage: interimap [OPTIONS] [MAILBOX [..]]\n"		\
		"  or: interimap [OPTIONS] --repair [MAILBOX [..]]\n"	\
		"  or: interimap [OPTIONS] --delete MAILBOX [..]\n"	\
		"  or: interimap [OPTIONS] --rename SOURCE DEST\n"	\
		"Consult the manpage for more information.\n"
#define VERSION	"interimap " INTERIMAP_VERSION \
		" (compatible with InterIMAP " INTERIMAP_COMPAT ")\n"

/* Rows name only the fields they care about; the rest are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define GO	(-1)	/* cli_parse() says: go on */

struct cli_case {
	const char	*args[10];	/* argv[1..], NULL-terminated */
	int		 rc;
	const char	*out;		/* NULL: empty */
	const char	*err;		/* NULL: empty */
	/* When rc is GO: */
	const char	*config;	/* NULL: not given */
	int		 quiet, debug, watch, notify;
	enum cli_command cmd;
	const char	*targets;	/* joined with "|"; NULL: none */
	const char	*mailboxes;	/* joined with "|"; NULL: none */
};

static const struct cli_case cases[] = {
	/* Nothing: a plain sync. */
	{ { NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0, CMD_SYNC, NULL, NULL },

	/* Unknown options: case-sensitive, no abbreviation. */
	{ { "--deb", NULL }, EXIT_FAIL, NULL, "Unknown option: deb\n" SHORT },
	{ { "--conf=x", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: conf\n" SHORT },
	{ { "--c=x", NULL }, EXIT_FAIL, NULL, "Unknown option: c\n" SHORT },
	{ { "--Quiet", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: Quiet\n" SHORT },
	{ { "--hel", NULL }, EXIT_FAIL, NULL, "Unknown option: hel\n" SHORT },
	{ { "--versio", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: versio\n" SHORT },
	{ { "--Version", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: Version\n" SHORT },
	{ { "-x", NULL }, EXIT_FAIL, NULL, "Unknown option: x\n" SHORT },
	{ { "-V", NULL }, EXIT_FAIL, NULL, "Unknown option: V\n" SHORT },
	{ { "-Q", NULL }, EXIT_FAIL, NULL, "Unknown option: Q\n" SHORT },
	{ { "-H", NULL }, EXIT_FAIL, NULL, "Unknown option: H\n" SHORT },
	{ { "--=x", NULL }, EXIT_FAIL, NULL, "Unknown option: =x\n" SHORT },
	{ { "---x", NULL }, EXIT_FAIL, NULL, "Unknown option: -x\n" SHORT },
	/* Every error is reported before the usage. */
	{ { "--deb", "--foo", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: deb\nUnknown option: foo\n" SHORT },
	{ { "--watch", "--watch=abc", "--foo", NULL }, EXIT_FAIL, NULL,
	    "Value \"abc\" invalid for option watch (number expected)\n"
	    "Unknown option: foo\n" SHORT },
	/* Errors win over --help. */
	{ { "--help", "--deb", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: deb\n" SHORT },

	/* Bundles of -q and -h. */
	{ { "-qh", NULL }, EXIT_OK, LONG, NULL },
	{ { "-hq", NULL }, EXIT_OK, LONG, NULL },
	{ { "-qx", NULL }, EXIT_FAIL, NULL, "Unknown option: x\n" SHORT },
	{ { "-qhx", NULL }, EXIT_FAIL, NULL, "Unknown option: x\n" SHORT },
	{ { "-quiet", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: u\nUnknown option: i\nUnknown option: e\n"
	    "Unknown option: t\n" SHORT },
	{ { "-h=1", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: =\nUnknown option: 1\n" SHORT },
	{ { "-qq", "x", NULL }, GO, NULL, NULL, NULL, 1, 0, 0, 0, CMD_SYNC,
	    NULL, "x" },
	/* The rest of a bundle is read again as an argument of its own. */
	{ { "-q-", "-x", NULL }, GO, NULL, NULL, NULL, 1, 0, 0, 0, CMD_SYNC,
	    NULL, "-x" },
	{ { "-h-", NULL }, EXIT_OK, LONG, NULL },
	{ { "-q-x", NULL }, EXIT_FAIL, NULL, "Unknown option: x\n" SHORT },
	{ { "-x-q", NULL }, EXIT_FAIL, NULL, "Unknown option: x\n" SHORT },
	{ { "-q--", NULL }, EXIT_FAIL, NULL, "Unknown option: -\n" SHORT },
	{ { "-q-config=foo", NULL }, GO, NULL, NULL, "foo", 1, 0, 0, 0,
	    CMD_SYNC, NULL, NULL },

	/* Long names of the one-letter options. */
	{ { "--q", NULL }, GO, NULL, NULL, NULL, 1, 0, 0, 0, CMD_SYNC },
	{ { "--quiet", "--quiet", NULL }, GO, NULL, NULL, NULL, 1, 0, 0, 0,
	    CMD_SYNC },
	{ { "--h", NULL }, EXIT_OK, LONG, NULL },
	{ { "--help", NULL }, EXIT_OK, LONG, NULL },

	/* Flags take no value, not even an empty one. */
	{ { "--notify=1", NULL }, EXIT_FAIL, NULL,
	    "Option notify does not take an argument\n" SHORT },
	{ { "--debug=2", NULL }, EXIT_FAIL, NULL,
	    "Option debug does not take an argument\n" SHORT },
	{ { "--help=1", NULL }, EXIT_FAIL, NULL,
	    "Option help does not take an argument\n" SHORT },
	{ { "--quiet=", NULL }, EXIT_FAIL, NULL,
	    "Option quiet does not take an argument\n" SHORT },
	{ { "--quiet=0", NULL }, EXIT_FAIL, NULL,
	    "Option quiet does not take an argument\n" SHORT },
	{ { "--q=1", NULL }, EXIT_FAIL, NULL,
	    "Option q does not take an argument\n" SHORT },
	{ { "--h=1", NULL }, EXIT_FAIL, NULL,
	    "Option h does not take an argument\n" SHORT },
	{ { "--rename=1", NULL }, EXIT_FAIL, NULL,
	    "Option rename does not take an argument\n" SHORT },
	{ { "--version=1", NULL }, EXIT_FAIL, NULL,
	    "Option version does not take an argument\n" SHORT },

	/* --config and --target need a value, and take the next argument. */
	{ { "--config", NULL }, EXIT_FAIL, NULL,
	    "Option config requires an argument\n" SHORT },
	{ { "--target", NULL }, EXIT_FAIL, NULL,
	    "Option target requires an argument\n" SHORT },
	{ { "--config", "--quiet", NULL }, GO, NULL, NULL, "--quiet", 0, 0,
	    0, 0, CMD_SYNC },
	{ { "--config", "-q", NULL }, GO, NULL, NULL, "-q" },
	{ { "--config", "--", "x", NULL }, GO, NULL, NULL, "--", 0, 0, 0, 0,
	    CMD_SYNC, NULL, "x" },
	{ { "--config=", NULL }, GO, NULL, NULL, "" },
	{ { "--config=a=b", NULL }, GO, NULL, NULL, "a=b" },
	{ { "--config=a", "--config=b", NULL }, GO, NULL, NULL, "b" },

	/* --debug counts. */
	{ { "--debug", NULL }, GO, NULL, NULL, NULL, 0, 1 },
	{ { "--debug", "--debug", "--debug", NULL }, GO, NULL, NULL, NULL, 0,
	    3 },

	/* --watch[=N]. */
	{ { "--watch", NULL }, GO, NULL, NULL, NULL, 0, 0, 60 },
	{ { "--watch=", NULL }, GO, NULL, NULL, NULL, 0, 0, 60 },
	{ { "--watch=0", NULL }, GO, NULL, NULL, NULL, 0, 0, 60 },
	{ { "--watch=-0", NULL }, GO, NULL, NULL, NULL, 0, 0, 60 },
	{ { "--watch=+7", NULL }, GO, NULL, NULL, NULL, 0, 0, 7 },
	{ { "--watch=05", NULL }, GO, NULL, NULL, NULL, 0, 0, 5 },
	{ { "--watch=1_000", NULL }, GO, NULL, NULL, NULL, 0, 0, 1000 },
	{ { "--watch=_5_", NULL }, GO, NULL, NULL, NULL, 0, 0, 5 },
	{ { "--watch=5\n", NULL }, GO, NULL, NULL, NULL, 0, 0, 5 },
	{ { "--watch=2147483647", NULL }, GO, NULL, NULL, NULL, 0, 0,
	    2147483647 },
	{ { "--watch", "30", NULL }, GO, NULL, NULL, NULL, 0, 0, 30 },
	{ { "--watch", "+5", NULL }, GO, NULL, NULL, NULL, 0, 0, 5 },
	{ { "--watch", "5", "5", NULL }, GO, NULL, NULL, NULL, 0, 0, 5, 0,
	    CMD_SYNC, NULL, "5" },
	/* The next argument is taken only if it is an integer. */
	{ { "--watch", "abc", NULL }, GO, NULL, NULL, NULL, 0, 0, 60, 0,
	    CMD_SYNC, NULL, "abc" },
	{ { "--watch", "5x", NULL }, GO, NULL, NULL, NULL, 0, 0, 60, 0,
	    CMD_SYNC, NULL, "5x" },
	{ { "--watch", "1e3", NULL }, GO, NULL, NULL, NULL, 0, 0, 60, 0,
	    CMD_SYNC, NULL, "1e3" },
	{ { "--watch", "-", NULL }, GO, NULL, NULL, NULL, 0, 0, 60, 0,
	    CMD_SYNC, NULL, "-" },
	{ { "--watch", "--", "-q", NULL }, GO, NULL, NULL, NULL, 0, 0, 60, 0,
	    CMD_SYNC, NULL, "-q" },
	{ { "--watch", "--notify", NULL }, GO, NULL, NULL, NULL, 0, 0, 900,
	    1 },
	{ { "--watch", "-5x", NULL }, EXIT_FAIL, NULL,
	    "Unknown option: 5\nUnknown option: x\n" SHORT },
	/* With "=", the value must be an integer. */
	{ { "--watch=abc", NULL }, EXIT_FAIL, NULL,
	    "Value \"abc\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=5x", NULL }, EXIT_FAIL, NULL,
	    "Value \"5x\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=-", NULL }, EXIT_FAIL, NULL,
	    "Value \"-\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=_", NULL }, EXIT_FAIL, NULL,
	    "Value \"_\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=0x10", NULL }, EXIT_FAIL, NULL,
	    "Value \"0x10\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=1e3", NULL }, EXIT_FAIL, NULL,
	    "Value \"1e3\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch= 5", NULL }, EXIT_FAIL, NULL,
	    "Value \" 5\" invalid for option watch (number expected)\n"
	    SHORT },
	{ { "--watch=5=6", NULL }, EXIT_FAIL, NULL,
	    "Value \"5=6\" invalid for option watch (number expected)\n"
	    SHORT },
	/* Fix: negative and too large intervals are refused. */
	{ { "--watch=-5", NULL }, EXIT_FAIL, NULL,
	    "Value \"-5\" invalid for option watch (negative interval)\n"
	    SHORT },
	{ { "--watch", "-5", NULL }, EXIT_FAIL, NULL,
	    "Value \"-5\" invalid for option watch (negative interval)\n"
	    SHORT },
	{ { "--notify", "--watch", "-1", NULL }, EXIT_FAIL, NULL,
	    "Value \"-1\" invalid for option watch (negative interval)\n"
	    SHORT },
	{ { "--watch=2147483648", NULL }, EXIT_FAIL, NULL,
	    "Value \"2147483648\" invalid for option watch (number too "
	    "large)\n" SHORT },
	{ { "--watch=99999999999999999999999", NULL }, EXIT_FAIL, NULL,
	    "Value \"99999999999999999999999\" invalid for option watch "
	    "(number too large)\n" SHORT },

	/* --notify implies watching, every 900 s unless told. */
	{ { "--notify", NULL }, GO, NULL, NULL, NULL, 0, 0, 900, 1 },
	{ { "--notify", "--notify", NULL }, GO, NULL, NULL, NULL, 0, 0, 900,
	    1 },
	{ { "--notify", "--watch=30", NULL }, GO, NULL, NULL, NULL, 0, 0, 30,
	    1 },
	{ { "--notify", "--watch=0", NULL }, GO, NULL, NULL, NULL, 0, 0, 900,
	    1 },

	/* --version: at once, even after errors, and over --help. */
	{ { "--version", NULL }, EXIT_OK, VERSION, NULL },
	{ { "--deb", "--version", NULL }, EXIT_OK, VERSION,
	    "Unknown option: deb\n" },
	{ { "--version", "--deb", NULL }, EXIT_OK, VERSION, NULL },
	{ { "--help", "--version", NULL }, EXIT_OK, VERSION, NULL },
	{ { "--version", "--help", NULL }, EXIT_OK, VERSION, NULL },
	{ { "-q", "--version", NULL }, EXIT_OK, VERSION, NULL },
	{ { "--repair", "--delete", "--version", NULL }, EXIT_OK, VERSION,
	    NULL },
	/* ... but not as a MAILBOX. */
	{ { "-", "--version", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_SYNC, NULL, "-|--version" },

	/* The end of options: "--" or the first MAILBOX. */
	{ { "--", NULL }, GO, NULL, NULL },
	{ { "--", "-q", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0, CMD_SYNC,
	    NULL, "-q" },
	{ { "-q", "--", "--", NULL }, GO, NULL, NULL, NULL, 1, 0, 0, 0,
	    CMD_SYNC, NULL, "--" },
	{ { "a", "-q", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0, CMD_SYNC,
	    NULL, "a|-q" },
	{ { "-", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0, CMD_SYNC, NULL,
	    "-" },
	{ { "a", "--", "b", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_SYNC, NULL, "a|--|b" },

	/* Commands. */
	{ { "--repair", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_REPAIR },
	{ { "--repair", "a", "b", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_REPAIR, NULL, "a|b" },
	{ { "--delete", "a", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_DELETE, NULL, "a" },
	{ { "--delete", "--delete", "a", "b", NULL }, GO, NULL, NULL, NULL,
	    0, 0, 0, 0, CMD_DELETE, NULL, "a|b" },
	{ { "--rename", "a", "b", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_RENAME, NULL, "a|b" },
	{ { "--repair", "--delete", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--repair", "--repair", "--rename", "a", "b", NULL }, EXIT_FAIL,
	    NULL, SHORT },
	{ { "--delete", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--rename", "a", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--rename", "a", "b", "c", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--repair", "--watch", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--repair", "--watch=5", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--repair", "--notify", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--delete", "--watch", "a", NULL }, EXIT_FAIL, NULL, SHORT },
	/* Usage errors come before MAILBOX checks. */
	{ { "--repair", "--delete", "\x80", NULL }, EXIT_FAIL, NULL, SHORT },

	/* --target: only with --delete/--rename; checked late. */
	{ { "--target=local", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--target=x", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--target=", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--target=,", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--target=local", "--repair", NULL }, EXIT_FAIL, NULL, SHORT },
	{ { "--target=x", "--delete", "a", NULL }, GO, NULL, NULL, NULL, 0, 0,
	    0, 0, CMD_DELETE, "x", "a" },
	{ { "--target", "a", "--target", "b,c", "--rename", "x", "y", NULL },
	    GO, NULL, NULL, NULL, 0, 0, 0, 0, CMD_RENAME, "a|b,c", "x|y" },
	{ { "--target", "", "--delete", "a", NULL }, GO, NULL, NULL, NULL, 0,
	    0, 0, 0, CMD_DELETE, "", "a" },

	/* INBOX is case-insensitive, other names are kept. */
	{ { "inbox", "InBoX", "inboxes", "INBOX/a", NULL }, GO, NULL, NULL,
	    NULL, 0, 0, 0, 0, CMD_SYNC, NULL, "INBOX|INBOX|inboxes|INBOX/a" },
	{ { "--rename", "Inbox", "x", NULL }, GO, NULL, NULL, NULL, 0, 0, 0,
	    0, CMD_RENAME, NULL, "INBOX|x" },

	/* MAILBOX: 1+ bytes 0x01-0x7F. */
	{ { "\x80", NULL }, EXIT_FAIL, NULL, "Invalid mailbox name \x80\n" },
	{ { "a", "\xc3\xa9", NULL }, EXIT_FAIL, NULL,
	    "Invalid mailbox name \xc3\xa9\n" },
	{ { "--delete", "a", "", NULL }, EXIT_FAIL, NULL,
	    "Invalid mailbox name \n" },
	{ { "--watch", "", "x", NULL }, EXIT_FAIL, NULL,
	    "Invalid mailbox name \n" },
	{ { "\x01\x7f ~*%", NULL }, GO, NULL, NULL, NULL, 0, 0, 0, 0,
	    CMD_SYNC, NULL, "\x01\x7f ~*%" },
};

/* Joins n strings with "|"; caller frees. */
static char *
join(char **v, int n)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if ((s = calloc(1, len)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, "|");
		strcat(s, v[i]);
	}
	return s;
}

static void
run_case(size_t idx, const struct cli_case *c)
{
	char *argv[12], *obuf = NULL, *ebuf = NULL, *j, what[64];
	size_t olen = 0, elen = 0;
	FILE *out, *err;
	struct cli cli;
	int argc = 0, rc;

	argv[argc++] = (char *)"interimap";
	while (c->args[argc - 1] != NULL) {
		argv[argc] = (char *)c->args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	if ((out = open_memstream(&obuf, &olen)) == NULL ||
	    (err = open_memstream(&ebuf, &elen)) == NULL)
		abort();
	rc = cli_parse(&cli, argc, argv, out, err);
	fclose(out);
	fclose(err);

	snprintf(what, sizeof(what), "case %zu (%s) rc", idx,
	    c->args[0] ? c->args[0] : "none");
	IS_INT(rc, c->rc, what);
	snprintf(what, sizeof(what), "case %zu stdout", idx);
	IS_STR(obuf, c->out ? c->out : "", what);
	snprintf(what, sizeof(what), "case %zu stderr", idx);
	IS_STR(ebuf, c->err ? c->err : "", what);

	if (rc == GO && c->rc == GO) {
		snprintf(what, sizeof(what), "case %zu config", idx);
		if (c->config == NULL)
			OK(cli.config == NULL, "%s: unset", what);
		else
			IS_STR(cli.config, c->config, what);
		snprintf(what, sizeof(what), "case %zu quiet", idx);
		IS_INT(cli.quiet, c->quiet, what);
		snprintf(what, sizeof(what), "case %zu debug", idx);
		IS_INT(cli.debug, c->debug, what);
		snprintf(what, sizeof(what), "case %zu watch", idx);
		IS_INT(cli.watch, c->watch, what);
		snprintf(what, sizeof(what), "case %zu notify", idx);
		IS_INT(cli.notify, c->notify, what);
		snprintf(what, sizeof(what), "case %zu command", idx);
		IS_INT(cli.command, c->cmd, what);
		snprintf(what, sizeof(what), "case %zu targets", idx);
		j = join(cli.targets, cli.ntargets);
		if (c->targets == NULL)
			IS_INT(cli.ntargets, 0, what);
		else
			IS_STR(j, c->targets, what);
		free(j);
		snprintf(what, sizeof(what), "case %zu mailboxes", idx);
		j = join(cli.mailboxes, cli.nmailboxes);
		IS_STR(j, c->mailboxes ? c->mailboxes : "", what);
		free(j);
	}
	cli_free(&cli);
	free(obuf);
	free(ebuf);
}

/* cli_targets(): Perl's split(",") and the three names. */
static const struct {
	const char	*targets[4];	/* --target values */
	int		 rc;
	unsigned int	 mask;
	const char	*err;
} target_cases[] = {
	{ { NULL }, 0, TARGET_ALL, "" },
	{ { "local", NULL }, 0, TARGET_LOCAL, "" },
	{ { "remote", NULL }, 0, TARGET_REMOTE, "" },
	{ { "database", NULL }, 0, TARGET_DATABASE, "" },
	{ { "local,remote", NULL }, 0, TARGET_LOCAL | TARGET_REMOTE, "" },
	{ { "local", "database", NULL }, 0, TARGET_LOCAL | TARGET_DATABASE,
	    "" },
	{ { "local,remote,database", NULL }, 0, TARGET_ALL, "" },
	{ { "local,local", NULL }, 0, TARGET_LOCAL, "" },
	/* Trailing empty fields vanish, others are names. */
	{ { "local,", NULL }, 0, TARGET_LOCAL, "" },
	{ { "local,,,", NULL }, 0, TARGET_LOCAL, "" },
	{ { "", NULL }, 0, 0, "" },
	{ { ",", NULL }, 0, 0, "" },
	{ { ",local", NULL }, -1, 0, "Invalid target \n" },
	{ { "local,,remote", NULL }, -1, 0, "Invalid target \n" },
	{ { "x", NULL }, -1, 0, "Invalid target x\n" },
	{ { "local", "Remote", NULL }, -1, 0, "Invalid target Remote\n" },
	{ { "local remote", NULL }, -1, 0, "Invalid target local remote\n" },
	{ { "locals", NULL }, -1, 0, "Invalid target locals\n" },
};

/* Runs cli_targets() with stderr captured in a temporary file. */
static void
run_targets(size_t idx, int n)
{
	struct cli cli;
	unsigned int mask = 0xdead;
	char what[64], buf[256];
	FILE *tmp;
	int saved, rc;
	size_t len;

	memset(&cli, 0, sizeof(cli));
	cli.targets = (char **)target_cases[idx].targets;
	cli.ntargets = n;
	fflush(stderr);
	if ((tmp = tmpfile()) == NULL || (saved = dup(2)) == -1 ||
	    dup2(fileno(tmp), 2) == -1)
		abort();
	rc = cli_targets(&cli, &mask);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	len = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[len] = '\0';
	fclose(tmp);

	snprintf(what, sizeof(what), "targets %zu rc", idx);
	IS_INT(rc, target_cases[idx].rc, what);
	if (rc == 0) {
		snprintf(what, sizeof(what), "targets %zu mask", idx);
		IS_INT(mask, target_cases[idx].mask, what);
	}
	snprintf(what, sizeof(what), "targets %zu message", idx);
	IS_STR(buf, target_cases[idx].err, what);
}

int
main(void)
{
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i, &cases[i]);
	for (i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
		for (n = 0; target_cases[i].targets[n] != NULL; n++)
			;
		run_targets(i, n);
	}
	return tap_done();
}
