#!/bin/bash
#
# Crash resume: a sync interrupted at every commit point (priv leaves with
# _exit just before, or just after, its n-th database commit: the
# INTERIMAP_TEST_KILL_BEFORE / INTERIMAP_TEST_KILL_AT hooks of
# priv/priv_db.c) and at many moments in time (SIGKILL of the whole
# process group after a delay), during a first sync and during a later
# one; then run again.  Afterwards both servers must hold, in every
# mailbox, exactly the messages they should: nothing lost, nothing
# duplicated, same flags on both sides; and a further run has nothing to
# do.
#
# Servers: two pre-authenticated Dovecots (tunnels), delimiters "/" and
# ".", so that a round is cheap: each round restores both mail stores
# from a snapshot.
#
# ctest-variants: condstore plain

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/crash.sh"
t_setup

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
# The @condstore variant: the remote without QRESYNC.
tr=$(DOVECOT_EXTRA_CONF=$(method_conf dovecot) dovecot_tunnel remote .) ||
    { t_fail "dovecot_tunnel remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

tunnel_config "$T/crash.conf" "$T/sync.db" "$tl" "$tr"

# ---- messages --------------------------------------------------------------

files=()
for i in $(seq 1 150); do files+=("$(crash_msg l$i $((i % 17)))"); done
mail_add_many local INBOX "${files[@]}"
files=()
for i in $(seq 1 140); do files+=("$(crash_msg r$i $((i % 13)))"); done
mail_add_many remote INBOX "${files[@]}"
files=()
for i in $(seq 1 5); do files+=("$(crash_msg lf$i 1)"); done
mail_add_many local foo "${files[@]}"
mail_add remote bar "$(crash_msg rb1 0)" '\Flagged'
mail_add remote bar "$(crash_msg rb2 0)" '\Seen'
mail_store local INBOX 1:10 + '\Seen'
mail_store remote INBOX 5:8 + '\Answered' '$Label1'

# The snapshot of both stores; the database goes with it.
snap()
{
	rm -rf "$T/snap-$1"
	mkdir -p "$T/snap-$1"
	cp -a "$LDIR/home" "$T/snap-$1/local"
	cp -a "$RDIR/home" "$T/snap-$1/remote"
	if [ -f "$T/sync.db" ]; then
		cp -a "$T/sync.db" "$T/snap-$1/sync.db"
	fi
}

restore()
{
	rm -rf "$LDIR/home" "$RDIR/home" "$T/sync.db" "$T/sync.db-journal"
	cp -a "$T/snap-$1/local" "$LDIR/home"
	cp -a "$T/snap-$1/remote" "$RDIR/home"
	if [ -f "$T/snap-$1/sync.db" ]; then
		cp -a "$T/snap-$1/sync.db" "$T/sync.db"
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

# The expected contents, from a run that is never interrupted.
snap first
run_ours --config="$T/crash.conf"
t_expect_eq "$OURS_RC" 0 "uninterrupted first sync"
expect_first=$(state local)
t_expect_eq "$(state remote)" "$expect_first" "uninterrupted: both sides"
t_expect_eq "$(printf '%s\n' "$expect_first" | grep -vc '^==')" 297 \
    "uninterrupted: 297 messages"

# Later changes on both sides, from the synced state.
mail_add_many local INBOX $(for i in $(seq 1 40); do crash_msg nl$i 3; done)
mail_add_many remote INBOX $(for i in $(seq 1 30); do crash_msg nr$i 5; done)
mail_store local INBOX 11:20 + '\Flagged'
mail_store remote INBOX 100:110 = '\Seen'
mail_expunge local INBOX 21:25
mail_expunge remote INBOX 140:145
mail_add remote foo "$(crash_msg rf9 2)"
snap second
run_ours --config="$T/crash.conf"
t_expect_eq "$OURS_RC" 0 "uninterrupted second sync"
expect_second=$(state local)
t_expect_eq "$(state remote)" "$expect_second" "uninterrupted second: both"

# An interrupted run's server sessions may still be finishing their last
# command (an APPEND whose bytes were all sent): the next run starts once
# they are gone, as it would after a real crash.
# Dovecot clears the environment of the imap process a tunnel starts, so
# besides the test's marked processes, look for any whose working
# directory is one of our mail stores.
store_pids()
{
	local p d

	for p in /proc/[0-9]*; do
		d=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $d in
		"$LDIR"/*|"$RDIR"/*) echo "${p#/proc/}" ;;
		esac
	done
}

crash_busy()
{
	_t_marked_pids
	store_pids
}

# Flags set by hand in an interrupted run may legitimately be merged
# (the union of §6.5): compare the messages and, separately, that both
# sides agree.
for phase in first second; do
	expect=expect_$phase
	for hook in BEFORE AT; do
		n=1
		while [ "$n" -le 60 ]; do
			restore "$phase"
			kb=
			ka=
			if [ "$hook" = BEFORE ]; then kb=$n; else ka=$n; fi
			INTERIMAP_TEST_KILL_BEFORE=$kb \
			    INTERIMAP_TEST_KILL_AT=$ka \
			    run_ours --config="$T/crash.conf"
			if [ "$OURS_RC" -ne 137 ]; then
				# Past the last commit: the run completed.
				t_expect_eq "$OURS_RC" 0 \
				    "$phase sync, $hook commit $n: completes"
				break
			fi
			crash_check_after "$phase sync killed $hook commit $n" \
			    "${!expect}"
			n=$((n + 1))
		done
		t_log "$phase sync: $((n - 1)) commit points ($hook)"
	done
done

# SIGKILL at moments in time, whole process group (priv and children).
for phase in first second; do
	expect=expect_$phase
	for ms in 20 60 100 150 200 260 330 420 550 700 900; do
		restore "$phase"
		(
			set -m
			"$INTERIMAP" --config="$T/crash.conf" </dev/null \
			    >"$T/kill.out" 2>"$T/kill.err" &
			pid=$!
			sleep "$(printf '0.%03d' "$ms")"
			kill -KILL -- "-$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		)
		cp "$T/kill.err" "$T/ours.err"
		# Leftover tunnels end with their sockets.
		sleep 0.2
		crash_check_after "$phase sync SIGKILLed after ${ms} ms" "${!expect}"
	done
done

t_done
