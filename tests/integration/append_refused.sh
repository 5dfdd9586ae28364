#!/bin/bash
#
# Copies that the target server refuses for good (engine/append.c):
# messages larger than it takes.  The target is the local Dovecot with
# the quota plugin's quota_max_mail_size = 100k (NO [LIMIT]), fed by the
# remote; in @cyrus, Cyrus IMAP with maxmessagesize: 100000, fed by the
# local.  The source's INBOX holds small messages with two of 200 kB
# among them (one MULTIAPPEND batch, which the target refuses whole),
# Work one small message:
#  - one-shot run: a warning for each large message, the small ones of
#    the same batch copied one by one, Work copied, an ERROR at the end
#    naming the messages not copied and --repair, exit 1;
#  - the next run copies a new message and does not try them again:
#    exit 0, no warning;
#  - --repair tries them again: the same warnings and ERROR, exit 1;
#  - --watch=1: a large message that arrives is refused with a warning,
#    a small one copied, no ERROR, SIGTERM ends it with 0;
#  - once the user deletes them from the source, a run ends with 0 (the
#    only warning: those UIDs vanished, which no mapping row knew), and
#    the next one has nothing to do;
#  - every run: both sides hold the same messages but the refused ones,
#    each once.
# (The reference stops at the first refused APPEND, on every run, and
# copies nothing after it.)
#
# ctest-variants: cyrus

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

if [ "$T_REMOTE" = cyrus ]; then
	tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
	CYRUS_EXTRA_CONF='maxmessagesize: 100000' cyrus_server remote / ||
	    { t_fail "cyrus_server remote"; t_done; }
	SRC=local DST=remote
else
	tl=$(DOVECOT_EXTRA_CONF='mail_plugins = $mail_plugins quota
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_max_mail_size = 100k
}' dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
	dovecot_server remote / || { t_fail "dovecot_server remote"; t_done; }
	SRC=remote DST=local
fi
imaps_config "$T/c.conf" "$T/sync.db" "$tl"

mkdir -p "$T/msgs"
msg() # NAME [big]
{
	{
		printf 'From: a@example.org\r\nSubject: %s\r\n' "$1"
		printf 'Message-ID: <%s@ar>\r\n\r\n' "$1"
		if [ "${2:-}" = big ]; then
			head -c 150000 /dev/urandom | base64 | sed 's/$/\r/'
		else
			printf 'body %s\r\n' "$1"
		fi
	} >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}
# subjects SERVER MAILBOX: the Subjects there, sorted, one a line.
subjects()
{
	mail_dump "$1" "$2" >/dev/null || return
	_t_imapctl "$1" raw "SELECT $2" "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])" |
	    grep -o 'Subject: [a-z0-9]*' | sed 's/Subject: //' | LC_ALL=C sort
}
# same WHAT: both sides' INBOX and Work as the source's, but the large
# messages (b1, b2) still there.
same()
{
	local m

	for m in INBOX Work; do
		t_expect_eq "$(subjects "$DST" "$m" | paste -sd' ')" \
		    "$(subjects "$SRC" "$m" | grep -v '^b' | paste -sd' ')" \
		    "$1: $m the same on both sides, but the large ones"
	done
}

mail_add_many "$SRC" INBOX "$(msg s1)" "$(msg b1 big)" "$(msg s2)" \
    "$(msg b2 big)" "$(msg s3)"
mailbox_create "$SRC" Work
mail_add_many "$SRC" Work "$(msg w1)"
# A refusal: the server's NO and its code, or, where the server
# advertises APPENDLIMIT (Cyrus), ours before sending.
WARN="$DST\\(INBOX\\): WARNING: Couldn't append UID"
WHY="(NO \\[|[0-9]+ bytes, larger than the server's APPENDLIMIT \\(100000\\))"
ERR="$DST(INBOX): ERROR: 2 message(s) not copied: the server refused UID(s) 2,4 of $SRC; \`interimap --repair INBOX\` copies them once it takes them"

