#!/bin/bash
#
# Differential scenarios, --delete and --rename (REFERENCE-BEHAVIOUR §6.7)
# with --target: a synced mailbox deleted or renamed with every target
# combination (the default, local, remote, database, local,remote, a
# repeated --target), a mailbox with children (--delete is not recursive;
# --rename renames the children's database rows too), a parent that is
# only \NonExistent, unknown names, INBOX, a destination that exists on
# either server or in the database (the refusals' messages and exit
# codes); after each, a normal sync shows what state the command left
# (consistent, or the refusal the reference's design asks for).  The last
# scenarios alternate the two programs on one database: the reference
# syncs a database ours changed, and the other way round.
#
# The reference runs in world A, ours in world B (see
# tests/lib/scenario.sh); local delimiter "/", remote ".".  In the @cyrus
# variant the remote is Cyrus IMAP ("."), whose parents are mailboxes of
# their own (tests/lib/CYRUS-NOTES.md): the \NonExistent-parent scenario
# is Dovecot's only; and Cyrus refuses to DELETE a mailbox that has
# children (NO [HASCHILDREN]), which the reference and ours report the
# same way, local's DELETE done, the database untouched.
#
# A documented difference: `--delete ... INBOX ...` is refused by ours
# before any connection (nothing deleted, no traffic summary); the
# reference connects, deletes the arguments before INBOX, then refuses.
#
# ctest-variants: cyrus

# The regular expressions are single-quoted on purpose:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup
scen_layout local=tunnel:/ remote=imaps:.

config()
{
	scen_config sync < <(
		echo "database = @WORLD@/sync.db"
		printf '%s\n' "" "[local]" "@server local@" "" "[remote]" \
		    "@server remote@"
	)
}

# A synced start: INBOX, foo (with a child foo/bar), keep; all subscribed
# but keep.  With a second argument "keep-first", remote keep is made a
# second before the sync makes the others: Cyrus's UIDVALIDITY is the
# creation time in seconds (tests/lib/CYRUS-NOTES.md), so mailboxes one
# sync makes may share one or not, world by world, and a scenario that
# renames foo/bar onto keep's database row shows which in its state.
start()
{
	scen_begin "$1"
	config
	if [ "${2:-}" = keep-first ]; then
		scen_apply remote <<<'create keep'
		[ "$T_REMOTE" != cyrus ] || sleep 1.1
	fi
	scen_apply local <<'EOF'
add INBOX i1
add foo f1
add foo f2 \Seen
add foo/bar b1
add keep k1
subscribe foo
subscribe foo/bar
EOF
	scen_run sync
	scen_expect_rc ok
	scen_expect_synced "start"
}

# scen_run with the programs swapped: the reference in world B, ours in
# world A (in self-test mode, the reference in both as always).
run_swapped()
{
	local ref=$REF_INTERIMAP ours=${INTERIMAP:-}

	if [ "$SCEN_SELFTEST" = 1 ]; then
		scen_run "$@"
		return
	fi
	REF_INTERIMAP=$ours INTERIMAP=$ref scen_run "$@"
}

# The refusal of a sync where a mailbox known to the database exists on
# one server only.
expect_refusal()
{
	scen_expect_rc fail
	scen_expect_log "^database: ERROR: Mailbox $1 exists\\. Run \`interimap --target=database --delete $1\` to delete\\.\$" \
	    "$2"
}

# ---- --delete -----------------------------------------------------------------

start "delete: default targets"
scen_run sync --delete foo/bar
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox foo/bar$' "local name"
scen_expect_log '^remote: Deleted mailbox foo\.bar$' \
    "remote name, remote delimiter"
scen_expect_log '^database: Removed mailbox foo/bar$' "pretty name"
scen_expect_nolog '^database: Removed mailbox foo$' "the parent stays"
scen_expect_state '^db sync: insync foo yes$' "the parent stays in sync"
scen_expect_quiet sync

