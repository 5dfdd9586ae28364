/*
 * The database layer against real SQLite files, and against databases
 * the reference itself wrote: a fresh one (run against two Dovecot
 * tunnels) and a v0 one it migrated.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "db_proto.h"
#include "db.h"
#include "tap.h"

/* A name literal with its length; names may hold NUL. */
#define NM(s)	(s), (sizeof(s) - 1)

static char	tmpdir[1024];
static char	logbuf[16384];

/* --- helpers ----------------------------------------------------------- */

static void
capture(int level, const char *name, const char *mailbox, const char *text)
{
	size_t	len = strlen(logbuf);

	snprintf(logbuf + len, sizeof(logbuf) - len, "%d|%s|%s\n", level,
	    name != NULL ? name : "", text);
}

static int
log_has(const char *s)
{
	return strstr(logbuf, s) != NULL;
}

static const char *
tpath(const char *name)
{
	static char	buf[4][PATH_MAX];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

/* The whole file, caller frees; NULL if absent. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	char		*buf;
	FILE		*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &sb) == -1 ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)sb.st_size, fp);
	fclose(fp);
	return buf;
}

static int
spit(const char *path, const void *data, size_t len)
{
	FILE	*fp;
	int	 ok;

	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

static int
copy_file(const char *from, const char *to)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	if ((buf = slurp(from, &len)) == NULL)
		return -1;
	rc = spit(to, buf, len);
	free(buf);
	return rc;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Runs SQL on a file with plain SQLite (creating it if need be). */
static int
sql_exec(const char *path, const char *sql)
{
	sqlite3	*h;
	char	*msg = NULL;
	int	 rc;

	if (sqlite3_open(path, &h) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		printf("# sql_exec: %s\n", msg);
	sqlite3_free(msg);
	sqlite3_close(h);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Rows of a query as "a|b|c\n" text, caller frees; read-only open. */
static char *
sql_str(const char *path, const char *sql)
{
	sqlite3_stmt	*st;
	sqlite3		*h;
	char		*out = NULL;
	size_t		 len = 0;
	FILE		*fp;
	int		 i, rc;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(h);
		return strdup("(open error)");
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		out = strdup(sqlite3_errmsg(h));
		sqlite3_close(h);
		return out;
	}
	fp = open_memstream(&out, &len);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *v = sqlite3_column_text(st, i);

			fprintf(fp, "%s%s", i ? "|" : "",
			    v != NULL ? (const char *)v : "NULL");
		}
		fputc('\n', fp);
	}
	if (rc != SQLITE_DONE)
		fprintf(fp, "(error %s)", sqlite3_errmsg(h));
	fclose(fp);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

#define MASTER_SQL							\
	"SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master"	\
	" ORDER BY rowid"

/* Compares a query's text with an expected string, then frees it. */
static void
is_sql(const char *path, const char *sql, const char *want,
    const char *what)
{
	char	*got = sql_str(path, sql);

	IS_STR(got, want, what);
	free(got);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens with a fresh log capture; the error text goes to err. */
static struct db *
open_db(const char *path, int create, char *err, size_t errlen)
{
	logbuf[0] = '\0';
	return db_open(path, create, err, errlen);
}

/* No journal left and the bytes as they were: nothing was written. */
static void
is_untouched(const char *path, const char *before, size_t blen,
    const char *what)
{
	char	 jpath[PATH_MAX];
	char	*after;
	size_t	 alen = 0;

	after = slurp(path, &alen);
	OK(after != NULL && alen == blen && memcmp(after, before, blen) == 0,
	    "%s: file unchanged", what);
	snprintf(jpath, sizeof(jpath), "%s-journal", path);
	OK(!exists(jpath), "%s: no journal left", what);
	free(after);
}

/* --- the reference ------------------------------------------------------ */

/*
 * Sets up two Dovecot tunnels (delimiters $3 and $4) in $1, optionally
 * seeds the remote one ($5 = 1: INBOX with 2 messages, foo<d>bar with
 * one), and runs /usr/bin/interimap once on database $2.  Dovecot will
 * not serve mail to root, so as root the servers run as the user imaptest
 * (made by .ci/install-deps, as for the shell tests).
 */
static const char ref_script[] =
"set -eu\n"
"D=$1; DB=$2; SEP_L=$3; SEP_R=$4; SEED=$5\n"
"if [ \"$(id -u)\" = 0 ]; then\n"
"	if ! id imaptest >/dev/null 2>&1; then\n"
"		echo 'user imaptest missing: run .ci/install-deps' >&2\n"
"		exit 1\n"
"	fi\n"
"	U=imaptest; G=imaptest\n"
"	RUNAS='setpriv --reuid=imaptest --regid=imaptest --init-groups'\n"
"else\n"
"	U=$(id -un); G=$(id -gn); RUNAS=\n"
"fi\n"
"chmod 755 \"$D\"\n"
"for s in local remote; do\n"
"	if [ $s = local ]; then sep=$SEP_L; else sep=$SEP_R; fi\n"
"	mkdir -p \"$D/$s/home\"\n"
"	cat >\"$D/$s/dovecot.conf\" <<EOF\n"
"ssl = no\n"
"mail_location = maildir:~/Mail\n"
"log_path = $D/$s/dovecot.log\n"
"mail_uid = $U\n"
"mail_gid = $G\n"
"first_valid_uid = 0\n"
"first_valid_gid = 0\n"
"base_dir = $D/$s/run\n"
"state_dir = $D/$s/state\n"
"namespace {\n"
"  inbox = yes\n"
"  separator = $sep\n"
"}\n"
"EOF\n"
"	if [ -n \"$RUNAS\" ]; then chown -R \"$U:$G\" \"$D/$s\"; fi\n"
"done\n"
"tunnel() {\n"
"	echo \"exec $RUNAS env -i PATH=/usr/bin:/bin HOME=$D/$1/home\" \\\n"
"	    \"USER=$U doveadm -c $D/$1/dovecot.conf exec imap\" \\\n"
"	    \"2>>$D/$1/stderr\"\n"
"}\n"
"if [ \"$SEED\" = 1 ]; then\n"
"	printf 'a CREATE foo%sbar\\r\\n"
"b APPEND INBOX {18+}\\r\\nSubject: t\\r\\n\\r\\nhi\\r\\n\\r\\n"
"c APPEND foo%sbar {18+}\\r\\nSubject: u\\r\\n\\r\\nho\\r\\n\\r\\n"
"d APPEND INBOX {18+}\\r\\nSubject: v\\r\\n\\r\\nhe\\r\\n\\r\\n"
"z LOGOUT\\r\\n' \"$SEP_R\" \"$SEP_R\" |\n"
"	    sh -c \"$(tunnel remote)\" >\"$D/seed.out\"\n"
"	grep -q '^b OK' \"$D/seed.out\"\n"
"	grep -q '^c OK' \"$D/seed.out\"\n"
"	grep -q '^d OK' \"$D/seed.out\"\n"
"fi\n"
"cat >\"$D/config\" <<EOF\n"
"database = $DB\n"
"[local]\n"
"type = tunnel\n"
"command = $(tunnel local)\n"
"[remote]\n"
"type = tunnel\n"
"command = $(tunnel remote)\n"
"EOF\n"
"mkdir -p \"$D/xdg\"\n"
"env XDG_CONFIG_HOME=\"$D/xdg\" XDG_DATA_HOME=\"$D/xdg\" HOME=\"$D\" \\\n"
"    /usr/bin/interimap --config=\"$D/config\" 2>\"$D/interimap.log\"\n";

/* Runs the reference in tmpdir/<sub> on db; 0 if it exited 0. */
static int
run_reference(const char *sub, const char *db, char sepl, char sepr,
    int seed)
{
	char	 dir[PATH_MAX], script[PATH_MAX], cmd[3 * PATH_MAX];
	int	 rc;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
	snprintf(script, sizeof(script), "%s/%s.sh", tmpdir, sub);
	if (mkdir(dir, 0755) == -1 ||
	    spit(script, ref_script, sizeof(ref_script) - 1) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' '%s' '%c' '%c' %d", script,
	    dir, db, sepl, sepr, seed);
	rc = system(cmd);
	if (rc != 0) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/# /' '%s/interimap.log'",
		    dir);
		if (system(cmd) != 0)
			printf("# (no log)\n");
	}
	return rc == 0 ? 0 : -1;
}

