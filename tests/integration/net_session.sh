#!/bin/bash
#
# Sessions with real Dovecot servers, driven by the test engine
# (INTERIMAP_TEST_ENGINE_SCRIPT): tunnel (PREAUTH), IMAP with STARTTLS,
# IMAPS, COMPRESS=DEFLATE on and off (and what the traffic summary says),
# AUTHENTICATE PLAIN with SASL-IR, without it (continuation), LOGIN,
# synchronising literals against a server without LITERAL+, a server
# without LIST-STATUS (a STATUS per mailbox), and a wrong password (a clear
# error, exit 1, the database untouched).

source "$SRCDIR/tests/lib/common.sh"
t_setup

CONF=$T/interimap.conf
LT=$(dovecot_tunnel loc)
dovecot_server srv .
# The same server without SASL-IR, LITERAL+ and COMPRESS (and STATUS=SIZE
# etc. that we don't use).
DOVECOT_EXTRA_CONF='imap_capability = IMAP4rev1 ENABLE IDLE UNSELECT UIDPLUS LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC MULTIAPPEND NAMESPACE CHILDREN' \
    dovecot_server bare
DOVECOT_EXTRA_CONF='imap_capability = IMAP4rev1 ENABLE IDLE UNSELECT UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC MULTIAPPEND' \
    dovecot_server nostatus

# conf REMOTE-LINES...: local is the tunnel, remote as given.
conf()
{
	{
		printf '[local]\ntype = tunnel\ncommand = %s\n\n[remote]\n' "$LT"
		printf '%s\n' "$@"
	} | write_config "$CONF"
}

run()
{
	local script=$1

	shift
	INTERIMAP_TEST_ENGINE_SCRIPT=$script run_ours --config="$CONF" "$@"
	ERR=$(cat "$T/ours.err")
	RUNS=$((${RUNS:-0} + 1))
	cp "$T/ours.err" "$T/run$RUNS.log"
}

mailbox_create srv 'a b'
mailbox_create srv 'a b.c'

# ---- tunnel: PREAUTH -----------------------------------------------------------

conf "type = tunnel" "command = $DOVECOT_SRV_TUNNEL"
run "local list; remote list" --debug
t_expect_eq "$OURS_RC" 0 "tunnels: exit 0"
t_has "$ERR" 'local: S: \* PREAUTH \[CAPABILITY IMAP4rev1 .*' \
    "tunnel: PREAUTH greeting"
t_has "$ERR" "local: C: 000000 ENABLE QRESYNC" \
    "tunnel: straight to ENABLE QRESYNC, no CAPABILITY, no login"
t_has "$ERR" 'remote: LIST a b\.c delim=\. attrs=\(\)' \
    "tunnel: LIST items (a name with a space)"
t_has "$ERR" 'remote: STATUS a b mask=0x7 UIDVALIDITY [0-9]+ UIDNEXT 1 HIGHESTMODSEQ [0-9]+ MESSAGES 0' \
    "tunnel: LIST-STATUS items"
t_has "$ERR" 'remote: C: 000001 LIST "" \* RETURN \(SUBSCRIBED STATUS \(UIDVALIDITY UIDNEXT HIGHESTMODSEQ\)\)' \
    "the LIST command"
t_has "$ERR" "local: C: 000002 LOGOUT" "LOGOUT at the end"
t_has "$ERR" "local: IMAP traffic \(bytes\): recv [0-9.K]+ sent [0-9]+" \
    "tunnel: summary, no compression"

# ---- IMAP + STARTTLS, PLAIN with SASL-IR, COMPRESS (remote default) -------------

conf "type = imap" "host = localhost" "port = $DOVECOT_SRV_IMAP_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_SRV_CERT"
run "remote list" --debug
t_expect_eq "$OURS_RC" 0 "imap+STARTTLS: exit 0"
t_has "$ERR" "remote: C: 000000 STARTTLS" "STARTTLS first"
t_has "$ERR" "remote: C: 000001 CAPABILITY" "capabilities again after TLS"
t_has "$ERR" 'remote: C: 000002 AUTHENTICATE PLAIN \[REDACTED\]' \
    "AUTHENTICATE PLAIN with an initial response (SASL-IR), redacted"
