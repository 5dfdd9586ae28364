#!/bin/bash
#
# A whole session through SOCKS5 proxies from Debian (microsocks and
# Dante), with and without user/password authentication, socks5h://
# (the proxy resolves) and socks5:// (we resolve): priv connects to the
# proxy, the net child gets the socket, runs the SOCKS5 exchange, then
# TLS, login, LIST.  A wrong proxy password is a clear error.  Hostile
# fake proxies (junk, a bad address type, silence) are refused by the
# net with a clear error; a signal ends a wait for a silent proxy, or
# for a server that never completes the TCP handshake, at once.

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
$(imaps_lines srv)
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

# ---- Hostile and silent proxies, ^C ------------------------------------

cat >"$T/fake.py" <<'EOF'
# fake.py MODE PORTFILE: a listener on 127.0.0.1, its port in PORTFILE.
#  junk:   methods answered (no auth), CONNECT answered by 1 MB of 'A'
#  atyp:   methods answered, CONNECT answered with address type 9
#  silent: accepts, reads, never answers
#  full:   a backlog filled by our own connections, nothing accepted: a
#          connect(2) to it waits for a SYN-ACK that never comes
import os, socket, sys, time
mode, portfile = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0 if mode == "full" else 8)
port = s.getsockname()[1]
keep = []
if mode == "full":
    for i in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        keep.append(c)
    time.sleep(0.3)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(portfile + ".tmp", portfile)
if mode == "full":
    time.sleep(3600)
while True:
    c, _ = s.accept()
    keep.append(c)
    if mode == "silent":
        continue
    c.recv(3)                       # VER NMETHODS METHOD
    c.sendall(b"\x05\x00")
    c.recv(512)                     # the CONNECT request
    try:
        if mode == "junk":
            c.sendall(b"A" * (1 << 20))
        else:
            c.sendall(b"\x05\x00\x00\x09" + b"\x9b" * 64)
    except OSError:
        pass
EOF

fake()
{
	local mode=$1 i

	rm -f "$T/fake-$mode.port"
	python3 "$T/fake.py" "$mode" "$T/fake-$mode.port" \
	    2>>"$T/fake.err" &
	t_track_pid $!
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/fake-$mode.port" ] && break
		sleep 0.05
	done
	FAKE_PORT=$(cat "$T/fake-$mode.port" 2>/dev/null)
}

# The net child parses the proxy's reply, not priv: with --debug the net
# says it got the proxy's socket, and the reply is refused in its words.
fake junk
conf "socks5h://127.0.0.1:$FAKE_PORT"
run_ours --debug --config="$CONF"
err=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 1 "junk reply: exit 1"
t_expect_match "$err" \
    $'(^|\n)remote: connected to the proxy; asking it for the server\n' \
    "junk reply: the net has the proxy's socket"
t_expect_match "$err" $'(^|\n)remote: SOCKSv5 ERROR: Invalid protocol\n' \
    "junk reply: refused with a clear error"
t_expect_eq "$(grep -c 'killed\|exited unexpectedly\|broken IPC' <<<"$err")" \
    0 "junk reply: a clean end"

fake atyp
refused "address type 9" "socks5h://127.0.0.1:$FAKE_PORT" \
    "SOCKSv5 ERROR: Invalid address type 9"

# A signal while the run waits (up to 60 s) for a proxy that says nothing
# ends it at once, as at any other time: SIGINT exits 1, "Interrupted";
# SIGTERM exits 0.
interrupt()
{
	local what=$1 sig=$2 want=$3 t0 t1 pid rc i

	t0=$(date +%s%N)
	"$INTERIMAP" --config="$CONF" </dev/null >"$T/int.out" \
	    2>"$T/int.err" &
	pid=$!
	t_track_pid "$pid"
	sleep 1
	kill "-$sig" "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		t_fail "$what: still running 10 s after SIG$sig"
		kill -KILL "$pid"
	fi
	wait "$pid"
	rc=$?
	t1=$(date +%s%N)
	t_expect_eq "$rc" "$want" "$what: SIG$sig, exit $want"
	if [ $(((t1 - t0) / 1000000)) -lt 4000 ]; then
		t_pass "$what: SIG$sig ends the wait at once"
	else
		t_fail "$what: SIG$sig took $(((t1 - t0) / 1000000)) ms"
	fi
	t_expect_eq "$(grep -c 'killed\|exited unexpectedly' "$T/int.err")" \
	    0 "$what: a clean end"
	if [ "$sig" = INT ]; then
		t_expect_match "$(cat "$T/int.err")" $'(^|\n)Interrupted(\n|$)' \
		    "$what: Interrupted"
	fi
}

fake silent
conf "socks5h://127.0.0.1:$FAKE_PORT"
interrupt "silent proxy" INT 1
interrupt "silent proxy" TERM 0

# The same for a TCP handshake that never completes (priv's connect(2),
# to the server or to the proxy).
fake full
write_config "$CONF" <<EOF
[local]
type = tunnel
command = $LT

[remote]
type = imap
host = 127.0.0.1
port = $FAKE_PORT
username = user
password = pass
EOF
interrupt "black-holed server" INT 1
conf "socks5h://127.0.0.1:$FAKE_PORT"
interrupt "black-holed proxy" INT 1

t_done
