#!/bin/bash
#
# Servers without QRESYNC, synced with CONDSTORE (net/imap_ops.c turns
# the engine's QRESYNC SELECT into SELECT, UID SEARCH and UID FETCH
# CHANGEDSINCE, and "* n EXPUNGE" / "* n FETCH" into UIDs):
#
#  - against a scripted server (net_fake_imap.py), the exact commands
#    and what the engine is told: VANISHED (EARLIER) of the known UIDs
#    missing from ESEARCH ALL or from plain SEARCHes (in pieces of
#    50,000 UIDs, expunges coming in between), the flag changes,
#    an EXPUNGE and a FETCH without UID in sequence numbers; SELECT
#    (CONDSTORE) where ENABLE is not offered; [CLOSED] said where the
#    server does not say it; and a hostile server's
#    lies (an EXPUNGE or FETCH beyond the mailbox, more UIDs than
#    messages, a UID out of order, a UID SEARCH without result, a UID
#    list that never matches the session) refused with an error that
#    names them; and a UID list that does not match the session (Cyrus
#    IMAP's, after another session's expunge or append) asked for again;
#  - the method's choice: `sync-method` forcing either method, a bad
#    value, each refused before anything is written; a server with
#    neither capability synced plain (its flags kept in the database,
#    a flag removed there or here propagated), and plain forced on one
#    that offers CONDSTORE;
#  - against real Dovecots: both sides without QRESYNC (the remote
#    without LIST-STATUS either), and a server that
#    offers QRESYNC synced with CONDSTORE on request, through new mail,
#    flag changes and expunges on both sides, ending identical with a
#    next run that has nothing to do, on one connection and with
#    connections = 3;
#    and --repair, for which every
#    message gone from a CONDSTORE server counts as expunged.
#
# The differential and crash-resume scenarios run with QRESYNC hidden
# too: the @condstore and @cyrus-condstore variants of
# diff/scenario_messages and the others (tests/CMakeLists.txt).

source "$SRCDIR/tests/lib/common.sh"
t_setup

# The engine's view of the remote, in order.
seen() { grep -E '^remote: (VANISHED|FETCH|EXISTS|#[0-9])' <<<"$ERR"; }

SEL="remote select INBOX 42 7 1:6; remote noop"

# ---- the emulation, command by command ----------------------------------------

fake_conf condstore
fake_run "$SEL"
t_expect_eq "$OURS_RC" 0 "ESEARCH: exit 0"
t_expect_eq "$(grep '^C: 00000[0-4]' <<<"$FLOG")" \
    "$(printf '%s\n' 'C: 000000 ENABLE CONDSTORE' 'C: 000001 SELECT INBOX' \
    'C: 000002 UID SEARCH RETURN (ALL) ALL' \
    'C: 000003 UID FETCH 1:6 (FLAGS MODSEQ) (CHANGEDSINCE 7)' \
    'C: 000004 NOOP')" \
    "ESEARCH: ENABLE CONDSTORE, then SELECT, UID SEARCH and the flag changes"
t_expect_eq "$(seen | sed 's/ date=.*//')" "$(printf '%s\n' \
    'remote: EXISTS 3' \
    'remote: VANISHED (EARLIER) 2,4,6' \
    'remote: FETCH seq=3 uid=5 modseq=9 flags=(\Seen)' \
    'remote: #1 SELECT OK [READ-WRITE] selected {READ-WRITE }' \
    'remote: VANISHED 3' \
    'remote: FETCH seq=1 uid=1 modseq=10 flags=(\Flagged)' \
    'remote: #2 NOOP OK noop')" \
    "ESEARCH: QRESYNC's answers: known UIDs gone, flag changes, then EXPUNGE 2 as UID 3 and FETCH 1 with UID 1"
t_has "$ERR" "remote: Server lacks QRESYNC: syncing with CONDSTORE, expunges found by comparing UID lists" \
    "the method is said once"
t_expect_eq "$(grep -c 'syncing with CONDSTORE' <<<"$ERR")" 1 "... only once"

fake_conf condstore_search
fake_run "$SEL"
t_expect_eq "$OURS_RC" 0 "SEARCH: exit 0"
t_expect_eq "$(seen | grep VANISHED | tr '\n' ,)" \
    "remote: VANISHED (EARLIER) 2,4,6,remote: VANISHED 3," \
    "SEARCH (unsorted): the same UIDs gone"

