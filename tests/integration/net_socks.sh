#!/bin/bash
#
# A whole session through SOCKS5 proxies from Debian (microsocks and
# Dante), with and without user/password authentication, socks5h://
# (the proxy resolves) and socks5:// (we resolve): priv negotiates the
# proxy, the net child gets the stream and does TLS, login, LIST.  A
# wrong proxy password is a clear error.

source "$SRCDIR/tests/lib/common.sh"
t_setup

CONF=$T/interimap.conf
LT=$(dovecot_tunnel loc)
dovecot_server srv
mailbox_create srv "via proxy"

conf()
{
	write_config "$CONF" <<EOF
[local]
type = tunnel
command = $LT

[remote]
type = imaps
host = localhost
port = $DOVECOT_SRV_IMAPS_PORT
username = user
password = pass
SSL_CAfile = $DOVECOT_SRV_CERT
proxy = $1
EOF
}

through()
{
	local what=$1 uri=$2

	conf "$uri"
	INTERIMAP_TEST_ENGINE_SCRIPT="remote list" run_ours --config="$CONF"
	err=$(cat "$T/ours.err")
	t_expect_eq "$OURS_RC" 0 "$what: exit 0"
	t_expect_match "$err" $'(^|\n)remote: LIST via proxy delim=/ ' \
	    "$what: the session went through"
}

refused()
{
	local what=$1 uri=$2 regex=$3

	conf "$uri"
	INTERIMAP_TEST_ENGINE_SCRIPT="remote list" run_ours --config="$CONF"
	err=$(cat "$T/ours.err")
	t_expect_eq "$OURS_RC" 1 "$what: exit 1"
	t_expect_match "$err" "(^|"$'\n'")remote: $regex" "$what: message"
	t_expect_eq "$(grep -c 'killed\|exited unexpectedly' <<<"$err")" 0 \
	    "$what: a clean end"
}

socks_server microsocks
through "microsocks, socks5h" "socks5h://127.0.0.1:$SOCKS_PORT"
through "microsocks, socks5" "socks5://127.0.0.1:$SOCKS_PORT"

socks_server microsocks alice:s3cret
through "microsocks with a password" \
    "socks5h://alice:s3cret@127.0.0.1:$SOCKS_PORT"
refused "microsocks, wrong password" \
    "socks5h://alice:wrong@127.0.0.1:$SOCKS_PORT" \
    "SOCKSv5 ERROR: Authentication failed"
refused "microsocks, no password" "socks5h://127.0.0.1:$SOCKS_PORT" \
    "SOCKSv5 ERROR: No acceptable authentication methods"

socks_server danted
through "Dante, socks5h" "socks5h://127.0.0.1:$SOCKS_PORT"
through "Dante, socks5" "socks5://127.0.0.1:$SOCKS_PORT"

socks_server danted bob:pa55
through "Dante with a password" "socks5h://bob:pa55@127.0.0.1:$SOCKS_PORT"
refused "Dante, wrong password" "socks5h://bob:nope@127.0.0.1:$SOCKS_PORT" \
    "SOCKSv5 ERROR: Authentication failed"

t_done
