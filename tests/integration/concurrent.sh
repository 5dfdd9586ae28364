#!/bin/bash
#
# Mail clients at work on both servers while the service synchronises
# them: a run in watch mode (first --watch=1, then --notify) goes on while
# tests/lib/chaosdrive.py, one client on each server, appends, changes
# flags and expunges in three mailboxes without pause, creates a few new
# ones (which then take their share), and SIGHUPs the run now and then
# for a pass in the middle of it.  Every race between a
# client's change and a pass's SELECT, FETCH, APPEND, STORE or EXPUNGE
# may happen; which ones do is left to timing (the choices are the
# seed's: CONCURRENT_SEED, default 1; CONCURRENT_SECONDS per phase,
# default 12).  Nothing here is timed, only bounded.  A third phase kills
# the runs in the middle of their work, again and again (crashes(), below;
# CONCURRENT_ONLY=crashes runs that phase alone).
#
# Once the clients stop, a pass that started after their last change
# (two "engine: idle," lines after a SIGHUP), then SIGTERM (exit 0), and
# then what must hold whatever the timing was (chaosdrive.py check):
#  - each mailbox, the new ones too, is on both sides and holds, on each
#    side, exactly the messages appended and not expunged, each once:
#    nothing lost, nothing duplicated, no expunged message back;
#  - the same flags on both sides, and for a message that only the side
#    it was appended on changed, the flags that side gave it last (our own
#    STORE taken for a user's would turn a later change into a conflict
#    and bring removed flags back);
#  - the database maps, in each mailbox, exactly the two UIDs of each
#    message;
#  - no ERROR and no WARNING in the run's log but "Conflicting flag
#    update", and those only about messages both sides changed;
#  - a one-shot run afterwards has nothing to do.
#
# Servers: local = pre-authenticated Dovecot (tunnel, "/"), remote = a
# Dovecot tunnel with "." (in @cyrus: Cyrus IMAP over IMAPS, without
# NOTIFY: IDLE on INBOX and the interval); in @condstore and @plain the
# remote hides QRESYNC (and CONDSTORE); @cyrus-condstore is Cyrus synced
# with CONDSTORE (its UID SEARCH leaves out what another session
# expunged before saying so, and its IDLE follows SELECTs that net
# completes with commands of its own).
#
# ctest-variants: cyrus condstore cyrus-condstore plain

source "$SRCDIR/tests/lib/common.sh"
t_setup

SEED=${CONCURRENT_SEED:-1}
SECS=${CONCURRENT_SECONDS:-12}
MAILBOXES=(INBOX Work Lists/dev)
DRIVE=("/usr/bin/python3" "$T_LIBDIR/chaosdrive.py")

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
if [ "$T_REMOTE" = cyrus ]; then
	CYRUS_EXTRA_CONF=$(method_conf cyrus) cyrus_server remote / ||
	    { t_fail "cyrus_server remote"; t_done; }
	RSEP=/
	imaps_config "$T/c.conf" "$T/sync.db" "$tl"
else
	tr=$(DOVECOT_EXTRA_CONF=$(method_conf dovecot) dovecot_tunnel remote .) ||
	    { t_fail "dovecot_tunnel remote"; t_done; }
	RSEP=.
	tunnel_config "$T/c.conf" "$T/sync.db" "$tl" "$tr"
fi
EPS=(--local "$(_t_endpoint local)" --remote "$(_t_endpoint remote)"
    --seps "/,$RSEP")

if ! "${DRIVE[@]}" init "${EPS[@]}" --seed "$SEED" --model "$T/model.0" \
    "${MAILBOXES[@]}" >"$T/init.out" 2>&1; then
	cat "$T/init.out" >&2
	t_fail "the first messages"
	t_done
fi
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "first sync"

idles()
{
	grep -c '^engine: idle,' "$1"
}

# quiet LOG WHAT: no ERROR or WARNING in LOG but flag conflicts (both
# sides changed a message), and after "---- run K: tunnels killed" (the
# crashes phase) a net's word that it lost its connection; the others
# shown.
quiet()
{
	awk '/^---- run [0-9]+ \(/ { t = 0 }
	    /^---- run [0-9]+: tunnels killed/ { t = 1; next }
	    /ERROR|WARNING/ && !/WARNING: Conflicting flag update/ &&
	    !(t && /^(local|remote)(\([^)]*\))?: (SSL )?ERROR: .*([Cc]onnection|[Bb]roken pipe|reset)/) {
		print
	    }' "$1" >"$1.news"
	t_expect_eq "$(wc -l <"$1.news")" 0 "$2"
	head -n 10 "$1.news" | sed 's/^/#   /'
}