# ---- first run ---------------------------------------------------------
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 1 "first run: exit 1"
cp "$T/ours.err" "$T/first.err"
err=$(cat "$T/ours.err")
t_expect_eq "$(grep -cE "^$WARN [24] of $SRC: $WHY" <<<"$err")" 2 \
    "first run: a warning for each large message, with the server's code"
expect_line "$T/ours.err" "$ERR" "first run: an ERROR names them at the end"
t_expect_eq "$(grep -c ERROR <<<"$err")" 1 "first run: one ERROR"
t_expect_eq "$(subjects "$DST" INBOX | paste -sd' ')" "s1 s2 s3" \
    "first run: the small ones of the batch copied"
t_expect_eq "$(subjects "$DST" Work)" "w1" "first run: Work copied"
same "first run"

# ---- second run: a new message, the refused ones left -------------------
mail_add_many "$SRC" INBOX "$(msg s4)"
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "second run: exit 0"
t_hasnt "$(cat "$T/ours.err")" 'WARNING|ERROR' "second run: no warning"
t_expect_eq "$(subjects "$DST" INBOX | paste -sd' ')" "s1 s2 s3 s4" \
    "second run: the new message copied, nothing twice"
same "second run"

# ---- --repair tries them again ----------------------------------------------
run_ours --config="$T/c.conf" --repair INBOX
t_expect_eq "$OURS_RC" 1 "repair: exit 1"
err=$(cat "$T/ours.err")
t_expect_eq "$(grep -cE "^$WARN [24] of $SRC: $WHY" <<<"$err")" 2 \
    "repair: tried again"
expect_line "$T/ours.err" "$ERR" "repair: the same ERROR"
same "repair"

# ---- watch mode --------------------------------------------------------
# --debug for its passes ("engine: idle,"): the large message must not be
# tried again in the two passes after the one that refused it.
"$INTERIMAP" --config="$T/c.conf" --debug --watch=1 </dev/null \
    >"$T/w.out" 2>"$T/w.err" &
pid=$!
t_track_pid "$pid"
WAIT_PID=$pid wait_for "$T/w.err" '^engine: idle,' ||
    t_fail "watch: the first pass"
mail_add_many "$SRC" INBOX "$(msg b3 big)" "$(msg s5)"
# s5 is the source's UID 8, copied either way round.
WAIT_PID=$pid wait_for "$T/w.err" \
    "^$DST\\(INBOX\\): Added 1 UID\\(s\\) ([0-9]+ <- 8|8 -> [0-9]+)\$" ||
    t_fail "watch: the new small message copied"
passes=$(grep -c '^engine: idle,' "$T/w.err")
WAIT_PID=$pid wait_for "$T/w.err" '^engine: idle,' $((passes + 2)) ||
    t_fail "watch: two passes after it"
kill -TERM "$pid"
wait "$pid"
t_expect_eq "$?" 0 "watch: SIGTERM, exit 0"
t_expect_eq "$(grep -cE "^$WARN 7 of $SRC: $WHY" "$T/w.err")" 1 \
    "watch: the new large message refused, once"
t_hasnt "$(cat "$T/w.err")" 'ERROR' "watch: no ERROR"
t_expect_eq "$(subjects "$DST" INBOX | paste -sd' ')" "s1 s2 s3 s4 s5" \
    "watch: the new small message copied, nothing twice"
same "watch"

# ---- the user deletes them ---------------------------------------------
mail_expunge "$SRC" INBOX 2,4,7
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "deleted: exit 0"
t_expect_eq "$(grep -E 'WARNING|ERROR' "$T/ours.err")" \
    "$DST(INBOX): WARNING: No match for 3 vanished $SRC UID(s) 2,4,7. Ignoring." \
    "deleted: the only warning, about those UIDs"
same "deleted"
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "deleted: a run after it"
t_hasnt "$(cat "$T/ours.err")" \
    'Added|Removed|Updated|Created|Resuming|WARNING|ERROR' \
    "deleted: ... has nothing to do"

t_done
