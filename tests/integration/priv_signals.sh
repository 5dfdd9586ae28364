#!/bin/bash
#
# Signals (REFERENCE-BEHAVIOUR.md §6.9, improved) and the database lock of
# a run that stays up:
#  - who handles what: priv catches SIGHUP, SIGINT, SIGTERM and SIGCHLD
#    and ignores SIGPIPE; the children ignore SIGHUP, SIGINT, SIGTERM and
#    SIGPIPE (priv ends them through their channel);
#  - SIGHUP reopens the logfile (logrotate) and the run goes on; in watch
#    mode priv also asks the engine to synchronise (IMSG_ENGINE_WAKE),
#    never in a single run (the engine takes it only in watch mode);
#  - SIGTERM and SIGINT in the middle of a large synchronisation, with
#    the local server stalled in the middle of an APPEND (relay_ctl.py
#    gate): exit 0, resp. 1 and "Interrupted", nothing left running,
#    nothing half-written: the database is whole, the next run completes
#    the synchronisation exactly as an uninterrupted one would have;
#  - SIGTERM while priv is still connecting (a SOCKS proxy that never
#    answers) cuts the attempt short instead of waiting for its timeout;
#  - a second instance on the database of a --watch run fails at once,
#    exit 3, "database is locked", before starting anything.
#
# The watch-mode runs here use the test engine
# (INTERIMAP_TEST_ENGINE_SCRIPT), which stays up, as the engine's watch
# loop will; what the real engine does with IMSG_ENGINE_WAKE is its own
# business (tests/integration/service_watch.sh).

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

RELAY=$SRCDIR/tests/integration/relay_ctl.py
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)
DB=$T/sync.db
LOG=$T/interimap.log
CONF=$T/signals.conf
PLAIN=$T/plain.conf

SIGHUP=1 SIGINT=2 SIGPIPE=13 SIGTERM=15 SIGCHLD=17

# conf FILE [LOCAL-COMMAND [EXTRA-DEFAULT-LINES...]]
conf()
{
	local file=$1 lcmd=${2:-$tl}

	shift 2
	{
		echo "database = $DB"
		printf '%s\n' "$@"
		printf '\n[local]\ntype = tunnel\ncommand = %s\n' "$lcmd"
		printf '\n[remote]\ntype = tunnel\ncommand = %s\n' "$tr"
	} | write_config "$file"
}

conf "$CONF" "$tl" "logfile = $LOG"
conf "$PLAIN" "$tl"

# The database a --watch run needs.
run_ours --config="$PLAIN"
t_expect_eq "$OURS_RC" 0 "the first run creates the database"

# ---- who handles which signal -------------------------------------------

if start_held --debug; then
	for s in HUP INT TERM CHLD; do
		n=SIG$s
		sig_caught "$HELD_PID" "${!n}" &&
		    t_pass "priv catches SIG$s" || t_fail "priv catches SIG$s"
	done
	sig_ignored "$HELD_PID" "$SIGPIPE" &&
	    t_pass "priv ignores SIGPIPE" || t_fail "priv ignores SIGPIPE"
	for k in $(children_of "$HELD_PID"); do
		t=$(title_of "$k")
		for s in HUP INT TERM PIPE; do
			n=SIG$s
			sig_ignored "$k" "${!n}" &&
			    t_pass "$t ignores SIG$s" ||
			    t_fail "$t ignores SIG$s"
		done
	done

	# ---- SIGHUP: the logfile reopened, the run goes on -----------------

	kids=$(children_of "$HELD_PID")
	mv "$LOG" "$LOG.1"
	kill -HUP "$HELD_PID"
	# With a logfile, debug lines go there only.
	if wait_for "$LOG" ' SIGHUP: logfile reopened$'; then
		t_pass "SIGHUP: a new logfile, by the same name"
	else
		t_fail "SIGHUP: a new logfile, by the same name"
	fi
	t_expect_eq "$(grep -c 'SIGHUP' "$LOG.1")" 0 \
	    "SIGHUP: the rotated file has nothing of after the signal"
	t_expect_eq "$(grep -c 'engine asked' "$LOG")" 0 \
	    "SIGHUP: a single run's engine is not asked to synchronise"
	kill -HUP "$HELD_PID"
	wait_for "$LOG" ' SIGHUP: logfile reopened$' 2 &&
	    t_pass "SIGHUP again, nothing rotated: the same file goes on" ||
	    t_fail "SIGHUP again, nothing rotated: the same file goes on"
	t_expect_eq "$(children_of "$HELD_PID")" "$kids" \
	    "SIGHUP: the run goes on with the same children"
	stop_held
	t_expect_eq "$HELD_RC" 0 "SIGHUP: the run ends as usual, exit 0"
	t_expect_eq "$(grep -c 'ERROR\|broken IPC' "$HELD_ERR" "$LOG" |
	    awk -F: '{ n += $2 } END { print n }')" 0 "SIGHUP: no error"
	t_expect_eq "$(grep -c 'Cleaning up\.\.\.' "$LOG")" 1 \
	    "SIGHUP: the end of the run is in the new logfile"
