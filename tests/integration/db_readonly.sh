#!/bin/bash
#
# A database that cannot be written is found before any mail moves, and
# a corrupt one is refused the same way: a clear error, exit 3, nothing
# copied, no row written; once the file is writable (or restored) again,
# a rerun converges.  "Read-only" the way root meets it too: a read-only
# bind mount of the database's directory (in a private mount namespace,
# unshare(1)), where file modes would not stop root.
#   1. the database's directory mounted read-only: SQLite opens the file
#      read-only;
#   2. the file writable, its directory not (the rollback journal goes
#      there): the directory mounted read-only, the file bound
#      read-write on top of it;
#   3. a corrupt database (a page overwritten with junk).

source "$SRCDIR/tests/lib/common.sh"
t_setup

command -v unshare >/dev/null || { t_fail "unshare(1) missing"; t_done; }

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
mkdir -p "$T/dbdir"
tunnel_config "$T/conf" "$T/dbdir/interimap.db" "$tl" "$tr"

mkdir -p "$T/msgs"
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@ro>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}

mail_add remote INBOX "$(msg one)"
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "first sync"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 1 "one message on local"

# New mail on both sides: what a run with a usable database would copy.
mail_add remote INBOX "$(msg two)"
mail_add local INBOX "$(msg three)"
cp "$T/dbdir/interimap.db" "$T/db.before"

# unmoved WHAT: each side still holds its two messages, none copied.
unmoved()
{
	local side

	for side in local remote; do
		t_expect_eq "$(mail_uids "$side" INBOX | wc -l)" 2 \
		    "$1: nothing copied to $side"
	done
}

# ours_ro ARGS...: our binary with $T/dbdir mounted read-only.
ours_ro()
{
	unshare -m sh -c 'mount --bind -o ro "$1" "$1" && shift && exec "$@"' \
	    sh "$T/dbdir" "$INTERIMAP" "$@" </dev/null >"$T/ro.out" 2>"$T/ro.err"
	RO_RC=$?
}

# 1. Read-only.
ours_ro --config="$T/conf"
t_expect_eq "$RO_RC" 3 "read-only database: exit 3"
t_expect_match "$(cat "$T/ro.err")" \
    "ERROR: $T/dbdir/interimap.db: the database is read-only" \
    "the error names the database and says it is read-only"
unmoved "read-only database"
t_expect_eq "$(grep -c 'Added' "$T/ro.err")" 0 "no Added line"
cmp -s "$T/db.before" "$T/dbdir/interimap.db"
t_expect_eq "$?" 0 "the database file is untouched"

# 2. The file writable, its directory not (the rollback journal could
# not be created): a directory on a read-only mount, the file bound
# read-write on top of it.
mkdir -p "$T/rodir"
cp "$T/dbdir/interimap.db" "$T/rodir/interimap.db"
tunnel_config "$T/conf-rodir" "$T/rodir/interimap.db" "$tl" "$tr"
unshare -m sh -c 'mount --bind -o ro "$1" "$1" &&
    mount --bind "$2" "$1/interimap.db" && shift 2 && exec "$@"' \
    sh "$T/rodir" "$T/dbdir/interimap.db" "$INTERIMAP" --config="$T/conf-rodir" \
    </dev/null >"$T/rodir.out" 2>"$T/rodir.err"
t_expect_eq "$?" 3 "read-only directory: exit 3"
t_expect_match "$(cat "$T/rodir.err")" \
    "ERROR: $T/rodir/interimap.db: can't write in $T/rodir, where its journal goes: Read-only file system" \
    "the error names the directory and why"
unmoved "read-only directory"

# 3. Corrupt: the second page overwritten with junk.
cp "$T/dbdir/interimap.db" "$T/db.good"
dd if=/dev/urandom of="$T/dbdir/interimap.db" bs=1024 seek=4 count=4 \
    conv=notrunc status=none
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 3 "corrupt database: exit 3"
t_expect_match "$(cat "$T/ours.err")" \
    "ERROR: .*$T/dbdir/interimap.db.*(malformed|not a database)" \
    "the error names the database and says it is malformed"
unmoved "corrupt database"

# Restored and writable: the rerun converges, nothing duplicated.
cp "$T/db.good" "$T/dbdir/interimap.db"
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "rerun with the database usable again"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 3 "three messages on local"
t_expect_eq "$(mail_uids remote INBOX | wc -l)" 3 "three messages on remote"
t_expect_eq "$(mail_dump local INBOX | sort)" "$(mail_dump remote INBOX | sort)" \
    "both sides identical"

t_done
