#!/bin/bash
#
# One database file, two programs: a database the reference created and
# filled is opened by ours without a byte changing, a database ours
# created is used by the reference for a real sync as if it were its own,
# and either program holding the file makes the other fail at once with
# "database is locked".
#
# Ours is driven through main()'s test hook: with INTERIMAP_TEST_DB_ONLY=1
# it opens the configured database with db_open() (creating it unless
# --watch is given, as the reference does), closes it and exits 0.

source "$SRCDIR/tests/lib/common.sh"
t_setup

DATA=$XDG_DATA_HOME/interimap

# The reference's view of a database: schema and rows, as sqlite3 prints.
db_dump()
{
	sqlite3 "$1" .dump 2>&1
}

db_schema()
{
	sqlite3 "$1" .schema 2>&1
}

mkdir -p "$T/msgs"
for i in 1 2 3 4 5; do
	cat >"$T/msgs/$i.eml" <<EOF
From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: db_compat message $i
Message-ID: <$i.db_compat@example.org>

Body $i.
EOF
done

# Two pairs of servers, local "/" and remote ".", so that names with a
# hierarchy delimiter are stored with NUL in the database.
make_servers()
{
	local l=$1 r=$2 conf=$3 db=$4 ltun rtun

	ltun=$(dovecot_tunnel "$l" /) || return 1
	rtun=$(dovecot_tunnel "$r" .) || return 1
	mail_add "$r" INBOX "$T/msgs/1.eml" '\Seen' &&
	mail_add "$r" INBOX "$T/msgs/2.eml" &&
	mail_add "$l" INBOX "$T/msgs/3.eml" '\Flagged' &&
	mail_add "$r" foo.bar "$T/msgs/4.eml" &&
	mail_add "$l" baz "$T/msgs/5.eml" &&
	mailbox_subscribe "$r" foo.bar || return 1
	write_config "$conf" <<EOF
database = $db

[local]
type = tunnel
command = $ltun

[remote]
type = tunnel
command = $rtun
EOF
}

# ---- (a) the reference's database, opened by ours -------------------------

CONF_A=$XDG_CONFIG_HOME/interimap/config
DB_A=$DATA/a.db
make_servers la ra "$CONF_A" a.db || { t_fail "servers for (a)"; t_done; }

run_ref
t_expect_eq "$REF_RC" 0 "(a) reference: first sync succeeds"
t_expect_match "$(cat "$T/ref.err")" \
    "Creating new schema in database file $DB_A" \
    "(a) reference created the database"
t_expect_eq "$(sqlite3 "$DB_A" 'SELECT count(*) FROM mapping')" 5 \
    "(a) the reference mapped 5 messages"
t_expect_eq "$(sqlite3 "$DB_A" \
    "SELECT hex(mailbox) FROM mailboxes WHERE mailbox = x'666f6f00626172'")" \
    666F6F00626172 "(a) foo/bar is stored with NUL"
t_expect_eq "$(mail_dump la INBOX)" "$(mail_dump ra INBOX)" \
    "(a) INBOX identical on both servers"

dump_before=$(db_dump "$DB_A")
sum_before=$(sha256sum <"$DB_A")
INTERIMAP_TEST_DB_ONLY=1 run_ours
t_expect_eq "$OURS_RC" 0 "(a) ours opens the reference's database"
t_expect_eq "$(cat "$T/ours.err")" "" "(a) ours says nothing"
t_expect_eq "$(db_dump "$DB_A")" "$dump_before" \
    "(a) .dump identical after ours opened it"
t_expect_eq "$(sha256sum <"$DB_A")" "$sum_before" \
    "(a) the file is byte for byte unchanged"
t_expect_eq "$(ls "$DATA" | grep -c journal)" 0 "(a) no journal left"

# The reference still takes it as its own afterwards.
run_ref
t_expect_eq "$REF_RC" 0 "(a) reference: second sync succeeds"
t_expect_eq "$(grep -c -E 'Creating new schema|Upgrading database' \
    "$T/ref.err")" 0 "(a) reference neither creates nor upgrades"

# ---- locking ---------------------------------------------------------------

# A sqlite3 process holding the exclusive lock.
mkfifo "$T/sql.fifo"
sqlite3 "$DB_A" <"$T/sql.fifo" >"$T/sql.out" 2>&1 &
sqlpid=$!
t_track_pid "$sqlpid"
exec 7>"$T/sql.fifo"
echo "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; SELECT 'held';" >&7
for ((i = 0; i < 100; i++)); do
	grep -q held "$T/sql.out" 2>/dev/null && break
	sleep 0.05
done
t_expect_match "$(cat "$T/sql.out")" $'(^|\n)held$' \
    "sqlite3 holds the exclusive lock"

INTERIMAP_TEST_DB_ONLY=1 run_ours
t_expect_match "$OURS_RC" '^[1-9][0-9]*$' "ours fails while sqlite3 holds it"
t_expect_match "$(cat "$T/ours.err")" "database is locked" \
    "ours says \"database is locked\""
