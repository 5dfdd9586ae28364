#!/bin/bash
#
# Proves the test harness (tests/lib/common.sh) with the reference
# implementation, /usr/bin/interimap: a pre-authenticated tunnel "local"
# and a network "remote", synchronised over IMAPS, STARTTLS and SOCKS5
# proxies; TLS verification with a private CA.  Copy this file to start a
# new test.

source "$SRCDIR/tests/lib/common.sh"
t_setup

# ---- servers and messages -------------------------------------------------

tunnel=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
dovecot_server remote || { t_fail "dovecot_server"; t_done; }

mkdir -p "$T/msgs"
for i in 1 2 3 4; do
	cat >"$T/msgs/$i.eml" <<EOF
From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: message $i
Date: Thu, 0$i Feb 2024 10:00:00 +0100
Message-ID: <$i.harness@example.org>

Body of message $i.
EOF
done
# An 8-bit message: Latin-1 and UTF-8 bytes in the body, no encoding.
{
	printf 'From: Chlo\xc3\xa9 <chloe@example.org>\n'
	printf 'Subject: 8-bit\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Fran\xc3\xa7ais, \xe2\x82\xac, and a Latin-1 byte: \xe9.\n'
} >"$T/msgs/8bit.eml"

MAIL_DATE="01-Feb-2024 10:00:00 +0100" \
    mail_add local INBOX "$T/msgs/1.eml" '\Seen'
mail_add local INBOX "$T/msgs/8bit.eml" '\Flagged' '$Label1'
mail_add remote INBOX "$T/msgs/2.eml"
MAIL_DATE="03-Feb-2024 23:59:59 -0700" \
    mail_add remote INBOX "$T/msgs/3.eml" '\Answered' '\Seen'
mail_add local Archive/2024 "$T/msgs/4.eml"

t_expect_eq "$(mail_dump local INBOX | wc -l)" 2 "local INBOX has 2 messages"
t_expect_eq "$(mail_dump remote INBOX | wc -l)" 2 "remote INBOX has 2 messages"
# The servers run with TZ=UTC: Dovecot keeps the instant, not the zone.
t_expect_match "$(mail_dump remote INBOX)" \
    '[0-9a-f]{64} \\Answered,\\Seen 04-Feb-2024 06:59:59 \+0000' \
    "mail_dump prints hash, sorted flags and the INTERNALDATE given"

# ---- IMAPS -----------------------------------------------------------------

write_config "$T/imaps.conf" <<EOF
[local]
type = tunnel
command = $tunnel

[remote]
$(imaps_lines remote)
EOF

run_ref --config="$T/imaps.conf"
t_expect_eq "$REF_RC" 0 "reference: first sync over IMAPS succeeds"
l=$(mail_dump local INBOX)
r=$(mail_dump remote INBOX)
t_expect_eq "$(printf '%s\n' "$l" | wc -l)" 4 "INBOX has 4 messages after sync"
t_expect_eq "$r" "$l" "INBOX identical on both sides"
t_expect_match "$l" '[0-9a-f]{64} \$Label1,\\Flagged ' \
    "keyword and flag copied"
t_expect_eq "$(mail_dump remote Archive/2024)" \
    "$(mail_dump local Archive/2024)" "Archive/2024 identical"
t_expect_eq "$(mailbox_list remote)" "$(mailbox_list local)" \
    "mailbox lists identical"
t_expect_match "$(mailbox_list remote)" $'Archive/2024\t' \
    "mailbox created remotely"
t_expect_eq "$(mailbox_status local INBOX | cut -d' ' -f1-2)" "MESSAGES 4" \
    "mailbox_status"

before_l=$(mailbox_status local INBOX)
before_r=$(mailbox_status remote INBOX)
run_ref --config="$T/imaps.conf"
t_expect_eq "$REF_RC" 0 "reference: second sync succeeds"
t_expect_eq "$(grep -v ': IMAP traffic (bytes): ' "$T/ref.err" "$T/ref.out")" \
    "" "second sync prints nothing but the traffic summary"
run_ref -q --config="$T/imaps.conf"
t_expect_eq "$REF_RC" 0 "reference: third sync (-q) succeeds"
t_expect_eq "$(cat "$T/ref.err" "$T/ref.out")" "" "-q sync prints nothing"
t_expect_eq "$(mailbox_status local INBOX)" "$before_l" \
    "second sync changes nothing locally"
t_expect_eq "$(mailbox_status remote INBOX)" "$before_r" \
    "second sync changes nothing remotely"
t_expect_eq "$(mail_dump local INBOX)" "$l" "local INBOX unchanged"

# ---- flags and expunges made on one side ----------------------------------

