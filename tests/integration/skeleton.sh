#!/bin/bash
#
# The four-process skeleton: priv starts engine, net(local), net(remote),
# each named, confined (seccomp, no new privileges, an unprivileged user
# in an empty root when we are root, a memory bound, RLIMIT_DATA, except
# in a sanitizer build) and given only its own part of the configuration;
# the database is locked before any child starts; a child that dies is
# named and ends the run; signals end it cleanly; nothing is left
# running.  Both servers are pre-authenticated Dovecot tunnels with
# nothing to synchronise; [remote] carries a password all the same (a
# tunnel ignores it), to prove it never reaches net(local).
#
# The sanitizer build runs it too:
#	cmake -S . -B build-asan -DINTERIMAP_SANITIZE=ON && cmake --build build-asan
#	ctest --test-dir build-asan -R 'integration/(skeleton|sandbox)'

source "$SRCDIR/tests/lib/common.sh"
t_setup

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
tunnel_remote=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel"; t_done; }
CONF=$T/skeleton.conf
write_config "$CONF" <<EOF
[local]
type = tunnel
command = $tunnel_local
username = localUSERmarker

[remote]
type = tunnel
command = $tunnel_remote
username = u
password = secretREMOTE
EOF
DB=$XDG_DATA_HOME/interimap/localhost.db
EXIT_CHILD=4
EXIT_DB=3
# RLIMIT_DATA of the children (ipc/sandbox.h, interimap(1)); none in a
# sanitizer build, whose children keep priv's.
DATA_ENGINE=$((1024 * 1024 * 1024))
DATA_NET=$((256 * 1024 * 1024))
SANITIZED=0
grep -qa __asan_init "$INTERIMAP" && SANITIZED=1

# ---- helpers ---------------------------------------------------------------

# "Name:<TAB>value" of /proc/PID/status.
status_field()
{
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null
}

# "soft hard" of the limit named NAME in /proc/PID/limits.
limit_of()
{
	awk -v name="$2" 'index($0, name) == 1 {
		n = split(substr($0, length(name) + 1), f)
		print f[1], f[2] }' "/proc/$1/limits" 2>/dev/null
}

# The title: the first string of /proc/PID/cmdline.
title_of()
{
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1
}

# PIDs of the interimap children of PID (not its tunnels), sorted.
children_of()
{
	pgrep -x -P "$1" interimap | sort -n
}

# Starts our binary with INTERIMAP_TEST_HOLD=1 in the background, its stdin
# a FIFO we hold open: HELD_PID, HELD_ERR.  Waits until its three children
# are confined.  Extra arguments go to interimap.
start_held()
{
	local i n kids k ok

	HELD_ERR=$T/held.$RANDOM.err
	rm -f "$T/hold.fifo"
	mkfifo "$T/hold.fifo" || return 1
	INTERIMAP_TEST_HOLD=1 "$INTERIMAP" --config="$CONF" "$@" \
	    <"$T/hold.fifo" 2>"$HELD_ERR" &
	HELD_PID=$!
	t_track_pid "$HELD_PID"
	exec 7>"$T/hold.fifo"
	for ((i = 0; i < 200; i++)); do
		kids=$(children_of "$HELD_PID")
		n=$(printf '%s' "$kids" | grep -c .)
		if [ "$n" -eq 3 ]; then
			ok=1
			for k in $kids; do
				[ "$(status_field "$k" Seccomp)" = 2 ] || ok=0
			done
			[ "$ok" = 1 ] && return 0
		fi
		kill -0 "$HELD_PID" 2>/dev/null || break
		sleep 0.05
	done
	t_log "start_held: children not ready: $(cat "$HELD_ERR")"
	return 1
}

# Closes the FIFO (priv goes on) and waits: HELD_RC.
stop_held()
{
	exec 7>&-
	wait "$HELD_PID"
	HELD_RC=$?
}

# Waits for the held priv after a signal or a child's death: HELD_RC.
wait_held()
{
	local i

	for ((i = 0; i < 200; i++)); do
		kill -0 "$HELD_PID" 2>/dev/null || break
		sleep 0.05
	done
	exec 7>&-
	wait "$HELD_PID"
	HELD_RC=$?
}

# FILE has LINE exactly once, as a whole line.
expect_line()
{
	t_expect_eq "$(grep -cFx -- "$2" "$1")" 1 "$3"
}

# Every PID given is gone (not even a zombie).
expect_gone()
{
	local what=$1 pid left=

	shift
	for pid in "$@"; do
		[ -e "/proc/$pid" ] && left="$left $pid"
	done
	t_expect_eq "${left# }" "" "$what: no process left"
}