/* --- tests -------------------------------------------------------------- */

static char	*ref_master;	/* sqlite_master of the reference's DB */

static void
test_reference_db(void)
{
	struct db_mailbox	*mbs = NULL;
	struct db_pair		*pairs = NULL;
	const char		*ref = tpath("ref.db");
	char			 err[512], *before, *after;
	size_t			 n = 0, npairs = 0, blen, alen, i;
	uint64_t		 count = 0;
	int64_t			 inbox = 0, foobar = 0;
	struct db		*db;

	OK(run_reference("ref", ref, '/', '.', 1) == 0,
	    "the reference synced two Dovecot servers into a new database");
	ref_master = sql_str(ref, MASTER_SQL);
	OK(strstr(ref_master, "CREATE TABLE mapping") != NULL,
	    "the reference's schema was read");
	is_sql(ref, "PRAGMA user_version", "1\n",
	    "the reference's user_version");

	/* Ours reads it as it is, and leaves it as it was. */
	before = slurp(ref, &blen);
	db = open_db(ref, 1, err, sizeof(err));
	OK(db != NULL, "opens the reference's database (%s)", err);
	if (db == NULL)
		return;
	OK(!db_needs_migration(db), "no migration needed");
	OK(logbuf[0] == '\0', "nothing logged on open (%s)", logbuf);
	IS_INT(db_mailbox_list(db, &mbs, &n), 0, "list the reference's rows");
	IS_INT(n, 2, "two mailboxes");
	for (i = 0; i < n; i++) {
		if (mbs[i].namelen == 5 && memcmp(mbs[i].name, "INBOX", 5) == 0)
			inbox = mbs[i].idx;
		if (mbs[i].namelen == 7 &&
		    memcmp(mbs[i].name, "foo\0bar", 7) == 0)
			foobar = mbs[i].idx;
		OK(mbs[i].has_state, "mailbox %s has state", mbs[i].name);
		OK(mbs[i].local.uidvalidity > 0 &&
		    mbs[i].remote.uidvalidity > 0, "UIDVALIDITYs read");
	}
	OK(inbox > 0, "INBOX found in the list");
	OK(foobar > 0, "foo<NUL>bar found in the list");
	db_mailboxes_free(mbs, n);
	IS_INT(db_mapping_count(db, inbox, &count), 0, "count INBOX pairs");
	IS_INT(count, 2, "INBOX has two mapped messages");
	IS_INT(db_mapping_list(db, foobar, &pairs, &npairs), 0,
	    "list foo/bar pairs");
	IS_INT(npairs, 1, "foo/bar has one pair");
	if (npairs == 1)
		OK(pairs[0].luid == 1 && pairs[0].ruid == 1, "pair (1,1)");
	free(pairs);
	db_close(db);
	after = slurp(ref, &alen);
	OK(before != NULL && after != NULL && alen == blen &&
	    memcmp(before, after, blen) == 0,
	    "the reference's database is byte for byte unchanged");
	free(before);
	free(after);
}

static void
test_fresh(void)
{
	const char	*path = tpath("fresh.db");
	char		 err[512], want[PATH_MAX + 64], *master;
	struct stat	 sb;
	struct db	*db;

	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL, "create a new database (%s)", err);
	if (db == NULL)
		return;
	snprintf(want, sizeof(want),
	    "2||Creating new schema in database file %s\n", path);
	IS_STR(logbuf, want, "the creation notice");
	OK(!db_needs_migration(db), "a fresh database needs no migration");
	db_close(db);
	if (stat(path, &sb) == -1)
		sb.st_mode = 0;
	OK((sb.st_mode & 07777) == 0600, "created with mode 0600 (%o)",
	    (unsigned)(sb.st_mode & 07777));
	is_sql(path, "PRAGMA user_version", "1\n", "user_version is 1");
	master = sql_str(path, MASTER_SQL);
	if (ref_master != NULL)
		IS_STR(master, ref_master,
		    "sqlite_master identical to the reference's");
	else
		OK(0, "no reference schema to compare with");
	free(master);
	OK(!exists(tpath("fresh.db-journal")), "no journal left");

	/* A second open finds the schema and says nothing. */
	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL && logbuf[0] == '\0', "reopen quietly (%s)", logbuf);
	db_close(db);

	/* An existing empty file is a fresh database too. */
	OK(spit(tpath("empty.db"), "", 0) == 0, "make an empty file");
	db = open_db(tpath("empty.db"), 0, err, sizeof(err));
	OK(db != NULL && log_has("Creating new schema"),
	    "an empty file gets the schema (%s)", err);
	db_close(db);
	master = sql_str(tpath("empty.db"), MASTER_SQL);
	if (ref_master != NULL)
		IS_STR(master, ref_master, "same schema from an empty file");
	free(master);
}

static void
test_nocreate(void)
{
	const char	*path = tpath("absent.db");
	char		 err[512];
	struct db	*db;

	db = open_db(path, 0, err, sizeof(err));
	OK(db == NULL, "no database without create");
	OK(strstr(err, "unable to open database file") != NULL &&
	    strstr(err, path) != NULL, "error names the file: %s", err);
	OK(!exists(path), "the file was not created");

	db = open_db(tpath("nodir/x.db"), 1, err, sizeof(err));
	OK(db == NULL && strncmp(err, "Can't create ", 13) == 0 &&
	    strstr(err, "No such file or directory") != NULL,
	    "creation failure: %s", err);
}

