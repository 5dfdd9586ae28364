#!/bin/bash
#
# password-command = CMD (ours; the reference has only password =): priv
# runs CMD as it runs a tunnel command and takes the first line of its
# output as the password, for that server's net alone.
#  - gpg --decrypt of an encrypted password file: the sync runs against a
#    real Dovecot over IMAPS, and the password is in no log (--debug);
#  - no terminal and no input: a command that tries to prompt (reads its
#    stdin, opens /dev/tty) gets nothing and fails, never hangs; on a
#    terminal (script(1)), it may ask there;
#  - a command that fails, exits non-zero, prints nothing, or does not
#    answer within 30 s: "<side>: ERROR: password-command: ...", exit 1,
#    no connection made;
#  - password and password-command both set: a configuration error
#    (exit 2);
#  - --watch: asked again at every reconnection.

source "$SRCDIR/tests/lib/common.sh"
t_setup

RELAY=$SRCDIR/tests/integration/relay_ctl.py
dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }
tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
# A password no log line could hold by chance.
PW=Zq7secretP4ss
echo "user:{PLAIN}$PW::::::" >"$DOVECOT_REMOTE_DIR/passwd"

# A throwaway key without passphrase, and the password encrypted to it.
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key \
    'interimap test <t@example.org>' default default never 2>"$T/gpg.err" ||
    t_fail "gpg key: $(cat "$T/gpg.err")"
printf '%s\n' "$PW" | gpg --batch --quiet --trust-model always --encrypt \
    -r t@example.org -o "$T/pass.gpg" 2>>"$T/gpg.err" ||
    t_fail "gpg encrypt: $(cat "$T/gpg.err")"

# conf NAME REMOTE-LINE... : the remote over IMAPS, the lines appended.
conf()
{
	local name=$1

	shift
	{
		cat <<EOF
database = $T/sync.db

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = localhost
port = ${PORT:-$DOVECOT_REMOTE_IMAPS_PORT}
SSL_CAfile = $DOVECOT_REMOTE_CERT
username = user
EOF
		printf '%s\n' "$@"
	} >"$T/$name.conf"
	chmod 600 "$T/$name.conf"
}

# fails NAME WHAT MESSAGE-REGEX: a run refused for password-command.
fails()
{
	local name=$1 what=$2 re=$3

	run_ours --config="$T/$name.conf"
	t_expect_eq "$OURS_RC" 1 "$what: exit 1"
	t_expect_match "$(cat "$T/ours.err")" "remote: ERROR: password-command: $re" \
	    "$what: said so"
	t_expect_eq "$(grep -c 'IMAP traffic' "$T/ours.err")" 0 \
	    "$what: no server reached"
}

# ---- gpg --decrypt ------------------------------------------------------------------

mail_add remote INBOX <(printf 'Subject: p\r\n\r\npassword-command\r\n')
conf gpg "password-command = gpg --batch --quiet --decrypt $T/pass.gpg"
run_ours --config="$T/gpg.conf" --debug
t_expect_eq "$OURS_RC" 0 "gpg --decrypt: the sync runs"
t_expect_match "$(cat "$T/ours.err")" "local\\(INBOX\\): Added 1 UID" \
    "gpg --decrypt: the message copied"
t_expect_match "$(cat "$T/ours.err")" "remote: password-command: pid [0-9]+" \
    "the command's pid shown, not the command"
t_expect_eq "$(grep -c 'gpg --batch' "$T/ours.err")" 0 \
    "the command line is not logged"

# The password reached the remote net only: the local one never had it
# (its section goes to it alone), which the remote's login proves too.
conf plain "password-command = printf '$PW\\r\\nsecond line\\n'"
run_ours --config="$T/plain.conf" --debug
t_expect_eq "$OURS_RC" 0 "CR LF, then more lines: the first line is the password"
t_expect_eq "$(grep -c "$PW" "$T/ours.err")" 0 \
    "the password is in no --debug line"

