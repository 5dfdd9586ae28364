#!/bin/bash
#
# --watch (REFERENCE-BEHAVIOUR §6.8): one run that stays connected, lists
# both servers again at every interval and synchronises what changed.
#
#  - changes on both sides (new messages, flags, expunges) and a new
#    mailbox on either side reach the other side while the run goes on;
#  - SIGHUP synchronises at once, whatever the interval;
#  - a second instance is refused at once while the first holds the
#    database, naming the lock (exit 3), before any server is reached;
#  - a known mailbox deleted on one side ends the run with the
#    reference's refusal (exit 1), the database left as it was;
#  - SIGTERM ends the run with 0.
#
# Waiting for a change to show is bounded (a run that never propagates it
# fails), never measured: the bounds are far above what a pass takes.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }
tunnel_config "$T/watch.conf" "$T/sync.db" "$tl" "$tr"

mkdir -p "$T/msgs"
mkmsg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@w>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/msgs/$1.eml"
}
for m in l1 l2 r1 n1 late; do
	mkmsg "$m"
done

# until SECONDS CMD...: CMD succeeds before SECONDS are over.
until_ok()
{
	local left=$(($1 * 10))

	shift
	while [ "$left" -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		left=$((left - 1))
	done
	return 1
}

same_inbox()
{
	[ "$(mail_dump local INBOX)" = "$(mail_dump remote INBOX)" ]
}

# The first pass, one-shot: a database to watch with.
mail_add local INBOX "$T/msgs/l1.eml" '\Seen'
mail_add remote INBOX "$T/msgs/r1.eml"
run_ours --config="$T/watch.conf"
t_expect_eq "$OURS_RC" 0 "first sync"

# ---- a watching run -------------------------------------------------------

start_watch()
{
	"$INTERIMAP" --config="$T/watch.conf" "$@" \
	    >"$T/watch.out" 2>"$T/watch.err" &
	WPID=$!
	t_track_pid "$WPID"
}

stop_watch()
{
	local sig=$1

	kill -"$sig" "$WPID" 2>/dev/null
	wait "$WPID"
	WRC=$?
}

start_watch --watch=1

mail_add remote INBOX "$T/msgs/late.eml"
mail_add local INBOX "$T/msgs/l2.eml" '\Flagged'
if until_ok 60 same_inbox; then
	t_pass "new messages on both sides propagated while watching"
else
	t_fail "new messages on both sides propagated while watching"
fi
t_expect_eq "$(mail_dump local INBOX | wc -l)" 4 "four messages locally"

mail_store remote INBOX 1 + '\Answered'
mail_expunge local INBOX 2
if until_ok 60 same_inbox && [ "$(mail_dump local INBOX | wc -l)" -eq 3 ]; then
	t_pass "a flag change and an expunge propagated"
else
	t_fail "a flag change and an expunge propagated"
fi

mailbox_create local Projects
mail_add local Projects "$T/msgs/n1.eml"
remote_projects()
{
	[ "$(mail_dump remote Projects 2>/dev/null | wc -l)" -eq 1 ]
}
if until_ok 60 remote_projects; then
	t_pass "a new mailbox created and synchronised"
else
	t_fail "a new mailbox created and synchronised"
fi

# A second instance: refused at once, naming the lock.
run_ours --config="$T/watch.conf"
t_expect_eq "$OURS_RC" 3 "a second instance exits 3"
t_expect_match "$(cat "$T/ours.err")" "database is locked" \
    "it names the lock"
t_expect_eq "$(grep -c 'Added\|Removed\|Updated' "$T/ours.err")" 0 \
    "and touches no server"

stop_watch TERM
t_expect_eq "$WRC" 0 "SIGTERM ends the watching run with 0"
t_expect_eq "$(ours_pids)" "" "no process left"
t_expect_eq "$(grep -c 'ERROR\|WARNING' "$T/watch.err")" 0 \
    "no error or warning while watching"
t_expect_match "$(cat "$T/watch.err")" "local\\(INBOX\\): Added 1 UID\\(s\\)" \
    "the watching run logged its copies"

# ---- SIGHUP: now, whatever the interval -----------------------------------

# --debug: priv logs each of the engine's "idle" (a pass is over).
passes_over()
{
	[ "$(grep -c '^engine: idle,' "$T/watch.err")" -ge "$1" ]
}
start_watch --watch=3600 --debug
until_ok 60 passes_over 1 || t_fail "--watch=3600: the first pass ends"
mkmsg hup
mail_add remote INBOX "$T/msgs/hup.eml"
kill -HUP "$WPID"
if until_ok 60 same_inbox; then
	t_pass "SIGHUP synchronised at once (interval 3600 s)"
else
	t_fail "SIGHUP synchronised at once (interval 3600 s)"
fi
if kill -0 "$WPID" 2>/dev/null; then
	t_pass "SIGHUP did not end the run"
else
	t_fail "SIGHUP did not end the run"
fi

# ---- a known mailbox deleted on one side: the reference's refusal ---------

# The SIGHUP's pass over (its copies are there before its database rows),
# then the database as it is (not readable while a run holds its lock),
# and a run that has done its first pass when the mailbox goes.
until_ok 60 passes_over 2 || t_fail "the SIGHUP's pass ends"
stop_watch TERM
t_expect_eq "$WRC" 0 "SIGTERM after SIGHUP: exit 0"
sqlite3 "$T/sync.db" .dump >"$T/before.dump"
start_watch --watch=3600 --debug
until_ok 60 passes_over 1 || t_fail "--watch=3600 again: the first pass ends"
mailbox_delete remote Projects
kill -HUP "$WPID"
if until_ok 60 bash -c "! kill -0 $WPID 2>/dev/null"; then
	t_pass "the run ends once a known mailbox is gone from one side"
else
	t_fail "the run ends once a known mailbox is gone from one side"
fi
wait "$WPID"
WRC=$?
t_expect_eq "$WRC" 1 "with exit 1"
t_expect_match "$(cat "$T/watch.err")" \
    "database: ERROR: Mailbox Projects exists\\. Run \`interimap --target=database --delete Projects\` to delete\\." \
    "with the reference's refusal"
sqlite3 "$T/sync.db" .dump >"$T/after.dump"
t_expect_eq "$(diff "$T/before.dump" "$T/after.dump")" "" \
    "the database unchanged by the refusal"
t_expect_eq "$(ours_pids)" "" "no process left"

t_done
