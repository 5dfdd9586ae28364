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
#    (it also offers the -PLUS variants, so plain SCRAM must say "n", not
#    "y": Cyrus refuses "y" as a downgrade);
#  - channel binding (-PLUS) against Cyrus, which knows tls-unique only
#    and computes it on TLS 1.3 too: SCRAM-SHA-256-PLUS with
#    SSL_channel_binding = tls-unique on TLS 1.3, SCRAM-SHA-1-PLUS with
#    the default (tls-unique) on TLS 1.2, the default on TLS 1.3
#    (tls-exporter) refused with a warning naming SSL_channel_binding;
#    through a relay holding a trusted certificate (a man in the middle),
#    plain SCRAM passes but -PLUS is refused by Cyrus itself;
#  - against Dovecot 2.3 (no -PLUS): "SCRAM-SHA-256-PLUS SCRAM-SHA-256"
#    falls back to SCRAM-SHA-256 with "y" (we could bind); -PLUS is
#    skipped without TLS;
# and against scripted servers (net_fake_imap.py): ones that do not know
# the password (a wrong server signature, or OK without one, both refused
# before anything else is sent); one over TLS that checks the binding of
# each type against its own view of the session (tls-exporter,
# tls-unique, tls-server-end-point, Python's computation, not ours) and
# one that sees another session's binding (behind a relay): refused.

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

# Dovecot 2.3 offers no -PLUS: the next in the list, with "y" over TLS.
conf plusfb scram "SCRAM-SHA-256-PLUS SCRAM-SHA-256"
run_ours --config="$T/plusfb.conf" --debug --debug
t_expect_eq "$OURS_RC" 0 "Dovecot, SCRAM-SHA-256-PLUS SCRAM-SHA-256: the sync runs"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-256-PLUS not offered by the server, skipped" \
    "-PLUS not offered by Dovecot: skipped"
ir=$(sed -n 's/.*remote: C: [0-9]* AUTHENTICATE SCRAM-SHA-256 \([^ ]*\)$/\1/p' \
    "$T/ours.err" | head -n 1)
t_expect_match "$(printf '%s' "$ir" | base64 -d 2>/dev/null)" '^y,,n=user,r=' \
    "SCRAM over TLS without -PLUS offered: the GS2 flag is y"

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
$(imaps_lines cyrus)
auth = $mech
EOF
	run_ours --config="$T/c$mech.conf" --debug --debug
	t_log "Cyrus offers: $(grep -o "AUTH=[^ ]*" "$T/ours.err" | sort -u | tr "\n" " ")"
	t_expect_eq "$OURS_RC" 0 "Cyrus, $mech: the sync runs"
	t_expect_match "$(cat "$T/ours.err")" "remote: C: [0-9]+ AUTHENTICATE $mech" \
	    "Cyrus, $mech: AUTHENTICATE $mech"
	ir=$(sed -n "s/.*remote: C: [0-9]* AUTHENTICATE $mech \([^ ]*\)\$/\1/p" \
	    "$T/ours.err" | head -n 1)
	t_expect_match "$(printf '%s' "$ir" | base64 -d 2>/dev/null)" \
	    '^n,,n=user,r=' "Cyrus, $mech: -PLUS offered but not chosen: n"
done

# cyrus_conf NAME AUTH [EXTRA-LINES [PORT CERT]]: the remote is Cyrus (or,
# with PORT and CERT, what listens there).
cyrus_conf()
{
	write_config "$T/$1.conf" <<EOF
database = $T/$1.db

[local]
type = tunnel
command = $(dovecot_tunnel "$1")

[remote]
type = imaps
host = localhost
port = ${4:-$(server_var cyrus IMAPS_PORT)}
SSL_CAfile = ${5:-$(server_var cyrus CERT)}
username = user
password = pass
auth = $2
${3:-}
EOF
}

# SCRAM-SHA-256-PLUS on TLS 1.3: Cyrus wants tls-unique, which it says
# nothing about: the default (tls-exporter, RFC 9266) is refused.
cyrus_conf cplus "SCRAM-SHA-256-PLUS" "SSL_channel_binding = tls-unique"
run_ours --config="$T/cplus.conf" --debug
t_expect_eq "$OURS_RC" 0 "Cyrus, SCRAM-SHA-256-PLUS, tls-unique: the sync runs"
t_expect_match "$(cat "$T/ours.err")" "TLSv1.3 connection" "... on TLS 1.3"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-256-PLUS with channel binding tls-unique" \
    "... bound with tls-unique"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: C: [0-9]+ AUTHENTICATE SCRAM-SHA-256-PLUS" \
    "... AUTHENTICATE SCRAM-SHA-256-PLUS"

