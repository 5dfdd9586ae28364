#!/bin/bash
#
# priv's database side fails closed (DESIGN.md).  The database lives on a
# 64 KiB tmpfs, too small for the mapping rows of a first sync of 360
# messages: the disk fills at the commit of the last APPEND batch (rows
# 257-360; the first two batches of 128 fit).  The engine pipelines its
# requests: that batch's rows and COMMIT, then at once the new UIDNEXTs
# and their COMMIT, so that requests keep arriving after the one that
# failed.  priv must roll back, say why once, and execute none of them:
# otherwise the saved UIDNEXT moves past ~100 messages that have no
# mapping row, and every later change to them ends in "No match for
# modified local UID ... Try '--repair'" instead of being propagated.
# (The remote side alone has messages, so that the last batch of the
# first sync is the last of the run.)
#
#  - six times, from the same start, every other time with all four
#    processes on one CPU (which changes the order in which priv learns
#    of the failure, the engine's end and the nets' end): exit status 3
#    (EXIT_DB) each time; one "database: ERROR: ... database or disk is full"
#    line; and on each side no message below the saved UIDNEXT without a
#    mapping row (what was committed before the failure is kept);
#  - the database moved to a normal disk: the next run completes, every
#    message is on both sides exactly once, and a flag change made
#    afterwards on the messages of the failed run is propagated, without
#    any "No match" warning.

source "$SRCDIR/tests/lib/common.sh"
t_setup

EXIT_DB=3
NMSG=360

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

SMALL=$T/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=64k,mode=0700 interimap-test "$SMALL"; then
	t_fail "mount a 64 KiB tmpfs on $SMALL (needs root)"
	t_done
fi
t_on_exit "umount '$SMALL'"

# One configuration per place of the database: on the tmpfs, then not.
for where in "small:$SMALL" "big:$T"; do
	tunnel_config "$T/${where%%:*}.conf" "${where#*:}/sync.db" "$tl" "$tr"
done

# ---- messages --------------------------------------------------------------

mkdir -p "$T/msgs"
mkmsg()
{
	local f=$T/msgs/$1.eml

	printf 'From: a@example.org\r\nSubject: %s\r\n' "$1" >"$f"
	printf 'Message-ID: <%s@dbfull>\r\n\r\nBody of %s.\r\n' "$1" "$1" \
	    >>"$f"
	echo "$f"
}

mail_add_many remote INBOX $(for i in $(seq 1 $NMSG); do mkmsg r$i; done)
mail_store remote INBOX 1:20 + '\Seen'
mail_store remote INBOX 300:330 + '\Answered'

snap()
{
	rm -rf "$T/snap"
	mkdir -p "$T/snap"
	cp -a "$LDIR/home" "$T/snap/local"
	cp -a "$RDIR/home" "$T/snap/remote"
}