t_has "$ERR" "remote: C: 000003 ENABLE QRESYNC" "then ENABLE QRESYNC"
# COMPRESS right behind the session's first command, not a round trip
# before it.
t_has "$ERR" 'remote: C: 000004 LIST .*' "the first command"
t_has "$ERR" "remote: C: 000005 COMPRESS DEFLATE" \
    "COMPRESS DEFLATE (the remote default), behind it"
t_has "$ERR" "remote: COMPRESS=DEFLATE active" "COMPRESS answered OK"
t_has "$ERR" "remote: C: 000006 LOGOUT" "what follows goes compressed"
t_has "$ERR" 'remote: READY caps=0x[0-9a-f]+ compressed' "compressed"
t_has "$ERR" 'remote: IMAP traffic \(bytes\): recv [0-9.K]+ \(compr\. [0-9.K]+, factor [0-9.]+\) sent [0-9.K]+ \(compr\. [0-9.K]+, factor [0-9.]+\)' \
    "the summary shows the compression"
t_hasnt "$ERR" "AHVzZXIA|cGFzcw" "no credentials in the log"

run "remote list" --debug --debug
t_has "$ERR" 'remote: C: 000002 AUTHENTICATE PLAIN AHVzZXIAcGFzcw==' \
    "--debug twice: the credentials are shown"

run "remote list" -q
t_expect_eq "$OURS_RC" 0 "-q: exit 0"
t_hasnt "$ERR" "IMAP traffic" "-q: no traffic summary"

# ---- IMAPS, compress = NO -----------------------------------------------------------

conf "type = imaps" "host = localhost" "port = $DOVECOT_SRV_IMAPS_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_SRV_CERT" \
    "compress = NO"
run "remote list" --debug
t_expect_eq "$OURS_RC" 0 "imaps: exit 0"
t_has "$ERR" 'remote: S: \* OK \[CAPABILITY .*\] Dovecot .* ready\.' \
    "imaps: the greeting came over TLS"
t_hasnt "$ERR" "STARTTLS$|COMPRESS DEFLATE" "imaps: no STARTTLS, no COMPRESS"
t_has "$ERR" 'remote: READY caps=0x[0-9a-f]+' "imaps: not compressed"
t_has "$ERR" 'remote: IMAP traffic \(bytes\): recv [0-9.K]+ sent [0-9.K]+' \
    "compress = NO: no compression in the summary"

# compress = YES on local: the tunnel has no COMPRESS, nothing happens.
{
	printf '[local]\ntype = imap\nhost = localhost\nport = %s\n' \
	    "$DOVECOT_SRV_IMAP_PORT"
	printf 'username = user\npassword = pass\nSSL_CAfile = %s\n' \
	    "$DOVECOT_SRV_CERT"
	printf 'compress = YES\n\n[remote]\ntype = tunnel\ncommand = %s\n' "$LT"
} | write_config "$CONF"
run "local list"
t_expect_eq "$OURS_RC" 0 "local with compress = YES: exit 0"
t_has "$ERR" 'local: READY caps=0x[0-9a-f]+ compressed' \
    "local with compress = YES: compressed"

# ---- LOGIN -------------------------------------------------------------------------

conf "type = imaps" "host = localhost" "port = $DOVECOT_SRV_IMAPS_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_SRV_CERT" \
    "auth = LOGIN PLAIN"
run "remote noop" --debug
t_expect_eq "$OURS_RC" 0 "auth = LOGIN: exit 0"
t_has "$ERR" 'remote: C: 000000 LOGIN \[REDACTED\]' "auth = LOGIN: LOGIN, redacted"
t_hasnt "$ERR" 'LOGIN user|pass$' "LOGIN: no credentials in the log"

