#!/bin/bash
#
# The reference's sync bugs we fix (REFERENCE-BEHAVIOUR §9), each shown on
# real Dovecot servers, with both servers' state checked afterwards:
#   2  a flag change on one side and an expunge of the same message on the
#      other, in one round: no spurious "No match ... Try '--repair'";
#   6  our own APPEND is not new mail: no empty UID FETCH after a batch;
#   8  a UID EXPUNGE the server refuses (an ACL without the expunge right)
#      leaves no orphan: the message is copied back to where it vanished;
#  11  an interrupted sync resumes with QRESYNC from the last synced
#      state: a change to an old message made after the interruption is
#      propagated (the reference's plain SELECT drops it);
# and copies made by a run killed between an APPEND and its commit are
# recognised by the next run instead of being copied back (duplicates).
# tests/diff/sync_fixes.sh runs the reference on the same scenarios.

source "$SRCDIR/tests/lib/common.sh"
t_setup

# The local server has an ACL we can take the expunge right away with.
mkdir -p "$T/acl"
echo 'INBOX user=imaptest lrwstie' >"$T/acl/global.acl"
chmod 755 "$T/acl"
chmod 644 "$T/acl/global.acl"
tl=$(DOVECOT_EXTRA_CONF="mail_plugins = \$mail_plugins acl
plugin {
  acl = vfile:$T/acl/global.acl
}" dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }

tunnel_config "$T/fixes.conf" "$T/fixes.db" "$tl" "$tr"

mkdir -p "$T/msgs"
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@fixes>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}

in_sync()
{
	t_expect_eq "$(mail_dump local INBOX)" "$(mail_dump remote INBOX)" \
	    "$1: INBOX identical on both sides"
}

# ---- §9.6: no wasted FETCH after our own APPEND ---------------------------

mail_add_many remote INBOX "$(msg one)" "$(msg two)" "$(msg three)"
mail_add local INBOX "$(msg four)" '\Seen'
run_ours --debug --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "first sync"
t_expect_match "$(cat "$T/ours.err")" \
    $'local\\(INBOX\\): Added 3 UID\\(s\\) 2:4 <- 1:3\n' "three copied to local"
t_expect_match "$(cat "$T/ours.err")" \
    $'remote\\(INBOX\\): Added 1 UID\\(s\\) 1 -> 4\n' "one copied to remote"
# (The FETCHes of messages to copy; the reference adds an empty one on
# local after its APPEND.)
fetches=$(grep -c 'C: [0-9]* UID FETCH .*INTERNALDATE BODY.PEEK' \
    "$T/ours.err")
t_expect_eq "$fetches" 2 \
    "§9.6: two copying FETCHes (one per side with new mail), no empty one"
in_sync "first sync"
run_ours -q --config="$T/fixes.conf"
t_expect_eq "$OURS_RC:$(cat "$T/ours.err")" "0:" "then nothing to do"

# ---- §9.2: flag change here, expunge there ---------------------------------

mail_store local INBOX 2 + '\Flagged'
mail_expunge remote INBOX 1
mail_store remote INBOX 3 + '\Answered'
mail_expunge local INBOX 4
run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "flag change and expunge in one round"
err=$(cat "$T/ours.err")
t_expect_match "$err" $'local\\(INBOX\\): Removed 1 UID\\(s\\) 2\n' \
    "the local copy of the remote expunge removed"
t_expect_match "$err" $'remote\\(INBOX\\): Removed 1 UID\\(s\\) 3\n' \
    "the remote copy of the local expunge removed"
if [[ $err == *"No match"* ]]; then
	t_fail "§9.2: no spurious 'No match' warning"
	echo "$err" | sed 's/^/#   /'
else
	t_pass "§9.2: no spurious 'No match' warning"
fi
in_sync "§9.2"
t_expect_eq "$(mail_dump local INBOX | wc -l)" 2 "two messages left"

# ---- §9.8: an expunge the server refuses -----------------------------------

