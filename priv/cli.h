/* The command line, parsed exactly as the reference parses it. */
#ifndef PRIV_CLI_H
#define PRIV_CLI_H

#include <stdio.h>

enum cli_command {
	CMD_SYNC = 0,
	CMD_REPAIR,
	CMD_DELETE,
	CMD_RENAME,
};

#define TARGET_LOCAL	0x1
#define TARGET_REMOTE	0x2
#define TARGET_DATABASE	0x4
#define TARGET_ALL	(TARGET_LOCAL | TARGET_REMOTE | TARGET_DATABASE)

struct cli {
	char		*config;	/* --config, NULL if not given */
	int		 quiet;
	int		 debug;		/* count */
	int		 watch;		/* seconds; 0 = not watching */
	int		 notify;
	int		 audit;		/* --audit (ours) */
	enum cli_command command;
	char		**targets;	/* raw --target values (late check) */
	int		 ntargets;
	char		**mailboxes;	/* copies, INBOX normalised */
	int		 nmailboxes;
};

/*
 * Parses argv (argv[0] is skipped).  Returns -1 to go on, or an exit code
 * (EXIT_OK for --help/--version, EXIT_FAIL for a usage error or an
 * invalid MAILBOX) the caller exits with once the messages have been
 * printed: --help and --version to out, the rest to err.  Call cli_free()
 * in every case.
 */
int	 cli_parse(struct cli *, int, char **, FILE *, FILE *);
/*
 * Resolves cli->targets into TARGET_* bits (TARGET_ALL without --target);
 * -1 after logging "Invalid target X" (the caller exits EXIT_FAIL).
 */
int	 cli_targets(const struct cli *, unsigned int *);
/* --delete names INBOX, which can't be deleted (RFC 3501 6.3.4). */
int	 cli_deletes_inbox(const struct cli *);
void	 cli_free(struct cli *);

#endif
