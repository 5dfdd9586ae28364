#!/bin/bash
#
# The reference's sync bugs we fix, side by side: the same servers, the
# same changes, the reference (/usr/bin/interimap) in world A and ours in
# world B.  Each case checks that the reference still shows the bug (so
# the test can fail) and that ours does not, with both worlds' final
# server states compared where the fix must not change the outcome:
#   §9.2  flag change + expunge of one message in one round: the reference
#         warns "No match for modified local UID ... Try '--repair'";
#   §9.6  the reference sends an empty UID FETCH after its own APPEND;
#   §9.8  a refused UID EXPUNGE: the reference leaves an orphan (later
#         "No match" warnings, the two sides differ for good); ours copies
#         the message back;
#   §9.11 an interrupted sync: the reference resumes with a plain SELECT
#         and loses a change made meanwhile to an old message; ours
#         propagates it.

source "$SRCDIR/tests/lib/common.sh"
t_setup

for w in A B; do
	mkdir -p "$T/acl$w"
	echo 'INBOX user=imaptest lrwstie' >"$T/acl$w/global.acl"
	chmod 755 "$T/acl$w"
	chmod 644 "$T/acl$w/global.acl"
	tl=$(DOVECOT_EXTRA_CONF="mail_plugins = \$mail_plugins acl
plugin {
  acl = vfile:$T/acl$w/global.acl
}" dovecot_tunnel "local$w" /) || { t_fail "dovecot_tunnel"; t_done; }
	tr=$(dovecot_tunnel "remote$w" /) || { t_fail "dovecot_tunnel"; t_done; }
	write_config "$T/$w.conf" <<EOF
database = $T/$w.db

[local]
type = tunnel
command = $tl

[remote]
type = tunnel
command = $tr
EOF
done

mkdir -p "$T/msgs"
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@diff-fixes>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}

# both SIDE CMD ARGS...: a change made the same way in both worlds.
both()
{
	local side=$1 cmd=$2

	shift 2
	"$cmd" "${side}A" "$@"
	"$cmd" "${side}B" "$@"
}

# run_both [ARGS...]: the reference in A, ours in B.
run_both()
{
	run_ref --config="$T/A.conf" "$@"
	run_ours --config="$T/B.conf" "$@"
}

same_state()
{
	t_expect_eq "$(mail_dump localB INBOX)" "$(mail_dump localA INBOX)" \
	    "$1: local INBOX, reference = ours"
	t_expect_eq "$(mail_dump remoteB INBOX)" "$(mail_dump remoteA INBOX)" \
	    "$1: remote INBOX, reference = ours"
}

# ---- §9.6 ---------------------------------------------------------------

export MAIL_DATE="01-Mar-2024 09:00:00 +0000"
both remote mail_add_many INBOX "$(msg one)" "$(msg two)" "$(msg three)"
both local mail_add INBOX "$(msg four)" '\Seen'
unset MAIL_DATE
run_both --debug
t_expect_eq "$REF_RC:$OURS_RC" "0:0" "first sync"
same_state "first sync"
# After its APPEND to remote, the reference fetches remote's "new" mail
# again: its own copy's EXISTS.
ref_fetch=$(grep -c 'remote(INBOX): C: [0-9]* UID FETCH .*INTERNALDATE BODY.PEEK' "$T/ref.err")
ours_fetch=$(grep -c 'remote(INBOX): C: [0-9]* UID FETCH .*INTERNALDATE BODY.PEEK' "$T/ours.err")
t_expect_eq "$ref_fetch" 2 \
    "§9.6: the reference fetches remote new mail twice (once for nothing)"
t_expect_eq "$ours_fetch" 1 "§9.6: ours once"

# ---- §9.2 ---------------------------------------------------------------

both local mail_store INBOX 2 + '\Flagged'
both remote mail_expunge INBOX 1
run_both
t_expect_eq "$REF_RC:$OURS_RC" "0:0" "flag change and expunge"
t_expect_match "$(cat "$T/ref.err")" \
    "remote\\(INBOX\\): WARNING: No match for modified local UID 2\\. Try '--repair'\\." \
    "§9.2: the reference's spurious warning"
if grep -q 'No match' "$T/ours.err"; then
	t_fail "§9.2: no warning from ours"
else
	t_pass "§9.2: no warning from ours"
