#!/bin/bash
#
# priv speaks sd_notify(3) to a socket this test binds as systemd would
# ($NOTIFY_SOCKET, SO_PASSCRED: tests/lib/notify_listen.py):
#
#  - a held run (INTERIMAP_TEST_HOLD=1) says READY=1 once both servers are
#    connected, pings WATCHDOG=1 while it waits ($WATCHDOG_USEC), and
#    STOPPING=1 when it ends; every datagram comes from priv's PID (the
#    manager's NotifyAccess=main); no child and no tunnel command
#    inherits $NOTIFY_SOCKET or $WATCHDOG_*;
#  - an abstract socket ("@name") works the same, for a run that is not
#    held; no $WATCHDOG_USEC, no ping;
#  - a server that cannot be reached: STOPPING=1 and the failure, never
#    READY=1;
#  - a socket nobody listens on, or a name that is no socket, changes
#    nothing: the run synchronises and exits 0.
#
# The engine's IMSG_ENGINE_STATUS (STATUS= lines) comes with --watch;
# tests/unit/test_sdnotify.c checks the texts.

source "$SRCDIR/tests/lib/common.sh"
t_setup

LISTEN=$SRCDIR/tests/lib/notify_listen.py

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
tunnel_remote=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel"; t_done; }
CONF=$T/notify.conf
# The tunnel commands leave their environment where the test can read it.
write_config "$CONF" <<EOF
[local]
type = tunnel
command = env >$T/env.local; exec $tunnel_local

[remote]
type = tunnel
command = env >$T/env.remote; exec $tunnel_remote
EOF

printf 'From: a@example.net\nSubject: one\n\nbody one\n' >"$T/m1.eml"
printf 'From: b@example.net\nSubject: two\n\nbody two\n' >"$T/m2.eml"
printf 'From: c@example.net\nSubject: three\n\nbody three\n' >"$T/m3.eml"

# ---- helpers ---------------------------------------------------------------

# listen ADDRESS NAME: a listener writing to $T/NAME.log; LISTEN_PID.
listen()
{
	local i

	rm -f "$T/$2.log"
	python3 "$LISTEN" "$1" "$T/$2.log" 2>"$T/$2.listen.err" &
	LISTEN_PID=$!
	t_track_pid "$LISTEN_PID"
	for ((i = 0; i < 200; i++)); do
		[ -e "$T/$2.log" ] && return 0
		kill -0 "$LISTEN_PID" 2>/dev/null || break
		sleep 0.05
	done
	t_fail "listener on $1 did not start: $(cat "$T/$2.listen.err")"
	return 1
}

# The messages of log NAME without the PID column, watchdog pings out.
messages()
{
	cut -f2- "$T/$1.log" | grep -vx 'WATCHDOG=1'
}

