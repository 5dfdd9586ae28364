#!/bin/bash
#
# Waiting for changes through the net child, against Dovecot: IDLE (a
# message another session adds shows up as EXISTS while idling; DONE
# ends it) and NOTIFY SET STATUS (the STATUS of the watched mailboxes at
# once, and again when another session changes one).  And the idle
# probe: a READY connection left alone sends its own NOOP.

source "$SRCDIR/tests/lib/common.sh"
t_setup

CONF=$T/interimap.conf
LT=$(dovecot_tunnel loc)
RT=$(dovecot_tunnel srv)
write_config "$CONF" <<EOF
[local]
type = tunnel
command = $LT

[remote]
type = tunnel
command = $RT
EOF
printf 'From: a@example.org\r\nSubject: new\r\n\r\nnew\r\n' >"$T/msg"
mailbox_create srv other

# start SCRIPT: our binary in the background ($PID, output in $T/bg.err).
start()
{
	INTERIMAP_TEST_ENGINE_SCRIPT=$1 "$INTERIMAP" --config="$CONF" \
	    "${@:2}" </dev/null >/dev/null 2>"$T/bg.err" &
	PID=$!
	t_track_pid "$PID"
}

# until_line REGEX: waits (up to 30 s) for a line of $T/bg.err.
until_line()
{
	local i

	for ((i = 0; i < 300; i++)); do
		grep -qE -- "$1" "$T/bg.err" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---- IDLE ------------------------------------------------------------------------

start "remote select INBOX; wait; remote idle; pause 6; remote done; wait"
if until_line '^remote: #1 SELECT OK'; then
	sleep 1
	mail_add srv INBOX "$T/msg"
fi
wait "$PID"
rc=$?
err=$(cat "$T/bg.err")
cp "$T/bg.err" "$T/idle.log"
t_expect_eq "$rc" 0 "IDLE: exit 0"
t_expect_match "$err" $'(^|\n)remote: EXISTS 1\n(.*\n)*remote: #2 IDLE OK ' \
    "IDLE: the new message announced while idling, then IDLE done"

# ---- NOTIFY --------------------------------------------------------------------------

start "remote notify status personal INBOX other; wait; pause 6; remote noop; wait"
if until_line '^remote: #1 NOTIFY OK'; then
	mail_add srv other "$T/msg"
fi
wait "$PID"
rc=$?
err=$(cat "$T/bg.err")
t_expect_eq "$rc" 0 "NOTIFY: exit 0"
t_expect_match "$err" $'(^|\n)remote: STATUS other mask=0x[0-9a-f]+ UIDVALIDITY [0-9]+ UIDNEXT 1 ' \
    "NOTIFY SET STATUS: the mailboxes' STATUS at once"
t_expect_match "$err" $'(^|\n)remote: STATUS other mask=0x[0-9a-f]+ UIDVALIDITY [0-9]+ UIDNEXT 2 ' \
    "NOTIFY: the change another session made"

# ---- the idle probe ------------------------------------------------------------------

INTERIMAP_TEST_TIMEOUT=2 start "remote noop; wait; pause 4; remote noop; wait" \
    --debug
wait "$PID"
rc=$?
t_expect_eq "$rc" 0 "idle probe run: exit 0"
n=$(grep -c '^remote: C: [0-9]* NOOP$' "$T/bg.err")
if [ "$n" -ge 3 ]; then
	t_pass "idle for longer than the probe interval: our own NOOP ($n in all)"
else
	t_fail "no probe NOOP while idle ($n NOOPs)"
fi
t_expect_eq "$(grep -c '^remote: #[0-9]* NOOP OK' "$T/bg.err")" 2 \
    "the probes are not the engine's business"

t_done
