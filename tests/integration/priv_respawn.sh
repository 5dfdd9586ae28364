#!/bin/bash
#
# --watch: a net that loses its connection is not the end of the run.
# The net says why and exits with EXIT_NET_LOST (ipc/proc.h); priv says
# "<side>: connection lost; reconnecting in 1 s", asks the two others to
# leave, and after the wait starts all three children again (priv.c says
# why not the lost net alone), both sides connected anew.  Each side, in
# turn: its tunnel killed; then a TCP connection cut (reset) by a relay.
# Afterwards priv holds the same descriptors and no zombie, SIGTERM ends
# the run with exit 0, and each side has one traffic summary.
#
# The engine here is the test engine (INTERIMAP_TEST_ENGINE_SCRIPT): it
# runs its script again in each new generation.  service_watch.sh does
# the same with the real engine and real mail.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

RELAY=$SRCDIR/tests/integration/relay_ctl.py
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
dovecot_server net || { t_fail "dovecot_server net"; t_done; }
DB=$T/sync.db
CONF=$T/respawn.conf
tunnel_config "$CONF" "$DB" "$tl" "$tr"

run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "the first run creates the database"

# The tunnel of SIDE now: the last one priv started.
tunnel_of()
{
	sed -n "s/^$1: tunnel: pid \\([0-9]*\\)\$/\\1/p" "$HELD_ERR" | tail -n 1
}

# How many error lines the nets of SIDE had logged when priv said the
# N-th time that SIDE's connection was lost.
errors_before()
{
	awk -v side="$1" -v n="$2" '
	    index($0, side ": ERROR: ") == 1 ||
	    index($0, side ": SSL ERROR: ") == 1 { e++ }
	    index($0, side ": connection lost;") == 1 && ++k == n {
		print e + 0; exit }' "$HELD_ERR"
}

# The pids of priv's three children, sorted.
trio()
{
	local t

	for t in engine "net(local)" "net(remote)"; do
		child_titled "$HELD_PID" "interimap: $t"
	done | sort
}

# lost SIDE N G WHAT OLDTRIO: after the N-th loss of SIDE (the G-th of
# the run), three new children come up in place of OLDTRIO, and both
# sides are connected again (their G+1-th "connected").
lost()
{
	local side=$1 n=$2 g=$3 what=$4 old=$5 new s p

	# A net whose lost connection ends the run (EXIT_FAIL): nothing to
	# wait for.
	if ! WAIT_PID=$HELD_PID wait_for "$HELD_ERR" \
	    "^$side: connection lost; reconnecting in [0-9]+ s\$" "$n"; then
		t_fail "$what: the run goes on ($(grep ERROR "$HELD_ERR" |
		    tr '\n' ' '))"
		return 1
	fi
	t_pass "$what: priv says it reconnects"
	t_expect_eq "$(errors_before "$side" "$n")" "$n" \
	    "$what: the net said why, before priv"
	for s in local remote; do
		wait_for "$HELD_ERR" "^$s: connected\$" $((g + 1)) &&
		    t_pass "$what: $s connected again" ||
		    t_fail "$what: $s connected again"
	done
	new=$(trio)
	t_expect_eq "$(echo "$new" | grep -c .)" 3 \
	    "$what: three children, as before"
	for p in $old; do
		if echo "$new" | grep -qx "$p" || [ -e "/proc/$p" ]; then
			t_fail "$what: child $p replaced"
		else
			t_pass "$what: child $p replaced"
		fi
	done
}

# ---- tunnels killed ---------------------------------------------------------

if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch --debug
then
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK'
	fds=$(fd_count "$HELD_PID")
	old=$(trio)
	kill -KILL "$(tunnel_of remote)"
	lost remote 1 1 "remote tunnel killed" "$old"
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK' 2 &&
	    t_pass "remote tunnel killed: the new engine uses the new nets" ||
	    t_fail "remote tunnel killed: the new engine uses the new nets"

	old=$(trio)
	kill -KILL "$(tunnel_of local)"
	lost local 1 2 "local tunnel killed" "$old"
	t_expect_eq "$(grep -c '^local: connection lost; reconnecting in 1 s$' \
	    "$HELD_ERR")" 1 "each side has its own schedule (local: 1 s)"

	# The lost tunnels have been reaped; nothing else is open.
	t_expect_eq "$(zombies_of "$HELD_PID")" "" "no zombie left"
	t_expect_eq "$(pgrep -P "$HELD_PID" | wc -l)" 5 \
	    "priv's children: three of ours and two tunnels"
	t_expect_eq "$(fd_count "$HELD_PID")" "$fds" \
	    "priv's descriptors are as before the reconnections"

	kill -TERM "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 0 "SIGTERM after reconnections: exit 0"
	for side in local remote; do
		t_expect_eq "$(grep -c "^$side: IMAP traffic (bytes): " \
		    "$HELD_ERR")" 1 "one traffic summary for $side"
	done
	t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|status 5\|broken IPC' \
	    "$HELD_ERR")" 0 "no child reported as failed"
else
	t_fail "held --watch run: children started"
	stop_held
fi

# ---- a TCP connection reset ---------------------------------------------------

port=$(free_port)
mkdir -p "$T/relay"
python3 "$RELAY" tcp "$port" "$DOVECOT_NET_IMAPS_PORT" "$T/relay" &
t_track_pid $!
relay=$!
wait_for_file "$T/relay/listening"
write_config "$CONF" <<EOF
database = $DB

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = localhost
port = $port
SSL_CAfile = $DOVECOT_NET_CERT
username = user
password = pass
EOF

if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch --debug
then
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK'
	fds=$(fd_count "$HELD_PID")
	old=$(trio)
	kill -USR1 "$relay"
	lost remote 1 1 "TCP reset" "$old"
	t_expect_eq "$(grep -c . "$T/relay/accepted")" 2 \
	    "TCP reset: a second connection through the relay"
	t_expect_eq "$(fd_count "$HELD_PID")" "$fds" \
	    "TCP reset: priv's descriptors are as before"
	kill -TERM "$HELD_PID"
	wait_held
	t_expect_eq "$HELD_RC" 0 "TCP reset, then SIGTERM: exit 0"
	t_expect_eq "$(grep -c '^remote: IMAP traffic (bytes): ' "$HELD_ERR")" 1 \
	    "TCP reset: one traffic summary for remote"
else
	t_fail "held --watch run over TCP: children started"
	stop_held
fi
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"

t_done
