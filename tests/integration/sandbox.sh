#!/bin/bash
#
# The seccomp filters hold: every child (engine, net(local), net(remote))
# asked to make a forbidden call (IMSG_TEST_SANDBOX: 1 openat, 2 socket,
# 3 execve, 4 fork, 5 readv, which no child has a use for) dies by SIGSYS,
# priv names it and exits EXIT_CHILD, and nothing is left running.  With
# INTERIMAP_SECCOMP_TRAP=1 the child's trap handler names the call
# instead.  A normal run, in trap mode, makes no call its filter forbids.
# A child that breaks the IPC rules (the same hook, n = 101..103) is
# named, killed, and ends the run; so is an engine that reads none of
# priv's answers (n = 104) before they fill priv's memory.  A child that
# allocates without end (n = 106) meets its RLIMIT_DATA bound: malloc
# fails there, the child says it is out of memory, priv names it and
# exits EXIT_CHILD (a sanitizer build has no bound: the child says so).
# A child writing escape sequences to its stderr (n = 107) reaches
# nobody: its stderr is /dev/null once it is in its sandbox.
#
# The sanitizer build runs it too (see skeleton.sh).

source "$SRCDIR/tests/lib/common.sh"
t_setup

# The suite runs the filters in TRAP mode (tests/CMakeLists.txt): here
# they kill, as in the installed binary, but where a case asks for TRAP.
unset INTERIMAP_SECCOMP_TRAP

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
tunnel_remote=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel"; t_done; }
CONF=$T/sandbox.conf
write_config "$CONF" <<EOF
[local]
type = tunnel
command = $tunnel_local

[remote]
type = tunnel
command = $tunnel_remote
EOF
EXIT_CHILD=4

declare -A LABEL=([engine]=engine [net-local]='net(local)'
    [net-remote]='net(remote)')
# What the trap handler may call each attempt (libc picks the variant).
declare -A CALL=([1]='openat|open' [2]='socket|socketcall'
    [3]='execve|execveat' [4]='clone|clone3|fork|vfork' [5]='readv')

# PIDs of processes carrying this run's marker in their environment.
marked()
{
	grep -lzxF -- "SANDBOX_TEST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null |
	    cut -d/ -f3
}

# run_marked MARK ARGS...: run_ours with a marker, then check for leftovers.
run_marked()
{
	local mark=$1 left

	shift
	SANDBOX_TEST_RUN=$mark run_ours --config="$CONF" "$@"
	left=$(marked "$mark")
	t_expect_eq "$left" "" "$mark: no process left"
}

# ---- a normal run stays inside every filter ------------------------------

run_marked plain --debug --debug
t_expect_eq "$OURS_RC" 0 "normal run under the filters exits 0"
INTERIMAP_SECCOMP_TRAP=1 run_marked trap-plain --debug --debug
t_expect_eq "$OURS_RC" 0 "normal run in trap mode exits 0"
t_expect_eq "$(grep -c 'forbidden system call' "$T/ours.err")" 0 \
    "normal run in trap mode: no forbidden call"

# ---- each child, each forbidden call ---------------------------------------

for child in engine net-local net-remote; do
	label=${LABEL[$child]}
	for n in 1 2 3 4 5; do
		INTERIMAP_TEST_SANDBOX=$child:$n run_marked "kill-$child-$n"
		t_expect_eq "$OURS_RC" "$EXIT_CHILD" \
		    "$label, call $n: priv exits EXIT_CHILD"
		t_expect_eq "$(grep -cFx \
		    "ERROR: $label killed by signal SIGSYS (seccomp)" \
		    "$T/ours.err")" 1 "$label, call $n: killed by SIGSYS"
		t_expect_eq "$(grep -c 'was not stopped' "$T/ours.err")" 0 \
		    "$label, call $n: the call never ran"

		INTERIMAP_SECCOMP_TRAP=1 INTERIMAP_TEST_SANDBOX=$child:$n \
		    run_marked "trap-$child-$n"
		t_expect_eq "$OURS_RC" "$EXIT_CHILD" \
		    "$label, call $n, trap mode: priv exits EXIT_CHILD"
		t_expect_match "$(cat "$T/ours.err")" \
		    "interimap: ${label//[()]/.}: seccomp: forbidden system call (${CALL[$n]}) \([0-9]+\)" \
		    "$label, call $n, trap mode: the handler names the call"
	done