cyrus_conf cplus12 "SCRAM-SHA-1-PLUS" "SSL_protocol_max = TLSv1.2"
run_ours --config="$T/cplus12.conf" --debug
t_expect_eq "$OURS_RC" 0 "Cyrus, SCRAM-SHA-1-PLUS on TLS 1.2: the sync runs"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-1-PLUS with channel binding tls-unique" \
    "... with the default for TLS 1.2, tls-unique"

cyrus_conf cplusx "SCRAM-SHA-256-PLUS"
run_ours --config="$T/cplusx.conf" --debug
t_expect_eq "$OURS_RC" 1 "Cyrus, SCRAM-SHA-256-PLUS, tls-exporter: exit 1"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-256-PLUS with channel binding tls-exporter" \
    "... the default on TLS 1.3 is tls-exporter"
t_expect_match "$(cat "$T/ours.err")" \
    "AUTHENTICATE SCRAM-SHA-256-PLUS refused with channel binding tls-exporter: a server may want another type \\(SSL_channel_binding\\)" \
    "... the warning names SSL_channel_binding"
t_expect_match "$(cat "$T/ours.err")" "remote: ERROR: Authentication failed" \
    "... Authentication failed"

cyrus_conf cbadcb "SCRAM-SHA-256-PLUS" "SSL_channel_binding = tls-foo"
run_ours --config="$T/cbadcb.conf"
t_expect_eq "$OURS_RC" 1 "SSL_channel_binding = tls-foo: exit 1"
t_expect_match "$(cat "$T/ours.err")" \
    "Invalid option SSL_channel_binding = tls-foo" "... refused by name"

# A man in the middle with a certificate we trust, relaying to Cyrus over
# its own TLS session: plain SCRAM passes through it (SCRAM alone cannot
# tell), -PLUS does not (Cyrus sees another session's tls-unique).
make_cert "$T/mitm" localhost || t_fail "make_cert mitm"
export FAKE_IMAP_LOG=$T/relay.log
for mech in SCRAM-SHA-256 SCRAM-SHA-256-PLUS; do
	rm -f "$T/rport"
	FAKE_RELAY_PORT=$(server_var cyrus IMAPS_PORT) python3 "$FAKE" \
	    --tcp "$T/rport" --cert "$T/mitm" tls_relay 2>>"$T/relay.err" &
	t_track_pid $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/rport" ] && break
		sleep 0.05
	done
	cyrus_conf "mitm${mech//-/_}" "$mech" \
	    "SSL_channel_binding = tls-unique" "$(cat "$T/rport")" \
	    "$T/mitm/cert.pem"
	run_ours --config="$T/mitm${mech//-/_}.conf" --debug
	case $mech in
	*-PLUS)
		t_expect_eq "$OURS_RC" 1 "through a relay, $mech: refused"
		t_expect_match "$(cat "$T/ours.err")" \
		    "remote: ERROR: Authentication failed" \
		    "through a relay, $mech: Authentication failed"
		t_expect_match "$(cat "$T/ours.err")" \
		    "refused with channel binding tls-unique" \
		    "through a relay, $mech: refused with the binding"
		;;
	*)
		t_expect_eq "$OURS_RC" 0 \
		    "through a relay, $mech: passes (what binding is for)"
		;;
	esac
done
t_expect_eq "$(grep -c "relay: TLSv1.3 with the client, TLSv1.3 with the server" \
    "$T/relay.log")" 2 "the relay did relay, both times"

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

# ---- a scripted server over TLS that checks the binding ------------------

# -PLUS offered through a tunnel: no TLS to bind to, skipped; plain SCRAM
# says "n" (no TLS: nothing to bind to).
: >"$FAKE_IMAP_LOG"
write_config "$T/fake.conf" <<EOF
[local]
type = tunnel
command = env FAKE_IMAP_LOG= python3 $FAKE ok

