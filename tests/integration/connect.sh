#!/bin/bash
#
# priv/connect.c against the real thing, driven by tests/unit/connect_probe
# (connect_peer() from the shell): TCP to a network Dovecot, SOCKS5 through
# microsocks and Dante (with and without user/password), and tunnels (a
# pre-authenticated Dovecot, a shell pipeline, a bare command name found in
# PATH, exec failure, null-stderr), including that no tunnel outlives the
# probe, even a SIGKILLed one.

source "$SRCDIR/tests/lib/common.sh"
t_setup

PROBE=$BUILDDIR/tests/connect_probe
if [ ! -x "$PROBE" ]; then
	t_fail "connect_probe is built ($PROBE)"
	t_done
fi

# probe ARGS...: $OUT (stdout), $ERR (stderr), $RC.
probe()
{
	OUT=$("$PROBE" -t 10000 "$@" 2>"$T/probe.err")
	RC=$?
	ERR=$(cat "$T/probe.err")
}

# expect_line WHAT REGEX: the probe succeeded and read a matching line.
expect_line()
{
	t_expect_eq "$RC/$ERR" "0/" "$1: exit 0, nothing on stderr"
	t_expect_match "$OUT" $'(^|\n)line='"$2"'($|\n)' "$1: line read"
}

# expect_error WHAT MESSAGE: the probe failed with exactly MESSAGE.
expect_error()
{
	t_expect_eq "$RC" 1 "$1: exit 1"
	t_expect_eq "$ERR" "$2" "$1: message"
	t_expect_eq "$OUT" "" "$1: no stream"
}

