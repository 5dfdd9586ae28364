#!/bin/bash
#
# The session and the command machinery against scripted servers
# (net_fake_imap.py) that do what Dovecot does not: pipelining proven by a
# server that answers nothing before three commands are in, answers out
# of order, synchronising literals (accepted and refused), AUTHENTICATE
# PLAIN with and without SASL-IR, LOGIN with a literal password,
# LOGINDISABLED, mechanism choice, capability checks with the
# reference's messages, PREAUTH without capabilities, [ALERT], LIST
# extended data, and over TCP: STARTTLS missing, PREAUTH in plain text,
# and bytes injected after STARTTLS's OK.

source "$SRCDIR/tests/lib/common.sh"
t_setup

FAKE=$SRCDIR/tests/integration/net_fake_imap.py
CONF=$T/interimap.conf
export FAKE_IMAP_LOG=$T/fake.log
PASSWORD='pa"ss w\rd'

# conf_tunnel SCENARIO [EXTRA-REMOTE-LINES]
conf_tunnel()
{
	write_config "$CONF" <<EOF
[local]
type = tunnel
command = python3 $FAKE ok

[remote]
type = tunnel
command = python3 $FAKE $1
username = user
password = $PASSWORD
${2:-}
EOF
}

# ---- pipelining ----------------------------------------------------------------

conf_tunnel pipeline
fake_run "remote list; remote noop; remote noop"
t_expect_eq "$OURS_RC" 0 "pipeline: exit 0"
t_has "$FLOG" "#: 3 commands received before any answer" \
    "pipeline: three commands in flight at once"
t_expect_eq "$(grep -o 'remote: #[0-9] [A-Z]* OK' <<<"$ERR" | tr '\n' ,)" \
    "remote: #1 LIST OK,remote: #2 NOOP OK,remote: #3 NOOP OK," \
    "pipeline: answered in order"

conf_tunnel reorder
fake_run "remote noop; remote noop"
t_expect_eq "$OURS_RC" 0 "reorder: exit 0"
t_expect_eq "$(grep -o 'remote: #[0-9] NOOP OK .*' <<<"$ERR" | tr '\n' ,)" \
    "remote: #1 NOOP OK first last,remote: #2 NOOP OK second first," \
    "tagged answers out of order: requests still answered in order"

# ---- synchronising literals ------------------------------------------------------

conf_tunnel sync_reject
fake_run 'remote append nosuch "" "" "Subject: a\n\nhello\n"; remote noop; remote append INBOX "\\Seen" "01-Jan-2020 00:00:00 +0000" "Subject: b\n\nhi\n"' \
    --debug
t_expect_eq "$OURS_RC" 0 "sync literals: exit 0"
t_has "$ERR" 'remote: C: 000001 APPEND nosuch \(\) \{21\}' \
    "without LITERAL+, a synchronising literal"
t_has "$ERR" 'remote: #1 APPEND NO \[TRYCREATE\] no such mailbox \{TRYCREATE \}' \
    "literal refused: the command fails with the server's answer"
t_has "$ERR" 'remote: #2 NOOP OK done' "refused literal: the next command goes on"
t_has "$ERR" 'remote: #3 APPEND OK \[APPENDUID 42 2\] appended \{APPENDUID 42 2\}' \
    "accepted literal: the message goes after the \"+\""
t_has "$FLOG" 'C: 000003 APPEND INBOX \(\\Seen\) "01-Jan-2020 00:00:00 \+0000" \{18\}Subject: b.*' \
    "the server got the flags, the date and the bytes"
t_hasnt "$FLOG" 'Subject: a' "the refused literal's bytes were never sent"

# ---- authentication ---------------------------------------------------------------

conf_tunnel plain_cont
fake_run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "PLAIN without SASL-IR: exit 0"
t_has "$FLOG" "#: PLAIN credentials ok" \
    "PLAIN without SASL-IR: the continuation carries the credentials"