# ---- no SASL-IR, no LITERAL+ ------------------------------------------------------------

conf "type = imap" "host = localhost" "port = $DOVECOT_BARE_IMAP_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_BARE_CERT"
run 'remote append INBOX "\\Flagged" "05-May-2021 10:11:12 +0000" "Subject: sync\n\nliteral\n"; remote append INBOX "" "" "Subject: two\n\n\n"' \
    --debug
t_expect_eq "$OURS_RC" 0 "no SASL-IR, no LITERAL+: exit 0"
t_has "$ERR" "remote: C: 000002 AUTHENTICATE PLAIN" \
    "without SASL-IR: AUTHENTICATE PLAIN, the response after the \"+\""
t_hasnt "$ERR" 'remote: S: \+ $' "the continuation of the exchange is not shown"
t_has "$ERR" 'remote: C: 000004 APPEND INBOX \(\\Flagged\) "05-May-2021 10:11:12 \+0000" \{26\}' \
    "without LITERAL+: a synchronising literal"
t_has "$ERR" 'remote: S: \+ OK' "Dovecot's continuation"
t_has "$ERR" 'remote: #1 APPEND OK \[APPENDUID [0-9]+ 1\] .*' "APPEND accepted"
t_has "$ERR" 'remote: #2 APPEND OK \[APPENDUID [0-9]+ 2\] .*' \
    "the next command after the literal"
dump=$(mail_dump bare INBOX)
t_expect_eq "$(wc -l <<<"$dump")" 2 "two messages arrived"
t_expect_match "$dump" \
    "(^|"$'\n'")$(printf 'Subject: sync\r\n\r\nliteral\r\n' | sha256sum |
    cut -d' ' -f1) "'\\Flagged 05-May-2021 10:11:12 \+0000' \
    "the first one byte-exact, with its flag and date"

# ---- without LIST-STATUS: one STATUS per mailbox ---------------------------------------
# (Dovecot never says LOGINDISABLED on loopback: net_protocol.sh has it.)

conf "type = imaps" "host = localhost" "port = $DOVECOT_NOSTATUS_IMAPS_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_NOSTATUS_CERT"
run "remote list"
t_expect_eq "$OURS_RC" 0 "no LIST-STATUS: exit 0"
t_has "$ERR" 'remote: Server lacks LIST-STATUS: one STATUS command per mailbox' \
    "no LIST-STATUS: said"
t_expect_match "$ERR" 'remote: STATUS INBOX mask=0x7 UIDVALIDITY [0-9]+ UIDNEXT 1 HIGHESTMODSEQ [0-9]+' \
    "no LIST-STATUS: INBOX's STATUS from the STATUS command"

# ---- the password is gone from net's memory once used -----------------------------

# How many times STRING occurs in the readable memory of PID.
mem_count()
{
	python3 - "$1" "$2" <<'EOF'
import sys
pid, needle = sys.argv[1], sys.argv[2].encode()
n = 0
with open(f"/proc/{pid}/maps") as maps, \
        open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if perms[0] != "r" or line.rstrip().endswith("[vvar]"):
            continue
        lo, hi = (int(x, 16) for x in addr.split("-"))
        try:
            mem.seek(lo)
            n += mem.read(hi - lo).count(needle)
        except (OSError, ValueError, OverflowError):
            pass
print(n)
EOF
}

