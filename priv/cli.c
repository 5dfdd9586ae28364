/*
 * The command line, parsed as the reference's Getopt::Long configuration
 * (posix_default, bundling, no_ignore_case, gnu_compat, auto_version)
 * parses it:
 *
 *  - long options are exact and case-sensitive, no abbreviation;
 *  - "--name=value" (a value may be empty) or "--name value";
 *  - "-" followed by letters is a bundle of one-letter options (-q, -h);
 *  - the first argument that is no option ends the options, as does
 *    "--"; everything after is a MAILBOX, even "-q";
 *  - an error is reported and parsing goes on, so every bad option is
 *    named before the short usage;
 *  - --version prints the version and exits as soon as it is met.
 *
 * Deliberate differences: --help goes to stdout; --version prints our
 * own version and the InterIMAP release we are compatible with, without
 * Perl's second line; a negative or absurdly large --watch
 * interval is refused (the reference accepts -5 and sleeps a negative
 * time); MAILBOX arguments are stored as copies.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "cli.h"

#define CLI_NAME	"interimap"

enum opt_id {
	O_CONFIG,
	O_QUIET,
	O_TARGET,
	O_DEBUG,
	O_HELP,
	O_WATCH,
	O_NOTIFY,
	O_REPAIR,
	O_DELETE,
	O_RENAME,
	O_VERSION,
	O_AUDIT,
};

enum opt_kind {
	K_FLAG,		/* no value */
	K_STRING,	/* a value is required: "=v" or the next argument */
	K_OPTINT,	/* an optional integer: "=n", or the next argument
			 * if it is an integer */
};

static const struct {
	const char	*name;
	enum opt_id	 id;
	enum opt_kind	 kind;
} cli_opts[] = {
	{ "config",	O_CONFIG,	K_STRING },
	{ "quiet",	O_QUIET,	K_FLAG },
	{ "q",		O_QUIET,	K_FLAG },
	{ "target",	O_TARGET,	K_STRING },
	{ "debug",	O_DEBUG,	K_FLAG },
	{ "help",	O_HELP,		K_FLAG },
	{ "h",		O_HELP,		K_FLAG },
	{ "watch",	O_WATCH,	K_OPTINT },
	{ "notify",	O_NOTIFY,	K_FLAG },
	{ "repair",	O_REPAIR,	K_FLAG },
	{ "delete",	O_DELETE,	K_FLAG },
	{ "rename",	O_RENAME,	K_FLAG },
	{ "version",	O_VERSION,	K_FLAG },
	{ "audit",	O_AUDIT,	K_FLAG },	/* ours */
};
#define NOPTS	(sizeof(cli_opts) / sizeof(cli_opts[0]))

/* What parsing found, before the checks that follow it. */
struct cli_state {
	int	 errors;
	int	 help;
	int	 watch_given;
	long	 watch;
	int	 cmd[3];	/* repair, delete, rename given */
};

static void	 usage_short(FILE *);
static void	 usage_long(FILE *);
static int	 cli_int(const char *, long *);
static int	 cli_is_inbox(const char *);
static int	 cli_mailbox_ok(const char *);
static int	 cli_push(char ***, int *, const char *);
static int	 cli_option(struct cli *, struct cli_state *, size_t,
		    const char *, int, char **, int *, FILE *, FILE *);
static int	 cli_long(struct cli *, struct cli_state *, const char *, int,
		    char **, int *, FILE *, FILE *);
static int	 cli_scan(struct cli *, struct cli_state *, int, char **,
		    FILE *, FILE *);

static void
usage_short(FILE *err)
{
	fprintf(err, "Usage: %s [OPTIONS] [COMMAND] [MAILBOX [..]]\n"
	    "Try '%s --help' or consult the manpage for more information.\n",
	    CLI_NAME, CLI_NAME);
	fflush(err);
}

static void
usage_long(FILE *out)
{
	fprintf(out, "Usage: %s [OPTIONS] [MAILBOX [..]]\n"
	    "  or: %s [OPTIONS] --repair [MAILBOX [..]]\n"
	    "  or: %s [OPTIONS] --delete MAILBOX [..]\n"
	    "  or: %s [OPTIONS] --rename SOURCE DEST\n"
	    "Consult the manpage for more information.\n",
	    CLI_NAME, CLI_NAME, CLI_NAME, CLI_NAME);
	fflush(out);
}