static void
test_locking(void)
{
	const char	*path = tpath("lock.db");
	char		 err[512], cerr[512];
	struct db	*db, *db2;
	sqlite3		*h;
	double		 t0;
	int64_t		 idx;
	ssize_t		 r;
	pid_t		 pid;
	int		 fds[2], status;

	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL, "first instance opens (%s)", err);
	if (db == NULL)
		return;

	/* Another process: fails fast, with the reason. */
	if (pipe(fds) == -1)
		return;
	t0 = now();
	if ((pid = fork()) == 0) {
		close(fds[0]);
		db2 = db_open(path, 1, cerr, sizeof(cerr));
		if (write(fds[1], cerr, strlen(cerr) + 1) == -1)
			_exit(2);
		_exit(db2 == NULL ? 0 : 1);
	}
	close(fds[1]);
	memset(cerr, 0, sizeof(cerr));
	r = read(fds[0], cerr, sizeof(cerr) - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	OK(r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a second process cannot open the database");
	OK(strstr(cerr, "database is locked") != NULL &&
	    strstr(cerr, path) != NULL, "its error: %s", cerr);
	OK(now() - t0 < 2.0, "it failed within the busy timeout (%.3fs)",
	    now() - t0);

	/* Another connection in this process, and a plain reader. */
	db2 = open_db(path, 1, err, sizeof(err));
	OK(db2 == NULL && strstr(err, "database is locked") != NULL,
	    "a second connection is refused: %s", err);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK) {
		OK(sqlite3_exec(h, "SELECT * FROM mailboxes", NULL, NULL,
		    NULL) == SQLITE_BUSY, "even readers are locked out");
	}
	sqlite3_close(h);

	/* The lock holds across our own transactions. */
	OK(db_mailbox_add(db, NM("INBOX"), 0, &idx) == 0 &&
	    db_commit(db) == 0, "write and commit");
	db2 = open_db(path, 1, err, sizeof(err));
	OK(db2 == NULL && strstr(err, "database is locked") != NULL,
	    "still locked after a commit");
	db_close(db);
	db2 = open_db(path, 1, err, sizeof(err));
	OK(db2 != NULL, "opens once the first is closed (%s)", err);

	/* And the other way round: a sqlite3 holding the lock. */
	db_close(db2);
	if (sqlite3_open(path, &h) == SQLITE_OK) {
		OK(sqlite3_exec(h, "PRAGMA locking_mode = EXCLUSIVE; "
		    "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK,
		    "plain SQLite takes an exclusive lock");
		db2 = open_db(path, 1, err, sizeof(err));
		OK(db2 == NULL && strstr(err, "database is locked") != NULL,
		    "refused while SQLite holds it: %s", err);
		db_close(db2);
	}
	sqlite3_close(h);
}

static void
test_refusals(void)
{
	const char	*path;
	char		 err[512], want[PATH_MAX + 128], *before;
	size_t		 blen, i;
	struct db	*db;

	/* A newer schema version. */
	path = tpath("v2.db");
	OK(copy_file(tpath("fresh.db"), path) == 0 &&
	    sql_exec(path, "PRAGMA user_version = 2") == 0, "make a v2 file");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	snprintf(want, sizeof(want), "database %s has user_version 2, "
	    "newer than this interimap understands", path);
	OK(db == NULL, "user_version 2 refused");
	IS_STR(err, want, "the user_version message");
	is_untouched(path, before, blen, "v2");
	free(before);

	path = tpath("vneg.db");
	OK(copy_file(tpath("fresh.db"), path) == 0 &&
	    sql_exec(path, "PRAGMA user_version = -1") == 0,
	    "make a user_version -1 file");
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL && strstr(err, "invalid user_version -1") != NULL,
	    "negative user_version refused: %s", err);

	/* Not a database at all. */
	path = tpath("garbage.db");
	{
		char	junk[8192];

		for (i = 0; i < sizeof(junk); i++)
			junk[i] = "interimap garbage\n"[i % 18];
		OK(spit(path, junk, sizeof(junk)) == 0, "make a garbage file");
	}
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL, "garbage refused");
	OK(strstr(err, path) != NULL &&
	    strstr(err, "file is not a database") != NULL, "message: %s",
	    err);
	is_untouched(path, before, blen, "garbage");
	free(before);

	/* Truncated: a big database cut at several points. */
	{
		const char	*big = tpath("big.db");
		struct db	*b;
		char		*full;
		size_t		 flen, cut;
		uint32_t	 u;
		int64_t		 idx = 0;
		int		 ok = 1;

		b = open_db(big, 1, err, sizeof(err));
		ok = b != NULL && db_mailbox_add(b, NM("INBOX"), 1, &idx) == 0;
		for (u = 1; ok && u <= 20000; u++)
			ok = db_mapping_add(b, idx, u, u + 7) == 0;
		ok = ok && db_commit(b) == 0;
		db_close(b);
		OK(ok, "a database with 20000 pairs");
		full = slurp(big, &flen);
		OK(full != NULL && flen > 100000, "it is %zu bytes", flen);
		for (i = 1; full != NULL && i <= 4; i++) {
			cut = i == 1 ? 50 : i == 2 ? 4096 : i == 3 ?
			    flen / 2 : flen - 4096;
			path = tpath("trunc.db");
			OK(spit(path, full, cut) == 0, "truncate to %zu", cut);
			before = slurp(path, &blen);
			db = open_db(path, 1, err, sizeof(err));
			OK(db == NULL && strstr(err, path) != NULL &&
			    strstr(err, "malformed") != NULL,
			    "truncated at %zu refused: %s", cut, err);
			db_close(db);
			is_untouched(path, before, blen, "truncated");
			free(before);
		}
		/* Damaged in the middle: a page of the mapping index. */
		if (full != NULL && flen > 3 * 4096) {
			cut = (flen / 4096 / 2) * 4096;
			memset(full + cut, 0xa5, 64);
			path = tpath("damaged.db");
			OK(spit(path, full, flen) == 0, "damage page %zu",
			    cut / 4096 + 1);
			before = slurp(path, &blen);
			db = open_db(path, 1, err, sizeof(err));
			OK(db == NULL && strstr(err, path) != NULL &&
			    strstr(err, "malformed") != NULL,
			    "damaged file refused: %s", err);
			db_close(db);
			is_untouched(path, before, blen, "damaged");
			free(before);
		}
		free(full);
	}

	/* user_version 1 without the tables. */
	path = tpath("notables.db");
	OK(sql_exec(path, "PRAGMA user_version = 1") == 0,
	    "make a v1 file without tables");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL && strstr(err, path) != NULL &&
	    strstr(err, "not an interimap database") != NULL,
	    "refused: %s", err);
	is_untouched(path, before, blen, "no tables");
	free(before);

	path = tpath("notmap.db");
	OK(copy_file(tpath("fresh.db"), path) == 0 &&
	    sql_exec(path, "DROP TABLE mapping") == 0,
	    "make a v1 file without mapping");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL && strstr(err, "no table `mapping'") != NULL &&
	    strstr(err, path) != NULL, "refused: %s", err);
	is_untouched(path, before, blen, "no mapping");
	free(before);

	path = tpath("nocol.db");
	OK(copy_file(tpath("fresh.db"), path) == 0 &&
	    sql_exec(path, "DROP TABLE mapping; CREATE TABLE mapping "
	    "(idx INTEGER, lUID INTEGER)") == 0,
	    "make a v1 file whose mapping lacks rUID");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL && strstr(err, "unexpected schema") != NULL &&
	    strstr(err, "rUID") != NULL, "refused: %s", err);
	is_untouched(path, before, blen, "no column");
	free(before);

	/* Some other program's database (v0, unrelated tables). */
	path = tpath("other.db");
	OK(sql_exec(path, "CREATE TABLE t (a, b)") == 0,
	    "make another program's database");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	OK(db == NULL && strstr(err, "not an interimap database") != NULL,
	    "refused: %s", err);
	is_untouched(path, before, blen, "other program");
	free(before);
}

static void
test_mailboxes(struct db *db)
{
	struct db_mailbox	 mb, *mbs;
	int64_t			 inbox = 0, fb = 0, x = 0;
	size_t			 n;

	IS_INT(db_mailbox_add(db, NM("INBOX"), 0, &inbox), 0, "add INBOX");
	IS_INT(db_mailbox_add(db, NM("foo\0bar"), 1, &fb), 0,
	    "add foo<NUL>bar");
	OK(inbox > 0 && fb > inbox, "indexes %" PRId64 " %" PRId64, inbox,
	    fb);
	OK(db_in_transaction(db), "a write opened a transaction");
	IS_INT(db_mailbox_add(db, NM("INBOX"), 1, &x), -1, "duplicate name");
	OK(strstr(db_error(db), "insert mailbox") != NULL &&
	    strstr(db_error(db), "UNIQUE") != NULL, "error: %s",
	    db_error(db));
	IS_INT(db_mailbox_add(db, "", 0, 0, &x), -1, "empty name refused");
	IS_INT(db_mailbox_add(db, NM("foo"), 0, &x), 0,
	    "a prefix is another name");
	IS_INT(db_commit(db), 0, "commit");
	OK(!db_in_transaction(db), "no transaction after commit");

	IS_INT(db_mailbox_find(db, NM("foo\0bar"), &mb), 1, "find foo/bar");
	OK(mb.idx == fb && mb.namelen == 7 &&
	    memcmp(mb.name, "foo\0bar", 8) == 0 && mb.subscribed == 1 &&
	    mb.has_state == 0, "its row");
	db_mailbox_clear(&mb);
	IS_INT(db_mailbox_find(db, NM("foo\0ba"), &mb), 0, "no foo/ba");
	IS_INT(db_mailbox_find(db, NM("inbox"), &mb), 0,
	    "names are case-sensitive bytes");

	IS_INT(db_mailbox_set_subscribed(db, fb, 0), 0, "unsubscribe");
	IS_INT(db_mailbox_set_subscribed(db, inbox, 1), 0, "subscribe");
	IS_INT(db_mailbox_set_subscribed(db, 999, 1), -1,
	    "subscribe an unknown idx");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_mailbox_find(db, NM("INBOX"), &mb), 1, "find INBOX");
	IS_INT(mb.subscribed, 1, "INBOX subscribed");
	db_mailbox_clear(&mb);

	IS_INT(db_mailbox_list(db, &mbs, &n), 0, "list");
	IS_INT(n, 3, "three mailboxes");
	if (n == 3) {
		/* Ordered by name bytes: INBOX, foo, foo\0bar. */
		OK(mbs[0].idx == inbox && mbs[1].idx == x && mbs[2].idx == fb,
		    "ordered by name");
		OK(mbs[2].namelen == 7 && mbs[2].subscribed == 0 &&
		    !mbs[2].has_state, "foo/bar row");
	}
	db_mailboxes_free(mbs, n);
}