restore()
{
	rm -rf "$LDIR/home" "$RDIR/home" "$SMALL"/*
	cp -a "$T/snap/local" "$LDIR/home"
	cp -a "$T/snap/remote" "$RDIR/home"
}

# INBOX's saved UIDNEXT of a side (0 when the database has no state).
saved_uidnext()
{
	local v

	v=$(sqlite3 "$1" "SELECT s.UIDNEXT FROM $2 s JOIN mailboxes m
	    ON m.idx = s.idx WHERE m.mailbox = CAST('INBOX' AS BLOB)")
	echo "${v:-0}"
}

# The UIDs of a side's INBOX below the saved UIDNEXT without a mapping
# row, one a line: what the next run would never look at again.
unmapped()
{
	local db=$1 side=$2 col=lUID next

	[ "$side" = remote ] && col=rUID
	next=$(saved_uidnext "$db" "$side")
	comm -23 <(mail_uids "$side" INBOX | awk -v n="$next" '$1 < n' |
	    sort) <(sqlite3 "$db" "SELECT p.$col FROM mapping p JOIN
	    mailboxes m ON m.idx = p.idx WHERE m.mailbox = CAST('INBOX'
	    AS BLOB)" | sort)
}

state()
{
	mail_dump "$1" INBOX
}

snap

# ---- the disk fills during a first sync -----------------------------------

# One CPU for a run: the first one we may use.
cpu=$(taskset -cp $$ | sed 's/.*: *//; s/[,-].*//')
printf '#!/bin/sh\nexec taskset -c %s %q "$@"\n' "$cpu" "$INTERIMAP" \
    >"$T/one-cpu.sh"
chmod 755 "$T/one-cpu.sh"

for round in 1 2 3 4 5 6; do
	restore
	if [ $((round % 2)) = 0 ]; then
		INTERIMAP=$T/one-cpu.sh run_ours --config="$T/small.conf"
	else
		run_ours --config="$T/small.conf"
	fi
	cp "$T/ours.err" "$T/full$round.err"
	t_expect_eq "$OURS_RC" "$EXIT_DB" "round $round: exit status EXIT_DB"
	t_expect_eq "$(grep -c '^database: ERROR: .*database or disk is full' \
	    "$T/ours.err")" 1 "round $round: the error, said once"
	t_expect_eq "$(grep -c 'ERROR' "$T/ours.err")" 1 \
	    "round $round: no other error"
	# The failure came at the end, with requests queued behind it.
	t_expect_eq "$(mail_uids local INBOX | grep -c .)" "$NMSG" \
	    "round $round: all $NMSG messages copied before the disk filled"
	t_expect_eq "$(ls -A "$SMALL")" sync.db \
	    "round $round: no journal left (rolled back)"
	t_expect_eq "$(sqlite3 "$SMALL/sync.db" 'PRAGMA integrity_check')" ok \
	    "round $round: the database is intact"
	rows=$(sqlite3 "$SMALL/sync.db" 'SELECT count(*) FROM mapping')
	t_expect_eq "$((rows < NMSG))" 1 \
	    "round $round: not every mapping row fitted ($rows)"
	t_log "round $round: $rows mapping rows kept," \
	    "UIDNEXT local $(saved_uidnext "$SMALL/sync.db" local)" \
	    "remote $(saved_uidnext "$SMALL/sync.db" remote)"
	for side in local remote; do
		u=$(unmapped "$SMALL/sync.db" "$side")
		t_expect_eq "$(printf '%s' "$u" | grep -c .)" 0 \
		    "round $round: every $side UID below UIDNEXT is mapped"
		[ -n "$u" ] && t_log "unmapped $side UIDs:" $(printf '%s\n' \
		    "$u" | head -n 5) ...
	done
done
# The batches committed before the disk filled are kept.
t_expect_eq "$((rows > 0))" 1 "the batches committed before are kept"

# ---- the database on a normal disk: the sync completes ---------------------

mv "$SMALL/sync.db" "$T/sync.db"
run_ours --config="$T/big.conf"
cp "$T/ours.err" "$T/big.err"
t_expect_eq "$OURS_RC" 0 "on a normal disk: the sync completes"
l=$(state local)
r=$(state remote)
t_expect_eq "$r" "$l" "both sides hold the same messages"
t_expect_eq "$(printf '%s\n' "$l" | grep -c .)" $NMSG \
    "$NMSG messages on each side"
t_expect_eq "$(printf '%s\n' "$l" | cut -d' ' -f1 | sort | uniq -d)" "" \
    "every message once (local)"
t_expect_eq "$(printf '%s\n' "$r" | cut -d' ' -f1 | sort | uniq -d)" "" \
    "every message once (remote)"
for side in local remote; do
	t_expect_eq "$(unmapped "$T/sync.db" "$side" | grep -c .)" 0 \
	    "on a normal disk: every $side UID below UIDNEXT is mapped"
done

# ---- later flag changes on the messages of the failed run propagate ------
#
# Each side changes its own half, the last batch of the failed run (UIDs
# 257-360 on both sides) included, so that no change conflicts.

mail_store local INBOX 1:120,241:300 + '$FromLocal'
mail_store remote INBOX 121:240,301:360 + '$FromRemote'
run_ours --config="$T/big.conf"
cp "$T/ours.err" "$T/flags.err"
t_expect_eq "$OURS_RC" 0 "flag changes: the sync completes"
t_expect_eq "$(grep -c 'No match\|WARNING' "$T/ours.err")" 0 \
    "flag changes: no 'No match' (nor any) warning"
l=$(state local)
t_expect_eq "$(state remote)" "$l" "flag changes: both sides agree"
t_expect_eq "$(printf '%s\n' "$l" | grep -c '\$FromLocal')" 180 \
    "flag changes: local's 180 changes on both sides"
t_expect_eq "$(printf '%s\n' "$l" | grep -c '\$FromRemote')" 180 \
    "flag changes: remote's 180 changes on both sides"
run_ours -q --config="$T/big.conf"
t_expect_eq "$OURS_RC:$(cat "$T/ours.err")" "0:" "then nothing to do"

t_done
