#!/bin/bash
#
# The connection's faults end to end, over TCP against scripted servers
# (net_fake_imap.py), with the timeouts shortened to 2 s by the test hook
# INTERIMAP_TEST_TIMEOUT: a server that accepts and says nothing (plain:
# no greeting; imaps: no TLS handshake), one that never answers LOGIN,
# one that stops in the middle of a FETCH answer (a stall), one that
# answers slowly but keeps sending (no stall), and a connection reset in
# the middle of the session.  Each fault is transient: a one-shot run
# ends with the net's error line naming what happened, and the net's
# EXIT_NET_LOST (t_expect_net_lost); nothing is left running.  No
# timing threshold: a run that hangs is killed at T_TIMEOUT and fails.

source "$SRCDIR/tests/lib/common.sh"
t_setup

FAKE=$SRCDIR/tests/integration/net_fake_imap.py
CONF=$T/interimap.conf
export FAKE_IMAP_LOG=$T/fake.log
T_TIMEOUT=120

# fake_tcp SCENARIO [CERTDIR]: a fake server on a port ($FPORT), one
# connection (IMAPS with CERTDIR's certificate).
fake_tcp()
{
	local i

	rm -f "$T/port"
	python3 "$FAKE" --tcp "$T/port" ${2:+--cert "$2"} "$1" \
	    2>>"$T/fake.err" &
	t_track_pid $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/port" ] && break
		sleep 0.05
	done
	FPORT=$(cat "$T/port")
}

# conf_tcp TYPE [EXTRA-REMOTE-LINES]: remote is the fake server.
conf_tcp()
{
	write_config "$CONF" <<EOF
[local]
type = tunnel
command = python3 $FAKE ok

[remote]
type = $1
host = localhost
port = $FPORT
STARTTLS = NO
username = user
password = secret
${2:-}
EOF
}

# run SCRIPT: $ERR, $OURS_RC, the fake's log in $FLOG.
run()
{
	: >"$FAKE_IMAP_LOG"
	INTERIMAP_TEST_TIMEOUT=2 INTERIMAP_TEST_ENGINE_SCRIPT=$1 \
	    run_ours --config="$CONF"
	ERR=$(cat "$T/ours.err")
	FLOG=$(cat "$FAKE_IMAP_LOG")
}

# lost WHAT REGEX: the run ended on remote's transient fault, said so,
# and left nothing behind.
lost()
{
	local left

	t_log "$1: $(grep 'remote: ERROR' <<<"$ERR" | head -n 1)"
	t_expect_net_lost "$OURS_RC" "$ERR" remote "$1"
	t_has "$ERR" "remote: ERROR: $2" "$1: the error names it"
	t_expect_eq "$(grep -c '^local: ERROR\|^engine' <<<"$ERR")" 0 \
	    "$1: nothing said about the others"
	left=$(ours_pids)
	if [ -n "$left" ]; then
		sleep 1
		left=$(ours_pids)
	fi
	t_expect_eq "$left" "" "$1: no process left"
}

# ---- the set-up phases -------------------------------------------------------------

fake_tcp silence
conf_tcp imap
run "remote noop"
lost "accepts, says nothing" "No greeting from the server within 2 s"

fake_tcp silence
conf_tcp imaps
run "remote noop"
lost "imaps: accepts, no handshake" \
    "TLS handshake did not complete within 2 s"

fake_tcp silent_login
conf_tcp imap
run "remote noop"
t_has "$FLOG" "#: LOGIN received" "no answer to LOGIN: LOGIN was sent"
lost "no answer to LOGIN" "No answer to LOGIN within 2 s"

# ---- the session -----------------------------------------------------------------------

fake_tcp stall_fetch
conf_tcp imap
run "remote fetch 1:* body"
t_has "$FLOG" "#: FETCH answered halfway" "stall: the FETCH half answered"
lost "stall mid-FETCH" \
    "The server sent nothing for 2 s while an answer was due"

fake_tcp reset_mid
conf_tcp imap
run "remote list"
t_has "$FLOG" "#: reset" "reset: the server reset the connection"
lost "connection reset mid-session" "read: Connection reset by peer"

# A server shut down in the middle of a big APPEND: it takes the start
# of the literal, says BYE and goes with the rest unread (a reset).  Our
# next write fails before the BYE is read; the error is its reason.
make_cert "$T/cert" localhost
for tls in plain tls; do
	if [ "$tls" = tls ]; then
		fake_tcp bye_mid_append "$T/cert"
		conf_tcp imaps "SSL_CAfile = $T/cert/cert.pem"
	else
		fake_tcp bye_mid_append
		conf_tcp imap
	fi
	sed -i "s|$FAKE ok|$FAKE big_fetch|" "$CONF"
	run "copy local INBOX INBOX"
	t_has "$FLOG" "#: APPEND begun" "BYE mid-APPEND ($tls): the APPEND began"
	lost "BYE mid-APPEND ($tls)" \
	    "Connection closed by the server: Server shutting down\.( \(then .*\))?"
	t_hasnt "$ERR" "Broken pipe" "BYE mid-APPEND ($tls): not our write's error"
done

# Slow but live: the answer trickles for longer than the bound in all,
# never pausing that long: the run succeeds.
fake_tcp slow_fetch
conf_tcp imap
run "remote fetch 1:* body"
t_expect_eq "$OURS_RC" 0 "slow server: exit 0"
t_has "$FLOG" "#: FETCH answered slowly" "slow server: the answer trickled"
t_has "$ERR" "remote: BODY uid=1 bytes=[0-9]+" "slow server: the body came"
t_has "$ERR" "remote: #1 FETCH OK fetched" "slow server: the FETCH done"

t_done