uid=$(mail_uids remote INBOX | head -n 1)
mail_store remote INBOX "$uid" + '\Deleted'
mail_expunge remote INBOX "$uid"
uid=$(mail_uids local INBOX | tail -n 1)
mail_store local INBOX "$uid" = '\Seen' '\Draft'
run_ref --config="$T/imaps.conf"
t_expect_eq "$REF_RC" 0 "reference: sync of an expunge and a flag change"
l=$(mail_dump local INBOX)
t_expect_eq "$(printf '%s\n' "$l" | wc -l)" 3 "expunge propagated"
t_expect_eq "$(mail_dump remote INBOX)" "$l" "INBOX identical after changes"
t_expect_match "$l" '\\Draft,\\Seen' "flag change propagated"

# ---- STARTTLS --------------------------------------------------------------

write_config "$T/starttls.conf" <<EOF
[local]
type = tunnel
command = $tunnel

[remote]
type = imap
host = localhost
port = $DOVECOT_REMOTE_IMAP_PORT
STARTTLS = YES
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $DOVECOT_REMOTE_CERT
EOF
mail_add remote INBOX "$T/msgs/4.eml" '\Seen'
run_ref --config="$T/starttls.conf"
t_expect_eq "$REF_RC" 0 "reference: sync over STARTTLS succeeds"
t_expect_match "$(cat "$T/ref.err")" 'local\(INBOX\): Added 1 UID' \
    "STARTTLS run added the new message locally"
t_expect_eq "$(mail_dump local INBOX)" "$(mail_dump remote INBOX)" \
    "INBOX identical after STARTTLS sync"

# ---- SOCKS5 proxies --------------------------------------------------------

n=5
for proxy in microsocks danted; do
	for auth in "" "puser:ppass"; do
		what="$proxy${auth:+ with authentication}"
		if ! socks_server "$proxy" "$auth"; then
			t_fail "socks_server $what"
			continue
		fi
		write_config "$T/socks.conf" <<EOF
[local]
type = tunnel
command = $tunnel

[remote]
$(imaps_lines remote)
proxy = socks5h://${auth:+$auth@}127.0.0.1:$SOCKS_PORT
EOF
		sed "s/message 4/message $n/" "$T/msgs/4.eml" >"$T/msgs/$n.eml"
		mail_add remote INBOX "$T/msgs/$n.eml"
		run_ref --config="$T/socks.conf"
		t_expect_eq "$REF_RC" 0 "reference: sync through $what"
		t_expect_eq "$(mail_dump local INBOX)" \
		    "$(mail_dump remote INBOX)" "INBOX identical ($what)"
		if [ -n "$auth" ]; then
			sed -i "s/$auth@/puser:wrong@/" "$T/socks.conf"
			run_ref --config="$T/socks.conf"
			t_expect_match "$REF_RC" '^[1-9][0-9]*$' \
			    "$what refuses a wrong password"
		fi
		n=$((n + 1))
	done
done

# ---- TLS: a private CA -----------------------------------------------------

make_ca_and_cert "$T/ca1" || t_fail "make_ca_and_cert"
make_ca_and_cert "$T/ca2" || t_fail "make_ca_and_cert"
dovecot_server tls / "$T/ca1" || t_fail "dovecot_server with a CA cert"
tunnel2=$(dovecot_tunnel local2 .)
t_expect_eq "$DOVECOT_TLS_CERT" "$T/ca1/ca.pem" "server trust anchor is the CA"
mail_add tls INBOX "$T/msgs/1.eml"
for ca in ca1 ca2; do
	write_config "$T/tls-$ca.conf" <<EOF
database = tls.db
[local]
type = tunnel
command = $tunnel2

[remote]
type = imaps
host = localhost
port = $DOVECOT_TLS_IMAPS_PORT
username = user
password = pass
SSL_CAfile = $T/$ca/ca.pem
EOF
done
run_ref --config="$T/tls-ca2.conf"
t_expect_match "$REF_RC" '^[1-9][0-9]*$' "reference refuses an untrusted CA"
t_expect_match "$(cat "$T/ref.err")" "remote: ERROR: Can't initiate TLS/SSL" \
    "reference says why"
t_expect_eq "$(mail_dump local2 INBOX)" "" "nothing synced through it"
run_ref --config="$T/tls-ca1.conf"
t_expect_eq "$REF_RC" 0 "reference trusts the right CA"
t_expect_eq "$(mail_dump local2 INBOX)" "$(mail_dump tls INBOX)" \
    "synced through the CA-signed server"
fp=$(cert_spki_sha256 "$T/ca1/cert.pem")
t_expect_match "$fp" '^[0-9a-f]{64}$' "cert_spki_sha256"

t_done