# drove STATUS N NAME: the clients' drive of phase N ended with STATUS;
# what it says, or why it failed.
drove()
{
	if t_expect_eq "$1" 0 "$3: the clients' changes made"; then
		sed 's/^# /# '"$3"': /' "$T/drive$2.out" | grep '^#'
	else
		tail -n 5 "$T/drive$2.out" | sed 's/^/#   /'
	fi
}

# settled N NAME CHECK-OPTION...: once phase N's runs are over, servers
# and database as its changes say (chaosdrive.py check), and a one-shot
# run after that with nothing to do.
settled()
{
	local n=$1 name=$2
	shift 2

	if "${DRIVE[@]}" check "${EPS[@]}" --model "$T/model.$n" \
	    --db "$T/sync.db" "$@" "${MAILBOXES[@]}" >"$T/check$n.out" 2>&1
	then
		t_pass "$name: servers and database as the changes say"
	else
		t_fail "$name: servers and database as the changes say"
	fi
	sed "s/^/#   /" "$T/check$n.out" | head -n 60

	run_ours --config="$T/c.conf"
	t_expect_eq "$OURS_RC" 0 "$name: a one-shot run after it"
	t_hasnt "$(cat "$T/ours.err")" \
	    'Added|Removed|Updated|Created|ubscribe|WARNING|ERROR|Resuming' \
	    "$name: ... has nothing to do"
}