static void
test_state(struct db *db)
{
	struct db_state		 l = { 1795877783, 0, 0 }, r = { 42, 0, 0 };
	struct db_state		 gl, gr;
	struct db_mailbox	 mb;
	int64_t			 inbox;

	IS_INT(db_mailbox_find(db, NM("INBOX"), &mb), 1, "find INBOX");
	inbox = mb.idx;
	db_mailbox_clear(&mb);
	IS_INT(db_state_get(db, inbox, &gl, &gr), 0, "no state yet");
	IS_INT(db_state_insert(db, inbox, &l, &r), 0, "insert state rows");
	IS_INT(db_state_insert(db, inbox, &l, &r), -1, "insert them twice");
	OK(strstr(db_error(db), "insert local state") != NULL,
	    "error: %s", db_error(db));
	{
		struct db_state zero = { 0, 0, 0 };
		struct db_mailbox m2;
		int64_t other;

		IS_INT(db_mailbox_add(db, NM("zero"), 0, &other), 0,
		    "add a mailbox");
		IS_INT(db_state_insert(db, other, &zero, &r), -1,
		    "UIDVALIDITY 0 refused");
		OK(strstr(db_error(db), "CHECK") != NULL, "error: %s",
		    db_error(db));
		IS_INT(db_state_insert(db, 4242, &l, &r), -1,
		    "state for an unknown idx refused");
		OK(strstr(db_error(db), "FOREIGN KEY") != NULL,
		    "error: %s", db_error(db));
		IS_INT(db_mailbox_find(db, NM("zero"), &m2), 1, "find zero");
		OK(!m2.has_state, "a failed insert left no state");
		db_mailbox_clear(&m2);
	}
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_state_get(db, inbox, &gl, &gr), 1, "state read back");
	OK(gl.uidvalidity == 1795877783 && gl.uidnext == 0 &&
	    gl.highestmodseq == 0 && gr.uidvalidity == 42, "values");

	l.uidnext = 4294967295U;
	l.highestmodseq = (UINT64_C(1) << 63) + 5;
	r.uidnext = 12;
	r.highestmodseq = UINT64_MAX;
	IS_INT(db_state_update(db, inbox, &l, &r), 0, "update state");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_state_get(db, inbox, &gl, &gr), 1, "read back");
	OK(gl.uidnext == 4294967295U, "UIDNEXT 2^32-1 round trip");
	OK(gl.highestmodseq == (UINT64_C(1) << 63) + 5,
	    "HIGHESTMODSEQ 2^63+5 round trip (%" PRIu64 ")",
	    gl.highestmodseq);
	OK(gr.highestmodseq == UINT64_MAX && gr.uidnext == 12,
	    "HIGHESTMODSEQ 2^64-1 round trip");
	OK(gl.uidvalidity == 1795877783, "UIDVALIDITY kept");
	IS_INT(db_mailbox_find(db, NM("INBOX"), &mb), 1, "find INBOX");
	OK(mb.has_state && mb.local.highestmodseq == l.highestmodseq &&
	    mb.remote.highestmodseq == UINT64_MAX && mb.local.uidnext ==
	    4294967295U && mb.remote.uidvalidity == 42, "state via find");
	db_mailbox_clear(&mb);

	IS_INT(db_state_update_modseq(db, inbox, 7, UINT64_C(1) << 63), 0,
	    "update HIGHESTMODSEQs only");
	l.uidnext = 33;
	IS_INT(db_state_set(db, inbox, DB_LOCAL, DB_STATE_UIDNEXT, &l), 0,
	    "update local UIDNEXT only");
	IS_INT(db_state_set(db, inbox, DB_REMOTE, 0, &l), -1,
	    "nothing to update is an error");
	IS_INT(db_state_update_modseq(db, 4242, 1, 1), -1,
	    "update an unknown idx");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_state_get(db, inbox, &gl, &gr), 1, "read back");
	OK(gl.highestmodseq == 7 && gr.highestmodseq == UINT64_C(1) << 63 &&
	    gl.uidnext == 33 && gr.uidnext == 12, "only those changed");
}

static void
test_mapping(struct db *db)
{
	struct db_state		 l = { 1, 1, 1 }, r = { 2, 1, 1 };
	struct db_pair		*pairs;
	uint32_t		 uids[128], u, other;
	uint64_t		 count;
	size_t			 n;
	int64_t			 idx;
	int			 ok;

	IS_INT(db_mailbox_add(db, NM("map"), 0, &idx), 0, "add a mailbox");
	IS_INT(db_state_insert(db, idx, &l, &r), 0, "with state");
	for (ok = 1, u = 1; u <= 10; u++)
		ok &= db_mapping_add(db, idx, u, u + 100) == 0;
	OK(ok, "add pairs (1..10, 101..110)");
	IS_INT(db_mapping_add(db, idx, 3, 999), -1, "lUID twice");
	OK(strstr(db_error(db), "add mapping (idx,lUID,rUID) = (") != NULL &&
	    strstr(db_error(db), "UNIQUE") != NULL, "error: %s",
	    db_error(db));
	IS_INT(db_mapping_add(db, idx, 99, 103), -1, "rUID twice");
	IS_INT(db_mapping_add(db, idx, 0, 5), -1, "lUID 0 refused");
	OK(strstr(db_error(db), "CHECK") != NULL, "error: %s", db_error(db));
	IS_INT(db_mapping_add(db, idx, 5000, 0), -1, "rUID 0 refused");
	IS_INT(db_mapping_add(db, 4242, 1, 1), -1, "unknown idx refused");
	IS_INT(db_mapping_add(db, idx, 4294967295U, 4294967294U), 0,
	    "UIDs up to 2^32-1");
	IS_INT(db_commit(db), 0, "commit");

	IS_INT(db_mapping_lookup(db, idx, DB_LOCAL, 4, &other), 1,
	    "lUID 4 -> rUID");
	IS_INT(other, 104, "rUID");
	IS_INT(db_mapping_lookup(db, idx, DB_REMOTE, 107, &other), 1,
	    "rUID 107 -> lUID");
	IS_INT(other, 7, "lUID");
	IS_INT(db_mapping_lookup(db, idx, DB_LOCAL, 4294967295U, &other), 1,
	    "lUID 2^32-1");
	IS_INT(other, 4294967294U, "its rUID");
	IS_INT(db_mapping_lookup(db, idx, DB_LOCAL, 50, &other), 0,
	    "no lUID 50");
	IS_INT(db_mapping_lookup(db, idx, DB_REMOTE, 4, &other), 0,
	    "no rUID 4");
	IS_INT(db_mapping_count(db, idx, &count), 0, "count");
	IS_INT(count, 11, "11 pairs");

	IS_INT(db_mapping_last(db, idx, DB_LOCAL, uids, 4, &n), 0,
	    "last 4 lUIDs");
	OK(n == 4 && uids[0] == 4294967295U && uids[1] == 10 &&
	    uids[2] == 9 && uids[3] == 8, "descending");
	IS_INT(db_mapping_last(db, idx, DB_REMOTE, uids, 128, &n), 0,
	    "all rUIDs");
	OK(n == 11 && uids[0] == 4294967294U && uids[1] == 110 &&
	    uids[10] == 101, "descending, all of them");
	IS_INT(db_mapping_last(db, idx, DB_LOCAL, uids, 0, &n), 0, "max 0");
	IS_INT(n, 0, "none");

	IS_INT(db_mapping_list(db, idx, &pairs, &n), 0, "list pairs");
	OK(n == 11 && pairs[0].luid == 1 && pairs[0].ruid == 101 &&
	    pairs[9].luid == 10 && pairs[10].luid == 4294967295U,
	    "by lUID");
	free(pairs);

	logbuf[0] = '\0';
	IS_INT(db_mapping_delete(db, idx, DB_LOCAL, 3), 1, "delete lUID 3");
	IS_INT(db_mapping_delete(db, idx, DB_LOCAL, 3), 0, "again: none");
	{
		char want[128];

		snprintf(want, sizeof(want), "1|database|WARNING: Can't "
		    "delete (idx,lUID) = (%" PRId64 ",3)\n", idx);
		IS_STR(logbuf, want, "the reference's warning");
	}
	IS_INT(db_mapping_delete(db, idx, DB_REMOTE, 105), 1,
	    "delete rUID 105");
	logbuf[0] = '\0';
	IS_INT(db_mapping_delete(db, idx, DB_REMOTE, 105), 0, "again: none");
	OK(log_has("(idx,rUID) = ("), "warning names rUID: %s", logbuf);
	IS_INT(db_rollback(db), 0, "roll the deletions back");
	IS_INT(db_mapping_count(db, idx, &count), 0, "count");
	IS_INT(count, 11, "still 11 pairs");
	IS_INT(db_mapping_delete(db, idx, DB_LOCAL, 3), 1, "delete lUID 3");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_mapping_count(db, idx, &count), 0, "count");
	IS_INT(count, 10, "10 pairs");
	IS_INT(db_mapping_count(db, 4242, &count), 0, "count unknown idx");
	IS_INT(count, 0, "no pairs");
}