fake_conf condstore_noenable
fake_run "$SEL"
t_expect_eq "$OURS_RC" 0 "no ENABLE: exit 0"
t_has "$FLOG" "C: 000000 SELECT INBOX \(CONDSTORE\)" \
    "without ENABLE: SELECT (CONDSTORE)"
t_expect_eq "$(seen | grep -c VANISHED)" 2 "without ENABLE: same answers"

# Without ESEARCH, the UID list in pieces of 50,000 UIDs (each answer
# within the line limit): the first with the SELECT, the others once it
# tells UIDNEXT (or to "*" when it does not).  The server expunges as the
# pieces come (the NOOPs run between the first piece and the others):
# the known UIDs missing at the end are the ones gone; the flag change
# reported by sequence number before the list was complete is fetched
# again by UID.
for sc in condstore_big condstore_big_nouidnext; do
	fake_conf "$sc"
	fake_run "remote select INBOX 42 7 1:120000; remote noop; remote noop"
	t_expect_eq "$OURS_RC" 0 "$sc: exit 0"
	t_expect_eq "$(seen | grep VANISHED | tr '\n' ,)" \
	    "remote: VANISHED (EARLIER) 1:99998,100000:119999," \
	    "$sc: the UIDs gone, whenever they went"
	t_has "$FLOG" "C: [0-9]+ UID FETCH 1:\* \(FLAGS MODSEQ\) \(CHANGEDSINCE 9\)" \
	    "$sc: the flag change by sequence number fetched again by UID"
done
t_expect_eq "$(grep 'UID SEARCH' <<<"$FLOG" | cut -d' ' -f3-)" \
    "$(printf '%s\n' 'UID SEARCH UID 1:50000' 'UID SEARCH UID 50001:*')" \
    "without [UIDNEXT]: the first piece, then one to the end"
fake_conf condstore_big
fake_run "remote select INBOX 42 7 1:120000"
t_expect_eq "$(grep 'UID SEARCH' <<<"$FLOG" | cut -d' ' -f3-)" \
    "$(printf '%s\n' 'UID SEARCH UID 1:50000' 'UID SEARCH UID 50001:100000' \
    'UID SEARCH UID 100001:120000')" \
    "with [UIDNEXT 120001]: three pieces, up to it"
# A UID list that does not match the session (Cyrus IMAP leaves out of
# UID SEARCH a message another session expunged, and lists one another
# session appended, before telling this one, with a later command): its
# sequence numbers would be off from there (with one of each, the count
# still matches), and the UID FETCH's "* 3 FETCH (UID 5" taken for a
# server's lie.  The list is asked for again behind a NOOP, once the
# EXPUNGE and EXISTS are in, and the numbers are right again; with
# ESEARCH and with SEARCH in pieces alike.
for sc in condstore_late condstore_late_search condstore_late_expunge \
    condstore_late_append; do
	fake_conf "$sc"
	fake_run "$SEL"
	t_expect_eq "$OURS_RC" 0 "$sc: UID list unlike the session: exit 0"
	t_hasnt "$ERR" "Protocol error" "$sc: no protocol error"
	t_expect_eq "$(seen | grep VANISHED | tr '\n' ,)" \
	    "remote: VANISHED (EARLIER) $([ $sc = condstore_late_append ] &&
	    echo 2,4 || echo 2:4)," \
	    "$sc: the UIDs gone, the one expunged meanwhile with the others"
	t_expect_eq "$(grep -c 'C: [0-9]* UID SEARCH' <<<"$FLOG")" 2 \
	    "$sc: the list asked for twice"