start "delete: a mailbox with children is not recursive"
scen_run sync --delete foo
if [ "$T_REMOTE" = cyrus ]; then
	# Cyrus refuses to delete a mailbox that has children (RFC 3501
	# 6.3.4 lets a server do either); local's DELETE came first, and
	# the refusal ends the run before the database.
	scen_expect_rc fail
	scen_expect_log '^local: Deleted mailbox foo$' "local first"
	scen_expect_log "^remote: ERROR: Couldn't delete mailbox foo: NO \\[HASCHILDREN\\] " \
	    "Cyrus refuses: the reference's message"
	scen_expect_nolog '^database: Removed' "database untouched"
	scen_run sync
	expect_refusal foo "a sync refuses the half-deleted mailbox"
	scen_run sync --target=database --delete foo
	scen_expect_rc ok
	scen_expect_log '^database: Removed mailbox foo$' "database"
	scen_run sync
	scen_expect_rc ok
	scen_expect_log '^local: Created mailbox foo$' \
	    "a sync brings Cyrus's foo back"
	scen_expect_synced "after deleting a parent"
else
	scen_expect_rc ok
	scen_expect_log '^local: Deleted mailbox foo$' "local"
	scen_expect_log '^remote: Deleted mailbox foo$' "remote"
	scen_expect_log '^database: Removed mailbox foo$' "database"
	scen_expect_nolog 'Deleted mailbox foo[/.]bar' "the child stays"
	scen_expect_state '^db sync: insync foo\\0bar yes$' \
	    "the child stays in sync"
	scen_run sync
	scen_expect_rc ok
	scen_expect_synced "after deleting a parent"
fi
scen_expect_quiet sync

start "delete: --target=local, then --target=remote,database"
scen_run sync --target=local --delete foo/bar
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox foo/bar$' "local"
scen_expect_nolog '^(remote|database): [DRC]' "nothing else"
scen_expect_state '^remote: foo\.bar: 1 message' "remote untouched"
scen_run sync
expect_refusal foo/bar "a sync refuses the half-deleted mailbox"
scen_run sync --target=remote,database --delete foo/bar
scen_expect_rc ok
scen_expect_log '^remote: Deleted mailbox foo\.bar$' "remote"
scen_expect_log '^database: Removed mailbox foo/bar$' "database"
scen_expect_quiet sync

start "delete: --target=remote, then --target=local --target=database"
scen_run sync --target=remote --delete keep
scen_expect_rc ok
scen_expect_log '^remote: Deleted mailbox keep$' "remote"
scen_expect_nolog '^(local|database): [DRC]' "nothing else"
scen_run sync
expect_refusal keep "a sync refuses the half-deleted mailbox"
scen_run sync --target=local --target=database --delete keep
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox keep$' "local"
scen_expect_log '^database: Removed mailbox keep$' "database"
scen_expect_quiet sync

start "delete: --target=database"
scen_apply local <<'EOF'
create empty
EOF
scen_run sync
scen_expect_synced "empty mailbox synced"
scen_run sync --target=database --delete empty
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox empty$' "database"
scen_expect_nolog 'Deleted' "no server touched"
scen_expect_state '^local: mailbox empty -$' "still on local"
scen_run sync
scen_expect_rc ok
scen_expect_log '^database: Created mailbox empty$' \
    "a sync takes it as a new mailbox"
scen_expect_synced "again"
scen_expect_quiet sync

start "delete: --target=local,remote leaves the database row"
scen_run sync --target=local,remote --delete keep
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox keep$' "local"
scen_expect_log '^remote: Deleted mailbox keep$' "remote"
scen_expect_nolog '^database: [DRC]' "database untouched"
scen_expect_state '^db sync: mailbox keep subscribed=0$' "the row stays"
scen_run sync
scen_expect_rc ok
scen_expect_nolog 'keep' "a sync ignores a mailbox on no server"
scen_run sync --target=database --delete keep
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox keep$' "then removed"
scen_expect_quiet sync

start "delete: several names, unknown ones ignored"
scen_run sync --delete nosuch foo/bar no/such/thing keep
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox foo/bar$' "first"
scen_expect_log '^remote: Deleted mailbox keep$' "last"
scen_expect_nolog 'such' "unknown names: nothing"
scen_run sync --delete nosuch
scen_expect_rc ok
scen_expect_nolog 'Deleted|Removed' "nothing at all"
scen_expect_quiet sync