/*
 * Getopt::Long's integer: [-+]?_*[0-9][0-9_]*, underscores ignored, and
 * (Perl's "$") one trailing newline allowed.  Returns 0 and the value
 * (clamped to LONG_MIN/LONG_MAX, the caller refuses what it must), or -1.
 */
static int
cli_int(const char *s, long *val)
{
	const char *p = s;
	int neg = 0, digits = 0;
	long v = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (; *p == '_' || (*p >= '0' && *p <= '9'); p++) {
		if (*p == '_')
			continue;
		digits = 1;
		if (v > (LONG_MAX - (*p - '0')) / 10)
			v = LONG_MAX;
		else
			v = v * 10 + (*p - '0');
	}
	if (*p == '\n')
		p++;
	if (!digits || *p != '\0')
		return -1;
	*val = neg ? -v : v;
	return 0;
}

/* "inbox" in any case, ASCII only (Perl's uc on bytes), whatever the locale. */
static int
cli_is_inbox(const char *m)
{
	static const char inbox[] = "INBOX";
	size_t i;

	for (i = 0; i < 5; i++) {
		if (m[i] == '\0' || (m[i] != inbox[i] &&
		    m[i] != inbox[i] - 'A' + 'a'))
			return 0;
	}
	return m[5] == '\0';
}

/* 1+ bytes in 0x01-0x7F. */
static int
cli_mailbox_ok(const char *m)
{
	const unsigned char *p = (const unsigned char *)m;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p > 0x7f)
			return 0;
	return 1;
}