static void
test_interrupted(struct db *db)
{
	struct db_state		 l = { 5, 8, 3 }, r = { 6, 200, 4 };
	struct db_mailbox	*mbs;
	struct db_pair		*pairs;
	size_t			 n;
	int64_t			 a, b;
	uint32_t		 u;

	IS_INT(db_interrupted_list(db, &mbs, &n), 0, "list interrupted");
	db_mailboxes_free(mbs, n);
	/* "map" of test_mapping: UIDNEXT 1, so all are beyond it. */
	IS_INT(n, 1, "the mapping test's mailbox is interrupted");

	IS_INT(db_mailbox_add(db, NM("int\0a"), 0, &a), 0, "add int/a");
	IS_INT(db_state_insert(db, a, &l, &r), 0, "state: lUIDNEXT 8");
	for (u = 1; u <= 10; u++)
		db_mapping_add(db, a, u, u + 100);
	IS_INT(db_mailbox_add(db, NM("int\0b"), 1, &b), 0, "add int/b");
	l.uidnext = 50;
	r.uidnext = 103;
	IS_INT(db_state_insert(db, b, &l, &r), 0, "state: rUIDNEXT 103");
	for (u = 1; u <= 5; u++)
		db_mapping_add(db, b, u, u + 100);
	IS_INT(db_commit(db), 0, "commit");

	IS_INT(db_interrupted_list(db, &mbs, &n), 0, "list interrupted");
	IS_INT(n, 3, "three interrupted mailboxes");
	if (n == 3) {
		OK(mbs[1].idx == a && mbs[1].namelen == 5 &&
		    memcmp(mbs[1].name, "int\0a", 5) == 0 &&
		    mbs[1].has_state && mbs[1].local.uidnext == 8 &&
		    mbs[1].remote.uidvalidity == 6, "int/a with its state");
		OK(mbs[2].idx == b && mbs[2].subscribed, "int/b");
	}
	db_mailboxes_free(mbs, n);
	IS_INT(db_interrupted_pairs(db, a, &pairs, &n), 0, "pairs of int/a");
	OK(n == 3 && pairs[0].luid == 8 && pairs[0].ruid == 108 &&
	    pairs[2].luid == 10, "lUID >= 8");
	free(pairs);
	IS_INT(db_interrupted_pairs(db, b, &pairs, &n), 0, "pairs of int/b");
	OK(n == 3 && pairs[0].luid == 3 && pairs[0].ruid == 103 &&
	    pairs[2].ruid == 105, "rUID >= 103");
	free(pairs);

	l.uidnext = 11;
	r.uidnext = 111;
	IS_INT(db_state_update(db, a, &l, &r), 0, "int/a completed");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_interrupted_pairs(db, a, &pairs, &n), 0, "pairs of int/a");
	IS_INT(n, 0, "none left");
	free(pairs);
	IS_INT(db_interrupted_list(db, &mbs, &n), 0, "list interrupted");
	IS_INT(n, 2, "two left");
	db_mailboxes_free(mbs, n);
}

static int
has_name(struct db *db, const char *name, size_t len, int64_t idx)
{
	struct db_mailbox	mb;
	int			r;

	r = db_mailbox_find(db, name, len, &mb);
	db_mailbox_clear(&mb);
	return r == 1 && (idx == 0 || mb.idx == idx);
}

static void
test_delete_rename(struct db *db, const char *path)
{
	struct db_mailbox	 mb;
	int64_t			 a, ab, abc, abx, x, p, pq, rq, m, mc, mnc;
	int64_t			 map;
	int			 nr;
	char			*s;

	IS_INT(db_mailbox_find(db, NM("map"), &mb), 1, "find map");
	map = mb.idx;
	db_mailbox_clear(&mb);
	IS_INT(db_mailbox_delete(db, map), 0, "delete map");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_mailbox_find(db, NM("map"), &mb), 0, "map is gone");
	{
		uint64_t		count;
		struct db_state		gl, gr;

		IS_INT(db_mapping_count(db, map, &count), 0, "count");
		IS_INT(count, 0, "its pairs are gone");
		IS_INT(db_state_get(db, map, &gl, &gr), 0,
		    "its state is gone");
	}

	db_mailbox_add(db, NM("a"), 0, &a);
	db_mailbox_add(db, NM("a\0b"), 0, &ab);
	db_mailbox_add(db, NM("a\0b\0c"), 1, &abc);
	db_mailbox_add(db, NM("ab"), 0, &abx);
	db_mailbox_add(db, NM("x"), 0, &x);
	IS_INT(db_commit(db), 0, "add a, a/b, a/b/c, ab, x");

	IS_INT(db_mailbox_rename(db, NM("a"), NM("x"), &nr), -1,
	    "rename onto an existing name");
	OK(strstr(db_error(db), "exists") != NULL, "error: %s",
	    db_error(db));
	IS_INT(db_mailbox_rename(db, NM("a"), NM("z\0y"), &nr), 0,
	    "rename a to z/y");
	IS_INT(nr, 3, "three rows renamed");
	IS_INT(db_commit(db), 0, "commit");
	OK(has_name(db, NM("z\0y"), a) && has_name(db, NM("z\0y\0b"), ab) &&
	    has_name(db, NM("z\0y\0b\0c"), abc), "a and its children moved");
	OK(has_name(db, NM("ab"), abx), "ab is not a child of a");
	OK(!has_name(db, NM("a"), 0) && !has_name(db, NM("a\0b"), 0),
	    "old names gone");
	IS_INT(db_mailbox_find(db, NM("z\0y\0b\0c"), &mb), 1, "find z/y/b/c");
	IS_INT(mb.subscribed, 1, "subscription kept");
	db_mailbox_clear(&mb);

	/* Children only (the parent is not in the database). */
	IS_INT(db_mailbox_rename(db, NM("z"), NM("w"), &nr), 0,
	    "rename z (no row of its own)");
	IS_INT(nr, 3, "its three descendants renamed");
	IS_INT(db_mailbox_rename(db, NM("nothing"), NM("else"), &nr), 0,
	    "rename an unknown name");
	IS_INT(nr, 0, "nothing renamed");
	IS_INT(db_commit(db), 0, "commit");
	OK(has_name(db, NM("w\0y\0b\0c"), abc), "w/y/b/c");

	/* A child colliding with a row that is not renamed. */
	db_mailbox_add(db, NM("p"), 0, &p);
	db_mailbox_add(db, NM("p\0q"), 0, &pq);
	db_mailbox_add(db, NM("r\0q"), 0, &rq);
	IS_INT(db_commit(db), 0, "add p, p/q, r/q");
	IS_INT(db_mailbox_rename(db, NM("p"), NM("r"), &nr), -1,
	    "p/q cannot become r/q");
	OK(strstr(db_error(db), "UNIQUE") != NULL, "error: %s",
	    db_error(db));
	IS_INT(db_commit(db), 0, "commit what is left");
	OK(has_name(db, NM("p"), p) && has_name(db, NM("p\0q"), pq) &&
	    has_name(db, NM("r\0q"), rq) && !has_name(db, NM("r"), 0),
	    "nothing changed");

	/* Into its own subtree: rows trade names half-way. */
	db_mailbox_add(db, NM("m"), 0, &m);
	db_mailbox_add(db, NM("m\0c"), 0, &mc);
	db_mailbox_add(db, NM("m\0n\0c"), 0, &mnc);
	IS_INT(db_commit(db), 0, "add m, m/c, m/n/c");
	IS_INT(db_mailbox_rename(db, NM("m"), NM("m\0n"), &nr), 0,
	    "rename m to m/n");
	IS_INT(nr, 3, "three rows");
	IS_INT(db_commit(db), 0, "commit");
	OK(has_name(db, NM("m\0n"), m) && has_name(db, NM("m\0n\0c"), mc) &&
	    has_name(db, NM("m\0n\0n\0c"), mnc), "names traded");

	/* The stored names stay BLOBs. */
	db_close(db);
	s = sql_str(path, "SELECT count(*) FROM mailboxes"
	    " WHERE typeof(mailbox) != 'blob'");
	IS_STR(s, "0\n", "every name is a BLOB");
	free(s);
	s = sql_str(path, "SELECT typeof(HIGHESTMODSEQ), HIGHESTMODSEQ"
	    " FROM remote JOIN mailboxes USING (idx)"
	    " WHERE mailbox = CAST('INBOX' AS BLOB)");
	IS_STR(s, "integer|-9223372036854775808\n",
	    "2^63 is stored as the signed reinterpretation");
	free(s);
}

