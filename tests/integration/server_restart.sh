#!/bin/bash
#
# --watch while the remote server goes away for 10 s: a real network
# Dovecot (IMAPS, COMPRESS=DEFLATE) stopped and started again.
#  - the stop is noticed (the net says the server closed the link, priv
#    says it reconnects), and connecting is tried again with a growing
#    backoff while the port refuses ("connection failed; reconnecting");
#  - changes made on both sides meanwhile (the local server is a tunnel,
#    still there; the remote store changed behind its stopped daemon)
#    are synchronised once the server is back, nothing lost, nothing
#    twice; the run never ended (same priv), exit 0 on SIGTERM.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
dovecot_server net || { t_fail "dovecot_server net"; t_done; }
DB=$T/sync.db
CONF=$T/restart.conf
write_config "$CONF" <<EOF
database = $DB

[local]
type = tunnel
command = $tl

[remote]
$(imaps_lines net)
compress = yes
EOF

mkdir -p "$T/msgs"
msg()
{
	local f=$T/msgs/$1.eml

	printf 'From: r <r@example.org>\r\nSubject: %s\r\n' "$1" >"$f"
	printf 'Message-ID: <%s@restart.example.org>\r\n\r\n%s\r\n' "$1" \
	    "$1" >>"$f"
	echo "$f"
}

mail_add local INBOX "$(msg l0)"
mail_add net INBOX "$(msg r0)"
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "a first run creates the database"

ERR=$T/watch.err
"$INTERIMAP" --config="$CONF" --watch=2 --debug </dev/null >/dev/null \
    2>"$ERR" &
PID=$!
t_track_pid "$PID"
WAIT_PID=$PID wait_for "$ERR" '^engine: idle,' ||
    t_fail "--watch: the first pass ends"
t_expect_match "$(grep '^remote: ' "$ERR" | head -n 40)" "COMPRESS" \
    "the remote link is compressed"

# ---- the server stops --------------------------------------------------------

_t_dovecot_stop "$DOVECOT_NET_DIR"
if WAIT_PID=$PID wait_for "$ERR" \
    '^remote: connection lost; reconnecting in [0-9]+ s$'; then
	t_pass "the server's stop is noticed"
else
	t_fail "the server's stop is noticed"
fi
WAIT_PID=$PID wait_for "$ERR" \
    '^remote: connection failed; reconnecting in [0-9]+ s$' &&
    t_pass "a refused connection is tried again" ||
    t_fail "a refused connection is tried again"
t_expect_match "$(grep -E '^remote: (SSL )?ERROR: ' "$ERR" | tail -n 1)" \
    "Connection refused" "the refusal is named"

# Changes on both sides while the remote server is away (its store is
# reached directly, without the daemon).
mail_add local INBOX "$(msg l1)"
mail_add net INBOX "$(msg r1)"
mail_store local INBOX 1 + '\Flagged'
sleep 10
t_expect_eq "$(kill -0 "$PID" 2>/dev/null && echo running)" running \
    "still running after 10 s without the server"
fails=$(grep -c '^remote: connection failed; reconnecting in' "$ERR")
t_log "connection attempts refused in 10 s: $fails; the waits:" \
    "$(sed -n 's/^remote: connection failed; reconnecting in \([0-9]*\) s$/\1/p' \
    "$ERR" | tr '\n' ' ')"
[ "$fails" -ge 2 ] && [ "$fails" -le 6 ] &&
    t_pass "the waits grow ($fails attempts in 10 s, not one a second)" ||
    t_fail "the waits grow ($fails attempts in 10 s, not one a second)"

# ---- the server is back -------------------------------------------------------

if TZ=$T_SRV_TZ dovecot -c "$DOVECOT_NET_DIR/dovecot.conf" \
    2>>"$DOVECOT_NET_DIR/start.err" &&
    _t_wait_greeting "$DOVECOT_NET_IMAP_PORT"; then
	t_pass "the server started again"
else
	t_fail "the server started again"
fi
synced()
{
	[ "$(mail_uids local INBOX | grep -c .)" -eq 4 ] &&
	    [ "$(mail_uids net INBOX | grep -c .)" -eq 4 ] &&
	    [ "$(mail_dump local INBOX)" = "$(mail_dump net INBOX)" ]
}
ok=0
for ((i = 0; i < 240; i++)); do
	synced && { ok=1; break; }
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.5
done
[ "$ok" = 1 ] && t_pass "the changes made meanwhile are synchronised" ||
    t_fail "the changes made meanwhile are synchronised"
t_expect_match "$(mail_dump net INBOX)" "Flagged" \
    "the flag set meanwhile too"

kill -TERM "$PID"
wait "$PID"
t_expect_eq "$?" 0 "SIGTERM: exit 0"
t_expect_eq "$(grep -c '^remote: IMAP traffic (bytes): ' "$ERR")" 1 \
    "one traffic summary for remote, over all its connections"
t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|broken IPC' \
    "$ERR")" 0 "no child reported as failed"
t_expect_eq "$(sqlite3 "$DB" 'SELECT count(*) FROM mapping')" 4 \
    "four mapping rows"
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "a one-shot run afterwards"
t_expect_eq "$(grep -c 'Added\|Removed\|Update' "$T/ours.err")" 0 \
    "has nothing to do"
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"
t_done