else
	t_fail "held run: children started"
	stop_held
fi

# Without a logfile, SIGHUP has nothing to reopen and ends nothing.
CONF=$PLAIN
if start_held; then
	kill -HUP "$HELD_PID"
	sleep 0.2
	kill -0 "$HELD_PID" 2>/dev/null &&
	    t_pass "SIGHUP without a logfile: still running" ||
	    t_fail "SIGHUP without a logfile: still running"
	stop_held
	t_expect_eq "$HELD_RC" 0 "SIGHUP without a logfile: exit 0"
else
	t_fail "held run without a logfile: children started"
	stop_held
fi

# ---- a --watch run: SIGHUP wakes the engine; the database is locked -------

CONF=$T/signals.conf
rm -f "$LOG" "$LOG.1"
if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch --debug
then
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK' ||
	    t_log "$(tail -n 5 "$HELD_ERR")"
	kill -HUP "$HELD_PID"
	wait_for "$LOG" \
	    ' SIGHUP: logfile reopened, engine asked to synchronise$' &&
	    t_pass "--watch, SIGHUP: the engine is asked to synchronise" ||
	    t_fail "--watch, SIGHUP: the engine is asked to synchronise"

	# A second instance, one-shot or --watch: refused at once.  (Its
	# configuration has no logfile: all it says is on its stderr.)
	for mode in "" --watch=1; do
		what="second instance (${mode:-one-shot})"
		run_ours --config="$PLAIN" --debug $mode
		t_expect_eq "$OURS_RC" 3 "$what: exit 3 (EXIT_DB)"
		t_expect_match "$(cat "$T/ours.err")" "database is locked" \
		    "$what: the lock is named"
		t_expect_eq "$(grep -c \
		    'sandbox loaded\|>>> interimap\|tunnel: pid' \
		    "$T/ours.err")" 0 "$what: fails before starting anything"
	done
	t_expect_eq "$(children_of "$HELD_PID" | wc -l)" 3 \
	    "the --watch run is unaffected"

	kids=($(children_of "$HELD_PID"))
	kill -TERM "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 0 "--watch, SIGTERM: exit 0"
	t_expect_eq "$(grep -c ERROR "$HELD_ERR")" 0 "--watch, SIGTERM: no error"
	expect_gone=
	for k in "${kids[@]}"; do
		[ -e "/proc/$k" ] && expect_gone="$expect_gone $k"
	done
	t_expect_eq "$expect_gone" "" "--watch, SIGTERM: the children are gone"
else
	t_fail "held --watch run: children started"
	stop_held
fi

# ---- SIGTERM / SIGINT in the middle of a large synchronisation ------------

mkdir -p "$T/msgs"
files=()
for i in $(seq 1 600); do
	f=$T/msgs/$i.eml
	{
		printf 'From: signal test <sig@example.org>\r\n'
		printf 'Subject: message %s\r\n' "$i"
		printf 'Message-ID: <%s@signals.example.org>\r\n\r\n' "$i"
		head -c 1000 /dev/zero | tr '\0' 'x'
		printf '\r\n'
	} >"$f"
	files+=("$f")
done
mail_add_many remote INBOX "${files[@]}"
# One of local's own, unlike any of remote's (an identical message with
# the same date would pass for one an interrupted sync had copied).
printf 'From: signal test <sig@example.org>\r\nSubject: local\r\n\r\nl\r\n' \
    >"$T/msgs/local.eml"
mail_add local INBOX "$T/msgs/local.eml"

snap()
{
	rm -rf "$T/snap"
	mkdir -p "$T/snap"
	cp -a "$LDIR/home" "$T/snap/local"
	cp -a "$RDIR/home" "$T/snap/remote"
	cp -a "$DB" "$T/snap/sync.db"
}

restore()
{
	rm -rf "$LDIR/home" "$RDIR/home" "$DB" "$DB-journal"
	cp -a "$T/snap/local" "$LDIR/home"
	cp -a "$T/snap/remote" "$RDIR/home"
	cp -a "$T/snap/sync.db" "$DB"
}

state()
{
	echo "== INBOX"
	mail_dump "$1" INBOX
}

snap
run_ours --config="$PLAIN"
t_expect_eq "$OURS_RC" 0 "uninterrupted: exit 0"
expect=$(state local)
t_expect_eq "$(state remote)" "$expect" "uninterrupted: both sides agree"
t_expect_eq "$(grep -vc '^==' <<<"$expect")" 601 "uninterrupted: 601 messages"