static void
test_transactions(const char *path)
{
	struct db_mailbox	 mb;
	struct db		*db;
	char			 err[512];
	int64_t			 idx;

	db = open_db(path, 0, err, sizeof(err));
	OK(db != NULL, "reopen (%s)", err);
	if (db == NULL)
		return;
	IS_INT(db_begin(db), 0, "begin");
	OK(db_in_transaction(db), "in a transaction");
	IS_INT(db_begin(db), 0, "begin again is a no-op");
	IS_INT(db_mailbox_add(db, NM("tx1"), 0, &idx), 0, "add tx1");
	IS_INT(db_rollback(db), 0, "rollback");
	IS_INT(db_mailbox_find(db, NM("tx1"), &mb), 0, "tx1 rolled back");
	IS_INT(db_rollback(db), 0, "rollback outside a transaction");
	IS_INT(db_commit(db), 0, "commit outside a transaction");
	IS_INT(db_mailbox_add(db, NM("tx2"), 0, &idx), 0, "add tx2");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_mailbox_add(db, NM("tx3"), 0, &idx), 0, "add tx3");
	db_close(db);		/* tx3 uncommitted */

	db = open_db(path, 0, err, sizeof(err));
	OK(db != NULL, "reopen (%s)", err);
	if (db == NULL)
		return;
	IS_INT(db_mailbox_find(db, NM("tx2"), &mb), 1, "tx2 kept");
	db_mailbox_clear(&mb);
	IS_INT(db_mailbox_find(db, NM("tx3"), &mb), 0,
	    "tx3 rolled back at close");
	db_close(db);
	OK(!exists(tpath("ops.db-journal")), "no journal left at close");
}

static void
test_ops(void)
{
	const char	*path = tpath("ops.db");
	struct db	*db;
	char		 err[512];

	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL, "a database for the operations (%s)", err);
	if (db == NULL)
		return;
	test_mailboxes(db);
	test_state(db);
	test_mapping(db);
	test_interrupted(db);
	test_delete_rename(db, path);	/* closes db */
	test_transactions(path);
}

/* --- flagstate ---------------------------------------------------------- */

/* The flags of (idx, side, uid) as db_flags_list() gives them, or NULL. */
static char *
flags_of(struct db *db, int64_t idx, enum db_side side, uint32_t uid)
{
	struct db_flagrow	*rows;
	char			*s = NULL;
	size_t			 n, i;

	if (db_flags_list(db, idx, side, &rows, &n) == -1)
		return strdup("(error)");
	for (i = 0; i < n; i++)
		if (rows[i].uid == uid)
			s = strdup(rows[i].flags);
	db_flagrows_free(rows, n);
	return s;
}

/* How many rows db_flags_list() gives for (idx, side); -1 on error. */
static long long
flags_count(struct db *db, int64_t idx, enum db_side side)
{
	struct db_flagrow	*rows;
	size_t			 n;

	if (db_flags_list(db, idx, side, &rows, &n) == -1)
		return -1;
	db_flagrows_free(rows, n);
	return (long long)n;
}

#define FLAGSTATE_MASTER						\
	"SELECT sql FROM sqlite_master WHERE name = 'flagstate'"

/*
 * Table flagstate, beside the reference's schema: absent until the first
 * db_flags_set(), undone with the transaction that created it, then
 * kept; its rows go with their mapping pair and their mailbox.
 */
