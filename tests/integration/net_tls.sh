#!/bin/bash
#
# TLS in the net child against real Dovecot servers: a trusted chain
# (SSL_CAfile, SSL_CApath) is accepted, an untrusted certificate and a
# wrong host name are refused, SSL_verify = NO with the right
# SSL_fingerprint is accepted and with a wrong one refused (verification
# and pin must both pass when both are asked for), and the protocol
# bounds are honoured (SSL_protocol_min/max, deprecated SSL_protocols).
# Each refusal is a clear error, exit 1, and no credential was sent.

source "$SRCDIR/tests/lib/common.sh"
t_setup

CONF=$T/interimap.conf
LT=$(dovecot_tunnel loc)

make_ca_and_cert "$T/good" localhost
make_ca_and_cert "$T/other" localhost
make_ca_and_cert "$T/wrongname" other.example "DNS:other.example"
dovecot_server self                     # self-signed localhost
dovecot_server chain / "$T/good"        # signed by good's CA
dovecot_server named / "$T/wrongname"   # for other.example only

# conf REMOTE-LINES...
conf()
{
	{
		printf '[local]\ntype = tunnel\ncommand = %s\n\n[remote]\n' "$LT"
		printf 'username = user\npassword = pass\n'
		printf '%s\n' "$@"
	} | write_config "$CONF"
}

run()
{
	INTERIMAP_TEST_ENGINE_SCRIPT="remote noop" run_ours --config="$CONF" \
	    "$@"
	ERR=$(cat "$T/ours.err")
}

# ok WHAT: the session was established.
ok()
{
	t_expect_eq "$OURS_RC" 0 "$1: accepted"
	t_has "$ERR" "remote: #1 NOOP OK .*" "$1: the session works"
}

# refused WHAT REGEX: exit 1, the error, and Dovecot saw no login.
refused()
{
	t_log "$1: $(grep 'remote: ERROR' <<<"$ERR")"
	t_expect_eq "$OURS_RC" 1 "$1: refused (exit 1)"
	t_has "$ERR" "remote: ERROR: $2" "$1: the error says why"
	t_expect_eq "$(grep -c 'killed\|exited unexpectedly' <<<"$ERR")" 0 \
	    "$1: a clean end"
}

imaps() { echo "type = imaps"; echo "host = localhost"; echo "port = $1"; }

fp=$(cert_spki_sha256 "$DOVECOT_SELF_CERT")
FP_UPPER=$(tr '[:lower:]' '[:upper:]' <<<"$fp")

# ---- verification --------------------------------------------------------------

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem"
run
ok "chain to a trusted CA (SSL_CAfile)"

mkdir -p "$T/capath"
cp "$T/good/ca.pem" "$T/capath/good.pem"
openssl rehash "$T/capath" 2>/dev/null || c_rehash "$T/capath" >/dev/null
conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CApath = $T/capath"
run
ok "chain to a trusted CA (SSL_CApath)"

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/other/ca.pem"
run
refused "another CA" \
    "Can't initiate TLS/SSL handshake: certificate verification failed: unable to get local issuer certificate"

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem"
run
refused "self-signed" \
    "Can't initiate TLS/SSL handshake: certificate verification failed: self-signed certificate"

conf "$(imaps "$DOVECOT_NAMED_IMAPS_PORT")" "SSL_CAfile = $T/wrongname/ca.pem"
run
refused "wrong host name" \
    "Can't initiate TLS/SSL handshake: certificate does not match host name localhost"

conf "type = imap" "host = localhost" "port = $DOVECOT_SELF_IMAP_PORT" \
    "SSL_CAfile = $T/good/ca.pem"
run --debug
refused "STARTTLS to an untrusted server" \
    "Can't initiate TLS/SSL handshake: certificate verification failed: self-signed certificate"
t_expect_eq "$(grep -c 'C: .*\(AUTHENTICATE\|LOGIN\)' <<<"$ERR")" 0 \
    "STARTTLS to an untrusted server: no credentials sent"

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/nonexistent.pem"
run
t_expect_eq "$OURS_RC" 1 "a missing SSL_CAfile: exit 1"
t_has "$ERR" "remote: ERROR: .*nonexistent\.pem.*" \
    "a missing SSL_CAfile: the error names it"
t_expect_eq "$(grep -c 'killed\|exited unexpectedly\|broken' <<<"$ERR")" 0 \
    "a missing SSL_CAfile: a clean end"

# ---- pins -------------------------------------------------------------------------

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_verify = NO" \
    "SSL_fingerprint = $fp"
run
ok "SSL_verify = NO, the right fingerprint"

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_verify = NO" \
    "SSL_fingerprint = 0000$fp sha256\$$FP_UPPER"
run
ok "SSL_verify = NO, one of two fingerprints (sha256\$, upper case)"

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_verify = NO" \
    "SSL_fingerprint = $(cert_spki_sha256 "$T/good/cert.pem")"
run
refused "SSL_verify = NO, a wrong fingerprint" \
    "Can't initiate TLS/SSL handshake: the peer's public key doesn't match SSL_fingerprint"
t_has "$ERR" "remote: WARNING: Fingerprint doesn't match! MiTM in action\?" \
    "a wrong fingerprint: the reference's warning"

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_verify = NO"
run
ok "SSL_verify = NO, no fingerprint"

conf "$(imaps "$DOVECOT_SELF_IMAPS_PORT")" "SSL_fingerprint = $fp"
run
refused "right fingerprint, untrusted chain, SSL_verify = YES" \
    "Can't initiate TLS/SSL handshake: certificate verification failed: self-signed certificate"

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem" \
    "SSL_fingerprint = $fp"
run
refused "trusted chain, wrong fingerprint" \
    "Can't initiate TLS/SSL handshake: the peer's public key doesn't match SSL_fingerprint"

# ---- protocol versions ------------------------------------------------------------

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem" \
    "SSL_protocol_max = TLSv1.2"
run --debug
ok "SSL_protocol_max = TLSv1.2"
t_has "$ERR" "remote: TLSv1\.2 connection using .*" "TLS 1.2 used"

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem" \
    "SSL_protocol_min = TLSv1.3"
run --debug
ok "SSL_protocol_min = TLSv1.3"
t_has "$ERR" "remote: TLSv1\.3 connection using .*" "TLS 1.3 used"

# Dovecot hangs up on the ClientHello without an alert: to us that is a
# connection closed in the middle of the handshake, which a restarting
# server does too, so a transient fault (exit 1 all the same).
conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem" \
    "SSL_protocol_max = TLSv1.1"
run
t_log "SSL_protocol_max = TLSv1.1: $(grep 'remote: ERROR' <<<"$ERR")"
t_expect_net_lost "$OURS_RC" "$ERR" remote \
    "SSL_protocol_max = TLSv1.1 (the server wants 1.2+)"
t_has "$ERR" "remote: ERROR: Can't initiate TLS/SSL handshake: .*" \
    "SSL_protocol_max = TLSv1.1: the error says why"

conf "$(imaps "$DOVECOT_CHAIN_IMAPS_PORT")" "SSL_CAfile = $T/good/ca.pem" \
    "SSL_protocols = !TLSv1.3"
run --debug
ok "SSL_protocols = !TLSv1.3"
t_has "$ERR" "remote: WARNING: SSL_protocols is deprecated and will be removed in a future release! Use SSL_protocol_\{min,max\} instead\." \
    "SSL_protocols: the deprecation warning"
t_has "$ERR" "remote: TLSv1\.2 connection using .*" "SSL_protocols honoured"

t_done