# The interrupted runs must not be mistaken for one that had finished:
# the gate stalls the local server after 300 kB of the 660 kB of APPENDs.
for sig in TERM INT; do
	restore
	rm -rf "$T/gate"
	mkdir -p "$T/gate"
	conf "$T/gated.conf" "python3 $RELAY gate 300000 $T/gate $tl"
	"$INTERIMAP" --config="$T/gated.conf" </dev/null \
	    >"$T/sig.out" 2>"$T/sig.err" &
	pid=$!
	t_track_pid "$pid"
	if wait_for_file "$T/gate/paused"; then
		t_pass "SIG$sig: the local server stalls in the middle"
	else
		t_fail "SIG$sig: the local server stalls in the middle"
	fi
	kill "-$sig" "$pid"
	# A second signal, once the first is taken: no more waiting for
	# the stalled server, and the outcome is the first one's.
	if [ "$sig" = INT ]; then
		wait_for "$T/sig.err" '^Interrupted$'
		kill -TERM "$pid" 2>/dev/null
	fi
	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	if [ "$sig" = TERM ]; then
		t_expect_eq "$rc" 0 "SIGTERM: exit 0"
		t_expect_eq "$(grep -c 'ERROR\|Interrupted' "$T/sig.err")" 0 \
		    "SIGTERM: nothing said but the traffic"
	else
		t_expect_eq "$rc" 1 "SIGINT: exit 1"
		t_expect_eq "$(grep -c '^Interrupted$' "$T/sig.err")" 1 \
		    "SIGINT: 'Interrupted'"
		t_expect_eq "$(grep -c ERROR "$T/sig.err")" 0 \
		    "SIGINT: no error"
	fi
	t_expect_eq "$(grep -c 'killed by signal\|exited unexpectedly\|did not exit' \
	    "$T/sig.err")" 0 "SIG$sig: no child reported as failed"
	t_expect_eq "$(ours_pids)" "" "SIG$sig: nothing of ours left running"
	t_expect_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok \
	    "SIG$sig: the database is whole"
	t_expect_eq "$(ls "$DB-journal" 2>/dev/null)" "" \
	    "SIG$sig: no transaction left open (no hot journal)"
	n=$(sqlite3 "$DB" 'SELECT count(*) FROM mapping')
	t_log "SIG$sig: $n mapping rows committed before the signal"
	if [ "$n" -lt 601 ]; then
		t_pass "SIG$sig: the run was cut short ($n of 601 mapped)"
	else
		t_fail "SIG$sig: the run was cut short ($n of 601 mapped)"
	fi
	touch "$T/gate/open"
	run_ours --config="$PLAIN"
	t_expect_eq "$OURS_RC" 0 "SIG$sig: the next run exits 0"
	t_expect_eq "$(state local)" "$expect" \
	    "SIG$sig: then local holds exactly what it should"
	t_expect_eq "$(state remote)" "$expect" \
	    "SIG$sig: and remote too, nothing duplicated"
done

# ---- SIGTERM while connecting -----------------------------------------------

# A SOCKS proxy that accepts and never says a word: the negotiation would
# wait a minute; SIGTERM ends it now.
mkdir -p "$T/mute"
mute_port=$(free_port)
python3 -c '
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
open(os.path.join(sys.argv[2], "listening"), "w").close()
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    open(os.path.join(sys.argv[2], "accepted"), "a").write("conn\n")
' "$mute_port" "$T/mute" &
t_track_pid $!
{
	echo "database = $DB"
	printf '\n[local]\ntype = tunnel\ncommand = %s\n' "$tl"
	printf '\n[remote]\ntype = imaps\nhost = imap.example.org\n'
	printf 'port = 993\nproxy = socks5h://127.0.0.1:%s\n' "$mute_port"
	printf 'username = u\npassword = p\n'
} | write_config "$T/mute.conf"
wait_port "$mute_port"
"$INTERIMAP" --config="$T/mute.conf" </dev/null >"$T/mute.out" \
    2>"$T/mute.err" &
pid=$!
t_track_pid "$pid"
for ((i = 0; i < HELD_WAIT * 20; i++)); do
	[ "$(grep -c . "$T/mute/accepted" 2>/dev/null)" -ge 2 ] && break
	sleep 0.05
done
# The first connection was wait_port's.
t_expect_eq "$(grep -c . "$T/mute/accepted" 2>/dev/null)" 2 \
    "the proxy is being waited for"
kill -TERM "$pid"
for ((i = 0; i < HELD_WAIT * 20; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
wait "$pid"
t_expect_eq "$?" 0 "SIGTERM while connecting: exit 0"
# The net asks the proxy (priv only connected): it leaves at priv's
# IMSG_SHUTDOWN like at any other time, nothing to say but the traffic.
t_expect_eq "$(grep -c 'ERROR\|killed\|exited unexpectedly' "$T/mute.err")" 0 \
    "SIGTERM while connecting: the negotiation was cut short, quietly"
t_expect_eq "$(ours_pids)" "" "SIGTERM while connecting: nothing left"

t_done
