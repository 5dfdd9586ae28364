#!/bin/bash
#
# The progress line (priv/progress.c): on a terminal (a pseudo-terminal
# from script(1)), a sync shows one line kept updated, "mailbox n of m,
# N messages (SIZE) copied...", drawn with "\r" and erased with
# "\r\033[K" before each log line and at the end; the log lines are
# intact around it.  Nothing of it when stderr is not a terminal, with
# -q, with --debug, or in the logfile.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }

mkdir -p "$T/msgs"
for i in $(seq 1 20); do
	printf 'From: a@example.org\r\nSubject: m%s\r\nMessage-ID: <m%s@progress>\r\n\r\nbody %s\r\n' \
	    "$i" "$i" "$i" >"$T/msgs/m$i.eml"
done
for mb in INBOX Archive Sent; do
	mail_add_many remote "$mb" "$T"/msgs/m*.eml
done

export TERM=xterm
# on_tty NAME ARGS...: our binary on a pseudo-terminal, what the terminal
# got in $T/NAME.tty, the exit status in $TTY_RC.
on_tty()
{
	local name=$1 cmd a

	shift
	cmd=$(printf '%q ' "$INTERIMAP" "$@")
	script -qefc "$cmd" /dev/null </dev/null >"$T/$name.tty" 2>&1
	TTY_RC=$?
}

# 1. A first sync on a terminal.
tunnel_config "$T/conf" "$T/db" "$tl" "$tr"
on_tty first --config="$T/conf"
t_expect_eq "$TTY_RC" 0 "first sync on a terminal"
out=$(cat "$T/first.tty")
t_expect_match "$out" $'\rmailbox 1 of 3, [0-9]+ messages? \\([0-9.]+ (B|KiB)\\) copied' \
    "the progress line names mailbox 1 of 3"
t_expect_match "$out" $'\rmailbox 3 of 3, 60 messages \\([0-9.]+ KiB\\) copied' \
    "the progress line reaches mailbox 3 of 3 with 60 messages copied"
# The last progress line drawn is erased before anything else comes.
t_expect_match "$(tr '\r' '\n' <"$T/first.tty" | grep -v '^$' |
    grep -A1 '^mailbox [0-9]* of' | tail -n 1)" $'^\033\\[K' \
    "the line is erased before the lines that follow"
t_expect_eq "$(tr '\r' '\n' <"$T/first.tty" | grep -v '^$' | tail -n 1 |
    grep -c 'mailbox [0-9]* of')" 0 "the terminal's last line is no progress line"
# The log lines, progress fragments taken out, are whole lines.
clean=$(sed -e $'s/\r[^\r]*\033\\[K//g' -e $'s/\r$//' "$T/first.tty")
t_expect_match "$clean" $'(^|\n)local\\(INBOX\\): Added 20 UID\\(s\\) 1:20 <- 1:20(\n|$)' \
    "log lines intact around the progress line (INBOX)"
t_expect_match "$clean" $'(^|\n)local\\(Sent\\): Added 20 UID\\(s\\) 1:20 <- 1:20(\n|$)' \
    "log lines intact around the progress line (Sent)"
t_expect_eq "$(grep -c 'mailbox [0-9]* of' <<<"$clean")" 0 \
    "nothing of the progress line is left between the log lines"
for mb in INBOX Archive Sent; do
	t_expect_eq "$(mail_dump local "$mb")" "$(mail_dump remote "$mb")" \
	    "$mb synchronised"
done

# 2. Not a terminal: nothing of it.
for mb in INBOX Archive Sent; do
	mail_add remote "$mb" "$T/msgs/m1.eml"
done
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "sync with stderr not a terminal"
t_expect_eq "$(grep -c -e 'mailbox [0-9]* of' -e $'\033' "$T/ours.err")" 0 \
    "no progress line when stderr is not a terminal"
t_expect_match "$(cat "$T/ours.err")" 'local\(INBOX\): Added 1 UID\(s\) 21 <- 21' \
    "the log lines are there"

# 3. -q and --debug on a terminal: none; 4. a logfile: none in it.
for mb in INBOX Archive Sent; do
	mail_add remote "$mb" "$T/msgs/m2.eml"
done
on_tty quiet -q --config="$T/conf"
t_expect_eq "$TTY_RC" 0 "-q on a terminal"
t_expect_eq "$(grep -c 'mailbox [0-9]* of' "$T/quiet.tty")" 0 \
    "no progress line with -q"
for mb in INBOX Archive Sent; do
	mail_add remote "$mb" "$T/msgs/m3.eml"
done
on_tty debug --debug --config="$T/conf"
t_expect_eq "$TTY_RC" 0 "--debug on a terminal"
t_expect_eq "$(grep -c 'mailbox [0-9]* of' "$T/debug.tty")" 0 \
    "no progress line with --debug"

tunnel_config "$T/conf-log" "$T/db" "$tl" "$tr" "logfile = $T/interimap.log"
for mb in INBOX Archive Sent; do
	mail_add remote "$mb" "$T/msgs/m4.eml"
done
on_tty logfile --config="$T/conf-log"
t_expect_eq "$TTY_RC" 0 "sync with a logfile on a terminal"
t_expect_match "$(cat "$T/logfile.tty")" $'\rmailbox 3 of 3, 3 messages' \
    "the terminal has the progress line"
t_expect_match "$(cat "$T/interimap.log")" 'local\(INBOX\): Added 1 UID\(s\) 24 <- 24' \
    "the logfile has the log lines"
t_expect_eq "$(grep -c -e 'mailbox [0-9]* of' -e $'\033' "$T/interimap.log")" 0 \
    "no progress line in the logfile"
for mb in INBOX Archive Sent; do
	t_expect_eq "$(mail_dump local "$mb")" "$(mail_dump remote "$mb")" \
	    "$mb synchronised at the end"
done

t_done