fi
same_state "§9.2"

# ---- §9.8 ---------------------------------------------------------------

for w in A B; do
	echo 'INBOX user=imaptest lrwsti' >"$T/acl$w/global.acl"
done
both remote mail_expunge INBOX 2
run_both
t_expect_eq "$REF_RC:$OURS_RC" "0:0" "refused expunge"
t_expect_match "$(cat "$T/ref.err")" "WARNING: Couldn't UID EXPUNGE 3" \
    "§9.8: the reference warns"
t_expect_match "$(cat "$T/ours.err")" "WARNING: Couldn't UID EXPUNGE 3" \
    "§9.8: ours warns the same"
t_expect_eq "$(mail_dump remoteB INBOX)" "$(mail_dump localB INBOX)" \
    "§9.8: ours copied the message back: the sides agree"
t_expect_eq "$(mail_dump remoteA INBOX | wc -l)" \
    "$(( $(mail_dump localA INBOX | wc -l) - 1 ))" \
    "§9.8: the reference leaves the two sides different"
# A later change to the orphan.
for w in A B; do
	echo 'INBOX user=imaptest lrwstie' >"$T/acl$w/global.acl"
done
both local mail_store INBOX 3 + '\Answered'
run_both
t_expect_match "$(cat "$T/ref.err")" \
    "WARNING: No match for modified local UID 3\\. Try '--repair'\\." \
    "§9.8: the reference's orphan: 'No match' ever after"
if grep -q 'No match' "$T/ours.err"; then
	t_fail "§9.8: no orphan in ours"
else
	t_pass "§9.8: no orphan in ours"
fi
t_expect_eq "$(mail_dump remoteB INBOX)" "$(mail_dump localB INBOX)" \
    "§9.8: ours in sync"

# ---- §9.11 --------------------------------------------------------------

# An interrupted sync: ours killed right after committing the copies'
# mapping rows; both worlds then start from that very state.
export MAIL_DATE="02-Mar-2024 09:00:00 +0000"
mail_add_many remoteB INBOX "$(msg five)" "$(msg six)"
unset MAIL_DATE
INTERIMAP_TEST_KILL_AT=1 run_ours --config="$T/B.conf"
t_expect_eq "$OURS_RC" 137 "interrupted (world B)"
# Its server sessions end with their sockets.
for ((i = 0; i < 100; i++)); do
	[ -z "$(_t_marked_pids)" ] && break
	sleep 0.1
done
for s in local remote; do
	rm -rf "$T/${s}A/home"
	cp -a "$T/${s}B/home" "$T/${s}A/home"
done
cp "$T/B.db" "$T/A.db"
t_expect_eq "$(sqlite3 "$T/A.db" 'SELECT count(*) FROM mapping m JOIN local l ON m.idx = l.idx WHERE lUID >= l.UIDNEXT')" \
    2 "two mapping rows beyond UIDNEXT"
# Meanwhile, an old message gets a flag on local.
old=$(sqlite3 "$T/A.db" 'SELECT lUID FROM mapping m JOIN local l ON m.idx = l.idx WHERE lUID < l.UIDNEXT ORDER BY lUID LIMIT 1')
both local mail_store INBOX "$old" + '$Later'
run_both
t_expect_eq "$REF_RC:$OURS_RC" "0:0" "resumed"
t_expect_match "$(cat "$T/ref.err")" 'Resuming interrupted sync for INBOX' \
    "the reference resumes"
t_expect_match "$(cat "$T/ours.err")" 'Resuming interrupted sync for INBOX' \
    "ours resumes"
if mail_dump remoteA INBOX | grep -q 'Later'; then
	t_fail "§9.11: the reference loses the change made meanwhile"
else
	t_pass "§9.11: the reference loses the change made meanwhile"
fi
t_expect_match "$(mail_dump remoteB INBOX)" '\$Later' \
    "§9.11: ours propagates it"
t_expect_eq "$(mail_dump remoteB INBOX)" "$(mail_dump localB INBOX)" \
    "§9.11: ours in sync"
run_both
t_expect_eq "$REF_RC:$OURS_RC" "0:0" "and a run after"
t_expect_eq "$(mail_dump remoteA INBOX | grep -c Later)" 0 \
    "§9.11: the reference never catches up"

t_done