done
t_expect_eq "$(grep -E '^C: [0-9]+ (UID SEARCH|NOOP)' <<<"$FLOG" |
    cut -d' ' -f3- | tr '\n' ,)" \
    "UID SEARCH RETURN (ALL) ALL,NOOP,NOOP,UID SEARCH RETURN (ALL) ALL," \
    "asked for again behind a NOOP (behind the engine's, sent already)"
# A list short of messages the session was told of after the SELECT
# (Dovecot runs an APPEND pipelined behind the SEARCH alongside it): the
# last ones, whose UIDs come later; taken at once.
fake_conf condstore_told_first
fake_run "$SEL"
t_expect_eq "$OURS_RC" 0 "list short of the last EXISTS: exit 0"
t_expect_eq "$(grep -c 'C: [0-9]* UID SEARCH' <<<"$FLOG")" 1 \
    "list short of the last EXISTS: taken, not asked for again"
t_expect_eq "$(seen | grep VANISHED | tr '\n' ,)" \
    "remote: VANISHED (EARLIER) 2,4," "... the UIDs gone"
fake_conf condstore_late_search
fake_run "$SEL"
t_expect_eq "$(grep -E '^C: [0-9]+ (UID SEARCH|NOOP)' <<<"$FLOG" |
    cut -d' ' -f3- | tr '\n' ,)" \
    "UID SEARCH UID 1:50000,NOOP,NOOP,UID SEARCH UID 1:50000," \
    "SEARCH: the piece asked for again behind a NOOP"
t_has "$FLOG" "C: [0-9]+ UID FETCH 1:\* \(FLAGS MODSEQ\) \(CHANGEDSINCE 9\)" \
    "SEARCH: the flag change told before the list was whole fetched again by UID"
fake_conf condstore_late
fake_run "$SEL"
t_expect_eq "$(seen | sed 's/ date=.*//')" "$(printf '%s\n' \
    'remote: EXISTS 4' \
    'remote: FETCH seq=3 uid=5 modseq=9 flags=(\Seen)' \
    'remote: EXISTS 4' \
    'remote: VANISHED (EARLIER) 2:4' \
    'remote: FETCH seq=3 uid=6 modseq=10 flags=(\Flagged)' \
    'remote: #1 SELECT OK [READ-WRITE] selected {READ-WRITE }' \
    'remote: #2 NOOP OK noop')" \
    "ESEARCH: message 3 is UID 6 once the list is in"

# An IDLE behind such a SELECT waits until the SELECT is answered whole:
# what the SELECT adds (here the flag change told by sequence number
# before the UID list, fetched again by UID) would otherwise wait behind
# the IDLE, and the engine, which ends an IDLE only when it has something
# else to do, for the SELECT (a --notify run with Cyrus IMAP stalled so).
fake_conf condstore_lost_flags
fake_run "remote select INBOX 42 7 1:6; remote idle; pause 2; remote done; wait"
t_expect_eq "$OURS_RC" 0 "IDLE behind the SELECT: exit 0"
t_expect_eq "$(grep -E '^(C: [0-9]+ |#: IDLE)' <<<"$FLOG" | cut -d' ' -f3- |
    tr '\n' ,)" \
    "ENABLE CONDSTORE,SELECT INBOX,UID SEARCH RETURN (ALL) ALL,UID FETCH 1:6 (FLAGS MODSEQ) (CHANGEDSINCE 7),UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 7),IDLE,ended by b'DONE\\r\\n',LOGOUT," \
    "IDLE behind the SELECT: the SELECT's own FETCH first, then IDLE"
t_expect_match "$(seen | tr '\n' ,)" "#1 SELECT OK .*#2 IDLE OK" \
    "IDLE behind the SELECT: both answered"

fake_conf condstore_search
fake_run "$SEL"
t_has "$FLOG" "C: 000002 UID SEARCH UID 1:50000" \
    "a small mailbox without ESEARCH: one piece, with the SELECT"
t_expect_eq "$(grep -c 'UID SEARCH' <<<"$FLOG")" 1 "... and only that one"

# A SELECT without known state: no UID FETCH, no VANISHED.
fake_conf condstore
fake_run "remote select INBOX; remote noop"
t_expect_eq "$(grep -c 'CHANGEDSINCE' <<<"$FLOG")" 0 \
    "first SELECT: no CHANGEDSINCE"
t_expect_eq "$(seen | grep VANISHED | tr '\n' ,)" "remote: VANISHED 3," \
    "first SELECT: only the session's expunge"