static int
cli_push(char ***arr, int *n, const char *s)
{
	char **a;

	if ((a = reallocarray(*arr, (size_t)*n + 1, sizeof(**arr))) == NULL)
		return -1;
	*arr = a;
	if ((a[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

/*
 * One option, cli_opts[k], named as given, with its "=value" (optarg,
 * or NULL).  May take argv[*i + 1].  Returns -1 to go on, or an exit
 * code (--version).
 */
static int
cli_option(struct cli *cli, struct cli_state *st, size_t k,
    const char *optarg, int argc, char **argv, int *i, FILE *out, FILE *err)
{
	const char *name = cli_opts[k].name, *val;
	long n;

	switch (cli_opts[k].kind) {
	case K_FLAG:
		if (optarg != NULL) {
			fprintf(err, "Option %s does not take an argument\n",
			    name);
			st->errors++;
			return -1;
		}
		break;
	case K_STRING:
		if (optarg != NULL)
			val = optarg;
		else if (*i + 1 < argc)
			val = argv[++*i];	/* whatever it is */
		else {
			fprintf(err, "Option %s requires an argument\n", name);
			st->errors++;
			return -1;
		}
		if (cli_opts[k].id == O_CONFIG) {
			free(cli->config);
			if ((cli->config = strdup(val)) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
		} else if (cli_push(&cli->targets, &cli->ntargets, val) == -1)
			fatalx(EXIT_FAIL, "out of memory");
		return -1;
	case K_OPTINT:
		n = 0;
		if (optarg != NULL) {
			/* "--watch=" is 0, like no value. */
			if (*optarg != '\0' && cli_int(optarg, &n) == -1) {
				fprintf(err, "Value \"%s\" invalid for option "
				    "%s (number expected)\n", optarg, name);
				st->errors++;
				return -1;
			}
			val = optarg;
		} else if (*i + 1 < argc && cli_int(argv[*i + 1], &n) == 0)
			val = argv[++*i];
		else
			val = "";
		/* Fix: the reference sleeps a negative time. */
		if (n < 0) {
			fprintf(err, "Value \"%s\" invalid for option %s "
			    "(negative interval)\n", val, name);
			st->errors++;
			return -1;
		}
		if (n > INT_MAX) {
			fprintf(err, "Value \"%s\" invalid for option %s "
			    "(number too large)\n", val, name);
			st->errors++;
			return -1;
		}
		st->watch_given = 1;
		st->watch = n;
		return -1;
	}

	switch (cli_opts[k].id) {
	case O_QUIET:
		cli->quiet = 1;
		break;
	case O_DEBUG:
		cli->debug++;
		break;
	case O_HELP:
		st->help = 1;
		break;
	case O_AUDIT:
		cli->audit = 1;
		break;
	case O_NOTIFY:
		cli->notify = 1;
		break;
	case O_REPAIR:
		st->cmd[0] = 1;
		break;
	case O_DELETE:
		st->cmd[1] = 1;
		break;
	case O_RENAME:
		st->cmd[2] = 1;
		break;
	case O_VERSION:
		/* Met while parsing: earlier errors are already out. */
		fprintf(out, "%s %s (compatible with InterIMAP %s)\n",
		    CLI_NAME, INTERIMAP_VERSION, INTERIMAP_COMPAT);
		fflush(out);
		return EXIT_OK;
	default:
		break;
	}
	return -1;
}

/*
 * One long option, "--name" or "--name=value" (an "=" right after the
 * dashes belongs to the name: "--=x" is the unknown option "=x").
 */
static int
cli_long(struct cli *cli, struct cli_state *st, const char *arg, int argc,
    char **av, int *i, FILE *out, FILE *err)
{
	const char *name = arg + 2, *eq;
	size_t namelen, k;

	eq = name[0] != '\0' ? strchr(name + 1, '=') : NULL;
	namelen = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (k = 0; k < NOPTS; k++)
		if (strlen(cli_opts[k].name) == namelen &&
		    memcmp(cli_opts[k].name, name, namelen) == 0)
			break;
	if (k == NOPTS) {
		fprintf(err, "Unknown option: %.*s\n", (int)namelen, name);
		st->errors++;
		return -1;
	}
	return cli_option(cli, st, k, eq != NULL ? eq + 1 : NULL, argc, av, i,
	    out, err);
}

/*
 * Walks the options, then keeps the MAILBOX arguments.  A bundle "-xyz"
 * is read as Getopt::Long reads it: the letter x is taken and "-yz" put
 * back in its place as a new argument, so "-q-" puts back "--" (the end
 * of options) and "-q-config=f" puts back "--config=f".
 */
static int
cli_scan(struct cli *cli, struct cli_state *st, int argc, char **argv,
    FILE *out, FILE *err)
{
	char **av, **own, *back;
	const char *arg;
	size_t k;
	int i, r = -1;

	av = reallocarray(NULL, (size_t)argc + 1, sizeof(*av));
	own = calloc((size_t)argc + 1, sizeof(*own));
	if (av == NULL || own == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	memcpy(av, argv, (size_t)argc * sizeof(*av));

	for (i = 1; i < argc && r == -1; ) {
		arg = av[i];
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;		/* the first MAILBOX ("-" is one) */
		if (arg[1] == '-') {
			r = cli_long(cli, st, arg, argc, av, &i, out, err);
			i++;
			continue;
		}

		for (k = 0; k < NOPTS; k++)
			if (cli_opts[k].name[0] == arg[1] &&
			    cli_opts[k].name[1] == '\0')
				break;
		if (k == NOPTS) {
			fprintf(err, "Unknown option: %c\n", arg[1]);
			st->errors++;
		} else
			/* One-letter options are all flags. */
			r = cli_option(cli, st, k, NULL, argc, av, &i, out,
			    err);
		if (arg[2] == '\0') {
			i++;
			continue;
		}
		if (asprintf(&back, "-%s", arg + 2) == -1)
			fatalx(EXIT_FAIL, "out of memory");
		free(own[i]);
		av[i] = own[i] = back;
	}
	for (; i < argc && r == -1; i++)
		if (cli_push(&cli->mailboxes, &cli->nmailboxes, av[i]) == -1)
			fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < argc; i++)
		free(own[i]);
	free(own);
	free(av);
	return r;
}

int
cli_parse(struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
	struct cli_state st;
	int i, r, ncmd;

	memset(cli, 0, sizeof(*cli));
	memset(&st, 0, sizeof(st));

	if ((r = cli_scan(cli, &st, argc, argv, out, err)) != -1) {
		fflush(err);
		return r;
	}

	/* 1. Syntax errors, 2. --help. */
	if (st.errors > 0) {
		fflush(err);
		usage_short(err);
		return EXIT_FAIL;
	}
	if (st.help) {
		usage_long(out);
		return EXIT_OK;
	}

	/* 3. One command at most. */
	ncmd = st.cmd[0] + st.cmd[1] + st.cmd[2];
	if (ncmd > 1) {
		usage_short(err);
		return EXIT_FAIL;
	}
	cli->command = st.cmd[0] ? CMD_REPAIR : st.cmd[1] ? CMD_DELETE :
	    st.cmd[2] ? CMD_RENAME : CMD_SYNC;

	/* 4. --delete needs mailboxes, --rename exactly two. */
	if ((cli->command == CMD_DELETE && cli->nmailboxes == 0) ||
	    (cli->command == CMD_RENAME && cli->nmailboxes != 2)) {
		usage_short(err);
		return EXIT_FAIL;
	}
	/* 5. A command is a one-shot: no watching. */
	if (cli->command != CMD_SYNC && (st.watch_given || cli->notify)) {
		usage_short(err);
		return EXIT_FAIL;
	}
	/* 6. --target only selects what --delete/--rename touch. */
	if (cli->ntargets > 0 && cli->command != CMD_DELETE &&
	    cli->command != CMD_RENAME) {
		usage_short(err);
		return EXIT_FAIL;
	}

	/* 7. Watch interval; INBOX is case-insensitive. */
	if (st.watch_given || cli->notify)
		cli->watch = st.watch != 0 ? (int)st.watch :
		    cli->notify ? 900 : 60;
	for (i = 0; i < cli->nmailboxes; i++)
		if (cli_is_inbox(cli->mailboxes[i]))
			memcpy(cli->mailboxes[i], "INBOX", 5);

	/* 8. Mailbox names are 7-bit (modified UTF-7) and not empty. */
	for (i = 0; i < cli->nmailboxes; i++) {
		if (!cli_mailbox_ok(cli->mailboxes[i])) {
			fprintf(err, "Invalid mailbox name %s\n",
			    cli->mailboxes[i]);
			fflush(err);
			return EXIT_FAIL;
		}
	}
	fflush(err);
	return -1;
}

/*
 * Each --target value is a comma-separated list, split as Perl's split
 * does: trailing empty fields vanish ("local," is "local"), others stay
 * and are refused (",local" names the target "").
 */
int
cli_targets(const struct cli *cli, unsigned int *mask)
{
	const char *v, *b, *e, *end;
	int t;

	if (cli->ntargets == 0) {
		*mask = TARGET_ALL;
		return 0;
	}
	*mask = 0;
	for (t = 0; t < cli->ntargets; t++) {
		v = cli->targets[t];
		/* The end of the last non-empty field. */
		end = v + strlen(v);
		while (end > v && end[-1] == ',')
			end--;
		for (b = v; b < end; b = e + 1) {
			if ((e = memchr(b, ',', (size_t)(end - b))) == NULL)
				e = end;
			if (e - b == 5 && memcmp(b, "local", 5) == 0)
				*mask |= TARGET_LOCAL;
			else if (e - b == 6 && memcmp(b, "remote", 6) == 0)
				*mask |= TARGET_REMOTE;
			else if (e - b == 8 && memcmp(b, "database", 8) == 0)
				*mask |= TARGET_DATABASE;
			else {
				log_msg(LOG_LVL_ERROR, "", NULL,
				    "Invalid target %.*s", (int)(e - b), b);
				return -1;
			}
		}
	}
	return 0;
}

/* Arguments are normalised: any case of "inbox" is "INBOX" by now. */
int
cli_deletes_inbox(const struct cli *cli)
{
	int i;

	if (cli->command != CMD_DELETE)
		return 0;
	for (i = 0; i < cli->nmailboxes; i++)
		if (strcmp(cli->mailboxes[i], "INBOX") == 0)
			return 1;
	return 0;
}

void
cli_free(struct cli *cli)
{
	int i;

	free(cli->config);
	for (i = 0; i < cli->ntargets; i++)
		free(cli->targets[i]);
	free(cli->targets);
	for (i = 0; i < cli->nmailboxes; i++)
		free(cli->mailboxes[i]);
	free(cli->mailboxes);
	memset(cli, 0, sizeof(*cli));
}
