#!/bin/bash
#
# --notify and [NOTIFICATIONOVERFLOW] (RFC 5465 5.8): a server that
# dropped events says so, and the events it lost are lost for good.  The
# reference ends the run; here the run goes on: the net ends its session
# (the notice of the overflow, then "connection lost; reconnecting"), all
# three children start again and the first pass on the new sessions
# looks at every mailbox, so a change made while the events were being
# dropped arrives anyway.  The overflow is injected by a relay in front
# of a real Dovecot (relay_ctl.py overflow), right after the server
# accepted NOTIFY SET; the interval is an hour, so nothing but the
# restart's pass can find the change.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

RELAY=$SRCDIR/tests/integration/relay_ctl.py
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
mkdir -p "$T/relay" "$T/msgs"
tunnel_config "$T/n.conf" "$T/sync.db" "$tl" "$tr"

msg()
{
	local f=$T/msgs/$1.eml

	printf 'From: o <o@example.org>\r\nSubject: %s\r\n' "$1" >"$f"
	printf 'Message-ID: <%s@overflow.example.org>\r\n\r\n%s\r\n' "$1" \
	    "$1" >>"$f"
	echo "$f"
}

mail_add remote INBOX "$(msg r0)"
run_ours --config="$T/n.conf"
t_expect_eq "$OURS_RC" 0 "a first run creates the database"

# From now on, the remote server is reached through the relay.
tunnel_config "$T/n.conf" "$T/sync.db" "$tl" \
    "python3 $RELAY overflow $T/relay $tr"
ERR=$T/notify.err
"$INTERIMAP" --config="$T/n.conf" --notify --watch=3600 --debug \
    </dev/null >/dev/null 2>"$ERR" &
PID=$!
t_track_pid "$PID"

if WAIT_PID=$PID wait_for "$ERR" \
    '^remote: ERROR: \[NOTIFICATIONOVERFLOW\] events dropped'; then
	t_pass "the overflow is reported, naming the code"
else
	t_fail "the overflow is reported, naming the code"
fi
t_expect_eq "$(cat "$T/relay/overflow" 2>/dev/null && echo sent)" sent \
    "the relay sent it after NOTIFY SET's OK"
# Meanwhile, a message the lost session would not have reported.
mail_add remote INBOX "$(msg r1)"
WAIT_PID=$PID wait_for "$ERR" \
    '^remote: connection lost; reconnecting in [0-9]+ s$' &&
    t_pass "the run goes on: a new session" ||
    t_fail "the run goes on: a new session"

has()
{
	[ "$(mail_uids local INBOX 2>/dev/null | grep -c .)" -ge "$1" ]
}
ok=0
for ((i = 0; i < 240; i++)); do
	has 2 && { ok=1; break; }
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.25
done
[ "$ok" = 1 ] && t_pass "the change made meanwhile arrives" ||
    t_fail "the change made meanwhile arrives"

# And the new session's events work: one more change, pushed.
WAIT_PID=$PID wait_for "$ERR" '^engine: idle,' 2 ||
    t_fail "the new session's first pass ends"
mail_add remote INBOX "$(msg r2)"
ok=0
for ((i = 0; i < 240; i++)); do
	has 3 && { ok=1; break; }
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.25
done
[ "$ok" = 1 ] && t_pass "the new session's NOTIFY delivers (interval 1 h)" ||
    t_fail "the new session's NOTIFY delivers (interval 1 h)"

kill -TERM "$PID"
wait "$PID"
t_expect_eq "$?" 0 "SIGTERM: exit 0"
t_expect_eq "$(mail_dump local INBOX)" "$(mail_dump remote INBOX)" \
    "both servers agree"
t_expect_eq "$(mail_uids local INBOX | grep -c .)" 3 "three messages, once"
t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|broken IPC' \
    "$ERR")" 0 "no child reported as failed"
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"
t_done