# held_scan WHAT: a held run of $CONF (the test client's NOOP on the
# remote, once logged in); priv must hold the password (else the scan
# proves nothing), and HELD gets, for each net(remote), how many plain
# and base64 copies it holds ("P/B", space before each).  The run ends
# well.
held_scan()
{
	local what=$1 nets=${2:-1} i k n pid

	rm -f "$T/hold"
	mkfifo "$T/hold"
	INTERIMAP_TEST_HOLD=1 INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" \
	    "$INTERIMAP" --config="$CONF" <"$T/hold" 2>"$T/hold.err" &
	pid=$!
	t_track_pid "$pid"
	exec 7>"$T/hold"
	for ((i = 0; i < 600; i++)); do
		grep -q 'remote: #1 NOOP OK' "$T/hold.err" && break
		sleep 0.05
	done
	# Every net(remote) titled (under load, one may not be yet).
	for ((i = 0; i < 100; i++)); do
		n=0
		for k in $(pgrep -P "$pid"); do
			[ "$(tr '\0' '\n' <"/proc/$k/cmdline" | head -n 1)" = \
			    "interimap: net(remote)" ] && n=$((n + 1))
		done
		[ "$n" -ge "$nets" ] && break
		sleep 0.05
	done
	HELD=""
	for k in $(pgrep -P "$pid"); do
		[ "$(tr '\0' '\n' <"/proc/$k/cmdline" | head -n 1)" = \
		    "interimap: net(remote)" ] &&
		    HELD="$HELD $(mem_count "$k" Zq8markerPW)/$(mem_count "$k" \
		    ZXIAWnE4bWFya2VyUFc)"
	done
	t_expect_match "$(mem_count "$pid" Zq8markerPW)" '^[1-9]' \
	    "$what: priv has the password (the scan works)"
	exec 7>&-
	wait "$pid"
	t_expect_eq "$?" 0 "$what: the held run ends well"
}

dovecot_server pw
echo 'user:{PLAIN}Zq8markerPW::::::' >"$DOVECOT_PW_DIR/passwd"
for auth in PLAIN LOGIN; do
	conf "type = imaps" "host = localhost" "port = $DOVECOT_PW_IMAPS_PORT" \
	    "username = user" "password = Zq8markerPW" "auth = $auth" \
	    "SSL_CAfile = $DOVECOT_PW_CERT"
	held_scan "$auth"
	t_expect_eq "$HELD" " 0/0" \
	    "$auth: logged in, net(remote) holds no copy (plain or base64)"
done

# connections = 4: the spares' nets (lanes 1 to 3, never connected here:
# the test client asks for no lane) never get the password.
conf "type = imaps" "host = localhost" "port = $DOVECOT_PW_IMAPS_PORT" \
    "username = user" "password = Zq8markerPW" \
    "SSL_CAfile = $DOVECOT_PW_CERT"
{ echo "connections = 4"; cat "$CONF"; } | write_config "$CONF.4"
CONF=$CONF.4
held_scan spares 4
t_expect_eq "$HELD" " 0/0 0/0 0/0 0/0" \
    "spares: none of the four nets of the remote holds a copy"

# ---- a wrong password: nothing else happens -----------------------------------------

conf "type = imaps" "host = localhost" "port = $DOVECOT_SRV_IMAPS_PORT" \
    "username = user" "password = pass" "SSL_CAfile = $DOVECOT_SRV_CERT"
run_ref --config="$CONF"
t_expect_eq "$REF_RC" 0 "the reference fills the database"
DB=$XDG_DATA_HOME/interimap/localhost.db
before=$(sqlite3 "$DB" .dump)
t_expect_match "$before" "INSERT INTO mailboxes" "the database has rows"
conf "type = imaps" "host = localhost" "port = $DOVECOT_SRV_IMAPS_PORT" \
    "username = user" "password = wrong" "SSL_CAfile = $DOVECOT_SRV_CERT"
run_ours --config="$CONF"
ERR=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 1 "wrong password: exit 1"
t_has "$ERR" 'remote: ERROR: Authentication failed: NO \[AUTHENTICATIONFAILED\] Authentication failed\.' \
    "wrong password: the server's answer"
t_hasnt "$ERR" 'killed|exited unexpectedly|broken' "wrong password: a clean end"
t_expect_eq "$(sqlite3 "$DB" .dump)" "$before" \
    "wrong password: the database untouched"

t_done
