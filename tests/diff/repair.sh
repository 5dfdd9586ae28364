#!/bin/bash
#
# Differential scenarios, --repair (REFERENCE-BEHAVIOUR §6.6): after each
# kind of damage done behind the synchroniser's back -- mapping rows
# deleted, rows pointing at messages expunged on one side or on both
# without the server reporting it (the database's HIGHESTMODSEQ moved up
# to the server's), UIDNEXT moved past unmapped messages, flags changed
# on one side or both, with or without the change being reported -- a
# --repair run, then a normal sync with nothing left to do.  Also: the
# MAILBOX arguments restrict the repair; a mailbox with no synced state
# yet, which the reference skips (§9.12) and ours syncs; the reference
# and ours alternating on one database.  The reference runs in world A,
# ours in world B (the reference too with INTERIMAP_SCENARIO_SELFTEST=1);
# see tests/lib/scenario.sh.
#
# Servers: local = pre-authenticated Dovecot (tunnel), remote = network
# Dovecot over IMAPS, both with "/" as hierarchy delimiter; in the @cyrus
# variant the remote is Cyrus IMAP.
#
# ctest-variants: cyrus condstore plain

# The regular expressions are single-quoted on purpose:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup
scen_layout local=tunnel:/ remote=imaps:/

config()
{
	scen_config sync <<'EOF'
database = @WORLD@/sync.db

[local]
@server local@

[remote]
@server remote@
EOF
}

# sql STATEMENT: the same statement on both worlds' database.
sql()
{
	local w

	for w in A B; do
		sqlite3 "$T/$w/sync.db" "$1" ||
		    t_fail "$SCEN_NAME: sqlite3 ($w): $1"
	done
}

# The database index of a mailbox (internal name), as an SQL expression.
idx()
{
	printf "(SELECT idx FROM mailboxes WHERE CAST(mailbox AS TEXT) = '%s')" \
	    "$1"
}

# srv_status ROLE W MAILBOX ITEM: ITEM (UIDNEXT, HIGHESTMODSEQ) of the
# mailbox on ROLE's server in world W.
srv_status()
{
	SCEN_LIBDIR=$SCEN_LIBDIR /usr/bin/python3 - "$(_scen_tunnel "$1" "$2")" \
	    "$3" "$4" <<'PYEOF'
import os
import re
import sys
sys.path.insert(0, os.environ['SCEN_LIBDIR'])
import imapctl                                  # noqa: E402
c = imapctl.Conn(sys.argv[1])
untagged, _ = c.command(b'STATUS ' + imapctl.quote(sys.argv[2]) +
                        b' (' + sys.argv[3].encode() + b')')
c.close()
for r in untagged:
    m = re.search(rb'\b' + sys.argv[3].encode() + rb' (\d+)', r)
    if m:
        print(m.group(1).decode())
        sys.exit(0)
sys.exit('no ' + sys.argv[3])
PYEOF
}

# behind ROLE MAILBOX ITEM: the database's ITEM for ROLE's side of the
# mailbox set to the server's current value, in both worlds: what
# happened on the server is not reported by the next SELECT (HIGHESTMODSEQ)
# or not fetched as new (UIDNEXT).
behind()
{
	local w v

	for w in A B; do
		if ! v=$(srv_status "$1" "$w" "$2" "$3"); then
			t_fail "$SCEN_NAME: STATUS $2 on $1 ($w)"
			continue
		fi
		sqlite3 "$T/$w/sync.db" "UPDATE $1 SET $3 = $v WHERE idx = \
$(idx "$2")" || t_fail "$SCEN_NAME: sqlite3 ($w): $1.$3"
	done
}

# Cyrus answers APPEND without [HIGHESTMODSEQ] (scenario_messages.sh):
# one more run after a first sync, so that what follows starts from a
# synced HIGHESTMODSEQ.
settle()
{
	[ "$T_REMOTE" = cyrus ] || return 0
	scen_run sync
	scen_expect_rc ok
}

# ---- nothing to repair ------------------------------------------------------

scen_begin "repair, nothing wrong"
config
scen_apply local <<'EOF'
add INBOX q1 \Seen
add INBOX q2
add Work q3 \Flagged
EOF
scen_apply remote <<'EOF'
add INBOX q4 \Answered
EOF
scen_run sync
scen_expect_rc ok
settle
scen_run sync --repair
scen_expect_rc ok
scen_expect_nolog 'Added|Removed|Updated|WARNING|ERROR| from <' \
    "a clean database: nothing repaired"
scen_expect_synced "nothing wrong"
scen_expect_quiet sync

# ---- mapping rows deleted ---------------------------------------------------