# ---- no prompt, ever --------------------------------------------------------------

conf stdin 'password-command = read -r p; printf "%s\n" "$p"'
fails stdin "a command reading its input" "printed nothing"
conf tty 'password-command = exec 3</dev/tty && echo pass'
fails tty "a command opening /dev/tty" "exited with status [0-9]+"

# On a terminal (a pseudo-terminal from script(1)), the command may ask:
# its prompt on the terminal, the answer typed there.
conf ask 'password-command = printf "Password: " >/dev/tty; read -r p </dev/tty; printf "%s\n" "$p"'
printf '%s\n' "$PW" | script -qec "$INTERIMAP --config=$T/ask.conf" \
    "$T/ask.typescript" >/dev/null 2>&1
t_expect_eq "$?" 0 "on a terminal: the command asks, the sync runs"
t_expect_match "$(tr -d '\r' <"$T/ask.typescript")" "Password: " \
    "on a terminal: its prompt shown there"

# ---- failures -------------------------------------------------------------------------

conf false "password-command = false"
fails false "a command that fails" "exited with status 1"
conf empty "password-command = true"
fails empty "a command that prints nothing" "printed nothing"
conf newline "password-command = echo"
fails newline "a command that prints an empty line" "printed nothing"
conf missing "password-command = /nonexistent/helper"
fails missing "a command that is not there" "exited with status 127"
t_expect_match "$(cat "$T/ours.err")" "can't exec /nonexistent/helper" \
    "the missing command named"
conf signal 'password-command = kill -TERM $$'
fails signal "a command killed by a signal" "killed by signal 15"
# A duration of this run's own, so that no other sleep is counted.
conf slow "password-command = sleep 120.$$"
start=$(date +%s)
fails slow "a command that never answers" "no answer within 30 s"
t_expect_eq "$(pgrep -f "sleep 120\\.$$" | wc -l)" 0 "the slow command is killed"
t_log "the refusal of the slow command took $(($(date +%s) - start)) s"

conf both "password = $PW" "password-command = echo $PW"
run_ours --config="$T/both.conf"
t_expect_eq "$OURS_RC" 2 "password and password-command: exit 2"
t_expect_match "$(cat "$T/ours.err")" \
    "password and password-command are both set" "both: said so"

# ---- --watch: asked again at every reconnection ------------------------------------

port=$(free_port)
mkdir -p "$T/relay"
python3 "$RELAY" tcp "$port" "$DOVECOT_REMOTE_IMAPS_PORT" "$T/relay" &
t_track_pid $!
relay=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$T/relay/listening" ] && break
	sleep 0.05
done
PORT=$port conf watch \
    "password-command = sh -c 'echo x >>$T/asked; echo $PW'"
"$INTERIMAP" --config="$T/watch.conf" --watch=3600 --debug </dev/null \
    >/dev/null 2>"$T/watch.err" &
pid=$!
t_track_pid "$pid"
idle()
{
	[ "$(grep -c '^engine: idle,' "$T/watch.err")" -ge "$1" ]
}
for ((i = 0; i < 600 && ! $(idle 1 && echo true || echo false); i++)); do
	sleep 0.1
done
t_expect_eq "$(grep -c . "$T/asked" 2>/dev/null)" 1 "--watch: asked once"
kill -USR1 "$relay"
for ((i = 0; i < 600 && ! $(idle 2 && echo true || echo false); i++)); do
	sleep 0.1
done
t_expect_match "$(cat "$T/watch.err")" "remote: connection lost; reconnecting" \
    "--watch: the connection cut"
t_expect_eq "$(grep -c . "$T/asked" 2>/dev/null)" 2 \
    "--watch: asked again for the new connection"
kill -TERM "$pid"
wait "$pid"
t_expect_eq "$?" 0 "--watch: SIGTERM, exit 0"
t_expect_eq "$(grep -c "$PW" "$T/watch.err")" 0 \
    "--watch: the password in no --debug line"
t_done