static void
test_flags(void)
{
	const char		*path = tpath("flags.db");
	struct db_state		 l = { 1, 10, 1 }, r = { 2, 20, 1 };
	struct db_flagrow	*rows;
	struct db		*db;
	char			 err[512], big[DB_FLAGS_MAX + 2], *s;
	int64_t			 a, b;
	size_t			 n;
	uint32_t		 u;
	int			 ok;

	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL, "a database for the flags (%s)", err);
	if (db == NULL)
		return;
	IS_INT(db_flagstate_exists(db), 0, "a fresh database has no flagstate");
	IS_INT(db_mailbox_add(db, NM("a"), 0, &a), 0, "add a");
	IS_INT(db_state_insert(db, a, &l, &r), 0, "its state");
	for (ok = 1, u = 1; u <= 5; u++)
		ok &= db_mapping_add(db, a, u, u + 10) == 0;
	OK(ok, "pairs (1..5, 11..15)");
	IS_INT(db_mailbox_add(db, NM("b"), 0, &b), 0, "add b");
	IS_INT(db_state_insert(db, b, &l, &r), 0, "its state");
	IS_INT(db_mapping_add(db, b, 1, 11), 0, "pair (1,11)");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_flags_list(db, a, DB_LOCAL, &rows, &n), 0,
	    "list flags without the table");
	OK(rows == NULL && n == 0, "none");
	IS_INT(db_mapping_delete(db, a, DB_LOCAL, 5), 1, "delete lUID 5");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_flagstate_exists(db), 0, "still no flagstate");
	db_close(db);
	is_sql(path, FLAGSTATE_MASTER, "", "no table flagstate in the file");
	if (ref_master != NULL) {
		s = sql_str(path, MASTER_SQL);
		IS_STR(s, ref_master, "the reference's schema, byte for byte");
		free(s);
	}

	/* Created in the open transaction, and undone with it. */
	db = open_db(path, 0, err, sizeof(err));
	OK(db != NULL, "reopen (%s)", err);
	if (db == NULL)
		return;
	IS_INT(db_flags_set(db, a, DB_LOCAL, 1, NM("\\Seen")), 0,
	    "set flags: creates the table");
	OK(db_in_transaction(db), "in a write transaction");
	IS_INT(db_flagstate_exists(db), 1, "the table exists");
	IS_INT(flags_count(db, a, DB_LOCAL), 1, "one row, read back");
	IS_INT(db_rollback(db), 0, "rollback");
	IS_INT(db_flagstate_exists(db), 0, "the table went with it");
	IS_INT(flags_count(db, a, DB_LOCAL), 0, "no rows");

	/* Now for good. */
	IS_INT(db_flags_set(db, a, DB_LOCAL, 1, NM("\\Seen")), 0,
	    "set (a, local, 1)");
	IS_INT(db_flags_set(db, a, DB_LOCAL, 3, NM("")), 0,
	    "set (a, local, 3): no flags");
	IS_INT(db_flags_set(db, a, DB_LOCAL, 2, NM("\\Seen \\Flagged")), 0,
	    "set (a, local, 2)");
	for (ok = 1, u = 1; u <= 4; u++)
		ok &= db_flags_set(db, a, DB_REMOTE, u + 10, NM("$Remote")) ==
		    0;
	OK(ok, "set (a, remote, 11..14)");
	IS_INT(db_flags_set(db, b, DB_LOCAL, 1, NM("$b")), 0,
	    "set (b, local, 1)");
	IS_INT(db_flags_set(db, b, DB_REMOTE, 11, NM("$b")), 0,
	    "set (b, remote, 11)");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_flagstate_exists(db), 1, "the table stays");
	IS_INT(db_flags_list(db, a, DB_LOCAL, &rows, &n), 0, "list a local");
	OK(n == 3 && rows[0].uid == 1 && strcmp(rows[0].flags, "\\Seen") == 0 &&
	    rows[0].len == 5 && rows[1].uid == 2 &&
	    strcmp(rows[1].flags, "\\Seen \\Flagged") == 0 &&
	    rows[2].uid == 3 && rows[2].flags[0] == '\0' && rows[2].len == 0,
	    "three rows, by UID");
	db_flagrows_free(rows, n);
	IS_INT(flags_count(db, a, DB_REMOTE), 4, "four remote rows");
	IS_INT(flags_count(db, 4242, DB_LOCAL), 0, "none for another idx");

	/* Replaced, not added. */
	IS_INT(db_flags_set(db, a, DB_LOCAL, 2, NM("\\Deleted")), 0,
	    "set (a, local, 2) again");
	s = flags_of(db, a, DB_LOCAL, 2);
	IS_STR(s, "\\Deleted", "replaced");
	free(s);
	IS_INT(flags_count(db, a, DB_LOCAL), 3, "still three rows");

	/* What may not be stored. */
	IS_INT(db_flags_set(db, a, DB_LOCAL, 4, NM("\\Seen\r\n")), -1,
	    "a control character refused");
	OK(strstr(db_error(db), "invalid flags") != NULL, "error: %s",
	    db_error(db));
	IS_INT(db_flags_set(db, a, DB_LOCAL, 4, "a\0b", 3), -1,
	    "a NUL refused");
	memset(big, 'x', sizeof(big));
	IS_INT(db_flags_set(db, a, DB_LOCAL, 4, big, DB_FLAGS_MAX + 1), -1,
	    "DB_FLAGS_MAX + 1 bytes refused");
	IS_INT(db_flags_set(db, a, DB_LOCAL, 0, NM("x")), -1, "UID 0 refused");
	OK(strstr(db_error(db), "CHECK") != NULL, "error: %s", db_error(db));
	IS_INT(db_flags_set(db, a, DB_LOCAL, 4, big, DB_FLAGS_MAX), 0,
	    "DB_FLAGS_MAX bytes stored");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(db_flags_list(db, a, DB_LOCAL, &rows, &n), 0, "list a local");
	OK(n == 4 && rows[3].uid == 4 && rows[3].len == DB_FLAGS_MAX &&
	    strlen(rows[3].flags) == DB_FLAGS_MAX, "read back whole");
	db_flagrows_free(rows, n);

	/* A deleted pair takes the flags of both its UIDs. */
	IS_INT(db_mapping_delete(db, a, DB_LOCAL, 2), 1, "delete lUID 2");
	OK((s = flags_of(db, a, DB_LOCAL, 2)) == NULL, "local 2 gone");
	free(s);
	OK((s = flags_of(db, a, DB_REMOTE, 12)) == NULL, "remote 12 gone");
	free(s);
	IS_INT(db_mapping_delete(db, a, DB_REMOTE, 13), 1, "delete rUID 13");
	OK((s = flags_of(db, a, DB_LOCAL, 3)) == NULL, "local 3 gone");
	free(s);
	OK((s = flags_of(db, a, DB_REMOTE, 13)) == NULL, "remote 13 gone");
	free(s);
	IS_INT(flags_count(db, a, DB_LOCAL), 2, "local 1 and 4 left");
	IS_INT(flags_count(db, a, DB_REMOTE), 2, "remote 11 and 14 left");
	/* lUID 5 has no pair (deleted above), but had flags. */
	IS_INT(db_flags_set(db, a, DB_LOCAL, 5, NM("$orphan")), 0,
	    "set (a, local, 5)");
	logbuf[0] = '\0';
	IS_INT(db_mapping_delete(db, a, DB_LOCAL, 5), 0, "delete lUID 5");
	OK(log_has("WARNING: Can't delete (idx,lUID)"), "the warning");
	OK((s = flags_of(db, a, DB_LOCAL, 5)) == NULL, "its flags gone too");
	free(s);
	IS_INT(flags_count(db, a, DB_REMOTE), 2, "remote rows untouched");
	IS_INT(flags_count(db, b, DB_LOCAL) + flags_count(db, b, DB_REMOTE),
	    2, "b's rows untouched");
	IS_INT(db_commit(db), 0, "commit");

	/* --delete takes a mailbox's rows, and no other. */
	IS_INT(db_mailbox_delete(db, a), 0, "delete a");
	IS_INT(db_commit(db), 0, "commit");
	IS_INT(flags_count(db, a, DB_LOCAL) + flags_count(db, a, DB_REMOTE),
	    0, "a's rows gone");
	IS_INT(flags_count(db, b, DB_LOCAL) + flags_count(db, b, DB_REMOTE),
	    2, "b's rows kept");
	db_close(db);

	/* The file keeps our text; ours and plain SQLite read it. */
	is_sql(path, FLAGSTATE_MASTER, DB_FLAGSTATE_TABLE "\n",
	    "sqlite_master holds DB_FLAGSTATE_TABLE");
	is_sql(path, "SELECT idx, side, UID, flags FROM flagstate"
	    " ORDER BY idx, side, UID", "2|0|1|$b\n2|1|11|$b\n",
	    "the rows in the file");
	db = open_db(path, 0, err, sizeof(err));
	OK(db != NULL, "a database with flagstate opens (%s)", err);
	if (db == NULL)
		return;
	OK(logbuf[0] == '\0', "quietly (%s)", logbuf);
	IS_INT(db_flagstate_exists(db), 1, "the table is found");
	IS_INT(flags_count(db, b, DB_REMOTE), 1, "b's remote row");
	db_close(db);

	/* A flagstate without our columns shows at first use. */
	OK(copy_file(tpath("fresh.db"), tpath("badflags.db")) == 0 &&
	    sql_exec(tpath("badflags.db"), "CREATE TABLE flagstate (x)") == 0,
	    "make a database whose flagstate is not ours");
	db = open_db(tpath("badflags.db"), 0, err, sizeof(err));
	OK(db != NULL, "it opens (%s)", err);
	if (db == NULL)
		return;
	IS_INT(db_flags_list(db, 1, DB_LOCAL, &rows, &n), -1,
	    "listing its flags fails");
	OK(strstr(db_error(db), "unexpected schema") != NULL, "error: %s",
	    db_error(db));
	db_close(db);
}

/* --- migration ---------------------------------------------------------- */

#define V0_SCHEMA							\
	"CREATE TABLE mailboxes (idx INTEGER NOT NULL PRIMARY KEY "	\
	"AUTOINCREMENT, mailbox TEXT NOT NULL CHECK (mailbox != '') "	\
	"UNIQUE, subscribed BOOLEAN NOT NULL);"				\
	"CREATE TABLE local (idx INTEGER NOT NULL PRIMARY KEY "	\
	"REFERENCES mailboxes(idx), UIDVALIDITY UNSIGNED INT NOT NULL "	\
	"CHECK (UIDVALIDITY > 0), UIDNEXT UNSIGNED INT NOT NULL, "	\
	"HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL);"			\
	"CREATE TABLE remote (idx INTEGER NOT NULL PRIMARY KEY "	\
	"REFERENCES mailboxes(idx), UIDVALIDITY UNSIGNED INT NOT NULL "	\
	"CHECK (UIDVALIDITY > 0), UIDNEXT UNSIGNED INT NOT NULL, "	\
	"HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL);"			\
	"CREATE TABLE mapping (idx INTEGER NOT NULL REFERENCES "	\
	"mailboxes(idx), lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), "	\
	"rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "			\
	"PRIMARY KEY (idx,lUID), UNIQUE (idx,rUID));"