# How many times STRING occurs in the readable memory of PID (root only).
# Mappings larger than 1 GiB are reserved address space (the sanitizers'
# shadow), never the heap: skipped.
mem_count()
{
	python3 - "$1" "$2" <<'EOF'
import sys
pid, needle = sys.argv[1], sys.argv[2].encode()
CHUNK, BIG = 1 << 20, 1 << 30
n = 0
with open(f"/proc/{pid}/maps") as maps, \
        open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if perms[0] != "r" or line.rstrip().endswith("[vvar]"):
            continue
        lo, hi = (int(x, 16) for x in addr.split("-"))
        if hi - lo > BIG:
            continue
        tail = b""
        for at in range(lo, hi, CHUNK):
            try:
                mem.seek(at)
                data = tail + mem.read(min(CHUNK, hi - at))
            except (OSError, ValueError, OverflowError):
                tail = b""
                continue
            n += data.count(needle)
            # Too short to hold a match: one across chunks counts once.
            tail = data[-(len(needle) - 1):] if len(needle) > 1 else b""
print(n)
EOF
}

# ---- a plain run -------------------------------------------------------------

rm -f "$DB"
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "a run with nothing to synchronise exits 0"
t_expect_eq "$(grep -c 'ERROR' "$T/ours.err")" 0 "no error"
t_expect_eq "$(stat -c %a "$DB" 2>&1)" 600 "a fresh database is created 0600"
t_expect_eq "$(cat "$T/ours.out")" "" "nothing on stdout"

run_ours --config="$CONF" --debug
err=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 0 "--debug run exits 0"
expect_line "$T/ours.err" ">>> interimap $(sed -n \
    's/^project(interimap VERSION \([0-9.]*\) .*/\1/p' \
    "$SRCDIR/CMakeLists.txt")" "debug banner"
for who in engine local remote; do
	expect_line "$T/ours.err" "$who: sandbox loaded" \
	    "$who says 'sandbox loaded'"
done
t_expect_match "$err" $'\nCleaning up\\.\\.\\.\n?$' "'Cleaning up...' last"

run_ours --config="$CONF" -q
t_expect_eq "$OURS_RC" 0 "-q run exits 0"

# ---- each net gets its own section, and no other -------------------------

run_ours --config="$CONF" --debug --debug
err=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 0 "--debug --debug run exits 0"
expect_line "$T/ours.err" "remote: config: password=<set>" \
    "net(remote) received its password"
expect_line "$T/ours.err" "remote: config: username=u" \
    "net(remote) received its username"
expect_line "$T/ours.err" "local: config: type=tunnel" \
    "net(local) received its section"
expect_line "$T/ours.err" "local: config: username=localUSERmarker" \
    "net(local) received its own username"
t_expect_eq "$(grep -c '^local: config: \(password\|port\)=' \
    <<<"$err")" 0 "net(local) received none of the remote keys"
t_expect_eq "$(grep -c secretREMOTE <<<"$err")" 0 \
    "no password value is ever logged"
expect_line "$T/ours.err" \
    "remote: config: watch no, compress by default yes" \
    "net(remote) compresses by default"
expect_line "$T/ours.err" "local: config: watch no, compress by default no" \
    "net(local) does not"

# ---- four processes, confined --------------------------------------------

if start_held; then
	t_pass "held run: children started"
	kids=($(children_of "$HELD_PID"))
	t_expect_eq "${#kids[@]}" 3 "priv has exactly three children"
	titles=$(for k in "${kids[@]}"; do title_of "$k"; done | sort)
	t_expect_eq "$titles" "interimap: engine