done

# ---- each child, a runaway allocation --------------------------------------

# RLIMIT_DATA in MiB (ipc/sandbox.h, interimap(1)).
declare -A DATA_MIB=([engine]=1024 [net-local]=256 [net-remote]=256)
declare -A PREFIX=([engine]='' [net-local]='local: ' [net-remote]='remote: ')
SANITIZED=0
grep -qa __asan_init "$INTERIMAP" && SANITIZED=1
for child in engine net-local net-remote; do
	label=${LABEL[$child]}
	mib=${DATA_MIB[$child]}
	INTERIMAP_TEST_SANDBOX=$child:106 run_marked "alloc-$child"
	t_expect_eq "$OURS_RC" "$EXIT_CHILD" \
	    "$label, runaway allocation: priv exits EXIT_CHILD"
	t_expect_eq "$(grep -cFx \
	    "ERROR: $label exited unexpectedly (status $EXIT_CHILD)" \
	    "$T/ours.err")" 1 "$label, runaway allocation: priv names it"
	if [ "$SANITIZED" = 1 ]; then
		said="ERROR: sandbox test: [0-9]+ MiB allocated, past the"
		said="$said memory bound of $mib MiB: no RLIMIT_DATA in force"
		t_expect_eq "$(grep -cEx "${PREFIX[$child]}$said" \
		    "$T/ours.err")" 1 \
		    "$label, runaway allocation: no bound (sanitizer build)"
		continue
	fi
	said="ERROR: out of memory: the bound of $mib MiB \(RLIMIT_DATA\)"
	said="$said reached, ([0-9]+) MiB allocated by the sandbox test"
	line=$(grep -Ex "${PREFIX[$child]}$said" "$T/ours.err")
	t_expect_eq "$(printf '%s' "$line" | grep -c .)" 1 \
	    "$label, runaway allocation: out of memory at $mib MiB"
	# malloc failed at the bound, not before it: only what the child
	# held already is missing.
	got=$(sed -En "s/.*$said\$/\\1/p" <<<"$line")
	t_expect_eq "$((${got:-0} > mib - 64 && ${got:-0} <= mib))" 1 \
	    "$label, runaway allocation: malloc failed at ${got:-?} of $mib MiB"
done

# ---- a child's stderr reaches nobody -------------------------------------
#
# Terminal escape sequences written straight to its stderr (n = 107) by a
# child in its sandbox: its stderr is /dev/null by then (kept only in the
# sanitizer build, for their reports), so nothing of them shows, and the
# run goes on.
# Its stderr a pipe, as a terminal would be (a file would refuse the
# write: the children's RLIMIT_FSIZE is 0).
for child in engine net-local net-remote; do
	label=${LABEL[$child]}
	(
		set -o pipefail
		INTERIMAP_TEST_SANDBOX=$child:107 SANDBOX_TEST_RUN=stderr-$child \
		    timeout -k 5 "$T_TIMEOUT" "$INTERIMAP" --config="$CONF" \
		    </dev/null 2>&1 >"$T/ours.out" | cat >"$T/ours.err"
	)
	OURS_RC=$?
	t_expect_eq "$(marked "stderr-$child")" "" "stderr-$child: no process left"
	t_expect_eq "$OURS_RC" 0 "$label writing to its stderr: the run goes on"
	[ "$SANITIZED" = 1 ] && continue
	t_expect_eq "$(grep -c 'child stderr' "$T/ours.err")" 0 \
	    "$label writing to its stderr: nothing of it shows"
	t_expect_eq "$(LC_ALL=C grep -c $'[\x1b\x9b\x07]' "$T/ours.err")" 0 \
	    "$label writing to its stderr: no escape byte reaches the terminal"
done

# ---- a child that breaks the IPC rules is named and ended ----------------

declare -A BROKEN=(
    [101]='broken IPC message (IMSG_CHILD_READY): sent twice'
    [102]='broken IPC message: unknown message type 57005'
    [103]='broken IPC message (IMSG_LOG): bad layout')