scen_begin "mapping rows deleted"
config
scen_apply local <<'EOF'
add INBOX a1 \Seen
add INBOX a2
EOF
scen_apply remote <<'EOF'
add INBOX a3 \Flagged
EOF
scen_run sync
scen_expect_rc ok
settle
# Pairs: (1,2) a1, (2,3) a2, (3,1) a3.  Two rows go.
sql "DELETE FROM mapping WHERE idx = $(idx INBOX) AND lUID IN (1, 3)"
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 1\. Redownloading\.$' \
    "unmapped local UID said"
scen_expect_log '^local\(INBOX\): WARNING: No match for modified remote UID 2\. Redownloading\.$' \
    "unmapped remote UID said"
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 3\. Redownloading\.$' \
    "the other unmapped local UID said"
scen_expect_log '^local\(INBOX\): WARNING: No match for modified remote UID 1\. Redownloading\.$' \
    "the other unmapped remote UID said"
scen_expect_log '^local\(INBOX\): UID 1 from <sender@example\.org> \(.*\)$' \
    "re-copy from local logged with its sender"
scen_expect_log '^remote\(INBOX\): UID 1 from <sender@example\.org> \(.*\)$' \
    "re-copy from remote logged with its sender"
scen_expect_log '^remote\(INBOX\): Added UID 1 -> ' "local UID 1 copied again"
scen_expect_synced "rows deleted, copies made"
scen_expect_quiet sync

# @condstore: not with CONDSTORE, which sees every expunge below the
# synced UIDNEXT: no expunge is "unreported" there, and the other copy
# goes (integration/net_condstore checks it).
if [ "$T_METHOD" = qresync ]; then
# ---- messages expunged behind its back -------------------------------------

scen_begin "expunged behind its back"
config
scen_apply local <<'EOF'
add INBOX e1
add INBOX e2 \Seen
add INBOX e3
add INBOX e4
add INBOX e5
EOF
scen_run sync
scen_expect_rc ok
settle
# e1 on local, e2 on remote, unreported; e3 on both, unreported;
# e4 on remote, reported (VANISHED): the local copy goes.
scen_apply local <<'EOF'
expunge INBOX @e1
expunge INBOX @e3
EOF
scen_apply remote <<'EOF'
expunge INBOX @e2
expunge INBOX @e3
EOF
behind local INBOX HIGHESTMODSEQ
behind remote INBOX HIGHESTMODSEQ
scen_apply remote <<'EOF'
expunge INBOX @e4
EOF
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^local\(INBOX\): WARNING: UID 1 disappeared\. Redownloading remote UID 1\.$' \
    "local expunge behind its back: copied back"
scen_expect_log '^remote\(INBOX\): WARNING: UID 2 disappeared\. Redownloading local UID 2\.$' \
    "remote expunge behind its back: copied back"
scen_expect_log '^WARNING: Pair \(lUID,rUID\) = \(3,3\) vanished from INBOX\. Repairing\.$' \
    "expunged on both sides: the row goes"
scen_expect_log '^local\(INBOX\): Removed UID 4$' \
    "a reported expunge: removed on the other side"
scen_expect_log '^local\(INBOX\): Added UID 6 <- 1$' "e1 back on local"
scen_expect_log '^remote\(INBOX\): Added UID 2 -> 6$' "e2 back on remote"
scen_expect_synced "expunges repaired"
scen_expect_quiet sync

fi
# ---- a reported expunge with no row -----------------------------------------

scen_begin "vanished without a row"
config
scen_apply local <<'EOF'
add INBOX v1
add INBOX v2
EOF
scen_run sync
scen_expect_rc ok
settle
sql "DELETE FROM mapping WHERE idx = $(idx INBOX) AND lUID = 1"
scen_apply local <<'EOF'
expunge INBOX @v1
EOF
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): WARNING: No match for 1 vanished local UID\(s\) 1\. Ignoring\.$' \
    "the expunge has no row to follow"
scen_expect_log '^local\(INBOX\): WARNING: No match for modified remote UID 1\. Redownloading\.$' \
    "the remote copy, unmapped, is copied back"
scen_expect_synced "vanished without a row"
scen_expect_quiet sync

# ---- UIDNEXT past unmapped messages ----------------------------------------

scen_begin "UIDNEXT past unmapped messages"
config
scen_apply local <<'EOF'
add INBOX u1
EOF
scen_run sync
scen_expect_rc ok
settle
scen_apply local <<'EOF'
add INBOX u2 \Seen
add INBOX u3
EOF
scen_apply remote <<'EOF'
add INBOX u4 \Flagged
EOF
behind local INBOX UIDNEXT
behind remote INBOX UIDNEXT
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 2\. Redownloading\.$' \
    "a local message below UIDNEXT, unmapped"
scen_expect_log '^local\(INBOX\): WARNING: No match for modified remote UID 2\. Redownloading\.$' \
    "a remote message below UIDNEXT, unmapped"