[remote]
type = tunnel
command = python3 $FAKE scram_badsig_plus
username = user
password = $PASS
auth = SCRAM-SHA-256-PLUS SCRAM-SHA-256
EOF
INTERIMAP_TEST_TIMEOUT=5 run_ours --config="$T/fake.conf" --debug
t_expect_match "$(cat "$T/ours.err")" \
    "remote: auth: SCRAM-SHA-256-PLUS needs TLS \\(channel binding\\), skipped" \
    "-PLUS through a tunnel: skipped, said at --debug"
t_expect_match "$(cat "$FAKE_IMAP_LOG")" "SCRAM client-first n,,n=user,r=" \
    "-PLUS through a tunnel: SCRAM-SHA-256 with n"

make_cert "$T/fakecert" localhost || t_fail "make_cert fakecert"
# plus SCENARIO AUTH [EXTRA-LINES [--tls12]]: our run against it.
plus()
{
	local i

	: >"$FAKE_IMAP_LOG"
	rm -f "$T/fport"
	python3 "$FAKE" ${4:-} --tcp "$T/fport" --cert "$T/fakecert" "$1" \
	    2>>"$T/fake.err" &
	t_track_pid $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/fport" ] && break
		sleep 0.05
	done
	write_config "$T/fake.conf" <<EOF
[local]
type = tunnel
command = env FAKE_IMAP_LOG= python3 $FAKE ok

[remote]
type = imaps
host = localhost
port = $(cat "$T/fport")
SSL_CAfile = $T/fakecert/cert.pem
username = user
password = pa"ss w\\rd
auth = $2
${3:-}
EOF
	INTERIMAP_TEST_TIMEOUT=5 run_ours --config="$T/fake.conf" --debug
}

export FAKE_IMAP_LOG=$T/fake.log
for cb in "" tls-exporter tls-unique tls-server-end-point; do
	what=${cb:-default}
	plus scram_plus SCRAM-SHA-256-PLUS \
	    "${cb:+SSL_channel_binding = $cb}"
	t_expect_eq "$OURS_RC" 0 "checked binding, $what: the sync runs"
	t_expect_match "$(cat "$FAKE_IMAP_LOG")" \
	    "SCRAM SCRAM-SHA-256-PLUS gs2 p=${cb:-tls-exporter},," \
	    "checked binding, $what: p=${cb:-tls-exporter}"
	t_expect_match "$(cat "$FAKE_IMAP_LOG")" \
	    "SCRAM binding ${cb:-tls-exporter} [0-9]+ bytes: match" \
	    "checked binding, $what: the server's own computation matches"
	t_expect_match "$(cat "$FAKE_IMAP_LOG")" "SCRAM proof ok" \
	    "checked binding, $what: the proof over it verifies"
done

plus scram_plus SCRAM-SHA-256-PLUS "" --tls12
t_expect_eq "$OURS_RC" 0 "checked binding, TLS 1.2: the sync runs"
t_expect_match "$(cat "$FAKE_IMAP_LOG")" \
    "SCRAM binding tls-unique 12 bytes: match" \
    "checked binding, TLS 1.2: tls-unique by default, 12 bytes"

plus scram_plus_relay SCRAM-SHA-256-PLUS
t_expect_eq "$OURS_RC" 1 "binding of another session: exit 1"
t_expect_match "$(cat "$FAKE_IMAP_LOG")" "SCRAM binding tls-exporter 32 bytes: MISMATCH" \
    "binding of another session: the server sees the mismatch"
t_expect_match "$(cat "$T/ours.err")" "remote: ERROR: Authentication failed" \
    "binding of another session: Authentication failed"
t_expect_eq "$(grep -c 'C: .* \(LIST\|ENABLE\|SELECT\)' \
    "$FAKE_IMAP_LOG")" 0 "binding of another session: nothing sent after"

plus scram_plus SCRAM-SHA-256
t_expect_eq "$OURS_RC" 0 "SCRAM-SHA-256 where -PLUS is offered: the sync runs"
t_expect_match "$(cat "$FAKE_IMAP_LOG")" "SCRAM SCRAM-SHA-256 gs2 n,," \
    "SCRAM-SHA-256 where -PLUS is offered: n"

plus scram_plus_noplus "SCRAM-SHA-256-PLUS SCRAM-SHA-256"
t_expect_eq "$OURS_RC" 0 "no -PLUS offered over TLS: the sync runs"
t_expect_match "$(cat "$FAKE_IMAP_LOG")" "SCRAM SCRAM-SHA-256 gs2 y,," \
    "no -PLUS offered over TLS: SCRAM-SHA-256 with y"

t_done