mail_add remote INBOX "$(msg five)" '\Seen'
run_ours -q --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "sync of a fifth message"
before=$(mail_dump local INBOX)
echo 'INBOX user=imaptest lrwsti' >"$T/acl/global.acl"	# no expunge
uid=$(mail_uids remote INBOX | tail -n 1)
mail_expunge remote INBOX "$uid"
run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "§9.8: a refused expunge is not fatal"
err=$(cat "$T/ours.err")
t_expect_match "$err" $'local\\(INBOX\\): WARNING: Couldn\'t UID EXPUNGE [0-9]+\n' \
    "§9.8: the reference's warning"
t_expect_match "$err" $'remote\\(INBOX\\): Added 1 UID\\(s\\) [0-9]+ -> [0-9]+\n' \
    "§9.8: the message is copied back to remote"
t_expect_eq "$(mail_dump remote INBOX)" "$before" \
    "§9.8: remote has every message again, with its flags"
in_sync "§9.8"
echo 'INBOX user=imaptest lrwstie' >"$T/acl/global.acl"
run_ours -q --config="$T/fixes.conf"
t_expect_eq "$OURS_RC:$(cat "$T/ours.err")" "0:" \
    "§9.8: then nothing to do (no orphan, no 'No match')"

# ---- §9.11: resuming with QRESYNC --------------------------------------------

mail_add_many remote INBOX "$(msg six)" "$(msg seven)" "$(msg eight)"
# Killed right after the commit of the copies' mapping rows, before the
# UIDNEXTs are stored: the next run resumes.
INTERIMAP_TEST_KILL_AT=1 run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 137 "interrupted after the copies' commit"
t_expect_eq "$(sqlite3 "$T/fixes.db" 'SELECT count(*) FROM mapping m JOIN local l ON m.idx = l.idx WHERE lUID >= l.UIDNEXT')" \
    3 "three mapping rows beyond UIDNEXT: an interrupted sync"
# Meanwhile, an old message changes on each side (two different pairs).
pairs=$(sqlite3 "$T/fixes.db" 'SELECT lUID, rUID FROM mapping m JOIN local l ON m.idx = l.idx WHERE lUID < l.UIDNEXT ORDER BY lUID LIMIT 2')
mail_store local INBOX "$(echo "$pairs" | sed -n '1s/|.*//p')" + '$Important'
mail_expunge remote INBOX "$(echo "$pairs" | sed -n '2s/.*|//p')"
run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "resumed sync"
err=$(cat "$T/ours.err")
t_expect_match "$err" 'Resuming interrupted sync for INBOX' "resumed"
t_expect_match "$err" $'remote\\(INBOX\\): Updated flags \\(\\$Important[^)]*\\) for UID' \
    "§9.11: the flag change made meanwhile is propagated"
t_expect_match "$err" $'local\\(INBOX\\): Removed 1 UID\\(s\\)' \
    "§9.11: the expunge made meanwhile is propagated"
in_sync "§9.11"
t_expect_match "$(mail_dump remote INBOX)" '\$Important' "flag on remote"
run_ours -q --config="$T/fixes.conf"
t_expect_eq "$OURS_RC:$(cat "$T/ours.err")" "0:" "then nothing to do"

# ---- copies of a run killed between APPEND and commit -----------------------

count=$(mail_dump local INBOX | wc -l)
mail_add_many remote INBOX "$(msg nine)" "$(msg ten)"
mail_add local INBOX "$(msg eleven)"
# Killed instead of the commit of the copies' mapping rows: the copies
# are on local (and, the engine having gone on until it noticed, maybe
# the other way too), the database does not know them.
INTERIMAP_TEST_KILL_BEFORE=1 run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 137 "interrupted before the copies' commit"
t_expect_eq "$(mail_dump local INBOX | wc -l)" $((count + 3)) \
    "the copies were made"
run_ours --config="$T/fixes.conf"
t_expect_eq "$OURS_RC" 0 "the next sync"
t_expect_match "$(cat "$T/ours.err")" \
    'Recovered [23] message\(s\) copied by an interrupted sync of INBOX: local UID\(s\) [0-9:,]+ = remote UID\(s\) [0-9:,]+' \
    "the copies are recognised"
in_sync "after the interrupted copies"
t_expect_eq "$(mail_dump local INBOX | wc -l)" $((count + 3)) \
    "nothing duplicated"
t_expect_eq "$(mail_dump local INBOX | cut -d' ' -f1 | sort | uniq -d)" "" \
    "every message once"

t_done
