/*
 * interimap: main().  One binary, four processes: started plainly it is
 * priv (command line, configuration, database, log sink, the children);
 * re-executed by priv with a hidden --proc= flag it is the engine or a
 * net (ipc/proc.h).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "cli.h"
#include "conf.h"
#include "db.h"
#include "logsink.h"
#include "progress.h"
#include "proc.h"
#include "testhooks.h"

static int	 child_main(int, char **);
static void	 priv_stdio(void);
static int	 priv_main(int, char **);

/*
 * A child: argv[1] is exactly one of the hidden flags and fd 3 is the
 * socket priv left there.  Anything else is a user's command line, which
 * the CLI rejects like any unknown option.
 */
static int
child_main(int argc, char *argv[])
{
	struct stat st;
	int slot;

	if (argc != 2 || strncmp(argv[1], IPC_PROC_FLAG,
	    strlen(IPC_PROC_FLAG)) != 0)
		return -1;
	if ((slot = proc_slot_by_name(argv[1] + strlen(IPC_PROC_FLAG))) ==
	    -1)
		return -1;
	if (fstat(IPC_FD_PARENT, &st) == -1 || !S_ISSOCK(st.st_mode))
		return -1;
	switch (slot) {
	case PROC_SLOT_ENGINE:
		return engine_main(argc, argv);
	case PROC_SLOT_NET_LOCAL:
		return net_main(argc, argv, SIDE_LOCAL);
	default:
		return net_main(argc, argv, SIDE_REMOTE);
	}
}

/*
 * Started with 0, 1 or 2 closed, the first file we open would become
 * "stderr": give them /dev/null first.
 */
static void
priv_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 &&
	    fd <= STDERR_FILENO) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			exit(EXIT_FAIL);
	}
	if (fd == -1)
		exit(EXIT_FAIL);
	(void)close(fd);
}

static int
priv_main(int argc, char *argv[])
{
	struct cli cli;
	struct conf conf;
	struct db *db;
	unsigned int targets = 0;
	char err[1024];
	int r, create;

	/* A dead tunnel is a write error, not a silent death (§6.9). */
	(void)signal(SIGPIPE, SIG_IGN);
	priv_stdio();

	memset(&cli, 0, sizeof(cli));
	if ((r = cli_parse(&cli, argc, argv, stdout, stderr)) >= 0) {
		cli_free(&cli);
		return r;
	}
	if (conf_load(&conf, &cli) == -1) {
		conf_free(&conf);
		cli_free(&cli);
		return EXIT_CONFIG;
	}

	/* The reference creates a missing database only for a single run. */
	create = cli.watch == 0 && !cli.notify;
	/* The test build's DUMP_CONFIG and DB_ONLY (testhooks.h). */
	if ((r = hook_priv_conf(&conf, create)) != -1) {
		conf_free(&conf);
		cli_free(&cli);
		return r;
	}

	if (cli_targets(&cli, &targets) == -1) {
		conf_free(&conf);
		cli_free(&cli);
		return EXIT_CONFIG;
	}
	if (targets == 0)
		targets = TARGET_ALL;
	if (logsink_init(conf.log_prefix, cli.quiet, cli.debug,
	    conf.logfile) == -1 || logsink_config(cli.audit || conf.audit,
	    conf.log_syslog, conf.log_syslog_socket,
	    conf.log_syslog_facility) == -1) {
		logsink_close();
		conf_free(&conf);
		cli_free(&cli);
		return EXIT_CONFIG;
	}
	progress_init(progress_wanted(cli.quiet, cli.debug));
	/*
	 * REFERENCE-BEHAVIOUR §6.7: the reference refuses this once
	 * connected, after deleting the MAILBOX arguments before INBOX;
	 * the argument alone is wrong, so nothing is touched.
	 */
	if (cli_deletes_inbox(&cli)) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: INBOX can't be "
		    "deleted");
		r = EXIT_FAIL;
		goto out;
	}
	if (priv_signals_init() == -1) {
		r = EXIT_FAIL;
		goto out;
	}

	/* Locked before any child starts, let alone a server is reached. */
	if ((db = db_open(conf.database, create, err, sizeof(err))) == NULL) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s", err);
		r = EXIT_DB;
		goto out;
	}
	log_debug(">>> interimap %s", INTERIMAP_VERSION);

	r = priv_run(&cli, &conf, targets, db, argv[0]);

	log_debug("Cleaning up...");
	db_close(db);
out:
	progress_end();
	logsink_close();
	conf_free(&conf);
	cli_free(&cli);
	return r;
}

int
main(int argc, char *argv[])
{
	int r;

	if (argc >= 2 && strncmp(argv[1], IPC_PROC_FLAG,
	    strlen(IPC_PROC_FLAG)) == 0 && (r = child_main(argc, argv)) >= 0)
		return r;
	return priv_main(argc, argv);
}
