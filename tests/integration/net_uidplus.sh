#!/bin/bash
#
# A server without UIDPLUS (RFC 4315), which the reference refuses: net
# finds the UIDs its APPENDs got (net/imap_ops.c's ops_append_uids()):
# once none is in flight, one UID FETCH floor:* (UID RFC822.SIZE
# INTERNALDATE) of what the selected mailbox gained since its SELECT,
# each appended message matched, in order, to the first of the same
# size and date; the engine gets the APPENDUID it would have had.
#
#  - against a scripted server (net_fake_imap.py): the FETCH and the
#    APPENDUIDs, dates compared as instants (the server answers in
#    another zone); another client's message taking a UID first; one
#    with the same size and date, where which is ours would be a guess:
#    the APPEND fails with a warning, nothing guessed; an APPEND to a
#    mailbox not selected, refused alike;
#  - against a real Dovecot that hides UIDPLUS (and sends APPENDUID all
#    the same, which is not used): a first sync that appends 130
#    messages to it (two MULTIAPPEND batches, pipelined), and an
#    incremental one; every mapping row pairs the same message (by
#    Message-ID) on both sides, and the next run has nothing to do;
#  - another client appending the same message with the same date while
#    our APPEND runs (append_twin.py, a tunnel between us and Dovecot):
#    the run fails naming it, and the next one pairs our copy as it
#    pairs those of a run that died before committing its mapping rows
#    (engine/adopt.c), and copies the other client's back: two on each
#    side, none more.

source "$SRCDIR/tests/lib/common.sh"
t_setup

# Two messages of 18 and 19 bytes, both dated 2020-01-01 00:00 UTC.
TWO='remote select INBOX; remote append INBOX "\\Seen" "01-Jan-2020 00:00:00 +0000" "Subject: b\n\nhi\n"; remote append INBOX "" "01-Jan-2020 00:00:00 +0000" "Subject: cc\n\nhi\n"; remote noop'

fake_conf no_uidplus
fake_run "$TWO" --debug
t_expect_eq "$OURS_RC" 0 "no UIDPLUS: exit 0"
t_has "$ERR" 'remote: Server lacks UIDPLUS: appended messages found by size and date' \
    "no UIDPLUS: said"
t_has "$ERR" 'remote: #2 APPEND OK appended \{APPENDUID 42 7\}' \
    "no UIDPLUS: the first message's UID, the first after UIDNEXT"
t_has "$ERR" 'remote: #3 APPEND OK appended \{APPENDUID 42 8\}' \
    "no UIDPLUS: the second's"
t_expect_match "$FLOG" 'C: [0-9]+ UID FETCH 7:\* \(UID RFC822\.SIZE INTERNALDATE\)' \
    "no UIDPLUS: what the mailbox gained since its SELECT, fetched"
t_expect_eq "$(grep -c 'WARNING' <<<"$ERR")" 0 "no UIDPLUS: no warning"

fake_conf no_uidplus_other
fake_run "$TWO"
t_expect_eq "$OURS_RC" 0 "another client's message first: exit 0"
t_has "$ERR" 'remote: #2 APPEND OK appended \{APPENDUID 42 8\}' \
    "another client's message first: ours after it"
t_has "$ERR" 'remote: #3 APPEND OK appended \{APPENDUID 42 9\}' \
    "another client's message first: the second too"

fake_conf no_uidplus_alike
fake_run "$TWO"
t_has "$ERR" 'remote: #2 APPEND NO UIDs of the appended messages unknown \(the server lacks UIDPLUS\)( \{\})?' \
    "a message like ours from another client: the APPEND fails"
t_expect_match "$ERR" \
    "remote(\\(INBOX\\))?: WARNING: Cannot tell the UIDs of the messages appended to INBOX: another client appended a message like one of ours; the next run recognises them" \
    "a message like ours from another client: said why"
t_expect_eq "$(grep -c 'APPENDUID 42' <<<"$ERR")" 0 \
    "a message like ours from another client: no UID guessed"

# The server goes while the UIDs are looked for: the run ends on it,
# nothing else said.
fake_conf no_uidplus_bye
fake_run "$TWO"
t_expect_eq "$OURS_RC" 1 "gone meanwhile: exit 1"
t_has "$ERR" 'remote(\(INBOX\))?: ERROR: Connection closed by the server: going away' \
    "gone meanwhile: said"
t_hasnt "$ERR" 'Sanitizer|killed|exited unexpectedly|PANIC' \
    "gone meanwhile: a clean end"

fake_conf no_uidplus
fake_run 'remote append INBOX "" "01-Jan-2020 00:00:00 +0000" "Subject: b\n\nhi\n"; remote noop'
t_has "$ERR" 'remote: #1 APPEND NO UIDs of the appended messages unknown \(the server lacks UIDPLUS\)( \{\})?' \
    "a mailbox not selected: the APPEND fails"
t_expect_match "$ERR" "remote: WARNING: Cannot tell the UIDs of the messages appended to INBOX: the server lacks UIDPLUS, and the mailbox appended to was not selected" \
    "a mailbox not selected: said why"

# ---- a real Dovecot without UIDPLUS ----------------------------------------------

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(DOVECOT_EXTRA_CONF=$(hide_caps dovecot UIDPLUS) dovecot_tunnel remote) ||
    { t_fail "dovecot_tunnel remote"; t_done; }
