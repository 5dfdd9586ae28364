#!/bin/bash
#
# Crash resume against Cyrus IMAP 3.6: the counterpart of crash_resume.sh
# (two Dovecots) with a tunnel Dovecot as local and a Cyrus (over IMAPS)
# as remote.  A sync is interrupted, during a first sync and during a
# later one: priv leaves with _exit just before, or just after, its n-th
# database commit (the INTERIMAP_TEST_KILL_BEFORE / INTERIMAP_TEST_KILL_AT
# hooks of priv/priv_db.c) at up to ten commit points spread from the
# first commit to the last, and the whole process group is SIGKILLed at
# five moments spread over the run; then it runs again.  Afterwards both
# servers must hold, in every mailbox, exactly the messages an
# uninterrupted run leaves (content hash, flags, INTERNALDATE: Cyrus's
# UIDs are its own): nothing lost, nothing duplicated; and a further run
# has nothing to do.
#
# Each round starts from a snapshot: the Dovecot store, the Cyrus state
# (cyrus_snapshot / cyrus_restore in tests/lib/common.sh) and the
# database.  The rounds are bounded so that the test stays within about
# three minutes on two shared cores.
#
# ctest-variants: condstore plain

# Flags such as '$Label1' are meant literally:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/crash.sh"
t_setup

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
# The @condstore variant: Cyrus without QRESYNC.
CYRUS_EXTRA_CONF=$(method_conf cyrus) cyrus_server remote / ||
    { t_fail "cyrus_server remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RPORT=$(server_var remote IMAPS_PORT)

imaps_config "$T/crash.conf" "$T/sync.db" "$tl"

# ---- messages --------------------------------------------------------------

files=()
for i in $(seq 1 70); do files+=("$(crash_msg "l$i" $((i % 7 * 9)))"); done
mail_add_many local INBOX "${files[@]}"
files=()
for i in $(seq 1 60); do files+=("$(crash_msg "r$i" $((i % 5 * 11)))"); done
mail_add_many remote INBOX "${files[@]}"
files=()
for i in $(seq 1 5); do files+=("$(crash_msg "lf$i" 1)"); done
mail_add_many local foo "${files[@]}"
mail_add remote bar "$(crash_msg rb1 0)" '\Flagged'
mail_add remote bar "$(crash_msg rb2 0)" '\Seen'
mail_store local INBOX 1:10 + '\Seen'
mail_store remote INBOX 5:8 + '\Answered' '$Label1'

# What Cyrus's mailboxes are (the list, and each one's STATUS): a
# restored Cyrus must be the one of the snapshot, or the database of the
# snapshot would not match it.
cyrus_status()
{
	imap_raw remote \
	    'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))' |
	    tr -d '\r' | grep -E '^\* (LIST|STATUS) ' | sort
}

# The snapshot of both servers; the database goes with it.
snap()
{
	rm -rf "$T/snap-$1"
	mkdir -p "$T/snap-$1"
	cp -a "$LDIR/home" "$T/snap-$1/local"
	cyrus_snapshot remote "$T/snap-$1/remote" ||
	    t_fail "cyrus_snapshot $1"
	if [ -f "$T/sync.db" ]; then
		cp -a "$T/sync.db" "$T/snap-$1/sync.db"
	fi
	cyrus_status >"$T/snap-$1/status"
}

ROUNDS=0
restore()
{
	rm -rf "${LDIR:?}/home" "$T/sync.db" "$T/sync.db-journal"
	cp -a "$T/snap-$1/local" "$LDIR/home"
	cyrus_restore remote "$T/snap-$1/remote" ||
	    t_fail "cyrus_restore $1"
	if [ -f "$T/snap-$1/sync.db" ]; then
		cp -a "$T/snap-$1/sync.db" "$T/sync.db"
	fi
	ROUNDS=$((ROUNDS + 1))
	# Every round, cheaply (one login): UIDVALIDITY, UIDNEXT,
	# HIGHESTMODSEQ and MESSAGES of every mailbox as at the snapshot.
	local now
	now=$(cyrus_status)
	if [ "$now" != "$(cat "$T/snap-$1/status")" ]; then
		t_fail "restore $1 (round $ROUNDS): Cyrus as at the snapshot"
		diff "$T/snap-$1/status" <(printf '%s\n' "$now") |
		    head -10 | sed 's/^/#   /'
	fi
}

# What both sides must hold once in sync: "hash flags date" per mailbox,
# identical on both sides, each hash once.
state()
{
	local m
	for m in INBOX foo bar; do
		echo "== $m"
		mail_dump "$1" "$m"
	done
}

# ms since the epoch
now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# The commits of the run that just ended with --audit.
commits()
{
	sed -n 's/.*DB commit n=\([0-9][0-9]*\).*/\1/p' "$T/ours.err" |
	    sort -n | tail -n 1
}

# The expected contents, from a run that is never interrupted; its
# commits and its duration place the interruptions.
snap first
t0=$(now_ms)
run_ours --audit --config="$T/crash.conf"
DUR_first=$(($(now_ms) - t0))
t_expect_eq "$OURS_RC" 0 "uninterrupted first sync"
NCOMMIT_first=$(commits)
expect_first=$(state local)
t_expect_eq "$(state remote)" "$expect_first" "uninterrupted: both sides"
t_expect_eq "$(printf '%s\n' "$expect_first" | grep -vc '^==')" 137 \
    "uninterrupted: 137 messages"

# Later changes on both sides, from the synced state.  Cyrus's UIDs: 1-60
# its own INBOX messages, then the 70 copied from local.
files=()
for i in $(seq 1 20); do files+=("$(crash_msg "nl$i" 30)"); done
mail_add_many local INBOX "${files[@]}"
files=()
for i in $(seq 1 15); do files+=("$(crash_msg "nr$i" 40)"); done
mail_add_many remote INBOX "${files[@]}"
mail_store local INBOX 11:20 + '\Flagged'
mail_store remote INBOX 50:60 = '\Seen'
mail_store remote INBOX 61:65 + '$Label2'
mail_expunge local INBOX 21:25
mail_expunge remote INBOX 40:45
mail_add remote foo "$(crash_msg rf9 2)"
snap second
t0=$(now_ms)
run_ours --audit --config="$T/crash.conf"
DUR_second=$(($(now_ms) - t0))
t_expect_eq "$OURS_RC" 0 "uninterrupted second sync"
NCOMMIT_second=$(commits)
expect_second=$(state local)
t_expect_eq "$(state remote)" "$expect_second" "uninterrupted second: both"
t_log "uninterrupted: first sync $NCOMMIT_first commits in $DUR_first ms," \
    "second $NCOMMIT_second commits in $DUR_second ms"

# An interrupted run's server sessions may still be finishing their last
# command (an APPEND whose bytes were all sent): the next run starts once
# they are gone, as it would after a real crash.  Ours: our binary's
# processes; the tunnel Dovecot's: those working in its store (Dovecot
# clears their environment); Cyrus's: its imapd still holds the
# connection (Cyrus's own processes carry the test's marker, so
# _t_marked_pids cannot tell).
store_pids()
{
	local p d

	for p in /proc/[0-9]*; do
		d=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $d in
		"$LDIR"/*) echo "${p#/proc/}" ;;
		esac
	done
}

cyrus_conns()
{
	ss -Htan "( sport = :$RPORT )" | grep -v -e '^LISTEN' -e '^TIME-WAIT'
}

crash_busy()
{
	ours_pids
	store_pids
	cyrus_conns
}

# The commit points of a run of N commits: all when N <= 10, else ten
# spread evenly from the first to the last.
points()
{
	local n=$1 i

	if [ "$n" -le 10 ]; then
		seq 1 "$n"
		return
	fi
	for ((i = 0; i < 10; i++)); do
		echo $((1 + (i * (n - 1) + 4) / 9))
	done
}

KILLS=0
for phase in first second; do
	expect=expect_$phase
	ncommit=NCOMMIT_$phase
	if [ -z "${!ncommit}" ] || [ "${!ncommit}" -lt 2 ]; then
		t_fail "$phase sync: its commits counted (got '${!ncommit}')"
		continue
	fi
	for hook in BEFORE AT; do
		for n in $(points "${!ncommit}"); do
			restore "$phase"
			kb=
			ka=
			if [ "$hook" = BEFORE ]; then kb=$n; else ka=$n; fi
			INTERIMAP_TEST_KILL_BEFORE=$kb \
			    INTERIMAP_TEST_KILL_AT=$ka \
			    run_ours --config="$T/crash.conf"
			t_expect_eq "$OURS_RC" 137 \
			    "$phase sync: priv dies $hook commit $n"
			[ "$OURS_RC" -eq 137 ] && KILLS=$((KILLS + 1))
			crash_check_after "$phase sync killed $hook commit $n" \
			    "${!expect}"
		done
	done
	t_log "$phase sync: killed before and at commits" \
	    "$(points "${!ncommit}" | paste -sd' ' -) of ${!ncommit}"
done

# SIGKILL at moments in time, whole process group (priv and children):
# at 5 to 80% of the uninterrupted run's duration.
SIGKILLS=0
for phase in first second; do
	expect=expect_$phase
	dur=DUR_$phase
	for pct in 5 20 40 60 80; do
		ms=$((${!dur} * pct / 100))
		restore "$phase"
		(
			set -m
			"$INTERIMAP" --config="$T/crash.conf" </dev/null \
			    >"$T/kill.out" 2>"$T/kill.err" &
			pid=$!
			sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
			kill -KILL -- "-$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			echo $? >"$T/kill.rc"
		)
		cp "$T/kill.err" "$T/ours.err"
		if [ "$(cat "$T/kill.rc")" = 137 ]; then
			SIGKILLS=$((SIGKILLS + 1))
		else
			t_log "$phase sync: done before the SIGKILL at $ms ms"
		fi
		crash_check_after "$phase sync SIGKILLed after ${ms} ms" "${!expect}"
	done
done

t_log "kills survived: $KILLS at commit points, $SIGKILLS SIGKILLs," \
    "$ROUNDS rounds"

t_done