start "delete: INBOX is refused"
scen_ref_only 'IMAP traffic'
scen_run sync --delete INBOX
scen_expect_rc fail
scen_expect_log "^ERROR: INBOX can't be deleted\$" "the reference's message"
scen_ref_only 'IMAP traffic'
scen_run sync --delete inbox
scen_expect_rc fail
scen_expect_log "^ERROR: INBOX can't be deleted\$" "in any case"
scen_expect_quiet sync
# Ours refuses before connecting, the reference after deleting what
# comes before INBOX: the worlds part, so this is ours alone.
"$INTERIMAP" --config="$T/B/sync.conf" --delete keep INBOX \
    >"$T/B/inbox.out" 2>&1
t_expect_eq "$?" 1 "ours: --delete keep INBOX exits 1"
t_expect_eq "$(cat "$T/B/inbox.out")" "ERROR: INBOX can't be deleted" \
    "ours: --delete keep INBOX says only why"
scen_expect_quiet sync
scen_expect_state '^local: mailbox keep -$' "keep was not deleted"

# ---- --rename ---------------------------------------------------------------

start "rename: default targets, children included"
scen_run sync --rename foo baz
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox foo to baz$' "local"
scen_expect_log '^remote: Renamed mailbox foo to baz$' "remote"
scen_expect_log '^database: Renamed mailbox foo to baz$' "database"
scen_expect_state '^db sync: mailbox baz\\0bar subscribed=1$' \
    "the child's row renamed"
# RENAME leaves the subscriptions behind (RFC 3501 6.3.5): the next sync
# finds both sides unsubscribed and says so in the database.
scen_expect_state '^db sync: insync baz\\0bar NO \(subscriptions local=0 remote=0 db=1\)$' \
    "the subscription stays with the old name"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after the rename"
scen_expect_quiet sync

start "rename: a child, with the delimiters"
scen_run sync --rename foo/bar keep/bar2
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox foo/bar to keep/bar2$' "local"
scen_expect_log '^remote: Renamed mailbox foo\.bar to keep\.bar2$' "remote"
scen_expect_log '^database: Renamed mailbox foo/bar to keep/bar2$' "database"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after the rename"
scen_expect_quiet sync

# No sync in between: half-renamed, a sync would both refuse the old name
# and create the new one on the other side, and the reference does the
# two in hash order.
start "rename: --target=local, then --target=remote,database"
scen_run sync --target=local --rename keep kept
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox keep to kept$' "local"
scen_expect_nolog '^(remote|database): [DRC]' "nothing else"
scen_expect_state '^remote: mailbox keep -$' "remote untouched"
scen_run sync --target=remote,database --rename keep kept
scen_expect_rc ok
scen_expect_log '^remote: Renamed mailbox keep to kept$' "remote"
scen_expect_log '^database: Renamed mailbox keep to kept$' "database"
scen_expect_nolog '^local: [DRC]' "local: nothing to rename"
scen_expect_quiet sync

start "rename: --target=remote --target=database, then --target=local"
scen_run sync --target=remote --target=database --rename foo qux
scen_expect_rc ok
scen_expect_log '^remote: Renamed mailbox foo to qux$' "remote"
scen_expect_log '^database: Renamed mailbox foo to qux$' "database"
scen_expect_nolog '^local: [DRC]' "local untouched"
scen_run sync --target=local --rename foo qux
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox foo to qux$' "local"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after the rename"
scen_expect_quiet sync

# An empty mailbox: the reference copies the messages of a mailbox new to
# the database both ways (duplicates, REFERENCE-BEHAVIOUR §9.9), ours
# recognises them; that is another test's business.
start "rename: --target=database alone, then --target=local,remote"
scen_apply local <<'EOF'
create empty
EOF
scen_run sync
scen_expect_synced "empty mailbox synced"
scen_run sync --target=database --rename empty vide
scen_expect_rc ok
scen_expect_log '^database: Renamed mailbox empty to vide$' "database"
scen_expect_nolog '^(local|remote): Renamed' "no server touched"
scen_run sync
scen_expect_rc ok
scen_expect_log '^database: Created mailbox empty$' \
    "empty is a new mailbox to a sync"