interimap: net(local)
interimap: net(remote)" "the children's titles"
	t_expect_eq "$(cat /proc/"$HELD_PID"/comm)" interimap "priv's comm"
	for k in "${kids[@]}"; do
		t=$(title_of "$k")
		t_expect_eq "$(cat /proc/"$k"/comm)" interimap "$t: comm"
		t_expect_eq "$(status_field "$k" Seccomp)" 2 \
		    "$t: Seccomp filter mode"
		t_expect_eq "$(status_field "$k" NoNewPrivs)" 1 \
		    "$t: NoNewPrivs"
		t_expect_eq "$(status_field "$k" Seccomp_filters)" \
		    "$(( $(status_field "$HELD_PID" Seccomp_filters) + 1 ))" \
		    "$t: one filter more than priv"
		if [ "$(id -u)" = 0 ]; then
			t_expect_eq "$(status_field "$k" Uid | awk '{print $1,$2,$3,$4}')" \
			    "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" \
			    "$t: runs as nobody"
			t_expect_eq "$(status_field "$k" Groups | tr -d ' ')" \
			    "$(id -g nobody)" "$t: no supplementary group"
			root=$(readlink "/proc/$k/root")
			t_expect_match "$root" '^/.+' "$t: chrooted ($root)"
			t_expect_eq "$(ls -A "/proc/$k/root" | wc -l)" 0 \
			    "$t: its root is empty"
		fi
		case $t in
		*engine) data="$DATA_ENGINE $DATA_ENGINE" ;;
		*) data="$DATA_NET $DATA_NET" ;;
		esac
		[ "$SANITIZED" = 1 ] &&
		    data=$(limit_of "$HELD_PID" "Max data size")
		t_expect_eq "$(limit_of "$k" "Max data size")" "$data" \
		    "$t: RLIMIT_DATA (soft hard)"
		# stdio, the channels; a net also its server's stream.
		t_expect_match "$(ls "/proc/$k/fd" | sort -n | tr '\n' ' ')" \
		    "$(case $t in *engine) echo '^0 1 2 3 4 5 $';;
		    *) echo '^0 1 2 3 4 (5 )?$';; esac)" "$t: descriptors"
		case $t in
		*"net(local)") netlocal=$k ;;
		*"net(remote)") netremote=$k ;;
		*engine) engine=$k ;;
		esac
	done
	t_expect_eq "$(status_field "$HELD_PID" NoNewPrivs)" \
	    "$(status_field $$ NoNewPrivs)" "priv: NoNewPrivs as inherited"
	t_expect_eq "$(status_field "$HELD_PID" Seccomp_filters)" \
	    "$(status_field $$ Seccomp_filters)" "priv: no filter of its own"
	t_expect_eq "$(status_field "$HELD_PID" Uid | awk '{print $1}')" \
	    "$(id -u)" "priv keeps its user"

	# The remote password is in priv (it read the file) and nowhere in
	# net(local) or the engine, which never received it; net(remote)
	# never saw net(local)'s section.  The controls show the scan reads
	# priv and a confined child alike.
	t_expect_match "$(mem_count "$HELD_PID" secretREMOTE)" '^[1-9][0-9]*$' \
	    "memory scan finds the password in priv (control)"
	t_expect_match "$(mem_count "$netlocal" localUSERmarker)" \
	    '^[1-9][0-9]*$' "memory scan finds net(local)'s own username (control)"
	t_expect_eq "$(mem_count "$netlocal" secretREMOTE)" 0 \
	    "the remote password is nowhere in net(local)'s memory"
	t_expect_eq "$(mem_count "$engine" secretREMOTE)" 0 \
	    "the remote password is nowhere in the engine's memory"
	t_expect_eq "$(mem_count "$netremote" localUSERmarker)" 0 \
	    "net(local)'s section is nowhere in net(remote)'s memory"

	# A second instance on the same database fails at once, before any
	# child starts.
	run_ours --config="$CONF" --debug
	t_expect_eq "$OURS_RC" "$EXIT_DB" "second instance: exit EXIT_DB"
	t_expect_match "$(cat "$T/ours.err")" 'database is locked' \
	    "second instance: 'database is locked'"
	t_expect_eq "$(grep -c 'sandbox loaded\|>>> interimap' "$T/ours.err")" 0 \
	    "second instance: fails before the banner and the children"
	t_expect_eq "$(children_of "$HELD_PID" | wc -l)" 3 \
	    "the first instance is unaffected"

	stop_held
	t_expect_eq "$HELD_RC" 0 "held run exits 0 once stdin closes"
	t_expect_eq "$(grep -c 'ERROR' "$HELD_ERR")" 0 "held run: no error"
	expect_gone "held run" "${kids[@]}"
else
	t_fail "held run: children started"
	stop_held
fi

# ---- a child dies: named, the run ends, nothing left ----------------------

for victim in engine 'net(local)' 'net(remote)'; do
	if ! start_held; then
		t_fail "$victim kill: children started"
		stop_held
		continue
	fi
	kids=($(children_of "$HELD_PID"))
	for k in "${kids[@]}"; do
		[ "$(title_of "$k")" = "interimap: $victim" ] && pid=$k
	done
	kill -KILL "$pid"
	wait_held
	t_expect_eq "$HELD_RC" "$EXIT_CHILD" "$victim killed: exit EXIT_CHILD"
	expect_line "$HELD_ERR" "ERROR: $victim killed by signal SIGKILL" \
	    "$victim killed: priv names it"
	expect_gone "$victim killed" "$HELD_PID" "${kids[@]}"