t_has "$ERR" "remote: C: 000000 AUTHENTICATE PLAIN" \
    "PLAIN without SASL-IR: the command, no initial response"
t_hasnt "$ERR" 'remote: S: \+|AHVzZXIA|\[REDACTED\]' \
    "--debug: nothing of the exchange shown"
t_hasnt "$ERR" 'w\\rd' "--debug: no password"

fake_run "remote noop" --debug --debug
t_has "$ERR" "remote: C: AHVzZXIAcGEic3Mgd1xyZA==" \
    "--debug twice: the exchange is shown"

conf_tunnel plain_saslir
fake_run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "PLAIN with SASL-IR: exit 0"
t_has "$FLOG" "#: PLAIN credentials ok" "SASL-IR: credentials ok"
t_has "$ERR" 'remote: C: 000000 AUTHENTICATE PLAIN \[REDACTED\]' \
    "SASL-IR: the initial response redacted"
t_hasnt "$ERR" 'AHVzZXIA|w\\rd' "SASL-IR: no credentials in the log"

conf_tunnel login_quoted
fake_run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "LOGIN: exit 0"
t_has "$FLOG" "#: LOGIN credentials ok" \
    "LOGIN: the password quoted, \\ and \" escaped"
t_has "$ERR" 'remote: C: 000000 LOGIN \[REDACTED\]' "LOGIN redacted"
t_hasnt "$ERR" 'w\\rd|LOGIN user' "LOGIN: nothing else of it shown"
fake_run "remote noop" --debug --debug
t_has "$ERR" 'remote: C: 000000 LOGIN user "pa\\"ss w\\\\rd"' \
    "LOGIN with --debug twice: shown"

conf_tunnel logindisabled
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "LOGINDISABLED: exit 1"
t_has "$ERR" "remote: ERROR: Logins are disabled\." "LOGINDISABLED: message"
t_hasnt "$FLOG" "credentials" "LOGINDISABLED: no credentials sent"

conf_tunnel no_auth_mech "auth = CRAM-MD5"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "unsupported mechanism: exit 1"
t_has "$ERR" "remote: ERROR: Unsupported authentication mechanism: CRAM-MD5" \
    "unsupported mechanism: message"

conf_tunnel plain_saslir "auth = CRAM-MD5"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "no mechanism: exit 1"
t_has "$ERR" "remote: ERROR: Failed to choose an authentication mechanism" \
    "no mechanism: message"

conf_tunnel plain_saslir "auth = login"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 0 "auth = login (any case): exit 0"
t_has "$FLOG" "#: LOGIN credentials ok" "auth = login: LOGIN used"

# ---- capabilities ----------------------------------------------------------------

conf_tunnel preauth_nocaps
fake_run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "PREAUTH without capabilities: exit 0"
t_has "$ERR" "remote: C: 000000 CAPABILITY" \
    "PREAUTH without capabilities: CAPABILITY fetched first"

conf_tunnel not_imap4
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "not IMAP4rev1: exit 1"
t_has "$ERR" "remote: ERROR: Missing IMAP4rev1 CAPABILITY\.  Not an IMAP4 server\?" \
    "not IMAP4rev1: message"

conf_tunnel no_enable
fake_run "remote noop"
t_has "$ERR" "remote: ERROR: Server did not advertise ENABLE \(RFC 5161\) capability\." \
    "no ENABLE: message"
t_expect_eq "$OURS_RC" 1 "no ENABLE: exit 1"

conf_tunnel no_qresync_condstore
fake_run "remote noop"
t_has "$ERR" "remote: Server lacks QRESYNC and CONDSTORE: syncing with plain IMAP4rev1, every message's flags compared with those of the last sync" \
    "no QRESYNC nor CONDSTORE: synced plain, said"
t_expect_eq "$OURS_RC" 0 "no QRESYNC nor CONDSTORE: exit 0"

conf_tunnel not_enabled
fake_run "remote noop"
t_has "$ERR" "remote: ERROR: Couldn't ENABLE QRESYNC" \
    "QRESYNC not in ENABLED: message"