tunnel_config "$T/sync.conf" "$T/sync.db" "$tl" "$tr"

mkdir -p "$T/m"
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@x>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/m/$1.eml"
	echo "$T/m/$1.eml"
}
# ids SERVER MAILBOX: "uid message-id" of each message.
ids()
{
	imap_raw "$1" "SELECT \"$2\"" 'UID FETCH 1:* (UID ENVELOPE)' |
	    sed -nE 's/.*UID ([0-9]+) ENVELOPE.*<([^>]*@x)>.*/\1 \2/p' | sort
}
# paired MAILBOX WHAT: every mapping row pairs one message on both sides,
# and every message is in one.
paired()
{
	local rows bad
	rows=$(sqlite3 "$T/sync.db" "SELECT p.lUID, p.rUID FROM mapping p
	    JOIN mailboxes b ON b.idx = p.idx
	    WHERE CAST(b.mailbox AS TEXT) = '$1'" | tr '|' ' ')
	ids local "$1" >"$T/lids"
	ids remote "$1" >"$T/rids"
	bad=$(awk -v L="$T/lids" -v R="$T/rids" '
	    BEGIN {
		while ((getline ln < L) > 0) { split(ln, f, " "); l[f[1]] = f[2] }
		while ((getline ln < R) > 0) { split(ln, f, " "); r[f[1]] = f[2] }
	    }
	    { if (!($1 in l) || !($2 in r) || l[$1] != r[$2]) print }' \
	    <<<"$rows")
	t_expect_eq "$bad" "" "$2: each pair is one message"
	t_expect_eq "$(wc -l <<<"$rows")" "$(wc -l <"$T/rids")" \
	    "$2: every message paired"
}

for i in 1 2 3; do mail_add local INBOX "$(msg l$i)"; done
for i in 1 2; do mail_add remote INBOX "$(msg r$i)"; done
mailbox_create local big
for ((i = 1; i <= 130; i++)); do echo "$(msg b$i)"; done >"$T/big.list"
mail_add_many local big $(cat "$T/big.list")
run_ours --config="$T/sync.conf" --debug
t_expect_eq "$OURS_RC" 0 "Dovecot without UIDPLUS, first sync: exit 0"
t_expect_eq "$(grep -c 'remote: Server lacks UIDPLUS' "$T/ours.err")" 1 \
    "first sync: said once"
t_expect_eq "$(grep -cE '^remote(\(big\))?: C: [0-9]+ APPEND big ' \
    "$T/ours.err")" 2 "first sync: 130 messages in two APPENDs"
t_expect_eq "$(grep -cE '^remote(\(big\))?: C: [0-9]+ UID FETCH [0-9]+:\* \(UID RFC822\.SIZE INTERNALDATE\)' \
    "$T/ours.err")" 1 "first sync: their UIDs found with one FETCH"
t_expect_eq "$(grep -c 'WARNING\|ERROR' "$T/ours.err")" 0 \
    "first sync: no warning"
paired INBOX "first sync, INBOX"
paired big "first sync, big"
t_expect_eq "$(ids remote big | wc -l)" 130 "first sync: 130 messages in big"

mail_add local INBOX "$(msg l4)"
mail_add remote INBOX "$(msg r3)"
mail_add local big "$(msg b131)"
run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "incremental: exit 0"
paired INBOX "incremental, INBOX"
paired big "incremental, big"
run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "the next run: exit 0"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "the next run: nothing to do (no copy made twice)"
t_expect_eq "$(ids remote INBOX | wc -l)" 7 "INBOX: 7 messages, once each"

# Another client appends a message like ours (the same bytes, the same
# date) while our APPEND runs (append_twin.py, between us and the
# remote): which of the two is ours would be a guess, so the run fails
# and says why; the next run pairs ours with the local one
# (engine/adopt.c) and copies the other client's back, as a message of
# its own: two on each side, none more.
tunnel_config "$T/twin.conf" "$T/sync.db" "$tl" \
    "python3 $SRCDIR/tests/integration/append_twin.py $tr INBOX"
mail_add local INBOX "$(msg l5)"
run_ours --config="$T/twin.conf"
t_expect_eq "$OURS_RC" 1 "a message like ours meanwhile: exit 1"
t_expect_match "$(cat "$T/ours.err")" \
    "remote(\\(INBOX\\))?: ERROR: NO UIDs of the appended messages unknown \\(the server lacks UIDPLUS\\)" \
    "a message like ours meanwhile: the run's error"
t_expect_match "$(cat "$T/ours.err")" \
    "remote(\\(INBOX\\))?: WARNING: Cannot tell the UIDs of the messages appended to INBOX: another client appended a message like one of ours" \
    "a message like ours meanwhile: said why"
t_expect_eq "$(ids remote INBOX | grep -c ' l5@x$')" 2 \
    "a message like ours meanwhile: both on the remote"
run_ours --config="$T/sync.conf"
t_expect_eq "$OURS_RC" 0 "the run after: exit 0"
t_expect_eq "$(ids local INBOX | grep -c ' l5@x$')" 2 \
    "the run after: the other client's copied, ours not again (local)"
t_expect_eq "$(ids remote INBOX | grep -c ' l5@x$')" 2 \
    "the run after: the remote as it was"
paired INBOX "the run after"
run_ours --config="$T/sync.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|WARNING' "$T/ours.err")" 0 \
    "the run after that: nothing to do"

t_done
