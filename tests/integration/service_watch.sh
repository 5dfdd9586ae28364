#!/bin/bash
#
# interimap as a service, end to end: a --watch run with the real engine
# that stays up through lost connections and signals.
#  - a second instance on its database fails at once: exit 3, "database
#    is locked", nothing started;
#  - each side's tunnel killed in turn, five times: all three children
#    start again after the backoff (priv.c says why not the lost net
#    alone), and the new engine resumes from the database: a message
#    added on the remote server after each loss reaches the local one;
#    priv's and the engine's descriptors, and the processes, are as they
#    were;
#  - SIGHUP makes a run that would sleep an hour synchronise now;
#  - SIGTERM ends it: exit 0, one traffic summary per side.
#

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
DB=$T/sync.db
CONF=$T/service.conf
tunnel_config "$CONF" "$DB" "$tl" "$tr"

mkdir -p "$T/msgs"
msg()
{
	local f=$T/msgs/$1.eml

	printf 'From: service <svc@example.org>\r\nSubject: %s\r\n' "$1" >"$f"
	printf 'Message-ID: <%s@service.example.org>\r\n\r\n%s\r\n' "$1" \
	    "$1" >>"$f"
	echo "$f"
}

# Until local INBOX holds N messages (a bound of HELD_WAIT seconds).
local_has()
{
	local i

	for ((i = 0; i < HELD_WAIT * 4; i++)); do
		[ "$(mail_uids local INBOX 2>/dev/null | grep -c .)" -ge "$1" ] &&
		    return 0
		# A service that has ended will not do it.
		kill -0 "$SVC_PID" 2>/dev/null || return 1
		sleep 0.25
	done
	return 1
}

# The service is still running, or the test cannot go on.
alive_or_done()
{
	kill -0 "$SVC_PID" 2>/dev/null && return 0
	wait "$SVC_PID"
	t_fail "$1: the --watch run ended (exit $?): $(grep ERROR "$SVC_ERR")"
	t_done
}

# The service: our binary in the background, stdin /dev/null: SVC_PID,
# SVC_ERR.
start_svc()
{
	SVC_ERR=$T/svc.$RANDOM.err
	"$INTERIMAP" --config="$CONF" "$@" </dev/null >/dev/null \
	    2>"$SVC_ERR" &
	SVC_PID=$!
	t_track_pid "$SVC_PID"
}

# Waits for the service to end: SVC_RC.
end_svc()
{
	local i

	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		kill -0 "$SVC_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$SVC_PID" 2>/dev/null && kill -KILL "$SVC_PID"
	wait "$SVC_PID"
	SVC_RC=$?
}

tunnel_of()
{
	sed -n "s/^$1: tunnel: pid \\([0-9]*\\)\$/\\1/p" "$SVC_ERR" | tail -n 1
}

run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "a first run creates the database"

# ---- reconnections -----------------------------------------------------------

mail_add remote INBOX "$(msg m0)"
start_svc --watch=1 --debug
local_has 1 && t_pass "--watch: the first pass" ||
    t_fail "--watch: the first pass"
alive_or_done "--watch"

run_ours --config="$CONF" --debug
t_expect_eq "$OURS_RC" 3 "second instance: exit 3 (EXIT_DB)"
t_expect_match "$(cat "$T/ours.err")" "database is locked" \
    "second instance: the lock is named"
t_expect_eq "$(grep -c 'sandbox loaded\|>>> interimap\|tunnel: pid' \
    "$T/ours.err")" 0 "second instance: fails before starting anything"

fds=$(fd_count "$SVC_PID")
engine=$(child_titled "$SVC_PID" "interimap: engine")
efds=$(fd_count "$engine")
nproc=$(pgrep -P "$SVC_PID" | wc -l)
n=1
for side in remote local remote local remote; do
	alive_or_done "$side lost ($n)"
	lost=$(grep -c "^$side: connection lost; reconnecting in" "$SVC_ERR")
	kill -KILL "$(tunnel_of "$side")"
	wait_for "$SVC_ERR" "^$side: connection lost; reconnecting in" \
	    $((lost + 1))
	mail_add remote INBOX "$(msg "m$n")"
	n=$((n + 1))
	if local_has "$n"; then
		t_pass "$side lost ($n): the sync goes on over the new net"
	else
		t_fail "$side lost ($n): the sync goes on over the new net"
	fi
done
engine2=$(child_titled "$SVC_PID" "interimap: engine")
[ -n "$engine2" ] && [ "$engine2" != "$engine" ] &&
    t_pass "a new engine after a reconnection ($engine, now $engine2)" ||
    t_fail "a new engine after a reconnection ($engine, now $engine2)"
t_expect_eq "$(fd_count "$SVC_PID")" "$fds" \
    "priv's descriptors after five reconnections: as before"
t_expect_eq "$(fd_count "$engine2")" "$efds" \
    "the engine's descriptors after five reconnections: as the first's"
t_expect_eq "$(pgrep -P "$SVC_PID" | wc -l)" "$nproc" \
    "priv's children after five reconnections: as before"
t_expect_eq "$(zombies_of "$SVC_PID")" "" "no zombie"

kill -TERM "$SVC_PID"
end_svc
t_expect_eq "$SVC_RC" 0 "SIGTERM: exit 0"
for side in local remote; do
	t_expect_eq "$(grep -c "^$side: IMAP traffic (bytes): " "$SVC_ERR")" \
	    1 "one traffic summary for $side"
done
t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|broken IPC' \
    "$SVC_ERR")" 0 "no child reported as failed"
t_expect_eq "$(mail_dump local INBOX)" "$(mail_dump remote INBOX)" \
    "both servers agree"

# ---- SIGHUP: synchronise now ----------------------------------------------

# Added before the start: the first pass may come before a later one.
mail_add remote INBOX "$(msg hup0)"
start_svc --watch=3600
local_has $((n + 1)) && t_pass "--watch=3600: the first pass" ||
    t_fail "--watch=3600: the first pass"
alive_or_done "--watch=3600"
# Past the first pass: the engine sleeps for an hour now.
sleep 2
mail_add remote INBOX "$(msg hup1)"
kill -HUP "$SVC_PID"
local_has $((n + 2)) && t_pass "SIGHUP: synchronised at once" ||
    t_fail "SIGHUP: synchronised at once"
kill -TERM "$SVC_PID"
end_svc
t_expect_eq "$SVC_RC" 0 "SIGTERM after SIGHUP: exit 0"
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"

t_done