# alive PID: running (a zombie is not).
alive()
{
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# wait_gone PID [SECONDS]: PID ends (zombies count as gone) in time.
wait_gone()
{
	local i

	for ((i = 0; i < ${2:-5} * 10; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

dovecot_server remote || { t_fail "dovecot_server"; t_done; }
IMAP_PORT=$DOVECOT_REMOTE_IMAP_PORT
GREETING='\* OK .*[Dd]ovecot.* ready\.'
CLOSED_PORT=$(free_port)

# ---- TCP -------------------------------------------------------------------

probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT"
expect_line "tcp 127.0.0.1" "$GREETING"
t_expect_match "$OUT" '^kind=tcp host=127\.0\.0\.1 literal=1' \
    "tcp 127.0.0.1: TLS host is the literal"

probe -n remote type=imaps host=localhost port="$IMAP_PORT"
expect_line "tcp localhost" "$GREETING"
t_expect_match "$OUT" '^kind=tcp host=localhost literal=0' \
    "tcp localhost: TLS host is the name"

probe -n remote -w -k type=imap host='[127.0.0.1]' port="$IMAP_PORT"
expect_line "tcp --watch" "$GREETING"
t_expect_match "$OUT" $'\nkeepalive=1 idle=60 intvl=15 cnt=4\n' \
    "tcp --watch: keepalives"
t_expect_match "$OUT" '^kind=tcp host=127\.0\.0\.1 literal=1' \
    "tcp [127.0.0.1]: brackets removed"

probe -n remote -k type=imap host=127.0.0.1 port="$IMAP_PORT"
t_expect_match "$OUT" $'\nkeepalive=0 ' "tcp without --watch: no keepalive"

probe -n remote type=imap host=127.0.0.1 port="$CLOSED_PORT"
expect_error "tcp refused" \
    "remote: ERROR: Can't connect to 127.0.0.1:$CLOSED_PORT: Connection refused"

probe -n local type=imap host='[localhost]' port=143
expect_error "tcp [name]" "local: ERROR: Invalid IP literal: localhost"

probe -n local type=imap host=a..b port=143
expect_error "tcp unresolvable" \
    "local: ERROR: getaddrinfo(a..b): Name or service not known"

# ---- SOCKS5: microsocks ----------------------------------------------------

socks_server microsocks || { t_fail "microsocks"; t_done; }
MS=$SOCKS_PORT

probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://127.0.0.1:$MS"
expect_line "microsocks socks5" "$GREETING"
t_expect_match "$OUT" '^kind=tcp host=127\.0\.0\.1 literal=1' \
    "microsocks: TLS host is the target"

probe -n remote type=imap host=localhost port="$IMAP_PORT" \
    proxy="socks5h://127.0.0.1:$MS"
expect_line "microsocks socks5h" "$GREETING"
t_expect_match "$OUT" '^kind=tcp host=localhost literal=0' \
    "microsocks socks5h: TLS host is the target name"
# microsocks logs the target as it was asked for.
sleep 0.2
t_expect_match "$(tail -n 1 "$T/socks-microsocks-0/log")" \
    "connected to localhost:$IMAP_PORT\$" "socks5h: the proxy got the name"

probe -n remote -w -k type=imap host=localhost port="$IMAP_PORT" \
    proxy="socks5://[127.0.0.1]:$MS"
expect_line "microsocks socks5, [proxy], --watch" "$GREETING"
t_expect_match "$OUT" $'\nkeepalive=1 idle=60 intvl=15 cnt=4\n' \
    "microsocks --watch: keepalives on the proxied stream"
sleep 0.2
t_expect_match "$(tail -n 1 "$T/socks-microsocks-0/log")" \
    "connected to 127\.0\.0\.1:$IMAP_PORT\$" \
    "socks5: the name was resolved here, the proxy got the address"

probe -n remote type=imap host=127.0.0.1 port="$CLOSED_PORT" \
    proxy="socks5://127.0.0.1:$MS"
expect_error "microsocks, target refused" \
    "remote: SOCKSv5 ERROR: connection refused"

probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://127.0.0.1:$CLOSED_PORT"
expect_error "proxy refused" \
    "remote: ERROR: Can't connect to 127.0.0.1:$CLOSED_PORT: Connection refused"

probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks4://127.0.0.1:$MS"
expect_error "socks4" "remote: ERROR: Unsupported proxy protocol socks4"

probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://127.0.0.1:$MS/"
expect_error "bad URI" \
    "remote: ERROR: Invalid proxy URI socks5://127.0.0.1:$MS/"

probe -n remote type=imap host=127.0.0.1 port=nosuchservice \
    proxy="socks5://127.0.0.1:$MS"
expect_error "unknown service" \
    "remote: ERROR: Can't getservbyname nosuchservice"

socks_server microsocks 'user:p@ss w' || { t_fail "microsocks auth"; t_done; }
MSA=$SOCKS_PORT

probe -n local type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://user:p@ss w@127.0.0.1:$MSA"
expect_line "microsocks user/pass" "$GREETING"

probe -n local type=imap host=localhost port="$IMAP_PORT" \
    proxy="socks5h://user:p@ss w@127.0.0.1:$MSA"
expect_line "microsocks user/pass, socks5h" "$GREETING"

probe -n local type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://user:wrong@127.0.0.1:$MSA"
expect_error "microsocks bad password" \
    "local: SOCKSv5 ERROR: Authentication failed"

probe -n local type=imap host=127.0.0.1 port="$IMAP_PORT" \
    proxy="socks5://127.0.0.1:$MSA"
expect_error "microsocks, no credentials" \
    "local: SOCKSv5 ERROR: No acceptable authentication methods"

# ---- SOCKS5: Dante ---------------------------------------------------------

if socks_server danted; then
	DA=$SOCKS_PORT
	probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
	    proxy="socks5://127.0.0.1:$DA"
	expect_line "dante socks5" "$GREETING"

	probe -n remote type=imap host=localhost port="$IMAP_PORT" \
	    proxy="socks5h://127.0.0.1:$DA"
	expect_line "dante socks5h" "$GREETING"

	probe -n remote type=imap host=127.0.0.1 port="$CLOSED_PORT" \
	    proxy="socks5h://127.0.0.1:$DA"
	expect_error "dante, target refused" \
	    "remote: SOCKSv5 ERROR: connection refused"

	# Outside the rules (a broadcast address: nothing can go there).
	probe -n remote type=imap host=255.255.255.255 port="$IMAP_PORT" \
	    proxy="socks5://127.0.0.1:$DA"
	expect_error "dante, target not allowed" \
	    "remote: SOCKSv5 ERROR: connection not allowed by ruleset"

	# IPv6 target, the proxy only has IPv4 outside.
	probe -n remote type=imap host='[::1]' port="$IMAP_PORT" \
	    proxy="socks5://127.0.0.1:$DA"
	expect_error "dante, IPv6 target" \
	    "remote: SOCKSv5 ERROR: address type not supported"
else
	t_fail "danted started"
fi

if socks_server danted 'duser:dpass'; then
	DAA=$SOCKS_PORT
	probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
	    proxy="socks5://duser:dpass@127.0.0.1:$DAA"
	expect_line "dante user/pass" "$GREETING"

	probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
	    proxy="socks5h://duser:bad@127.0.0.1:$DAA"
	expect_error "dante bad password" \
	    "remote: SOCKSv5 ERROR: Authentication failed"

	probe -n remote type=imap host=127.0.0.1 port="$IMAP_PORT" \
	    proxy="socks5://127.0.0.1:$DAA"
	expect_error "dante, no credentials" \
	    "remote: SOCKSv5 ERROR: No acceptable authentication methods"
else
	t_fail "danted with user/password started"
fi

# ---- tunnels ---------------------------------------------------------------

tunnel=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }

probe -n local type=tunnel command="$tunnel"
expect_line "dovecot tunnel" '\* PREAUTH .*'
t_expect_match "$OUT" '^kind=tunnel pid=[0-9]+' "dovecot tunnel: a pid"
pid=$(sed -n 's/^kind=tunnel pid=//p' <<<"$OUT")
if wait_gone "$pid" 1; then
	t_pass "dovecot tunnel: gone when the probe is"
else
	t_fail "dovecot tunnel: gone when the probe is"
fi

probe -n local type=tunnel command="$tunnel | cat"
expect_line "pipeline into the dovecot tunnel" '\* PREAUTH .*'

probe -n local type=tunnel \
    command="printf '* PREAUTH %s\\r\\n' piped | tr a-z A-Z"
expect_line "shell pipeline" '\* PREAUTH PIPED'

# A bare command name, found through the caller's PATH (not the
# reference's /usr/bin:/bin); it ignores EOF, so it must be killed.
mkdir -p "$T/bin"
cat >"$T/bin/interimap-test-tunnel" <<'EOF'
#!/bin/sh
echo "* PREAUTH bare $# $1"
echo "$$" >"$T/tunnel.pid"
exec sleep 300
EOF
chmod 755 "$T/bin/interimap-test-tunnel"
export T
PATH=$T/bin:$PATH probe -n local type=tunnel \
    command="  interimap-test-tunnel   one  "
expect_line "bare command name" '\* PREAUTH bare 1 one'
pid=$(sed -n 's/^kind=tunnel pid=//p' <<<"$OUT")
t_expect_eq "$(cat "$T/tunnel.pid")" "$pid" "bare command: run directly"
if wait_gone "$pid" 1; then
	t_pass "a tunnel that ignores EOF is killed at exit"
else
	t_fail "a tunnel that ignores EOF is killed at exit"
fi

# The probe SIGKILLed: PR_SET_PDEATHSIG ends the tunnel.
rm -f "$T/tunnel.pid"
PATH=$T/bin:$PATH "$PROBE" -s 60 type=tunnel \
    command=interimap-test-tunnel >"$T/killed.out" 2>&1 &
probe_pid=$!
t_track_pid "$probe_pid"
for ((i = 0; i < 100; i++)); do
	grep -q '^line=' "$T/killed.out" && break
	sleep 0.1
done
pid=$(sed -n 's/^kind=tunnel pid=//p' "$T/killed.out")
if [ -n "$pid" ] && alive "$pid"; then
	t_pass "tunnel running under a sleeping probe"
else
	t_fail "tunnel running under a sleeping probe"
fi
kill -KILL "$probe_pid"
wait "$probe_pid" 2>/dev/null
if [ -n "$pid" ] && wait_gone "$pid" 5; then
	t_pass "tunnel gone after the probe was SIGKILLed"
else
	t_fail "tunnel gone after the probe was SIGKILLed"
fi

# Exec failure: a clear message, then EOF on the stream.
probe -n local type=tunnel command="/nonexistent/imapd --serve"
t_expect_eq "$RC" 0 "exec failure: the spawn itself succeeds"
t_expect_eq "$ERR" \
    "tunnel: can't exec /nonexistent/imapd: No such file or directory" \
    "exec failure: message"
t_expect_match "$OUT" $'\neof$' "exec failure: EOF"

probe -n local type=tunnel command="nonexistent-imapd-command"
t_expect_eq "$ERR" \
    "tunnel: can't exec nonexistent-imapd-command: No such file or directory" \
    "exec failure in PATH: message"

probe -n local type=tunnel
expect_error "no command" "local: ERROR: Missing tunnel command"

# null-stderr, and --debug overriding it.
cmd="echo oops >&2; echo '* PREAUTH quiet'"
probe -n local type=tunnel command="$cmd" null-stderr=YES
expect_line "null-stderr = YES" '\* PREAUTH quiet'
probe -n local type=tunnel command="$cmd" null-stderr=NO
t_expect_eq "$ERR" "oops" "null-stderr = NO: stderr shown"
probe -n local -d type=tunnel command="$cmd" null-stderr=yes
t_expect_match "$ERR" '(^|'$'\n'')oops($|'$'\n'')' \
    "null-stderr ignored with --debug"

t_done