run_ref
t_expect_match "$REF_RC" '^[1-9][0-9]*$' "the reference fails too"
t_expect_match "$(cat "$T/ref.err")" "database is locked" \
    "the reference says \"database is locked\""
exec 7>&-
wait "$sqlpid"
t_expect_eq "$(db_dump "$DB_A")" "$dump_before" \
    "the failed opens changed nothing"

# The reference in --watch mode holds the lock for its lifetime.
timeout -k 5 60 "$REF_INTERIMAP" --watch=1 </dev/null \
    >"$T/watch.out" 2>"$T/watch.err" &
watchpid=$!
t_track_pid "$watchpid"
# It takes a write lock before connecting, and keeps it (EXCLUSIVE once it
# has written): another writer is refused from then on.
writable()
{
	sqlite3 "$DB_A" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1
}
for ((i = 0; i < 200; i++)); do
	writable || break
	sleep 0.05
done
if writable; then
	t_fail "the reference in --watch mode did not lock the database"
else
	t_pass "the reference in --watch mode holds the lock"
fi
INTERIMAP_TEST_DB_ONLY=1 run_ours
t_expect_match "$OURS_RC" '^[1-9][0-9]*$' \
    "ours fails while the reference runs"
t_expect_match "$(cat "$T/ours.err")" "database is locked" \
    "ours says \"database is locked\" (reference running)"
kill -TERM "$watchpid" 2>/dev/null
wait "$watchpid" 2>/dev/null

# ---- (b) our database, used by the reference --------------------------------

CONF_B=$T/b.conf
DB_B=$DATA/b.db
make_servers lb rb "$CONF_B" b.db || { t_fail "servers for (b)"; t_done; }

# --watch never creates the database (the reference's rule).
INTERIMAP_TEST_DB_ONLY=1 run_ours --config="$CONF_B" --watch=60
t_expect_match "$OURS_RC" '^[1-9][0-9]*$' "(b) --watch: missing database fails"
t_expect_eq "$([ -e "$DB_B" ] && echo exists || echo absent)" absent \
    "(b) --watch: the database was not created"

INTERIMAP_TEST_DB_ONLY=1 run_ours --config="$CONF_B"
t_expect_eq "$OURS_RC" 0 "(b) ours creates a database"
t_expect_eq "$(cat "$T/ours.err")" \
    "Creating new schema in database file $DB_B" "(b) ours says so"
t_expect_eq "$(stat -c %a "$DB_B" 2>&1)" 600 "(b) mode 0600"
t_expect_eq "$(db_schema "$DB_B")" "$(db_schema "$DB_A")" \
    "(b) .schema identical to the reference's"
t_expect_eq "$(sqlite3 "$DB_B" 'PRAGMA user_version')" 1 \
    "(b) user_version 1"
t_expect_eq "$(sqlite3 "$DB_B" \
    "SELECT count(*) FROM mailboxes; SELECT count(*) FROM mapping")" \
    $'0\n0' "(b) empty tables"

run_ref --config="$CONF_B"
t_expect_eq "$REF_RC" 0 "(b) reference syncs on our database"
t_expect_eq "$(grep -c -E 'Creating new schema|Upgrading database' \
    "$T/ref.err")" 0 "(b) reference neither creates nor upgrades"
t_expect_eq "$(grep -c -E 'ERROR|WARNING|PANIC' "$T/ref.err")" 0 \
    "(b) no error or warning"
t_expect_eq "$(sqlite3 "$DB_B" 'SELECT count(*) FROM mapping')" 5 \
    "(b) the reference mapped 5 messages"
t_expect_eq "$(sqlite3 "$DB_B" 'SELECT count(*) FROM mailboxes')" \
    "$(sqlite3 "$DB_A" 'SELECT count(*) FROM mailboxes')" \
    "(b) as many mailboxes as (a)"
t_expect_eq "$(mail_dump lb INBOX)" "$(mail_dump rb INBOX)" \
    "(b) INBOX identical on both servers"
t_expect_eq "$(mail_dump lb foo/bar)" "$(mail_dump rb foo.bar)" \
    "(b) foo/bar identical on both servers"
t_expect_eq "$(mail_dump rb baz | wc -l)" 1 "(b) baz copied to remote"

# A second reference run finds nothing to do, and ours still reads it.
run_ref --config="$CONF_B"
t_expect_eq "$REF_RC" 0 "(b) reference: second sync succeeds"
t_expect_eq "$(grep -c -E 'Added|Removed|Updated|Created' "$T/ref.err")" 0 \
    "(b) second sync has nothing to do"
dump_before=$(db_dump "$DB_B")
INTERIMAP_TEST_DB_ONLY=1 run_ours --config="$CONF_B"
t_expect_eq "$OURS_RC" 0 "(b) ours reopens it"
t_expect_eq "$(db_dump "$DB_B")" "$dump_before" "(b) .dump unchanged"

t_done
