#!/bin/bash
#
# auth = SCRAM-SHA-256 / SCRAM-SHA-1 (RFC 5802, RFC 7677) against a real
# Dovecot over IMAPS:
#  - a passdb holding only a SCRAM-SHA-256 hash (doveadm pw): the sync
#    runs, through AUTHENTICATE SCRAM-SHA-256 with SASL-IR, and the
#    password never shows in the log below --debug --debug;
#  - SCRAM-SHA-1 from a plain passdb; a wrong password refused (exit 1,
#    "Authentication failed");
#  - the auth list's order decides: "SCRAM-SHA-256 PLAIN" uses SCRAM where
#    offered, PLAIN where not (a server without SCRAM);
#  - Cyrus IMAP 3.6 (Cyrus SASL, sasldb): SCRAM-SHA-256 and SCRAM-SHA-1
#    (it also offers the -PLUS variants, with tls-unique channel binding
#    only, which we do not implement: the plain ones are chosen);
# and against scripted servers that do not know the password (hostile,
# net_fake_imap.py): a wrong server signature, or OK without one, both
# refused before anything else is sent.

source "$SRCDIR/tests/lib/common.sh"
t_setup

FAKE=$SRCDIR/tests/integration/net_fake_imap.py
PASS='s3cret,pass=word'

DOVECOT_EXTRA_CONF='auth_mechanisms = plain login scram-sha-256 scram-sha-1' \
    dovecot_server scram || { t_fail "dovecot_server scram"; t_done; }
DOVECOT_EXTRA_CONF='auth_mechanisms = plain login scram-sha-256 scram-sha-1' \
    dovecot_server scram1 || { t_fail "dovecot_server scram1"; t_done; }
dovecot_server plain || { t_fail "dovecot_server plain"; t_done; }
hash=$(doveadm pw -s SCRAM-SHA-256 -p "$PASS") ||
    { t_fail "doveadm pw"; t_done; }
echo "user:$hash::::::" >"$DOVECOT_SCRAM_DIR/passwd"
t_expect_match "$hash" '^\{SCRAM-SHA-256\}' "the passdb holds a SCRAM hash"
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }

# conf NAME SERVER AUTH [PASSWORD]
conf()
{
	local port cert

	port=$(server_var "$2" IMAPS_PORT)
	cert=$(server_var "$2" CERT)
	write_config "$T/$1.conf" <<EOF
database = $T/$1.db

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = localhost
port = $port
SSL_CAfile = $cert
username = user
password = ${4:-$PASS}
auth = $3
EOF
}

# ---- SCRAM-SHA-256 against a SCRAM-only passdb ------------------------------------

mail_add scram INBOX <(printf 'Subject: s\r\n\r\nscram\r\n')
conf s256 scram SCRAM-SHA-256
run_ours --config="$T/s256.conf" --debug
t_expect_eq "$OURS_RC" 0 "SCRAM-SHA-256: the sync runs"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: C: [0-9]+ AUTHENTICATE SCRAM-SHA-256 \\[REDACTED\\]|remote: C: [0-9]+ AUTHENTICATE SCRAM-SHA-256" \
    "with AUTHENTICATE SCRAM-SHA-256"
t_expect_match "$(cat "$T/ours.err")" "local\\(INBOX\\): Added 1 UID" \
    "the message copied"
t_expect_eq "$(grep -c -F "$PASS" "$T/ours.err")" 0 \
    "the password is not in the --debug log"
t_expect_eq "$(grep -c 'S: + ' "$T/ours.err")" 0 \
    "nor the exchange's messages (shown with --debug --debug only)"

conf s256bad scram SCRAM-SHA-256 wrongpass
run_ours --config="$T/s256bad.conf"
t_expect_eq "$OURS_RC" 1 "a wrong password: exit 1"
t_expect_match "$(cat "$T/ours.err")" "remote: ERROR: Authentication failed" \
    "a wrong password: Authentication failed"

t_expect_match "$(cat "$DOVECOT_SCRAM_DIR/dovecot.log")" \
    "Login: user=<user>, method=SCRAM-SHA-256" \
    "Dovecot logged the SCRAM-SHA-256 login"

# ---- SCRAM-SHA-1, and the order of the auth list ------------------------------