scen_run sync --target=local,remote --rename empty vide
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox empty to vide$' "local"
scen_expect_log '^remote: Renamed mailbox empty to vide$' "remote"
scen_expect_nolog '^database: [DRC]' "database untouched"
scen_run sync
scen_expect_rc ok
scen_expect_state '^db sync: insync vide yes$' "the renamed row fits again"
scen_expect_state '^db sync: insync empty NO \(local missing, remote missing\)$' \
    "the row of the sync in between is left"
scen_run sync --target=database --delete empty
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox empty$' "which --delete removes"
scen_expect_quiet sync

start "rename: unknown source"
scen_run sync --rename nosuch other
scen_expect_rc ok
scen_expect_nolog 'Renamed' "nothing renamed"
scen_expect_quiet sync

start "rename: destination exists on a server"
scen_apply local <<'EOF'
create dst/l
EOF
scen_apply remote <<'EOF'
create dst.r
EOF
scen_run sync --rename keep dst/l
scen_expect_rc fail
scen_expect_log '^local: ERROR: Mailbox dst/l exists\. Run `interimap --target=local --delete dst/l` to delete\.$' \
    "on local"
scen_run sync --rename keep dst/r
scen_expect_rc fail
scen_expect_log '^remote: ERROR: Mailbox dst\.r exists\. Run `interimap --target=remote --delete dst/r` to delete\.$' \
    "on remote, with both delimiters"
scen_run sync --target=local --rename keep dst/l
scen_expect_rc fail
scen_expect_log '^local: ERROR: Mailbox dst/l exists\.' "--target=local"
scen_run sync --target=remote,database --rename keep dst/r
scen_expect_rc fail
scen_expect_log '^remote: ERROR: Mailbox dst\.r exists\.' \
    "--target=remote,database"
scen_expect_nolog 'Renamed' "nothing renamed"
scen_expect_state '^local: mailbox keep -$' "keep stays on local"
scen_expect_state '^remote: mailbox keep -$' "keep stays on remote"
scen_run sync --target=remote --delete dst/r
scen_expect_rc ok
scen_expect_log '^remote: Deleted mailbox dst\.r$' \
    "a mailbox the database does not know"
scen_run sync --target=local --delete dst/l
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox dst/l$' "and the other"
scen_run sync --rename keep dst/r
scen_expect_rc ok
scen_expect_log '^database: Renamed mailbox keep to dst/r$' "now renamed"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after the rename"

start "rename: destination exists in the database" keep-first
scen_run sync --target=local,remote --delete keep
scen_expect_rc ok
scen_run sync --rename foo/bar keep
scen_expect_rc fail
scen_expect_log '^database: ERROR: Mailbox keep exists\. Run `interimap --target=database --delete keep` to delete\.$' \
    "the reference's message"
scen_expect_nolog 'Renamed' "nothing renamed"
scen_run sync --target=local,remote --rename foo/bar keep
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox foo/bar to keep$' \
    "not refused where not targeted"
scen_run sync --target=database --delete keep
scen_expect_rc ok
scen_run sync --target=database --rename foo/bar keep
scen_expect_rc ok
scen_expect_log '^database: Renamed mailbox foo/bar to keep$' "now renamed"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after the rename"
scen_expect_quiet sync

if [ "$T_REMOTE" != cyrus ]; then
	scen_begin "rename: a parent that is only \\NonExistent"
	config
	scen_apply local <<'EOF'
add INBOX i1
add top/a a1
add top/b b1
EOF
	scen_run sync
	scen_expect_synced "start"
	scen_expect_nolog 'Created mailbox top$' "no parent mailbox"
	scen_run sync --rename top newtop
	scen_expect_rc ok
	scen_expect_log '^local: Renamed mailbox top to newtop$' "local"
	scen_expect_log '^remote: Renamed mailbox top to newtop$' "remote"
	scen_expect_log '^database: Renamed mailbox top to newtop$' \
	    "database: the children's rows"
	scen_expect_nolog '^database: Created' "and nothing else"
	scen_expect_state '^db sync: mailbox newtop\\0a subscribed=0$' \
	    "a child's row renamed"
	scen_expect_quiet sync
	scen_expect_synced "after the rename"
fi

# ---- settings and options ---------------------------------------------------

start "delete: list-select-opts does not apply, -q"
scen_config subs <<'EOF'
database = @WORLD@/sync.db
list-select-opts = SUBSCRIBED