scen_expect_log '^remote\(INBOX\): Added UID 3 -> 4$' "copied to remote"
scen_expect_log '^local\(INBOX\): Added UID 4 <- 2$' "copied to local"
scen_expect_synced "skipped messages copied"
scen_expect_quiet sync

# ---- flags ------------------------------------------------------------------

scen_begin "flags changed"
config
scen_apply local <<'EOF'
add INBOX f1
add INBOX f2
add INBOX f3 \Seen
add INBOX f4
add INBOX f5 \Answered
add INBOX f6 \Seen
EOF
scen_run sync
scen_expect_rc ok
settle
# Reported changes: f1 locally, f2 remotely, f3 on both (a conflict).
scen_apply local <<'EOF'
store INBOX @f1 + \Flagged
store INBOX @f3 + $Label1
EOF
scen_apply remote <<'EOF'
store INBOX @f2 + \Seen
store INBOX @f3 - \Seen
EOF
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): Updated flags \(\\Flagged\) for UID 1$' \
    "local change pushed"
scen_expect_log '^local\(INBOX\): Updated flags \(\\Seen\) for UID 2$' \
    "remote change pulled"
scen_expect_log '^WARNING: Conflicting flag update in INBOX for local UID 3 \(\$Label1 \\Seen\) and remote UID 3 \(\)\. Setting both to the union \(\$Label1 \\Seen\)\.$' \
    "both changed: the union"
scen_expect_nolog 'Missed flag update' "nothing missed"
scen_expect_synced "reported flag changes"
scen_expect_quiet sync
# Unreported: f4 changed on local, f5 on remote, f6 on both, the
# database's HIGHESTMODSEQs moved past the changes.
scen_apply local <<'EOF'
store INBOX @f4 + \Draft
store INBOX @f6 + $Label2
EOF
scen_apply remote <<'EOF'
store INBOX @f5 = $Forwarded
store INBOX @f6 = \Flagged
EOF
behind local INBOX HIGHESTMODSEQ
behind remote INBOX HIGHESTMODSEQ
if [ "$T_METHOD" = plain ]; then
	# Ours syncs that remote plain: what it misses is a change to the
	# flags it keeps of the messages (engine/pflags.c), not to MODSEQs.
	t_expect_eq "$(sqlite3 "$T/B/sync.db" "UPDATE flagstate SET flags =
	    '\$Forwarded' WHERE idx = $(idx INBOX) AND side = 1 AND UID = 5;
	    UPDATE flagstate SET flags = '\\Flagged' WHERE idx = $(idx INBOX)
	    AND side = 1 AND UID = 6; SELECT total_changes();")" 2 \
	    "$SCEN_NAME: the remote's kept flags moved past the changes"
fi
scen_run sync
scen_expect_rc ok
scen_expect_nolog 'Updated' "a normal sync misses them"
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^WARNING: Missed flag update in INBOX for \(lUID,rUID\) = \(4,4\)\. Repairing\.$' \
    "missed local change found"
scen_expect_log '^WARNING: Missed flag update in INBOX for \(lUID,rUID\) = \(5,5\)\. Repairing\.$' \
    "missed remote change found"
scen_expect_log '^WARNING: Conflicting flag update in INBOX for local UID 5 \(\\Answered\) and remote UID 5 \(\$Forwarded\)\. Setting both to the union \(\$Forwarded \\Answered\)\.$' \
    "missed: the union"
scen_expect_log '^WARNING: Missed flag update in INBOX for \(lUID,rUID\) = \(6,6\)\. Repairing\.$' \
    "missed changes on both sides found"
scen_expect_log '^WARNING: Conflicting flag update in INBOX for local UID 6 \(\$Label2 \\Seen\) and remote UID 6 \(\\Flagged\)\. Setting both to the union \(\$Label2 \\Flagged \\Seen\)\.$' \
    "missed on both sides: the union"
scen_expect_synced "missed flag changes"
scen_expect_quiet sync

# ---- quiet --------------------------------------------------------------------

scen_begin "repair, quiet"
config
scen_apply remote <<'EOF'
add INBOX w1
add INBOX w2 \Seen
EOF
scen_run sync
scen_expect_rc ok
settle
sql "DELETE FROM mapping WHERE idx = $(idx INBOX) AND lUID = 2"
scen_run sync --repair -q
scen_expect_rc ok
scen_expect_log '^local\(INBOX\): WARNING: No match for modified remote UID 2\. Redownloading\.$' \
    "warnings stay under -q"
scen_expect_nolog ' from <|Added' "the copies are not logged under -q"
scen_expect_synced "quiet repair"
scen_expect_quiet sync

# ---- MAILBOX arguments --------------------------------------------------------