echo "user:{PLAIN}$PASS::::::" >"$DOVECOT_SCRAM1_DIR/passwd"
conf s1 scram1 "SCRAM-SHA-1 PLAIN"
run_ours --config="$T/s1.conf" --debug
t_expect_eq "$OURS_RC" 0 "SCRAM-SHA-1: the sync runs"
t_expect_match "$(cat "$T/ours.err")" "AUTHENTICATE SCRAM-SHA-1" \
    "SCRAM-SHA-1 first in the list, offered: used"

echo "user:{PLAIN}$PASS::::::" >"$DOVECOT_PLAIN_DIR/passwd"
conf order plain "SCRAM-SHA-256 PLAIN"
run_ours --config="$T/order.conf" --debug
t_expect_eq "$OURS_RC" 0 "a server without SCRAM: the sync runs"
t_expect_match "$(cat "$T/ours.err")" "AUTHENTICATE PLAIN" \
    "SCRAM not offered: the next in the list, PLAIN"
t_expect_eq "$(grep -c 'AUTHENTICATE SCRAM' "$T/ours.err")" 0 \
    "SCRAM not tried where it is not offered"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-256 not offered by the server, skipped" \
    "the skipped mechanism said at --debug"

# ---- Cyrus IMAP (Cyrus SASL's SCRAM, sasldb) ---------------------------------------

CYRUS_SASL_MECHS='SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN' \
    cyrus_server cyrus || { t_fail "cyrus_server cyrus"; t_done; }
for mech in SCRAM-SHA-256 SCRAM-SHA-1; do
	cl=$(dovecot_tunnel "c${mech//[^0-9]/}") || t_fail "dovecot_tunnel c$mech"
	write_config "$T/c$mech.conf" <<EOF
database = $T/c$mech.db

[local]
type = tunnel
command = $cl

[remote]
type = imaps
host = localhost
port = $(server_var cyrus IMAPS_PORT)
SSL_CAfile = $(server_var cyrus CERT)
username = user
password = pass
auth = $mech
EOF
	run_ours --config="$T/c$mech.conf" --debug
	t_log "Cyrus offers: $(grep -m1 -o "AUTH=[^ ]*" "$T/ours.err" | tr "\n" " ")"
	t_expect_eq "$OURS_RC" 0 "Cyrus, $mech: the sync runs"
	t_expect_match "$(cat "$T/ours.err")" "remote: C: [0-9]+ AUTHENTICATE $mech" \
	    "Cyrus, $mech: AUTHENTICATE $mech"
done

# ---- servers that do not know the password --------------------------------------

export FAKE_IMAP_LOG=$T/fake.log
for how in badsig nosig; do
	: >"$FAKE_IMAP_LOG"
	write_config "$T/fake.conf" <<EOF
[local]
type = tunnel
command = env FAKE_IMAP_LOG= python3 $FAKE ok

[remote]
type = tunnel
command = python3 $FAKE scram_$how
username = us,er=
password = $PASS
auth = SCRAM-SHA-256
EOF
	INTERIMAP_TEST_TIMEOUT=5 run_ours --config="$T/fake.conf"
	t_expect_eq "$OURS_RC" 1 "$how: exit 1"
	case $how in
	badsig)
		t_expect_match "$(cat "$T/ours.err")" \
		    "remote: ERROR: Authentication failed: SCRAM: the server's signature is wrong" \
		    "a wrong server signature is refused"
		;;
	nosig)
		t_expect_match "$(cat "$T/ours.err")" \
		    "remote: ERROR: Authentication failed: SCRAM: the server said OK without its signature" \
		    "OK without a signature is refused"
		;;
	esac
	t_expect_match "$(cat "$FAKE_IMAP_LOG")" \
	    "SCRAM client-first n,,n=us=2Cer=3D,r=" \
	    "$how: the user name escaped (RFC 5802 5.1)"
	t_expect_match "$(cat "$FAKE_IMAP_LOG")" \
	    "SCRAM client-final c=biws,r=[^,]*fakeservernonce,p=<proof>" \
	    "$how: the proof over the server's nonce"
	t_expect_eq "$(grep -c 'C: .* \(LIST\|ENABLE\|SELECT\)' \
	    "$FAKE_IMAP_LOG")" 0 "$how: nothing sent after the refusal"
done

t_done
