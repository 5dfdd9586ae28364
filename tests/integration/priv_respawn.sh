#!/bin/bash
#
# --watch: a net that loses its connection is replaced.  The net says why
# and exits with EXIT_NET_LOST (ipc/proc.h); priv says
# "<side>: connection lost; reconnecting in 1 s", starts a new net for
# that side only after the wait (the other children keep running), hands
# the engine its channel to it (IMSG_ENGINE_NET), and connects it once it
# is READY.  Each side, in turn: its tunnel killed; then a TCP connection
# cut (reset) by a relay.  Afterwards priv holds the same descriptors and
# no zombie, SIGTERM ends the run with exit 0, and each side has one
# traffic summary.
#
# Needs the nets' EXIT_NET_LOST (net/): with a net that exits EXIT_FAIL
# when its connection drops, the run ends there instead.  The engine
# here is the test engine (INTERIMAP_TEST_ENGINE_SCRIPT), which takes
# IMSG_ENGINE_NET and drops the channel: the new nets are only watched
# coming up, not used (tests/integration/service_watch.sh uses them).

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

# lost SIDE N WHAT OLDPID: after the N-th loss of SIDE, a new net comes
# up in place of OLDPID.
lost()
{
	local side=$1 n=$2 what=$3 old=$4 new

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
	wait_for "$HELD_ERR" \
	    "^net\\($side\\) started again \\(pid [0-9]+\\), its channel passed to the engine\$" \
	    "$n" && t_pass "$what: a new net, its channel to the engine" ||
	    t_fail "$what: a new net, its channel to the engine"
	new=$(sed -n "s/^net($side) started again (pid \\([0-9]*\\)).*/\\1/p" \
	    "$HELD_ERR" | tail -n 1)
	t_expect_eq "$(title_of "$new")" "interimap: net($side)" \
	    "$what: the new net is net($side)"
	[ -n "$old" ] && [ "$new" != "$old" ] && [ ! -e "/proc/$old" ] &&
	    t_pass "$what: the old net is gone" ||
	    t_fail "$what: the old net is gone ($old, $new)"
	wait_for "$HELD_ERR" "^$side: connected\$" $((n + 1)) &&
	    t_pass "$what: the new net got a stream" ||
	    t_fail "$what: the new net got a stream"
	t_expect_eq "$(children_of "$HELD_PID" | wc -l)" 3 \
	    "$what: three children, as before"
}

# ---- tunnels killed ---------------------------------------------------------

if INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" start_held --watch --debug
then
	wait_for "$HELD_ERR" '^remote: #1 NOOP OK'
	fds=$(fd_count "$HELD_PID")
	engine=$(child_titled "$HELD_PID" "interimap: engine")
	nlocal=$(child_titled "$HELD_PID" "interimap: net(local)")
	nremote=$(child_titled "$HELD_PID" "interimap: net(remote)")

	kill -KILL "$(tunnel_of remote)"
	lost remote 1 "remote tunnel killed" "$nremote"
	t_expect_eq "$(child_titled "$HELD_PID" "interimap: net(local)")" \
	    "$nlocal" "remote tunnel killed: net(local) untouched"
	t_expect_eq "$(child_titled "$HELD_PID" "interimap: engine")" \
	    "$engine" "remote tunnel killed: the engine untouched"

	kill -KILL "$(tunnel_of local)"
	lost local 1 "local tunnel killed" "$nlocal"
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
	nremote=$(child_titled "$HELD_PID" "interimap: net(remote)")
	kill -USR1 "$relay"
	lost remote 1 "TCP reset" "$nremote"
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
