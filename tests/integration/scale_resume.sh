#!/bin/bash
#
# Scale: a first sync of SCALE_MSGS (30,000) messages whose UIDs are
# scattered (twice as many were made, and a random half expunged), killed
# part-way and resumed:
#   A0  uninterrupted (the reference point: its time and memory);
#   A1  priv leaves right after its 3rd commit (INTERIMAP_TEST_KILL_AT);
#   A2  the same three quarters through the copy (the first of commits
#       180, 90, 45, 20 that the run reaches: with batches of 128, 23,000
#       messages copied, and as many mapping rows to resume from);
#   A3  SIGKILL of all our processes at a random moment of the copy
#       (between a quarter and three quarters of A0's time;
#       SCALE_KILL_MS sets it);
# and with messages on both sides before the interrupted first sync
# (the remote holds SCALE_MSGS / 3 messages of its own, scattered too):
#   B1  priv leaves instead of a commit half-way (the first of 120, 60,
#       30, 15 reached; INTERIMAP_TEST_KILL_BEFORE);
#   B2  SIGKILL at a random moment.
# SCALE_CASES="A2 B2" runs only those cases (A0 gives the time the random
# moments are drawn from: without it, set SCALE_KILL_MS).
#
# After each interruption one more run must complete (exit 0) and then
# both sides hold exactly the same messages, each once (all of both
# sides' messages, nothing lost, nothing twice), the database maps every
# message exactly once, each pair the same message
# (tests/lib/scalectl.py dbcheck), and a further run is quiet (no
# Added/Removed/Updated line).  Each run prints its wall time and the
# peak memory of our processes ("scale: ..." lines).
#
# Servers: two pre-authenticated Dovecots (tunnels, delimiters "/" and
# "."), stores on tmpfs, restored from a snapshot for each case.

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scale.sh"
t_setup
scale_setup

N=${SCALE_MSGS:-30000}
M=$((N / 3))

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

tunnel_config "$T/scale.conf" "$T/sync.db" "$tl" "$tr"

snap()
{
	rm -rf "$T/snap-$1"
	mkdir -p "$T/snap-$1"
	cp -a "$LDIR/home" "$T/snap-$1/local"
	cp -a "$RDIR/home" "$T/snap-$1/remote"
}

restore()
{
	rm -rf "${LDIR:?}/home" "${RDIR:?}/home" "$T/sync.db" "$T/sync.db-journal"
	if ! cp -a "$T/snap-$1/local" "$LDIR/home" ||
	    ! cp -a "$T/snap-$1/remote" "$RDIR/home"; then
		t_fail "restore the stores of case $1"
	fi
}

# How many of a store's UIDs do not follow the one before.
gaps()
{
	mail_uids "$1" INBOX | awk 'NR > 1 && $1 != p + 1 { n++ } { p = $1 }
	    END { print n + 0 }'
}

# ---- the stores ------------------------------------------------------------

start=$SECONDS
printf 'INBOX\tres\t1\t%d\n' $((2 * N)) | scale_gen local
scale_thin local INBOX "$N" 1
expect_a=$(scale_dumpall local /) || t_fail "dump the local store"
t_expect_eq "$(grep -vc '^==' <<<"$expect_a")" "$N" \
    "set-up: $N messages on the local side"
g=$(gaps local)
t_log "local UIDs: $N messages, $g gaps"
t_expect_eq "$((g > N / 8))" 1 "set-up: the local UIDs are scattered"
snap A

printf 'INBOX\trem\t1\t%d\n' $((2 * M)) | scale_gen remote
scale_thin remote INBOX "$M" 2
expect_b=$( {
	echo '== INBOX'
	{ grep -v '^==' <<<"$expect_a"; scale_dumpall remote / |
	    grep -v '^=='; } | sort
})
t_expect_eq "$(grep -vc '^==' <<<"$expect_b")" $((N + M)) \
    "set-up: $M other messages on the remote side"
t_expect_eq "$(grep -v '^==' <<<"$expect_b" | cut -d' ' -f1 | sort |
    uniq -d | wc -l)" 0 "set-up: no two messages alike"
snap B
t_log "stores filled in $((SECONDS - start)) s"

# ---- checks ----------------------------------------------------------------

