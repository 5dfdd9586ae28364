#!/bin/bash
#
# Hostile and broken servers (net_fake_imap.py, as the remote tunnel):
# garbage, silence, huge literal claims, endless lines, malformed
# LIST/STATUS/FETCH, a disconnect in the middle of a response, tags we
# never sent, BYE, EXPUNGE under QRESYNC, stray continuations.  Each run
# must end with a clear "remote: ERROR: ..." line, the right exit code
# (255 for protocol violations; for a lost connection or a silent
# server, a transient fault, the net's EXIT_NET_LOST: see
# t_expect_net_lost), no process killed by a signal, nothing left
# running, and no hang.  Each case runs twice: under the test client
# (INTERIMAP_TEST_ENGINE_SCRIPT: the one command the scenario strikes
# at), then against the real engine in its sandbox, a real
# synchronisation with a database of its own (its LIST, SELECT and FETCH
# meet the same servers).

source "$SRCDIR/tests/lib/common.sh"
t_setup

FAKE=$SRCDIR/tests/integration/net_fake_imap.py
# A run that hangs is killed (exit 124, not the code expected): with the
# timeouts at 2 s (INTERIMAP_TEST_TIMEOUT) nothing legitimate takes this
# long.
T_TIMEOUT=120
CONF=$T/interimap.conf

# hostile NAME SCENARIO SCRIPT CODE REGEX (CODE "lost": a transient fault)
# SCRIPT: the test client's (INTERIMAP_TEST_ENGINE_SCRIPT), or "-" for
# the real engine, a real synchronisation in its sandbox, with a new
# database each time (the servers' first LIST, SELECT and FETCH are where
# the scenarios strike).
hostile()
{
	local name=$1 scenario=$2 script=$3 code=$4 regex=$5 err left

	rm -f "$T/hostile.db"
	write_config "$CONF" <<EOF
database = $T/hostile.db

[local]
type = tunnel
command = python3 $FAKE ok

[remote]
type = tunnel
command = python3 $FAKE $scenario
EOF
	if [ "$script" = - ]; then
		name="$name (engine)"
		INTERIMAP_TEST_TIMEOUT=2 run_ours --config="$CONF"
	else
		INTERIMAP_TEST_TIMEOUT=2 INTERIMAP_TEST_ENGINE_SCRIPT=$script \
		    run_ours --config="$CONF"
	fi
	err=$(cat "$T/ours.err")
	t_log "$name: $(grep 'remote: ERROR' <<<"$err" | head -n 1)"
	if [ "$code" = lost ]; then
		t_expect_net_lost "$OURS_RC" "$err" remote "$name"
	else
		t_expect_eq "$OURS_RC" "$code" "$name: exit $code"
		t_expect_eq "$(grep -c 'killed by signal\|exited unexpectedly\|broken IPC\|PANIC at\|Sanitizer' <<<"$err")" 0 \
		    "$name: no process died of it"
	fi
	t_expect_match "$err" "(^|"$'\n'")remote(\\([^)]*\\))?: ERROR: $regex($|"$'\n'")" \
	    "$name: the error says what happened"
	t_expect_eq "$(grep -c '^local: ERROR\|^engine' <<<"$err")" 0 \
	    "$name: nothing said about the others"
	left=$(_t_marked_pids)
	if [ -n "$left" ]; then
		sleep 1
		left=$(_t_marked_pids)
	fi
	t_expect_eq "$left" "" "$name: no process left"
}

# both NAME SCENARIO SCRIPT CODE REGEX: the case under the test client,
# then against the real engine.
both()
{
	hostile "$1" "$2" "$3" "$4" "$5"
	hostile "$1" "$2" - "$4" "$5"
}

both "garbage greeting" garbage_greeting list 255 \
    'Protocol error: malformed tagged response: .*'
hostile "line without CRLF" no_crlf list 255 \
    'Protocol error: response line not terminated by CRLF'
both "NUL byte" nul_byte list 255 'Protocol error: NUL byte.*'
both "silence" silence list lost \
    'No greeting from the server within 2 s'
hostile "BYE greeting" bye_greeting list lost \
    'Server refused the connection: BYE Too many connections'
both "endless line" endless_line list 255 \
    'Protocol error: response longer than [0-9]+ bytes'
both "100 TB literal" huge_literal list 255 \
    'Protocol error: literal of 109951162777600 bytes is larger than the limit.*'
hostile "100 TB body" huge_body "remote fetch 1:* body" lost \
    'connection closed inside a literal.*'
t_expect_match "$(cat "$T/ours.err")" \
    'remote: ERROR: FETCH BODY\[\] of message 1 is 109951162777600 bytes, more than the limit of [0-9]+: skipped' \
    "100 TB body: the message is refused, not allocated"
hostile "100 TB body" huge_body - lost 'connection closed inside a literal.*'
both "malformed LIST" malformed_list list 255 \
    'Protocol error: malformed LIST response: .*'
both "malformed STATUS" malformed_status list 255 \
    'Protocol error: malformed STATUS response: .*'
both "malformed FETCH" malformed_fetch list 255 \
    'Protocol error: malformed FETCH response: .*'
both "disconnect mid-response" disconnect_mid list lost \
    'connection closed inside a literal.*'
both "unknown tag" wrong_tag list 255 \
    'Protocol error: unexpected tagged response "ZZ9999 OK".*'
both "BYE, then EOF" bye_mid list lost \
    'Connection closed by the server: server shutting down'
both "EXPUNGE with QRESYNC" expunge list 255 \
    'RFC 7162 violation! Got an EXPUNGE response with QRESYNC enabled\.'
both "stray continuation" unexpected_cont list 255 \
    'Protocol error: unexpected continuation request.*'
hostile "EOF after the greeting" close_after_greeting list lost \
    '(Connection closed by the server \(0 bytes read, got EOF\)|read: Connection reset by peer)'

# A mailbox of one message that claims 4,000,000,000 (EXISTS): the
# engine copies the one, and sizes nothing on the server's word (its
# mapping once reserved room for every message EXISTS announced: 48 GB).
# The local is a real Dovecot.
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
write_config "$CONF" <<EOF
database = $T/huge.db

[local]
type = tunnel
command = $tl

[remote]
type = tunnel
command = python3 $FAKE huge_exists
EOF
INTERIMAP_TEST_TIMEOUT=2 run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "EXISTS 4000000000: exit 0"
t_has "$(cat "$T/ours.err")" 'local\(INBOX\): Added 1 UID\(s\) 1 <- 1' \
    "EXISTS 4000000000: the one message copied"
t_expect_eq "$(mail_dump local INBOX | wc -l)" 1 \
    "EXISTS 4000000000: one message in the local INBOX"
t_hasnt "$(cat "$T/ours.err")" 'out of memory|exited unexpectedly|Sanitizer' \
    "EXISTS 4000000000: nothing sized on it"

t_done