scen_begin "repair restricted to mailboxes"
config
scen_apply local <<'EOF'
add INBOX r1
add Work r2
add Lists/dev r3
EOF
scen_run sync
scen_expect_rc ok
settle
sql "DELETE FROM mapping"
scen_run sync --repair Work
scen_expect_rc ok
scen_expect_log '^remote\(Work\): WARNING: No match for modified local UID 1\. Redownloading\.$' \
    "Work repaired"
scen_expect_nolog '\((INBOX|Lists/dev)\)' "INBOX and Lists/dev untouched"
scen_expect_state '^db sync: insync Work yes$' "Work in sync"
scen_run sync --repair INBOX Lists/dev
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 1\. Redownloading\.$' \
    "INBOX repaired"
scen_expect_log '^remote\(Lists/dev\): WARNING: No match for modified local UID 1\. Redownloading\.$' \
    "Lists/dev repaired"
scen_expect_nolog '\(Work\)' "Work untouched"
scen_expect_synced "all repaired"
scen_expect_quiet sync

# ---- no synced state yet (§9.12) --------------------------------------------

scen_begin "no synced state yet"
config
scen_apply local <<'EOF'
add INBOX s1
EOF
scen_run sync
scen_expect_rc ok
settle
scen_apply local <<'EOF'
add Fresh s2 \Seen
add Fresh s3
EOF
# The reference creates Fresh on remote and skips it; ours syncs it.
scen_ours_only '^remote\(Fresh\): Added UID [0-9]+ -> [0-9]+$'
scen_state_differs
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox Fresh$' "Fresh created on remote"
scen_expect_state '^db sync: insync Fresh NO \(messages differ\)$' \
    "the reference leaves Fresh unsynced"
scen_expect_state_ours '^db sync: insync Fresh yes$' "ours syncs Fresh"
scen_expect_state_ours '^db sync: map Fresh 2 2$' "ours maps Fresh's messages"
# The reference copies them only now.
scen_ref_only '^remote\(Fresh\): Added UID [0-9]+ -> [0-9]+$'
scen_run sync
scen_expect_rc ok
scen_expect_synced "Fresh synced by both"
scen_expect_quiet sync

# ---- an interrupted sync, resumed before the repair ------------------------

scen_begin "interrupted sync, then repair"
config
scen_apply local <<'EOF'
add INBOX i1
add INBOX i2 \Seen
add INBOX i3
add INBOX i4
EOF
scen_run sync
scen_expect_rc ok
settle
# The rows of i3 and i4 lie beyond the stored UIDNEXTs: a sync cut short
# (§6.5), resumed first; i4 went from remote meanwhile; i2's row is lost.
sql "UPDATE local SET UIDNEXT = 3 WHERE idx = $(idx INBOX);
UPDATE remote SET UIDNEXT = 3 WHERE idx = $(idx INBOX);
DELETE FROM mapping WHERE idx = $(idx INBOX) AND lUID = 2"
scen_apply remote <<'EOF'
expunge INBOX @i4
EOF
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^Resuming interrupted sync for INBOX$' "resumed first"
scen_expect_log '^local\(INBOX\): Removed UID 4$' \
    "the resume removes the survivor of a half-gone pair"
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 2\. Redownloading\.$' \
    "then the repair finds the lost row"
scen_expect_synced "resumed and repaired"
scen_expect_quiet sync

# @condstore: the reference cannot sync world B's servers (no QRESYNC).
if [ "$T_METHOD" = qresync ]; then
# ---- the reference and ours on one database ---------------------------------

scen_begin "alternating on one database"
config
scen_apply local <<'EOF'
add INBOX x1
add INBOX x2 \Seen
EOF
scen_apply remote <<'EOF'
add INBOX x3
EOF
scen_run sync
scen_expect_rc ok
settle
sql "DELETE FROM mapping WHERE idx = $(idx INBOX) AND lUID = 2"
scen_apply local <<'EOF'
store INBOX @x1 + \Flagged
EOF
# World A: ours repairs the reference's database; world B: the
# reference repairs ours.  Then each world's other program syncs.
SCEN_SAVED_INTERIMAP=$INTERIMAP
SCEN_SAVED_REF=$REF_INTERIMAP
if [ "$SCEN_SELFTEST" = 0 ]; then
	REF_INTERIMAP=$SCEN_SAVED_INTERIMAP
	INTERIMAP=$SCEN_SAVED_REF
fi
scen_run sync --repair
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): WARNING: No match for modified local UID 2\. Redownloading\.$' \
    "unmapped local UID"
scen_expect_log '^remote\(INBOX\): Updated flags \(\\Flagged\) for UID 2$' \
    "flag change pushed"
REF_INTERIMAP=$SCEN_SAVED_REF
INTERIMAP=$SCEN_SAVED_INTERIMAP
scen_expect_synced "repaired by the other program"
scen_expect_quiet sync

fi
t_done