# [CLOSED], which tells the engine that the data that follows is about
# the new mailbox: said by net before a SELECT's data when a mailbox was
# selected, unless the server says it itself (Dovecot does).
SWITCH="remote select INBOX; remote select INBOX 42 7 1:6; remote unselect; remote select INBOX"
fake_conf condstore
fake_run "$SWITCH"
t_expect_eq "$(seen | grep -E '^remote: (#|EXISTS)' | tr '\n' ,)" \
    "remote: EXISTS 3,remote: #1 SELECT OK [READ-WRITE] selected {READ-WRITE },remote: EXISTS 3,remote: #2 SELECT OK [READ-WRITE] selected {READ-WRITE },remote: #3 UNSELECT OK done,remote: EXISTS 3,remote: #4 SELECT OK [READ-WRITE] selected {READ-WRITE }," \
    "[CLOSED]: the run of SELECTs"
t_expect_eq "$(grep -E '^remote: (CODE CLOSED|#|EXISTS)' <<<"$ERR" |
    grep -B1 -A1 'CODE CLOSED' | tr '\n' ,)" \
    "remote: #1 SELECT OK [READ-WRITE] selected {READ-WRITE },remote: CODE CLOSED 0 ,remote: EXISTS 3," \
    "[CLOSED] said once, between the first SELECT and the second one's data; none after UNSELECT"
fake_conf condstore_closed
fake_run "$SWITCH"
t_expect_eq "$(grep -c '^remote: CODE CLOSED' <<<"$ERR")" 1 \
    "the server's own [CLOSED] passed on, not doubled"
fake_conf condstore_closed_late
fake_run "$SWITCH"
t_expect_eq "$(grep -c '^remote: CODE CLOSED' <<<"$ERR")" 1 \
    "the server's [CLOSED] after other data: ours first, the server's dropped"

# ---- a hostile server ----------------------------------------------------------

hostile()
{
	local sc=$1 msg=$2

	fake_conf "$sc"
	fake_run "$SEL"
	t_expect_eq "$OURS_RC" 255 "$sc: exit 255 (protocol error)"
	t_has "$ERR" "remote\(INBOX\): ERROR: Protocol error: $msg" "$sc: message"
}
hostile condstore_bad_expunge "EXPUNGE of message 4 in a mailbox of 3"
hostile condstore_bad_fetch "FETCH of message 9 in a mailbox of 2"
hostile condstore_too_many \
    "UID SEARCH's 100 UIDs never matched the mailbox's 3 messages \(9 tries\)"
hostile condstore_no_result "UID SEARCH answered OK without its result"
hostile condstore_disorder "FETCH of message 2 with UID 9 out of order"
hostile condstore_never_told \
    "UID SEARCH's 4 UIDs never matched the mailbox's 4 messages \(9 tries\)"
t_expect_eq "$(grep -c 'C: [0-9]* UID SEARCH' <<<"$FLOG")" 9 \
    "condstore_never_told: the list asked for 9 times, no more"

# ---- choosing the method -------------------------------------------------------

fake_conf condstore "sync-method = qresync"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "sync-method = qresync without QRESYNC: exit 1"
t_has "$ERR" "remote: ERROR: Server did not advertise QRESYNC capability \(sync-method = qresync\)\." \
    "sync-method = qresync without QRESYNC: message"

fake_conf no_qresync_condstore "sync-method = condstore"
fake_run "remote noop"
t_expect_eq "$OURS_RC" 1 "sync-method = condstore without CONDSTORE: exit 1"
t_has "$ERR" "remote: ERROR: Server did not advertise CONDSTORE capability \(sync-method = condstore\)\." \
    "sync-method = condstore without CONDSTORE: message"

fake_conf ok "sync-method = condstore"
fake_run "remote select INBOX 42 7 1"
t_has "$ERR" "remote: Server offers QRESYNC: syncing with CONDSTORE, expunges found by comparing UID lists \(sync-method = condstore\)" \
    "sync-method = condstore with QRESYNC offered: said"
t_has "$FLOG" "C: 000000 ENABLE CONDSTORE" "... and no ENABLE QRESYNC on it"

# ---- real Dovecots --------------------------------------------------------------

tl=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot QRESYNC) dovecot_tunnel local) ||
    { t_fail "dovecot_tunnel local"; t_done; }
tr=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot QRESYNC LIST-STATUS) \
    dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }
t_expect_eq "$(imap_raw local CAPABILITY | grep -c 'QRESYNC')" 0 \
    "the local Dovecot hides QRESYNC"