/* A v0 database whose names use delimiter d. */
static int
make_v0(const char *path, char d)
{
	char	sql[4096];

	unlink(path);
	snprintf(sql, sizeof(sql), V0_SCHEMA
	    "INSERT INTO mailboxes VALUES (1, 'INBOX', 0);"
	    "INSERT INTO mailboxes VALUES (2, 'foo%cbar', 1);"
	    "INSERT INTO mailboxes VALUES (3, 'a%cb%cc', 0);"
	    "INSERT INTO local VALUES (2, 11, 5, 9);"
	    "INSERT INTO remote VALUES (2, 12, 6, -2);"
	    "INSERT INTO mapping VALUES (2, 1, 2);"
	    "INSERT INTO mapping VALUES (2, 4, 5);", d, d, d);
	return sql_exec(path, sql);
}

#define UPGRADING	"Upgrading database version from 0"

#define MBX_SQL								\
	"SELECT idx, hex(mailbox), typeof(mailbox), subscribed"		\
	" FROM mailboxes ORDER BY idx"

static void
test_migrate_one(char d, const char *want_rows)
{
	struct db_mailbox	 mb;
	struct db_state		 l, r;
	struct db		*db;
	const char		*path = tpath("v0.db");
	char			 err[512], *s;
	uint32_t		 other;

	OK(make_v0(path, d) == 0, "a v0 database with '%c' names", d);
	db = open_db(path, 1, err, sizeof(err));
	OK(db != NULL, "opens (%s)", err);
	if (db == NULL)
		return;
	OK(logbuf[0] == '\0', "no message yet (%s)", logbuf);
	IS_INT(db_needs_migration(db), 1, "needs the migration");
	IS_INT(db_mailbox_find(db, NM("INBOX"), &mb), -1,
	    "operations wait for it");
	OK(strstr(db_error(db), "upgraded") != NULL, "error: %s",
	    db_error(db));
	OK(db_migrate(db, d, d, err, sizeof(err)) == 0,
	    "migrate with '%c' delimiters (%s)", d, err);
	IS_STR(logbuf, "2||Upgrading database version from 0\n",
	    "the upgrade notice");
	IS_INT(db_needs_migration(db), 0, "no more migration");
	IS_INT(db_mailbox_find(db, NM("foo\0bar"), &mb), 1,
	    "foo<NUL>bar found");
	OK(mb.idx == 2 && mb.subscribed && mb.has_state &&
	    mb.local.uidvalidity == 11 && mb.remote.highestmodseq ==
	    UINT64_MAX - 1, "with its state");
	db_mailbox_clear(&mb);
	IS_INT(db_mapping_lookup(db, 2, DB_LOCAL, 4, &other), 1,
	    "its mapping");
	IS_INT(other, 5, "rUID 5");
	IS_INT(db_state_get(db, 2, &l, &r), 1, "state");
	IS_INT(db_mapping_add(db, 99, 1, 1), -1,
	    "foreign keys are enforced after the migration");
	db_close(db);
	is_sql(path, "PRAGMA user_version", "1\n", "user_version 1");
	s = sql_str(path, MBX_SQL);
	IS_STR(s, want_rows, "names rewritten");
	free(s);
}

static void
test_migrate(void)
{
	struct db	*db;
	const char	*path = tpath("v0.db"), *ref = tpath("refv0.db");
	char		 err[512], *before, *ours, *theirs;
	size_t		 blen;

	test_migrate_one('/',
	    "1|494E424F58|blob|0\n"
	    "2|666F6F00626172|blob|1\n"
	    "3|6100620063|blob|0\n");
	test_migrate_one('.',
	    "1|494E424F58|blob|0\n"
	    "2|666F6F00626172|blob|1\n"
	    "3|6100620063|blob|0\n");

	/* Flat: names kept as they are (as BLOBs). */
	OK(make_v0(path, '/') == 0, "a v0 database for a flat namespace");
	db = open_db(path, 1, err, sizeof(err));
	IS_INT(db != NULL ? db_migrate(db, 0, 0, err, sizeof(err)) : -9, 0,
	    "migrate flat");
	db_close(db);
	is_sql(path, MBX_SQL,
	    "1|494E424F58|blob|0\n"
	    "2|666F6F2F626172|blob|1\n"
	    "3|612F622F63|blob|0\n", "flat names kept");

	/* Differing delimiters: refused, nothing written. */
	OK(make_v0(path, '/') == 0, "a v0 database");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	IS_INT(db != NULL ? db_migrate(db, '/', '.', err, sizeof(err)) : -9,
	    -1, "differing delimiters refused");
	IS_STR(err, "Local and remote hierachy delimiters differ "
	    "(local \"/\", remote \".\"), refusing to update table "
	    "`mailboxes`.", "the reference's message");
	IS_INT(db != NULL ? db_needs_migration(db) : -9, 1,
	    "still needs the migration");
	IS_INT(db != NULL ? db_migrate(db, '\\', '"', err, sizeof(err)) : -9,
	    -1, "backslash and quote");
	IS_STR(err, "Local and remote hierachy delimiters differ "
	    "(local \"\\\\\", remote \"\\\"\"), refusing to update table "
	    "`mailboxes`.", "escaped delimiters");
	db_close(db);
	is_untouched(path, before, blen, "differing delimiters");
	free(before);

	/* Broken references: refused, nothing written. */
	OK(make_v0(path, '/') == 0 &&
	    sql_exec(path, "INSERT INTO mapping VALUES (7, 1, 1)") == 0,
	    "a v0 database with a dangling mapping row");
	before = slurp(path, &blen);
	db = open_db(path, 1, err, sizeof(err));
	IS_INT(db != NULL ? db_migrate(db, '/', '/', err, sizeof(err)) : -9,
	    -2, "broken referential integrity refused");
	IS_STR(err, "Broken referential integrity! Refusing to commit "
	    "changes.", "the reference's message");
	db_close(db);
	is_untouched(path, before, blen, "broken references");
	free(before);

	/* The same migration by the reference: the same result. */
	OK(make_v0(ref, '/') == 0, "a v0 database for the reference");
	OK(run_reference("refv0", ref, '/', '/', 0) == 0,
	    "the reference migrated it");
	{
		char	log[PATH_MAX], *text;
		size_t	len;

		snprintf(log, sizeof(log), "%s/refv0/interimap.log", tmpdir);
		text = slurp(log, &len);
		OK(text != NULL && memmem(text, len, UPGRADING,
		    strlen(UPGRADING)) != NULL, "it said it upgraded");
		free(text);
	}
	OK(make_v0(path, '/') == 0, "the same v0 database for us");
	db = open_db(path, 1, err, sizeof(err));
	IS_INT(db != NULL ? db_migrate(db, '/', '/', err, sizeof(err)) : -9, 0,
	    "we migrated it");
	db_close(db);
	ours = sql_str(path, MASTER_SQL);
	theirs = sql_str(ref, MASTER_SQL);
	IS_STR(ours, theirs, "sqlite_master identical after migration");
	OK(strstr(ours, "CREATE TABLE \"mailboxes\" (idx        INTEGER")
	    != NULL, "the renamed table keeps the reference's text");
	free(ours);
	free(theirs);
	ours = sql_str(path, MBX_SQL);
	theirs = sql_str(ref, MBX_SQL);
	IS_STR(ours, theirs, "mailboxes rows identical after migration");
	free(ours);
	free(theirs);
}

int
main(void)
{
	char	cmd[PATH_MAX + 16];

	umask(022);
	log_set_sink(capture);
	snprintf(tmpdir, sizeof(tmpdir), "%s/interimap-test-db.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* The Dovecot servers run as another user: let them through. */
	if (chmod(tmpdir, 0755) == -1) {
		perror("chmod");
		return 1;
	}

	test_reference_db();
	test_fresh();
	test_nocreate();
	test_locking();
	test_refusals();
	test_ops();
	test_flags();
	test_migrate();

	free(ref_master);
	if (tap_failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	} else
		printf("# files kept in %s\n", tmpdir);
	return tap_done();
}