for child in engine net-local net-remote; do
	label=${LABEL[$child]}
	for n in 101 102 103; do
		INTERIMAP_TEST_SANDBOX=$child:$n run_marked "ipc-$child-$n"
		t_expect_eq "$OURS_RC" "$EXIT_CHILD" \
		    "$label, broken message $n: priv exits EXIT_CHILD"
		t_expect_eq "$(grep -cFx "$label: ERROR: ${BROKEN[$n]}" \
		    "$T/ours.err")" 1 "$label, broken message $n: named"
		t_expect_eq "$(grep -c 'exited unexpectedly\|killed by' \
		    "$T/ours.err")" 0 \
		    "$label, broken message $n: its end is not a second error"
	done
done

# An engine asking to remove database rows during a synchronisation (only
# --delete may) is ended, and the database keeps its rows.
DBFILE=$XDG_DATA_HOME/interimap/localhost.db
before=$(sqlite3 "$DBFILE" .dump)
t_expect_match "$before" "INSERT INTO mailboxes" \
    "db-delete: the database holds mailbox rows"
INTERIMAP_TEST_SANDBOX=engine:105 run_marked db-delete
t_expect_eq "$OURS_RC" "$EXIT_CHILD" "db-delete during a sync: EXIT_CHILD"
t_expect_eq "$(grep -cFx 'engine: ERROR: broken IPC message (IMSG_DB_DELETE): not accepted for this command' "$T/ours.err")" 1 \
    "db-delete during a sync: named"
t_expect_eq "$(sqlite3 "$DBFILE" .dump)" "$before" \
    "db-delete during a sync: no row removed"

# The hook itself: an unknown call number is reported, not ignored.
INTERIMAP_TEST_SANDBOX=net-local:99 run_marked unknown-call
t_expect_eq "$OURS_RC" "$EXIT_CHILD" "unknown sandbox test: EXIT_CHILD"
t_expect_match "$(cat "$T/ours.err")" \
    'local: ERROR: sandbox test: no forbidden call 99' \
    "unknown sandbox test: the child says so"

INTERIMAP_TEST_SANDBOX=bogus run_marked bad-hook
t_expect_eq "$OURS_RC" 1 "malformed INTERIMAP_TEST_SANDBOX: exit 1"

# ---- an engine that reads none of priv's answers -------------------------
#
# It asks for the database's mailboxes (about 1 MB of rows each time) and
# never reads: priv must end it long before those answers fill its memory
# (PRIV_UNREAD_MAX, 256 MiB; the sanitizers add their own overhead).
# Watched, so that a priv without the limit fails the test instead of the
# machine.

DB=$XDG_DATA_HOME/interimap/localhost.db
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
    FROM n WHERE i < 16) INSERT INTO mailboxes (mailbox, subscribed)
    SELECT CAST(printf('%.*c', 60000, 'm') || i AS BLOB), 0 FROM n;" ||
    t_fail "sqlite3: large mailbox rows"
INTERIMAP_TEST_SANDBOX=engine:104 SANDBOX_TEST_RUN=unread \
    "$INTERIMAP" --config="$CONF" </dev/null 2>"$T/unread.err" &
pid=$!
t_track_pid "$pid"
maxrss=0
stuck=1
for ((i = 0; i < 1800; i++)); do
	# No VmRSS once it has exited (a zombie, or gone).
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	if [ -z "$rss" ]; then
		stuck=0
		break
	fi
	[ "$rss" -gt "$maxrss" ] && maxrss=$rss
	[ "$rss" -gt 2097152 ] && break		# 2 GiB: no limit at work
	sleep 0.1
done
if [ "$stuck" = 1 ]; then
	t_fail "unread answers: priv still running, ${maxrss} kB"
	kill -KILL "$pid"
fi
wait "$pid"
rc=$?
t_expect_eq "$rc" "$EXIT_CHILD" "unread answers: priv exits EXIT_CHILD"
unread="engine: ERROR: broken IPC message (IMSG_DB_LOAD): leaves its"
unread="$unread answers unread"
t_expect_eq "$(grep -cFx "$unread" "$T/unread.err")" 1 \
    "unread answers: the engine is named"
t_expect_eq "$((maxrss < 1024 * 1024))" 1 \
    "unread answers: priv stayed below 1 GiB (${maxrss} kB)"
t_expect_eq "$(marked unread)" "" "unread answers: no process left"

t_done
