#!/bin/bash
#
# What priv does when a server cannot be reached or drops the
# connection, with and without --watch:
#  - a single run whose server drops the connection ends with exit 1 and
#    the net's own error line, never "exited unexpectedly" (the net's
#    EXIT_NET_LOST is priv's EXIT_FAIL), and nothing is tried again;
#  - in watch mode a permanent fault still ends the run: a server that
#    breaks the protocol (exit 255), a net killed by a signal (exit 4);
#  - in watch mode a connection that is refused is tried again after
#    1 s, then 2 s, 4 s...: the same net waits, READY, and gets its
#    stream once the server is there (a relay started late); priv's
#    descriptors do not grow with the attempts; the run then ends as
#    usual, with one traffic summary per side.
#
# A net that loses an established connection and is replaced:
# priv_respawn.sh.  The watch-mode runs here use the test engine
# (INTERIMAP_TEST_ENGINE_SCRIPT), which stays up as the engine's watch
# loop will.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

FAKE=$SRCDIR/tests/integration/net_fake_imap.py
RELAY=$SRCDIR/tests/integration/relay_ctl.py
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }
DB=$T/sync.db
CONF=$T/reconnect.conf
EXIT_CHILD=4

# conf REMOTE-LINES...
conf()
{
	{
		echo "database = $DB"
		printf '\n[local]\ntype = tunnel\ncommand = %s\n' "$tl"
		printf '\n[remote]\n'
		printf '%s\n' "$@"
	} | write_config "$CONF"
}

# ---- a single run: a dropped connection is the end --------------------------

conf "type = tunnel" "command = python3 $FAKE close_after_greeting"
run_ours --config="$CONF"
err=$(cat "$T/ours.err")
t_log "dropped: $(grep 'remote: ERROR' <<<"$err")"
t_expect_eq "$OURS_RC" 1 "single run, connection dropped: exit 1"
# The server's end seen by a read (EOF, or a reset), or by a write that
# came first (a slow net, as under ASan, writes its next command to the
# tunnel before it reads the end).
t_expect_match "$err" \
    "(^|"$'\n'")remote: ERROR: (Connection closed by the server|read: Connection reset by peer|write: Broken pipe)" \
    "single run, connection dropped: the net says what happened"
t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|status 5\|reconnecting' \
    <<<"$err")" 0 "single run, connection dropped: nothing else said, no retry"
t_expect_eq "$(ours_pids)" "" "single run, connection dropped: nothing left"

# ---- watch mode: permanent faults still end the run -----------------------

# The database a --watch run needs (the run before made it).
t_expect_eq "$(ls "$DB" 2>/dev/null)" "$DB" "the database is there"

conf "type = tunnel" "command = python3 $FAKE garbage_greeting"
INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" run_ours --config="$CONF" --watch
err=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 255 "--watch, protocol violation: exit 255"
t_expect_match "$err" "(^|"$'\n'")remote: ERROR: Protocol error: " \
    "--watch, protocol violation: the net says what happened"
t_expect_eq "$(grep -c 'reconnecting\|exited unexpectedly' <<<"$err")" 0 \
    "--watch, protocol violation: not tried again"

conf "type = tunnel" "command = $DOVECOT_REMOTE_TUNNEL"
if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch; then
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK'
	pid=$(child_titled "$HELD_PID" "interimap: net(remote)")
	kill -KILL "$pid"
	wait_held
	t_expect_eq "$HELD_RC" "$EXIT_CHILD" "--watch, net killed: exit 4"
	expect_line "$HELD_ERR" "ERROR: net(remote) killed by signal SIGKILL" \
	    "--watch, net killed: priv names it"
	t_expect_eq "$(grep -c reconnecting "$HELD_ERR")" 0 \
	    "--watch, net killed: not replaced"
else
	t_fail "--watch, net killed: children started"
	stop_held
fi

# ---- watch mode: refused, tried again, then the server is there -----------

port=$(free_port)
conf "type = imaps" "host = localhost" "port = $port" \
    "SSL_CAfile = $DOVECOT_REMOTE_CERT" "username = user" "password = pass"
refused="remote: ERROR: Can't connect to localhost:$port: Connection refused"

INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 1 "single run, refused: exit 1"
expect_line "$T/ours.err" "$refused" "single run, refused: the error"
t_expect_eq "$(grep -c reconnecting "$T/ours.err")" 0 \
    "single run, refused: not tried again"

if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch --debug
then
	net=$(child_titled "$HELD_PID" "interimap: net(remote)")
	wait_for "$HELD_ERR" '^remote: connection failed; reconnecting in'
	fds=$(fd_count "$HELD_PID")
	wait_for "$HELD_ERR" '^remote: connection failed; reconnecting in' 3
	t_expect_eq "$(fd_count "$HELD_PID")" "$fds" \
	    "refused again and again: priv's descriptors stay as they were"
	t_expect_eq "$(grep -cFx "$refused" "$HELD_ERR")" 3 \
	    "each attempt says why it failed"
	waits=$(sed -n 's/^remote: connection failed; reconnecting in \([0-9]*\) s$/\1/p' \
	    "$HELD_ERR" | head -n 3 | tr '\n' ' ')
	t_log "waits: $waits"
	t_expect_match "$waits" '^1 2 [345] $' \
	    "the waits double: 1 s, 2 s, then about 4 s"

	mkdir -p "$T/relay"
	# Not holding the held run's stdin open (fd 7).
	python3 "$RELAY" tcp "$port" "$DOVECOT_REMOTE_IMAPS_PORT" "$T/relay" \
	    7>&- &
	t_track_pid $!
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK' &&
	    t_pass "the server is there: connected, the session works" ||
	    t_fail "the server is there: connected, the session works"
	t_expect_eq "$(child_titled "$HELD_PID" "interimap: net(remote)")" \
	    "$net" "the net that waited got the stream (not a new one)"
	t_expect_eq "$(grep -c . "$T/relay/accepted" 2>/dev/null)" 1 \
	    "one connection through"
	t_expect_eq "$(grep -c 'started again' "$HELD_ERR")" 0 \
	    "no net replaced for a connect that failed"
	stop_held
	t_expect_eq "$HELD_RC" 0 "the run then ends as usual: exit 0"
	t_expect_eq "$(grep -c '^remote: IMAP traffic (bytes): ' "$HELD_ERR")" 1 \
	    "one traffic summary for remote"
	t_expect_eq "$(grep -c '^local: IMAP traffic (bytes): ' "$HELD_ERR")" 1 \
	    "one traffic summary for local"
	t_expect_eq "$(grep -v "^$refused\$" "$HELD_ERR" | grep -c ERROR)" 0 \
	    "no other error"
else
	t_fail "--watch, refused: children started"
	stop_held
fi
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"

t_done