[local]
@server local@

[remote]
@server remote@
EOF
scen_run subs -q --delete keep
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox keep$' \
    "an unsubscribed mailbox deleted; printed with -q"
scen_expect_nolog 'Deleted mailbox|IMAP traffic' "-q: no server lines"
scen_run subs -q --rename foo/bar foo/baz
scen_expect_rc ok
scen_expect_log '^database: Renamed mailbox foo/bar to foo/baz$' \
    "renamed, printed with -q"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after both"
scen_expect_quiet sync

scen_begin "list-reference on local"
scen_config ref <<'EOF'
database = @WORLD@/ref.db

[local]
@server local@
list-reference = arch/

[remote]
@server remote@
EOF
scen_apply local <<'EOF'
add arch/foo f1
add arch/foo/bar b1
add outside o1
EOF
scen_apply remote <<'EOF'
add INBOX i1
EOF
scen_run ref
scen_expect_rc ok
scen_expect_log '^local: Created mailbox arch/INBOX$' "the reference's layout"
scen_expect_synced "start"
scen_run ref --rename foo baz
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox arch/foo to arch/baz$' "local, prefixed"
scen_expect_log '^remote: Renamed mailbox foo to baz$' "remote"
scen_expect_log '^database: Renamed mailbox foo to baz$' "database, unprefixed"
scen_run ref --delete baz/bar outside
scen_expect_rc ok
scen_expect_log '^local: Deleted mailbox arch/baz/bar$' "local, prefixed"
scen_expect_log '^remote: Deleted mailbox baz\.bar$' "remote"
scen_expect_log '^database: Removed mailbox baz/bar$' "database"
scen_expect_nolog 'outside' "a name outside the reference: nothing"
scen_expect_state '^local: mailbox outside -$' "outside is left alone"
scen_run ref
scen_expect_rc ok
scen_expect_synced "after both"
scen_expect_quiet ref

scen_begin "delete and rename without a database"
config
scen_apply local <<'EOF'
add INBOX i1
add foo f1
EOF
scen_run sync --delete 'f*' '%' nosuch
scen_expect_rc ok
scen_expect_log '^Creating new schema in database file @WORLD@/sync\.db$' \
    "the database is created, as for a sync"
scen_expect_nolog 'Deleted|Removed' "wildcards match nothing to delete"
scen_run sync --rename foo bar
scen_expect_rc ok
scen_expect_log '^local: Renamed mailbox foo to bar$' "local"
scen_expect_nolog '^(remote|database): [RD]' "nothing else"
scen_run sync
scen_expect_rc ok
scen_expect_synced "a first sync after"
scen_expect_quiet sync

if [ "$T_REMOTE" != cyrus ]; then
	# Cyrus's imapd crashes on RENAME INBOX (CYRUS-NOTES.md).
	start "rename: INBOX"
	scen_run sync --rename inbox old
	scen_expect_rc ok
	scen_expect_log '^local: Renamed mailbox INBOX to old$' "local"
	scen_expect_log '^remote: Renamed mailbox INBOX to old$' "remote"
	scen_expect_log '^database: Renamed mailbox INBOX to old$' "database"
	scen_run sync
	scen_expect_rc ok
	scen_expect_synced "INBOX anew, old with the messages"
	scen_expect_quiet sync
fi

# ---- the two programs on one database ----------------------------------------

start "alternate: ours deletes and renames what the reference synced"
run_swapped sync --rename foo baz
scen_expect_rc ok
scen_expect_log '^database: Renamed mailbox foo to baz$' "renamed"
scen_run sync
scen_expect_rc ok
scen_expect_synced "after ours renamed, a sync"
run_swapped sync --delete baz/bar
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox baz/bar$' "deleted"
scen_apply local <<'EOF'
add baz f3
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^remote\(baz\): Added UID 3 -> 3$' "the renamed mailbox syncs"
run_swapped sync --target=local,remote --delete keep
scen_expect_rc ok
scen_run sync --target=database --delete keep
scen_expect_rc ok
scen_expect_log '^database: Removed mailbox keep$' "the row ours left"
run_swapped sync
scen_expect_rc ok
scen_expect_synced "both programs agree"
scen_expect_quiet sync

t_done