# phase N NAME OPTION...: one run in watch mode with the clients at work.
phase()
{
	local n=$1 name=$2 err=$T/phase$1.err pid rc i base
	shift 2

	"$INTERIMAP" --config="$T/c.conf" --debug "$@" </dev/null \
	    >"$T/phase$n.out" 2>"$err" &
	pid=$!
	t_track_pid "$pid"
	for ((i = 0; i < 600; i++)); do
		[ "$(idles "$err")" -ge 1 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$(idles "$err")" -lt 1 ]; then
		t_fail "$name: the first pass"
		tail -n 20 "$err" | sed 's/^/#   /'
		kill -KILL "$pid" 2>/dev/null
		return
	fi

	"${DRIVE[@]}" drive "${EPS[@]}" --seed $((SEED * 100 + n)) \
	    --seconds "$SECS" --pid "$pid" --model-in "$T/model.$((n - 1))" \
	    --model "$T/model.$n" "${MAILBOXES[@]}" >"$T/drive$n.out" 2>&1
	drove "$?" "$n" "$name"

	# A whole pass after the clients' last change.
	base=$(idles "$err")
	kill -HUP "$pid"
	for ((i = 0; i < 600; i++)); do
		[ "$(idles "$err")" -ge $((base + 2)) ] && break
		kill -0 "$pid" 2>/dev/null || break
		((i % 20 == 19)) && kill -HUP "$pid"
		sleep 0.1
	done
	t_expect_eq "$(($(idles "$err") >= base + 2))" 1 \
	    "$name: a whole pass after the last change"
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid"
	rc=$?
	t_expect_eq "$rc" 0 "$name: SIGTERM, exit 0"
	quiet "$err" "$name: no error or warning, but flag conflicts"
	t_log "$name: $(idles "$err") passes"

	settled "$n" "$name" --log "$err"
}

# True while processes of process group $1 still run (zombies do not
# count: a killed run's children wait for init to reap them).
group_alive()
{
	local pids

	pids=$(pgrep -d, -g "$1") || return 1
	ps -o stat= -p "$pids" | grep -qv '^Z'
}

# SIGKILL to every process of run $1's group but its Dovecot tunnels: our
# processes all die at once, and the servers see their connections close.
# (SIGKILLed in the middle of an APPEND, Dovecot's imap leaves a file that
# makes it refuse the next APPEND with [SERVERBUG], the clients' too:
# Dovecot's recovery, not ours.)
kill_ours()
{
	local p ours=()

	for p in $(pgrep -g "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = imap ] || ours+=("$p")
	done
	[ "${#ours[@]}" -gt 0 ] && kill -KILL "${ours[@]}" 2>/dev/null
}

# crashes N NAME: the clients at work while runs in watch mode are killed
# (SIGKILL) in the middle of their work and started again, one after
# another: the seed draws for each whether it runs with --watch=1 or
# --notify, how long it lives (0.01 to 1.99 s), and whether the kill
# takes priv alone (its children must then end by themselves), all our
# processes at once (a crash of the machine, as our side sees it), or
# first the run's Dovecot tunnels (the run reconnects, and 1.01 to 1.99 s
# later all our processes).  Then a one-shot run must finish what they
# began (resume), and the servers and database must be as the clients'
# changes say, as far as a killed run allows (chaosdrive.py check
# --crashed); a run after that has nothing to do.
crashes()
{
	local n=$1 name=$2 err=$T/phase$1.err k pid mode

	rm -f "$T/crash.stop" "$T/crash.pid"
	(
		RANDOM=$((SEED * 31 + n))
		k=0
		while [ ! -e "$T/crash.stop" ]; do
			k=$((k + 1))
			mode=--watch=1
			((RANDOM % 2)) && mode=--notify
			echo "---- run $k ($mode)" >>"$err"
			setsid "$INTERIMAP" --config="$T/c.conf" --debug $mode \
			    </dev/null >>"$T/phase$n.out" 2>>"$err" &
			pid=$!
			echo "$pid" >"$T/crash.pid"
			sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 9 + 1))"
			case $((RANDOM % 3)) in
			0)	kill -KILL "$pid" 2>/dev/null ;;
			1)	kill_ours "$pid" ;;
			2)	# The tunnels first (SIGTERM: SIGKILL would
				# test Dovecot's recovery, not ours): the run
				# reconnects.
				echo "---- run $k: tunnels killed" >>"$err"
				pkill -TERM -g "$pid" -x imap
				sleep "1.$((RANDOM % 10))$((RANDOM % 9 + 1))"
				kill_ours "$pid" ;;
			esac
			wait "$pid" 2>/dev/null
			echo "---- killed run $k: $?" >>"$err"
			# Its children, whichever way it died, end by themselves.
			for ((i = 0; i < 100; i++)); do
				group_alive "$pid" || break
				sleep 0.05
			done
			if group_alive "$pid"; then
				echo "---- run $k: processes left" >>"$err"
				kill -KILL -- "-$pid" 2>/dev/null
			fi
		done
	) &
	local killer=$!
	t_track_pid "$killer"

	"${DRIVE[@]}" drive "${EPS[@]}" --seed $((SEED * 100 + n)) \
	    --seconds "$SECS" --pidfile "$T/crash.pid" \
	    --model-in "$T/model.$((n - 1))" --model "$T/model.$n" \
	    "${MAILBOXES[@]}" >"$T/drive$n.out" 2>&1
	drove "$?" "$n" "$name"
	touch "$T/crash.stop"
	wait "$killer"
	t_log "$name: $(grep -c '^---- killed run' "$err") runs killed"
	t_expect_eq "$(grep -c '^---- run .*: processes left' "$err")" 0 \
	    "$name: no process outlives its killed run"
	# Flag conflicts may be ours: a STORE whose commit a kill prevented.
	quiet "$err" \
	    "$name: no error or warning in the killed runs, but flag conflicts"
	t_log "$name: tunnels killed in" \
	    "$(grep -c '^---- run [0-9]*: tunnels killed' "$err") runs," \
	    "$(grep -c ': connection lost; reconnecting' "$err") reconnections"

	run_ours --config="$T/c.conf"
	t_expect_eq "$OURS_RC" 0 "$name: a one-shot run after the last kill"
	cp "$T/ours.err" "$T/phase$n.resume.err"
	quiet "$T/phase$n.resume.err" \
	    "$name: ... with no error or warning, but flag conflicts"

	settled "$n" "$name" --crashed
}

if [ "${CONCURRENT_ONLY:-}" = crashes ]; then
	crashes 1 crashes
else
	phase 1 watch --watch=1
	phase 2 notify --notify --watch=2
	crashes 3 crashes
fi

t_done
