#!/bin/bash
#
# --watch through connections cut in the middle of a message: a relay in
# front of a real Dovecot (relay_ctl.py cut) drops the link after an
# exact number of bytes, once.
#  - mid-APPEND: 1 MB into the 2 MB literal that copies a remote message
#    to the local server;
#  - mid-FETCH: 1 MB into the 2 MB body the remote server is sending.
# Each time the net says why, priv says it reconnects, all three
# children start again, and the new engine finishes the job from the
# database: the message exactly once on both servers, the database's
# mapping complete, and a one-shot run afterwards has nothing to do.
# SIGTERM ends the run with 0.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

RELAY=$SRCDIR/tests/integration/relay_ctl.py

# A message of about 2 MB (lines of 76 characters).
big()
{
	local f=$T/$1.eml i

	{
		printf 'From: big <big@example.org>\r\nSubject: %s\r\n' "$1"
		printf 'Message-ID: <%s@cut.example.org>\r\n\r\n' "$1"
		for ((i = 0; i < 27000; i++)); do
			printf '%s %05d %s\r\n' "$1" "$i" \
			    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu"
		done
	} >"$f"
	echo "$f"
}

# scenario NAME SIDE UP DOWN: SIDE's tunnel cut after UP bytes to its
# server or DOWN bytes from it; a big message new on the remote server.
scenario()
{
	local name=$1 side=$2 up=$3 down=$4 tl tr d conf db n pid

	tl=$(dovecot_tunnel "l$name") || { t_fail "$name: tunnels"; return; }
	tr=$(dovecot_tunnel "r$name") || { t_fail "$name: tunnels"; return; }
	d=$T/relay-$name
	mkdir -p "$d"
	conf=$T/$name.conf
	db=$T/$name.db
	tunnel_config "$conf" "$db" "$tl" "$tr"
	run_ours --config="$conf"
	t_expect_eq "$OURS_RC" 0 "$name: a first run creates the database"

	# Only now the relay: the first sync went through untouched.
	if [ "$side" = local ]; then
		tl="python3 $RELAY cut $up $down $d $tl"
	else
		tr="python3 $RELAY cut $up $down $d $tr"
	fi
	tunnel_config "$conf" "$db" "$tl" "$tr"
	mail_add "r$name" INBOX "$(big "$name")"

	"$INTERIMAP" --config="$conf" --watch=1 --debug </dev/null \
	    >/dev/null 2>"$T/$name.err" &
	pid=$!
	t_track_pid "$pid"
	if WAIT_PID=$pid wait_for "$T/$name.err" \
	    "^$side: connection lost; reconnecting in [0-9]+ s\$"; then
		t_pass "$name: priv reconnects"
	else
		t_fail "$name: priv reconnects ($(grep ERROR "$T/$name.err" |
		    tr '\n' ' '))"
	fi
	t_expect_match "$(cat "$d/cut" 2>/dev/null)" \
	    "^up $([ "$up" -gt 0 ] && echo "$up" || echo '[0-9]+') down $([ "$down" -gt 0 ] && echo "$down" || echo '[0-9]+')\$" \
	    "$name: the link was cut where asked"
	t_expect_match "$(grep -E "^$side(\\([^)]*\\))?: (SSL )?ERROR: " \
	    "$T/$name.err")" "." "$name: the net said why"
	t_log "$(grep -E "^$side(\\([^)]*\\))?: (SSL )?ERROR: |connection lost" \
	    "$T/$name.err")"
	# Both sides connected again, and a pass over after that.
	WAIT_PID=$pid wait_for "$T/$name.err" '^remote: connected$' 2 &&
	    WAIT_PID=$pid wait_for "$T/$name.err" '^engine: idle,' 1 &&
	    t_pass "$name: a pass ends on the new connections" ||
	    t_fail "$name: a pass ends on the new connections"
	kill -TERM "$pid"
	wait "$pid"
	t_expect_eq "$?" 0 "$name: SIGTERM: exit 0"

	t_expect_eq "$(mail_dump "l$name" INBOX)" "$(mail_dump "r$name" INBOX)" \
	    "$name: both servers agree"
	n=$(mail_uids "l$name" INBOX | grep -c .)
	t_expect_eq "$n" 1 "$name: the message once on the local server"
	t_expect_eq "$(mail_uids "r$name" INBOX | grep -c .)" 1 \
	    "$name: once on the remote server"
	t_expect_eq "$(sqlite3 "$db" 'SELECT count(*) FROM mapping')" 1 \
	    "$name: its mapping row"
	t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|broken IPC' \
	    "$T/$name.err")" 0 "$name: no child reported as failed"
	run_ours --config="$conf"
	t_expect_eq "$OURS_RC" 0 "$name: a one-shot run after it"
	t_expect_eq "$(grep -c 'Added\|Removed\|Update' "$T/ours.err")" 0 \
	    "$name: has nothing to do"
}

scenario append local 1000000 0
scenario fetch remote 0 1000000

t_expect_eq "$(ours_pids)" "" "nothing of ours left running"
t_done