done

# ---- signals -----------------------------------------------------------------

if start_held; then
	kids=($(children_of "$HELD_PID"))
	kill -TERM "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 0 "SIGTERM: exit 0"
	t_expect_eq "$(grep -c 'ERROR' "$HELD_ERR")" 0 "SIGTERM: no error"
	expect_gone "SIGTERM" "${kids[@]}"
else
	t_fail "SIGTERM: children started"
	stop_held
fi

if start_held; then
	kids=($(children_of "$HELD_PID"))
	kill -INT "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 1 "SIGINT: exit 1"
	expect_line "$HELD_ERR" "Interrupted" "SIGINT: 'Interrupted'"
	expect_gone "SIGINT" "${kids[@]}"
else
	t_fail "SIGINT: children started"
	stop_held
fi

# ^C on a terminal signals the whole process group, a service manager's
# stop the whole cgroup: priv decides alone.
if start_held; then
	kids=($(children_of "$HELD_PID"))
	kill -INT "${kids[@]}"
	kill -TERM "${kids[@]}"
	sleep 0.3
	t_expect_eq "$(children_of "$HELD_PID" | wc -l)" 3 \
	    "children ignore SIGINT and SIGTERM"
	kill -INT "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 1 "SIGINT to the group: exit 1"
	expect_gone "SIGINT to the group" "${kids[@]}"
else
	t_fail "SIGINT to the group: children started"
	stop_held
fi

# A service manager's stop: SIGTERM to all four at once is a clean exit.
if start_held; then
	kids=($(children_of "$HELD_PID"))
	kill -TERM "${kids[@]}" "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 0 "SIGTERM to all: exit 0"
	t_expect_eq "$(grep -c 'ERROR' "$HELD_ERR")" 0 "SIGTERM to all: no error"
	expect_gone "SIGTERM to all" "${kids[@]}"
else
	t_fail "SIGTERM to all: children started"
	stop_held
fi

# ---- database creation ---------------------------------------------------

for mode in --watch=1 --notify; do
	rm -f "$DB"
	run_ours --config="$CONF" "$mode"
	if [ "$OURS_RC" -ne 0 ]; then
		t_pass "$mode without a database fails ($OURS_RC)"
	else
		t_fail "$mode without a database exits 0"
	fi
	t_expect_eq "$OURS_RC" "$EXIT_DB" "$mode without a database: EXIT_DB"
	t_expect_eq "$(ls "$DB" 2>/dev/null)" "" \
	    "$mode does not create the database"
done

rm -f "$DB"
INTERIMAP_TEST_DB_ONLY=1 run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "INTERIMAP_TEST_DB_ONLY: exit 0"
t_expect_eq "$(stat -c %a "$DB" 2>&1)" 600 "INTERIMAP_TEST_DB_ONLY creates it"

# ---- no /proc: the children are found through argv[0] --------------------

# Needs a mount namespace (CAP_SYS_ADMIN): an unprivileged container
# cannot make one, and then there is nothing to observe.
if unshare -m true 2>/dev/null; then
	for how in path name; do
		if [ "$how" = path ]; then
			cmd=("$INTERIMAP")
		else
			cmd=(env PATH="$(dirname "$INTERIMAP"):$PATH" \
			    "$(basename "$INTERIMAP")")
		fi
		unshare -m sh -c 'umount -l /proc && exec "$@"' sh \
		    "${cmd[@]}" --config="$CONF" --debug \
		    </dev/null >"$T/noproc.out" 2>"$T/noproc.err"
		t_expect_eq "$?" 0 "without /proc ($how): exit 0"
		expect_line "$T/noproc.err" "remote: sandbox loaded" \
		    "without /proc ($how): the children run"
	done
else
	t_log "unshare -m not permitted here: /proc fallback not exercised"
fi

# ---- the hidden flag is no way in ----------------------------------------

"$INTERIMAP" --proc=engine </dev/null >"$T/proc.out" 2>"$T/proc.err" 3<&-
rc=$?
if [ "$rc" -ne 0 ]; then
	t_pass "--proc=engine from a shell fails ($rc)"
else
	t_fail "--proc=engine from a shell exits 0"
fi
t_expect_match "$(cat "$T/proc.err")" 'Unknown option: proc' \
    "--proc=engine from a shell is an unknown option"

t_done
