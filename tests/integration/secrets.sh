#!/bin/bash
#
# Secrets stay where they belong, even with --debug --debug (which logs
# every key a net child receives):
#  - the proxy URI (its userinfo is the SOCKS password) and the tunnel
#    command (which may carry credentials) are priv's: no net child gets
#    them, so neither is ever logged;
#  - a password goes to its own net only, and is never logged;
#  - an invalid proxy URI is named without its userinfo, and an invalid
#    password is not shown at all.
# Both the terminal and the logfile are checked.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
dead=$(free_port) || { t_fail "free_port"; t_done; }
LOG=$T/interimap.log
CONF=$T/secrets.conf
write_config "$CONF" <<EOF
logfile = $LOG

[local]
type = tunnel
command = TUNNEL_TOKEN=cmdSECRET $tunnel_local

[remote]
type = imap
STARTTLS = NO
host = 127.0.0.1
port = 143
username = u
password = pwSECRET
proxy = socks5://puser:proxySECRET@127.0.0.1:$dead
EOF

# The remote proxy refuses the connection: the run fails, after both
# nets have logged what they received.
run_ours --config="$CONF" --debug --debug
err=$T/ours.err
t_expect_eq "$OURS_RC" 1 "a refused proxy fails the run (exit 1)"
t_expect_match "$(cat "$err")" \
    "remote: ERROR: Can't connect to 127\\.0\\.0\\.1:$dead" \
    "the proxy's refusal is reported"
t_expect_match "$(cat "$LOG")" 'local: config: type=tunnel' \
    "net(local) logged its section in the logfile (debug on)"
t_expect_match "$(cat "$LOG")" 'remote: config: username=u' \
    "net(remote) logged its section in the logfile (debug on)"
for f in "$err" "$LOG"; do
	for secret in proxySECRET cmdSECRET pwSECRET; do
		t_expect_eq "$(grep -c "$secret" "$f")" 0 \
		    "$(basename "$f"): $secret never appears"
	done
	t_expect_eq "$(grep -c 'config: \(proxy\|command\)=' "$f")" 0 \
	    "$(basename "$f"): no net receives proxy or command"
done

# An invalid proxy URI: named without its userinfo.
write_config "$CONF" <<EOF
[local]
type = tunnel
command = $tunnel_local

[remote]
type = imap
proxy = socks5://puser:proxySECRET@127.0.0.1:1:x
EOF
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 1 "an invalid proxy URI fails the run (exit 1)"
hidden='socks5://\*\*\*\*\*\*\*\*@127\.0\.0\.1:1:x'
t_expect_match "$(cat "$T/ours.err")" \
    "remote: ERROR: Invalid proxy URI $hidden" \
    "the invalid URI is named without its userinfo"
t_expect_eq "$(grep -c proxySECRET "$T/ours.err")" 0 \
    "invalid URI: the proxy password never appears"

# An invalid password (8-bit) is refused without being shown.
printf '[local]\ntype = tunnel\ncommand = %s\n[remote]\n%b\n' \
    "$tunnel_local" 'password = pw\303\251SECRET' | write_config "$CONF"
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 2 "an invalid password is a config error (exit 2)"
t_expect_match "$(cat "$T/ours.err")" \
    'Invalid option password = \*\*\*\*\*\*\*\*$' \
    "the invalid password is masked"
t_expect_eq "$(grep -c pwSECRET "$T/ours.err")" 0 \
    "invalid password: never shown"

t_done
