#!/bin/bash
#
# auth = XOAUTH2 / OAUTHBEARER (RFC 7628) with oauth-token-command, against
# a real Dovecot whose oauth2 passdb asks a local token-introspection
# endpoint (tests/lib/oauth_introspect.py, RFC 7662) whether a token is
# active:
#  - both mechanisms log in with the command's token, which is in no log;
#  - a refused token (expired): the server's JSON error is shown, the
#    command is asked once more and the run goes on with the new token;
#  - refused twice: exit 1, "Authentication failed", the command asked
#    exactly twice;
#  - auth = XOAUTH2 without oauth-token-command: a clear error.

source "$SRCDIR/tests/lib/common.sh"
t_setup

mkdir -p "$T/oauth"
python3 "$T_LIBDIR/oauth_introspect.py" "$T/oauth" &
t_track_pid $!
for ((i = 0; i < 100; i++)); do
	[ -e "$T/oauth/port" ] && break
	sleep 0.05
done
OPORT=$(cat "$T/oauth/port") || { t_fail "the introspection endpoint"; t_done; }
echo tok-good-Qx81 >"$T/oauth/tokens"

cat >"$T/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = http://127.0.0.1:$OPORT/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
EOF
DOVECOT_EXTRA_CONF="auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $T/oauth2.conf.ext
}" dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }

# The helper: prints the tokens of $T/NAME.tokens one per call, the last
# one again once they are used up; each call logged in $T/NAME.calls.
helper()
{
	local name=$1

	shift
	printf '%s\n' "$@" >"$T/$name.tokens"
	: >"$T/$name.calls"
	cat >"$T/$name.sh" <<EOF
#!/bin/sh
n=\$(wc -l <"$T/$name.calls")
echo call >>"$T/$name.calls"
t=\$(sed -n "\$((n + 1))p" "$T/$name.tokens")
[ -n "\$t" ] || t=\$(tail -n 1 "$T/$name.tokens")
echo "\$t"
EOF
	chmod 755 "$T/$name.sh"
}

# conf NAME AUTH [REMOTE-LINE...]
conf()
{
	local name=$1 auth=$2

	shift 2
	{
		cat <<EOF
database = $T/$name.db

[local]
type = tunnel
command = ${TL:-$tl}

[remote]
type = imaps
host = localhost
port = $DOVECOT_REMOTE_IMAPS_PORT
SSL_CAfile = $DOVECOT_REMOTE_CERT
username = user
auth = $auth
EOF
		printf '%s\n' "$@"
	} >"$T/$name.conf"
}

mail_add remote INBOX <(printf 'Subject: o\r\n\r\noauth\r\n')

# ---- both mechanisms ------------------------------------------------------------------

for mech in XOAUTH2 OAUTHBEARER; do
	helper "$mech" tok-good-Qx81
	# A local server of its own: the message is new to it.
	TL=$(dovecot_tunnel "l$mech") || t_fail "dovecot_tunnel l$mech"
	TL=$TL conf "$mech" "$mech" "oauth-token-command = $T/$mech.sh"
	run_ours --config="$T/$mech.conf" --debug
	t_expect_eq "$OURS_RC" 0 "$mech: the sync runs"
	t_expect_match "$(cat "$T/ours.err")" "remote: C: [0-9]+ AUTHENTICATE $mech" \
	    "$mech: AUTHENTICATE $mech"
	t_expect_match "$(cat "$T/ours.err")" "local\\(INBOX\\): Added 1 UID" \
	    "$mech: the message copied"
	t_expect_eq "$(grep -c 'tok-good' "$T/ours.err")" 0 \
	    "$mech: the token is in no --debug line"
	t_expect_eq "$(grep -c . "$T/$mech.calls")" 1 "$mech: one token asked for"
	t_expect_match "$(cat "$DOVECOT_REMOTE_DIR/dovecot.log")" \
	    "Login: user=<user>, method=$mech" "$mech: Dovecot's login"
done
t_expect_match "$(sort -u "$T/oauth/asked")" "tok-good-Qx81" \
    "the endpoint was asked about the token"

# ---- an expired token, then a good one -----------------------------------------------

helper refresh tok-expired-1 tok-good-Qx81
conf refresh XOAUTH2 "oauth-token-command = $T/refresh.sh"
run_ours --config="$T/refresh.conf"
t_expect_eq "$OURS_RC" 0 "expired, then fresh: the run goes on (exit 0)"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: ERROR: Authentication failed: NO .*\\(the server says: \\{.*\\}\\)" \
    "expired: the server's JSON shown"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: access token refused; asking oauth-token-command for a new one" \
    "expired: a new token asked for"
t_expect_eq "$(grep -c . "$T/refresh.calls")" 2 "expired: the command asked twice"
t_expect_eq "$(grep -c 'tok-' "$T/ours.err")" 0 "expired: no token in the log"

# ---- refused twice ------------------------------------------------------------------------

helper bad tok-bad-1 tok-bad-2
conf bad OAUTHBEARER "oauth-token-command = $T/bad.sh"
run_ours --config="$T/bad.conf"
t_expect_eq "$OURS_RC" 1 "refused twice: exit 1"
t_expect_eq "$(grep -c 'remote: ERROR: Authentication failed' "$T/ours.err")" 2 \
    "refused twice: both refusals shown"
t_expect_eq "$(grep -c . "$T/bad.calls")" 2 \
    "refused twice: the command asked twice, no more"
t_expect_eq "$(grep -c 'exited unexpectedly\|killed by signal\|broken IPC' \
    "$T/ours.err")" 0 "refused twice: no child reported as failed"

# ---- misconfigured ---------------------------------------------------------------------------

conf missing XOAUTH2
run_ours --config="$T/missing.conf"
t_expect_eq "$OURS_RC" 1 "XOAUTH2 without oauth-token-command: exit 1"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: ERROR: Missing option oauth-token-command" \
    "XOAUTH2 without oauth-token-command: said so"

t_expect_eq "$(ours_pids)" "" "nothing of ours left running"
t_done