# wait_for NAME REGEX [N]: until N (1) lines of $T/NAME.log match (or
# priv is gone).  Bounded so that a broken run fails instead of hanging.
wait_for()
{
	local i n=${3:-1}

	for ((i = 0; i < 600; i++)); do
		[ "$(grep -cE -- "$2" "$T/$1.log")" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# PIDs of the interimap children of PID (not its tunnels).
children_of()
{
	pgrep -x -P "$1" interimap | sort -n
}

# ---- a held run, path socket, watchdog -------------------------------------

mail_add local INBOX "$T/m1.eml"
listen "$T/notify.sock" held || t_done
rm -f "$T/hold.fifo" "$T/env.local" "$T/env.remote"
mkfifo "$T/hold.fifo"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 INTERIMAP_TEST_HOLD=1 \
    "$INTERIMAP" --config="$CONF" <"$T/hold.fifo" 2>"$T/held.err" &
HELD_PID=$!
t_track_pid "$HELD_PID"
exec 7>"$T/hold.fifo"

if wait_for held '	READY=1'; then
	t_pass "held run: READY=1"
else
	t_fail "held run: READY=1"
fi
t_expect_eq "$(messages held | head -n 1)" \
    "READY=1|STATUS=connected, syncing" \
    "held run: READY=1 first, with its status"
# Three pings at least: priv's loop wakes up for them while it waits.
if wait_for held '	WATCHDOG=1$' 3; then
	t_pass "held run: WATCHDOG=1 while waiting"
else
	t_fail "held run: WATCHDOG=1 while waiting"
fi

kids=$(children_of "$HELD_PID")
t_expect_eq "$(printf '%s\n' "$kids" | grep -c .)" 3 "held run: three children"
for k in $kids; do
	leaked=$(tr '\0' '\n' <"/proc/$k/environ" |
	    grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=')
	title=$(tr '\0' '\n' <"/proc/$k/cmdline" | head -n 1)
	t_expect_eq "$leaked" "" "held run: $title inherits none"
done
for side in local remote; do
	if [ ! -s "$T/env.$side" ]; then
		t_fail "held run: the $side tunnel command wrote its environment"
		continue
	fi
	t_expect_eq "$(grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' \
	    "$T/env.$side")" "" \
	    "held run: the $side tunnel command inherits none"
done

exec 7>&-
wait "$HELD_PID"
rc=$?
t_expect_eq "$rc" 0 "held run: exit 0"
kill "$LISTEN_PID" 2>/dev/null
wait "$LISTEN_PID" 2>/dev/null
t_expect_eq "$(messages held)" \
    "READY=1|STATUS=connected, syncing
STOPPING=1|STATUS=stopping" "held run: READY=1, then STOPPING=1, once each"
t_expect_eq "$(cut -f1 "$T/held.log" | sort -u)" "$HELD_PID" \
    "held run: every datagram from priv's PID"
t_expect_eq "$(mail_dump remote INBOX | wc -l)" 1 \
    "held run: the message is synchronised"

# ---- an abstract socket, a run that is not held ----------------------------

mail_add local INBOX "$T/m2.eml"
abstract=@interimap-test-notify-$$-$RANDOM
listen "$abstract" abstract || t_done
NOTIFY_SOCKET=$abstract run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "abstract socket: exit 0"
wait_for abstract 'STOPPING=1' || true
kill "$LISTEN_PID" 2>/dev/null
wait "$LISTEN_PID" 2>/dev/null
t_expect_eq "$(cut -f2- "$T/abstract.log")" \
    "READY=1|STATUS=connected, syncing
STOPPING=1|STATUS=stopping" "abstract socket: READY=1, STOPPING=1, no ping"
t_expect_eq "$(mail_dump remote INBOX | wc -l)" 2 \
    "abstract socket: the message is synchronised"

# ---- a server that cannot be reached: never READY=1 ------------------------

port=$(free_port)
write_config "$T/unreachable.conf" <<EOF
database = unreachable.db
[local]
type = tunnel
command = $tunnel_local

[remote]
type = imap
host = 127.0.0.1
port = $port
EOF
listen "$T/notify2.sock" unreachable || t_done
NOTIFY_SOCKET=$T/notify2.sock run_ours --config="$T/unreachable.conf"
t_expect_eq "$OURS_RC" 1 "unreachable server: exit 1"
wait_for unreachable 'STOPPING=1' || true
kill "$LISTEN_PID" 2>/dev/null
wait "$LISTEN_PID" 2>/dev/null
t_expect_eq "$(cut -f2- "$T/unreachable.log")" "STOPPING=1|STATUS=stopping" \
    "unreachable server: STOPPING=1 and no READY=1"

# ---- nobody listening; not a socket name -----------------------------------

mail_add local INBOX "$T/m3.eml"
NOTIFY_SOCKET=$T/nobody.sock WATCHDOG_USEC=1000 run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "nobody listening: exit 0"
t_expect_eq "$(mail_dump remote INBOX | wc -l)" 3 \
    "nobody listening: the message is synchronised"
NOTIFY_SOCKET=relative.sock run_ours --config="$CONF" --debug
t_expect_eq "$OURS_RC" 0 "a name that is no socket: exit 0"
t_expect_match "$(cat "$T/ours.err")" \
    "sd_notify: NOTIFY_SOCKET=relative.sock: not a socket name, ignored" \
    "a name that is no socket: said at --debug"

t_expect_eq "$(ours_pids)" "" "nothing left running"
t_done