tunnel_config "$T/sync.conf" "$T/sync.db" "$tl" "$tr"

# A bad value: refused before anything is connected or created.
cp "$T/sync.conf" "$T/bad.conf"
printf 'sync-method = fast\n' >>"$T/bad.conf"
run_ours --config="$T/bad.conf"
t_expect_eq "$OURS_RC" 2 "sync-method = fast: exit 2 (configuration)"
t_expect_match "$(cat "$T/ours.err")" \
    "Invalid option sync-method = fast \\(auto, qresync, condstore or plain\\)" \
    "sync-method = fast: message"
t_expect_eq "$([ -e "$T/sync.db" ] && echo db)" "" \
    "sync-method = fast: no database"

# Neither capability: synced plain, each message's flags kept there.
tn=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot QRESYNC CONDSTORE) \
    dovecot_tunnel none) || { t_fail "dovecot_tunnel none"; t_done; }
# A local of its own, so that the rest of the test finds its own.
tp=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot QRESYNC) dovecot_tunnel plocal) ||
    { t_fail "dovecot_tunnel plocal"; t_done; }
tunnel_config "$T/none.conf" "$T/none.db" "$tp" "$tn"
for i in 1 2; do
	printf 'From: a@example.org\nSubject: p%s\n\np%s\n' $i $i >"$T/p$i.eml"
done
mail_add none INBOX "$T/p1.eml" '\Seen' '$Label'
mail_add none INBOX "$T/p2.eml" '\Seen'
run_ours --config="$T/none.conf"
t_expect_eq "$OURS_RC" 0 "neither QRESYNC nor CONDSTORE: synced, exit 0"
t_expect_eq "$(grep -c 'remote: Server lacks QRESYNC and CONDSTORE: syncing with plain IMAP4rev1' "$T/ours.err")" \
    1 "neither QRESYNC nor CONDSTORE: said once"
flags() { mail_dump "$1" INBOX | cut -d' ' -f2 | sort; }
t_expect_eq "$(flags plocal)" "$(printf '%s\n' '$Label,\Seen' '\Seen')" \
    "plain: the messages copied with their flags"
fs() { sqlite3 "$T/none.db" "SELECT side, UID, flags FROM flagstate ORDER BY side, UID"; }
t_expect_eq "$(fs)" "$(printf '%s\n' '1|1|$Label \Seen' '1|2|\Seen')" \
    "plain: their flags kept (side 1)"
# A flag removed on the plain server, one added here (to another
# message: a message changed on both sides gets the union).
mail_store none INBOX 1 - '$Label'
lu1=$(sqlite3 "$T/none.db" "SELECT lUID FROM mapping WHERE rUID = 1")
lu2=$(sqlite3 "$T/none.db" "SELECT lUID FROM mapping WHERE rUID = 2")
mail_store plocal INBOX "$lu2" + '\Flagged'
run_ours --config="$T/none.conf"
t_expect_eq "$OURS_RC" 0 "plain: second run, exit 0"
t_expect_eq "$(flags plocal)" "$(printf '%s\n' '\Flagged,\Seen' '\Seen')" \
    "plain: removed there, added here: the local has both"
t_expect_eq "$(flags none)" "$(flags plocal)" "plain: ... and the plain server"
t_expect_eq "$(fs)" "$(printf '%s\n' '1|1|\Seen' '1|2|\Flagged \Seen')" \
    "plain: the flags kept follow"
t_has "$(cat "$T/ours.err")" "remote\\(INBOX\\): Updated flags \\(\\\\Flagged \\\\Seen\\) for UID 2" \
    "plain: the STORE logged"
t_has "$(cat "$T/ours.err")" "local\\(INBOX\\): Updated flags \\(\\\\Seen\\) for UID $lu1" \
    "plain: the removal there propagated"
t_expect_eq "$(grep -c 'Conflicting' "$T/ours.err")" 0 "plain: no conflict"
run_ours --config="$T/none.conf"
t_expect_eq "$(grep -c 'Updated\|Added\|Removed' "$T/ours.err")" 0 \
    "plain: a third run has nothing to do"