# Without LIST-STATUS, a STATUS per selectable mailbox once the LIST is
# answered (not for \Noselect dir; dir/gone refused with NO is left out),
# said once.
conf_tunnel no_liststatus
fake_run "remote list"
t_expect_eq "$OURS_RC" 0 "no LIST-STATUS: exit 0"
t_expect_eq "$(grep -E '^C: [0-9]+ (LIST|STATUS)' <<<"$FLOG" | cut -d' ' -f3-)" \
    "$(printf '%s\n' 'LIST "" * RETURN (SUBSCRIBED)' \
    'STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)' \
    'STATUS dir/gone (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)')" \
    "no LIST-STATUS: LIST without STATUS, then STATUS for the selectable ones"
t_has "$ERR" "remote: STATUS INBOX mask=0x7 UIDVALIDITY 42 UIDNEXT 2 HIGHESTMODSEQ 7 MESSAGES 0" \
    "no LIST-STATUS: the STATUS answer reaches the engine"
t_expect_match "$ERR" "remote: #1 LIST OK listed" \
    "no LIST-STATUS: one answer, OK although dir/gone's STATUS was refused"
t_has "$ERR" "remote: Server lacks LIST-STATUS: one STATUS command per mailbox" \
    "no LIST-STATUS: said"

# ---- what servers say ---------------------------------------------------------------

conf_tunnel alert
fake_run "remote list"
t_has "$ERR" "remote: \[ALERT\] the server says hello" "[ALERT] shown"

conf_tunnel childinfo
fake_run "remote list"
t_expect_eq "$OURS_RC" 0 "LIST-EXTENDED data (CHILDINFO, OLDNAME): accepted"
t_has "$ERR" 'remote: LIST foo delim=/ attrs=\(\\HasChildren\)' \
    "LIST with CHILDINFO"
t_has "$ERR" 'remote: LIST bar delim=/ attrs=\(\\NonExistent \\Subscribed\)' \
    "LIST with OLDNAME"

# ---- over TCP ------------------------------------------------------------------------

# fake_tcp SCENARIO [CERTDIR]: a fake server on a port ($FPORT).
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

conf_tcp()
{
	write_config "$CONF" <<EOF
[local]
type = tunnel
command = python3 $FAKE ok

[remote]
type = imap
host = localhost
port = $FPORT
username = user
password = $PASSWORD
${1:-}
EOF
}

fake_tcp no_starttls
conf_tcp
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "no STARTTLS: exit 1"
t_has "$ERR" "remote: ERROR: Server did not advertise STARTTLS capability\." \
    "no STARTTLS: refused"
t_hasnt "$FLOG" "credentials" "no STARTTLS: no credentials sent in clear"

fake_tcp preauth
conf_tcp
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "PREAUTH in plain text: exit 1"
t_has "$ERR" 'remote: ERROR: PREAUTH greeting on plaintext connection\? MiTM in action\? Aborting, set "STARTTLS = NO" to ignore\.' \
    "PREAUTH in plain text: the reference's message"

fake_tcp preauth
conf_tcp "STARTTLS = NO"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 0 "PREAUTH with STARTTLS = NO: accepted"

make_cert "$T/cert" localhost
fake_tcp starttls_inject "$T/cert"
conf_tcp "SSL_CAfile = $T/cert/cert.pem"
fake_run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "STARTTLS with injected bytes: the session goes on"
t_has "$ERR" "remote: WARNING: Truncating non-empty output buffer \(unauthenticated response injection\?\)" \
    "injected bytes: the reference's warning"
t_hasnt "$ERR" "ALERT\] injected" "injected bytes: never parsed"
t_has "$FLOG" "#: LOGIN credentials ok" \
    "after STARTTLS: capabilities fetched again, LOGIN over TLS"
t_has "$ERR" "remote: TLSv1\.[23] connection using .*" "the TLS session"

t_done