# The processes of an interrupted run (Dovecot's imap processes of its
# tunnels: their environment is cleared, but their working directory is
# in a store) are gone before the next run starts, as after a real crash.
settle()
{
	local i p d left

	for ((i = 0; i < 100; i++)); do
		left=$(_t_marked_pids)
		for p in /proc/[0-9]*; do
			d=$(readlink "$p/cwd" 2>/dev/null) || continue
			case $d in
			"$LDIR"/*|"$RDIR"/*) left="$left ${p#/proc/}" ;;
			esac
		done
		[ -z "${left// /}" ] && return 0
		sleep 0.1
	done
	t_log "processes of the interrupted run still there after 10 s"
}

# check WHAT EXPECT: after a run that ended normally.
check()
{
	local what=$1 expect=$2

	if scale_dbcheck "$T/sync.db" exact; then
		t_pass "$what: the database maps every message once"
	else
		t_fail "$what: the database maps every message once"
	fi
	sed 's/^/#   /' "$T/dbcheck.out" | tail -n 8
	scale_expect_same "$(cat "$T/dump.local")" "$expect" \
	    "$what: the local store holds every message once"
	scale_expect_same "$(cat "$T/dump.remote")" "$expect" \
	    "$what: the remote store holds every message once"
	scale_run "$what: the run after" --config="$T/scale.conf"
	t_expect_eq "$OURS_RC" 0 "$what: the run after exits 0"
	t_expect_eq "$(scale_quiet "$T/ours.err")" "" \
	    "$what: the run after has nothing to do"
}

# resume WHAT EXPECT: after an interrupted run, one run must complete.
resume()
{
	local what=$1 expect=$2

	cp "$T/ours.err" "$T/killed.log" 2>/dev/null
	settle
	t_log "$what: interrupted with $(mail_uids remote INBOX | wc -l)" \
	    "messages on the remote, $(mail_uids local INBOX | wc -l) on" \
	    "the local"
	scale_run "$what: resumed" --config="$T/scale.conf"
	t_expect_eq "$OURS_RC" 0 "$what: the resumed run exits 0"
	if [ "$OURS_RC" -ne 0 ]; then
		grep -E 'ERROR|PANIC' "$T/ours.err" | head -n 5 |
		    sed 's/^/#   /'
	fi
	grep -E '^(Resuming|Recovered)' "$T/ours.err" | cut -c1-160 |
	    sed 's/^/#   /'
	check "$what" "$expect"
}

# killed_at WHAT HOOK N...: a first sync interrupted by the HOOK
# (KILL_AT or KILL_BEFORE) at the first of the commits N... it reaches.
killed_at()
{
	local what=$1 hook=$2 n

	shift 2
	for n in "$@"; do
		restore "${what:0:1}"
		if [ "$hook" = KILL_AT ]; then
			INTERIMAP_TEST_KILL_AT=$n scale_run \
			    "$what: first sync, priv leaves after commit $n" \
			    --config="$T/scale.conf"
		else
			INTERIMAP_TEST_KILL_BEFORE=$n scale_run \
			    "$what: first sync, priv leaves instead of commit $n" \
			    --config="$T/scale.conf"
		fi
		[ "$OURS_RC" -eq 137 ] && break
		t_log "$what: the run ended (exit $OURS_RC) before commit $n"
		[ "$OURS_RC" -eq 0 ] || break
	done
	t_expect_eq "$OURS_RC" 137 "$what: the first sync is interrupted"
	if [ "$OURS_RC" -ne 137 ]; then
		grep -E 'ERROR|PANIC' "$T/ours.err" | head -n 5 |
		    sed 's/^/#   /'
	fi
}

# sigkill WHAT MS: SIGKILL of all our processes (priv and its children,
# at once) after MS ms, as when they crash: the servers' sessions see
# their connections end (Dovecot's tunnelled imap processes, in our
# process group, are left alone: killing them mid-write would test
# Dovecot's own crash recovery).
sigkill()
{
	local what=$1 ms=$2 pid pids rc try

	# A run that ended before its moment (the machine's pace varies:
	# the moment comes from an earlier run's time) proves nothing: again,
	# from the same state, at half the delay.
	for try in 1 2 3; do
		restore "${what:0:1}"
		t_log "$what: SIGKILL after $ms ms"
		"$INTERIMAP" --config="$T/scale.conf" </dev/null \
		    >"$T/kill.out" 2>"$T/ours.err" &
		pid=$!
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		pids=$(ours_pids)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		[ "$rc" -ne 0 ] && break
		t_log "$what: the run ended before $ms ms: again"
		ms=$((ms / 2))
		[ "$ms" -lt 100 ] && ms=100
	done
	t_expect_eq "$rc" 137 "$what: the first sync is killed before it ends"
}

# A random moment of the copy: between 1/4 and 3/4 of WALL seconds.
random_ms()
{
	local ms

	ms=$(awk -v w="$1" -v r="$RANDOM" \
	    'BEGIN { printf "%d", w * 1000 * (0.25 + 0.5 * r / 32768) }')
	[ "$ms" -lt 150 ] && ms=150
	echo "${SCALE_KILL_MS:-$ms}"
}

# Is case $1 to be run (SCALE_CASES)?
want()
{
	[ -z "${SCALE_CASES:-}" ] || [[ " $SCALE_CASES " == *" $1 "* ]]
}

# ---- A: the remote is empty ------------------------------------------------

# (Seconds; A0 measures it.)
wall=2
if want A0; then
	restore A
	scale_run "A0: first sync, $N msgs with scattered UIDs, uninterrupted" \
	    --config="$T/scale.conf"
	t_expect_eq "$OURS_RC" 0 "A0: the first sync exits 0"
	grep -E 'ERROR|PANIC' "$T/ours.err" | head -n 5 | sed 's/^/#   /'
	wall=$(awk '/^scale: A0: first sync/ { sub(/ s;.*/, ""); print $NF }' \
	    "$T/scale.log")
	t_expect_eq "$(scale_added "$T/ours.err" remote)" "$N" \
	    "A0: $N messages copied to the remote"
	check A0 "$expect_a"
fi

if want A1; then
	killed_at A1 KILL_AT 3
	resume A1 "$expect_a"
fi
if want A2; then
	killed_at A2 KILL_AT 180 90 45 20
	resume A2 "$expect_a"
fi
if want A3; then
	sigkill A3 "$(random_ms "$wall")"
	resume A3 "$expect_a"
fi

# ---- B: messages on both sides ---------------------------------------------

if want B1; then
	killed_at B1 KILL_BEFORE 120 60 30 15
	resume B1 "$expect_b"
fi
if want B2; then
	sigkill B2 "$(random_ms "$wall")"
	resume B2 "$expect_b"
fi

t_done