# Plain forced on a server that offers CONDSTORE.
tunnel_config "$T/forced.conf" "$T/none.db" "$tp" "$tn" "sync-method = plain"
run_ours --config="$T/forced.conf"
t_expect_eq "$OURS_RC" 0 "sync-method = plain with CONDSTORE: exit 0"
t_has "$(cat "$T/ours.err")" "local: Server offers CONDSTORE: syncing with plain IMAP4rev1, every message's flags compared with those of the last sync \(sync-method = plain\)" \
    "sync-method = plain with CONDSTORE offered: said"
t_expect_eq "$(fs)" "$(printf '%s\n' "0|$lu1|\\Seen" "0|$lu2|\\Flagged \\Seen" '1|1|\Seen' '1|2|\Flagged \Seen' | sort -t'|' -k1,1n -k2,2n)" \
    "the local's flags kept once it is synced plain, as they are"
# A pair gone behind ours' back (its rows with it): its messages get no
# row again, and nothing is said of them.
sqlite3 "$T/none.db" "DELETE FROM mapping WHERE rUID = 2;
    DELETE FROM flagstate WHERE (side = 1 AND UID = 2) OR
    (side = 0 AND UID = $lu2)"
run_ours --config="$T/forced.conf"
t_expect_eq "$OURS_RC" 0 "a pair gone: exit 0"
t_expect_eq "$(fs)" "$(printf '%s\n' "0|$lu1|\\Seen" '1|1|\Seen')" \
    "a pair gone: no row for its messages"
t_expect_eq "$(grep -c 'WARNING' "$T/ours.err")" 0 "a pair gone: no warning"

msg()
{
	printf 'From: a@example.org\nSubject: %s\nMessage-ID: <%s@x>\n\n%s\n' \
	    "$1" "$1" "$1" >"$T/$1.eml"
	echo "$T/$1.eml"
}
same()
{
	t_expect_eq "$(mail_dump remote "$1" | sort)" \
	    "$(mail_dump local "$1" | sort)" "$2"
}

for i in 1 2 3 4 5 6; do mail_add local INBOX "$(msg l$i)"; done
for i in 1 2 3 4; do mail_add remote INBOX "$(msg r$i)"; done
mail_add remote Sub "$(msg s1)" '\Seen'
run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "both without QRESYNC, first sync: exit 0"
t_expect_eq "$(grep -c 'syncing with CONDSTORE' "$T/ours.err")" 2 \
    "first sync: each server's method said"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: Server lacks LIST-STATUS: one STATUS command per mailbox" \
    "first sync: the remote without LIST-STATUS said"
same INBOX "first sync: INBOX identical"
same Sub "first sync: Sub identical"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 10 "first sync: 10 messages"

# Changes on both sides: flags, expunges (some of mail copied last run),
# new mail.
mail_store local INBOX 1,2 + '\Flagged'
mail_store remote INBOX 1 + '\Seen'
mail_expunge local INBOX 3
mail_expunge remote INBOX 2,6
mail_add remote INBOX "$(msg r5)"
mail_add local INBOX "$(msg l7)"
mail_store remote Sub 1 - '\Seen'
run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "changes: exit 0"
same INBOX "changes: INBOX identical"
same Sub "changes: Sub identical"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 9 \
    "changes: 10 - 3 expunged + 2 new"
t_expect_eq "$(grep -c 'Removed ' "$T/ours.err")" 2 \
    "changes: expunges carried both ways"
t_expect_eq "$(mail_dump local Sub | cut -d' ' -f2)" - "changes: \\Seen removed"

run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "next run: exit 0"
t_expect_eq "$(grep -cE 'Added|Removed|Updated' "$T/ours.err")" 0 \
    "next run: nothing to do (the expunges already dealt with stay quiet)"
t_expect_eq "$(grep -c 'WARNING' "$T/ours.err")" 0 "next run: no warning"
# Nothing changed: a CONDSTORE server need not raise HIGHESTMODSEQ for
# an expunge (RFC 7162 asks it of QRESYNC servers), so LIST-STATUS asks
# for MESSAGES too, and a mailbox with as many messages as pairs in the
# database, UIDNEXT and HIGHESTMODSEQ unchanged, is not selected.
selected()
{
	grep -oE "^$1(\([^)]*\))?: C: [0-9]+ SELECT [A-Za-z]+" "$T/ours.err" |
	    awk '{print $NF}' | sort | paste -sd' ' -
}
run_ours --config="$T/sync.conf" --debug
t_expect_eq "$OURS_RC" 0 "nothing changed: exit 0"
t_expect_eq "$(selected remote)$(selected local)" "" \
    "nothing changed: no mailbox selected"
t_expect_match "$(cat "$T/ours.err")" \
    "STATUS \"?Sub\"? \\(UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES\\)" \
    "nothing changed: MESSAGES asked of the remote without LIST-STATUS"
t_expect_match "$(cat "$T/ours.err")" \
    "RETURN \\(SUBSCRIBED STATUS \\(UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES\\)\\)" \
    "nothing changed: MESSAGES asked by LIST-STATUS of the local"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "nothing changed: nothing done"

# An expunge that HIGHESTMODSEQ does not show (Dovecot raises it, so the
# database is told the new value, as a server that does not raise it
# would leave it): MESSAGES is one short of the pairs, the mailbox is
# selected and the expunge carried.
before=$(mail_uids local INBOX | wc -l)
mail_expunge remote INBOX "$(mail_uids remote INBOX | head -n 1)"
hms=$(mailbox_status remote INBOX | sed 's/.*HIGHESTMODSEQ //')
sqlite3 "$T/sync.db" "UPDATE remote SET HIGHESTMODSEQ = $hms WHERE idx = (SELECT idx FROM mailboxes WHERE CAST(mailbox AS TEXT) = 'INBOX')"
run_ours --config="$T/sync.conf" --debug
t_expect_eq "$OURS_RC" 0 "an expunge HIGHESTMODSEQ hides: exit 0"
t_expect_eq "$(selected remote)" "INBOX" \
    "an expunge HIGHESTMODSEQ hides: that mailbox alone selected"
t_expect_eq "$(mail_uids local INBOX | wc -l)" $((before - 1)) \
    "an expunge HIGHESTMODSEQ hides: carried to the local"
same INBOX "an expunge HIGHESTMODSEQ hides: INBOX identical"

# connections = 3: each net keeps its own sequence numbers; the method
# is said by the first of each side only (the others open as jobs wait
# for them, or not at all when the first is quick enough: not counted).
cp "$T/sync.conf" "$T/lanes.conf"
sed -i '1a connections = 3' "$T/lanes.conf"
for b in A B C D; do
	mail_add local "L$b" "$(msg "n$b")"
	mail_add remote "R$b" "$(msg "m$b")"
done
mail_expunge local INBOX "$(mail_uids local INBOX | tail -n 1)"
run_ours --config="$T/lanes.conf" --debug
t_expect_eq "$OURS_RC" 0 "three connections: exit 0"
t_expect_eq "$(grep -c 'syncing with CONDSTORE' "$T/ours.err")" 2 \
    "three connections: the method said once per server"
for b in LA LB LC LD RA RB RC RD INBOX; do
	same "$b" "three connections: $b identical"
done
run_ours --config="$T/lanes.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "three connections: the next run has nothing to do"

# --repair: a message gone from the remote behind the database's back
# (its HIGHESTMODSEQ moved past the expunge, which QRESYNC would then not
# report): with CONDSTORE every UID gone below the synced UIDNEXT is
# seen, so the local copy goes rather than coming back.
before=$(mail_uids local INBOX | wc -l)
gone=$(mail_uids remote INBOX | head -n 1)
mail_expunge remote INBOX "$gone"
hms=$(mailbox_status remote INBOX | sed 's/.*HIGHESTMODSEQ //')
sqlite3 "$T/sync.db" "UPDATE remote SET HIGHESTMODSEQ = $hms WHERE idx = (SELECT idx FROM mailboxes WHERE CAST(mailbox AS TEXT) = 'INBOX')"
run_ours --config="$T/sync.conf" --repair
t_expect_eq "$OURS_RC" 0 "--repair: exit 0"
same INBOX "--repair: INBOX identical"
t_expect_eq "$(mail_uids local INBOX | wc -l)" $((before - 1)) \
    "--repair: the local copy went"
t_expect_eq "$(grep -c 'disappeared' "$T/ours.err")" 0 \
    "--repair: nothing copied again"
run_ours --config="$T/sync.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "after --repair: nothing to do"

# A Dovecot without ESEARCH either, whose UIDs span pieces of the UID
# list: 1, then 60000 and 120000 (doveadm mailbox update --min-next-uid).
uid_jump()
{
	setpriv --reuid="$IMAPTEST_USER" --regid="$IMAPTEST_USER" \
	    --init-groups env HOME="$T/$1/home" USER="$IMAPTEST_USER" \
	    doveadm -c "$T/$1/dovecot.conf" mailbox update \
	    --min-next-uid "$3" "$2"
}
te=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot QRESYNC ESEARCH) \
    dovecot_tunnel remote3 .) || { t_fail "dovecot_tunnel remote3"; t_done; }
tle=$(dovecot_tunnel local3) || { t_fail "dovecot_tunnel local3"; t_done; }
tunnel_config "$T/e.conf" "$T/e.db" "$tle" "$te"
mail_add remote3 INBOX "$(msg e1)"
uid_jump remote3 INBOX 60000
mail_add remote3 INBOX "$(msg e2)"
uid_jump remote3 INBOX 120000
mail_add remote3 INBOX "$(msg e3)"
t_expect_eq "$(mail_uids remote3 INBOX | paste -sd' ' -)" "1 60000 120000" \
    "no ESEARCH: UIDs 1, 60000, 120000"
run_ours --config="$T/e.conf" --debug
t_expect_eq "$OURS_RC" 0 "no ESEARCH, first sync: exit 0"
t_expect_eq "$(mail_dump remote3 INBOX | sort)" \
    "$(mail_dump local3 INBOX | sort)" "no ESEARCH, first sync: identical"
mail_expunge remote3 INBOX 60000
mail_expunge local3 INBOX "$(mail_uids local3 INBOX | head -n 1)"
mail_store remote3 INBOX 120000 + '\Flagged'
run_ours --config="$T/e.conf" --debug
t_expect_eq "$OURS_RC" 0 "no ESEARCH, changes: exit 0"
t_expect_eq "$(grep -oE 'remote(\(INBOX\))?: C: [0-9]+ UID SEARCH UID [0-9:*]+' \
    "$T/ours.err" | cut -d' ' -f4- | sort -u | paste -sd' ' -)" \
    "UID SEARCH UID 100001:120000 UID SEARCH UID 1:50000 UID SEARCH UID 50001:100000" \
    "no ESEARCH: the UID list in three pieces"
t_expect_eq "$(mail_dump remote3 INBOX | sort)" \
    "$(mail_dump local3 INBOX | sort)" "no ESEARCH, changes: identical"
t_expect_eq "$(mail_uids remote3 INBOX | wc -l)" 1 \
    "no ESEARCH: both expunges carried, one message left"
run_ours --config="$T/e.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "no ESEARCH: the next run has nothing to do"

# A network server (IMAPS, COMPRESS) that offers QRESYNC, synced with
# CONDSTORE on request.
dovecot_server remote2 . || { t_fail "dovecot_server remote2"; t_done; }
write_config "$T/q.conf" <<EOF
database = $T/q.db

[local]
type = tunnel
command = $tl

[remote]
$(imaps_lines remote2)
sync-method = condstore
EOF
mail_add remote2 INBOX "$(msg q1)"
mail_add remote2 INBOX "$(msg q2)"
run_ours --config="$T/q.conf"
t_expect_eq "$OURS_RC" 0 "forced CONDSTORE: exit 0"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: Server offers QRESYNC: syncing with CONDSTORE" \
    "forced CONDSTORE: said"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: IMAP traffic \\(bytes\\): .*compr\\." \
    "forced CONDSTORE: over COMPRESS=DEFLATE"
mail_expunge remote2 INBOX 1
mail_store local INBOX 2 + '\Answered'
run_ours --config="$T/q.conf"
t_expect_eq "$OURS_RC" 0 "forced CONDSTORE, changes: exit 0"
t_expect_eq "$(mail_dump remote2 INBOX | sort)" "$(mail_dump local INBOX | sort)" \
    "forced CONDSTORE: identical"
run_ours --config="$T/q.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated' "$T/ours.err")" 0 \
    "forced CONDSTORE: next run has nothing to do"

t_done
