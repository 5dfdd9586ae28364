#!/bin/bash
#
# Differential scenarios, the mailbox list: mailboxes created on either
# side (local delimiter "/", remote "."), subscriptions, list-mailbox
# patterns and list-select-opts, ignore-mailbox, mailboxes given on the
# command line, and the refusals of REFERENCE-BEHAVIOUR §6.2/§6.3/§8 (a
# known mailbox gone from one side, a changed UIDVALIDITY).  The reference
# runs in world A, ours in world B (the reference too with
# INTERIMAP_SCENARIO_SELFTEST=1); see tests/lib/scenario.sh.  In the
# @cyrus variant the remote is Cyrus IMAP (unixhierarchysep: no, ".").
#
# ctest-variants: cyrus condstore cyrus-condstore plain cyrus-plain

# The regular expressions are single-quoted on purpose:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup
scen_layout local=tunnel:/ remote=imaps:.

# config NAME [DEFAULT-SECTION-LINE...]
config()
{
	local name=$1

	shift
	# Not a pipe: scen_config must run in this shell.
	scen_config "$name" < <(
		echo "database = @WORLD@/$name.db"
		printf '%s\n' "$@"
		printf '%s\n' "" "[local]" "@server local@" "" "[remote]" \
		    "@server remote@"
	)
}

# ---- mailboxes created on the local side ------------------------------------

scen_begin "mailbox created on local"
config sync
scen_apply local <<'EOF'
add INBOX i1
EOF
scen_run sync
scen_apply local <<'EOF'
add projects/alpha p1 \Seen
add projects/alpha p2
add projects/alpha/2023 p3
subscribe projects/alpha
add "Sent Items" p4 \Seen
create Entw&APw-rfe
subscribe Entw&APw-rfe
add INBOX/sub p5
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox projects\.alpha$' \
    "remote name uses the remote delimiter"
scen_expect_log '^remote: Created mailbox projects\.alpha\.2023$' "nested"
scen_expect_log '^remote: Subscribe to projects\.alpha$' "subscribed"
scen_expect_log '^database: Created mailbox projects/alpha$' \
    "database name uses the local delimiter"
scen_expect_log '^remote: Created mailbox Sent Items$' "name with a space"
scen_expect_log '^remote: Created mailbox Entw&APw-rfe$' "modified UTF-7 name"
scen_expect_log '^remote: Created mailbox INBOX\.sub$' "child of INBOX"
scen_expect_state '^remote: projects\.alpha\.2023: 1 message' \
    "messages copied to the new mailbox"
scen_expect_state '^db sync: mailbox projects\\0alpha subscribed=1$' \
    "NUL as delimiter in the database"
scen_expect_synced "local creations"
scen_cyrus_parents sync projects
scen_expect_quiet sync

# ---- mailboxes created on the remote side -----------------------------------

scen_begin "mailbox created on remote"
config sync
scen_apply remote <<'EOF'
add INBOX i1
EOF
scen_run sync
scen_apply remote <<'EOF'
add lists.dev d1
add lists.dev d2 \Flagged
add lists.dev.rust d3
subscribe lists.dev.rust
add INBOX.todo d4 $Todo
subscribe INBOX.todo
create empty.box
EOF
scen_apply local <<'EOF'
add INBOX i2
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^local: Created mailbox lists/dev/rust$' \
    "local name uses the local delimiter"
scen_expect_log '^local: Subscribe to INBOX/todo$' "subscribed child of INBOX"
scen_expect_log '^local: Created mailbox empty/box$' "empty mailbox"
scen_expect_log '^remote\(INBOX\): Added UID 2 -> 2$' "and INBOX still synced"
scen_expect_synced "remote creations"
scen_expect_quiet sync

# ---- subscriptions ------------------------------------------------------------

scen_begin "subscriptions"
config sync
scen_apply local <<'EOF'
create a
create b
create c
create d
create e
create f/g
subscribe b
subscribe d
subscribe f/g
EOF
scen_run sync
scen_expect_log '^remote: Subscribe to f\.g$' "first sync subscribes remotely"
scen_apply local <<'EOF'
subscribe a
unsubscribe b
EOF
scen_apply remote <<'EOF'
subscribe c
unsubscribe d
subscribe e
unsubscribe f.g
EOF
scen_apply local <<'EOF'
subscribe e
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^remote: Subscribe to a$' "local subscribe propagates"
scen_expect_log '^remote: Unsubscribe to b$' "local unsubscribe propagates"
scen_expect_log '^local: Subscribe to c$' "remote subscribe propagates"
scen_expect_log '^local: Unsubscribe to d$' "remote unsubscribe propagates"
scen_expect_log '^local: Unsubscribe to f/g$' "with the local delimiter"
scen_expect_nolog 'Subscribe to e$' "both sides agree: database only"
scen_expect_state '^db sync: mailbox e subscribed=1$' "database updated"
scen_expect_synced "subscriptions"
scen_expect_quiet sync

# ---- list-mailbox, list-select-opts -----------------------------------------

scen_begin "list-mailbox and list-select-opts"
config lists 'list-mailbox = INBOX lists/*'
config level "list-mailbox = \"work\\0%\" archive"
config subs 'list-select-opts = SUBSCRIBED'
scen_apply local <<'EOF'
add INBOX m1
add lists/dev m2
add lists/users m3
add work/a m4
add work/a/deep m5
add other m6
add archive m7
subscribe other
EOF
scen_apply remote <<'EOF'
add lists.dev m8
add lists.new m9
add work.b m10
add remoteonly m11
subscribe remoteonly
EOF
scen_run lists
scen_expect_rc ok
scen_expect_log '^local\(lists/dev\): Added UID 2 <- 1$' "lists/* synced"
scen_expect_log '^local: Created mailbox lists/new$' "lists/* created"
scen_expect_nolog 'other|remoteonly|work|archive' "the rest is not listed"
scen_expect_synced "lists/*"
scen_run level
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox work\.a$' "work/% on local"
scen_expect_log '^local: Created mailbox work/b$' "work.% on remote"
scen_expect_log '^remote: Created mailbox archive$' "second pattern"
scen_expect_nolog 'work.a.deep|work/a/deep' "% does not descend"
scen_expect_synced "NUL pattern"
scen_run subs
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox other$' "subscribed local mailbox"
scen_expect_log '^local: Created mailbox remoteonly$' "subscribed remote mailbox"
scen_expect_nolog 'INBOX|work|archive' "unsubscribed mailboxes left alone"
scen_expect_quiet lists
scen_expect_quiet level
scen_expect_quiet subs

# ---- ignore-mailbox ---------------------------------------------------------

scen_begin "ignore-mailbox"
config ign 'ignore-mailbox = ^(?:Trash|Junk)(?:\x00|$)'
scen_apply local <<'EOF'
add INBOX m1
add Trash m2
add Trash/old m3
add Trashcan m4
EOF
scen_apply remote <<'EOF'
add Junk m5
add Junk.sub m6
add Junkyard m7
EOF
scen_run ign
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox Trashcan$' "Trashcan is not Trash"
scen_expect_log '^local: Created mailbox Junkyard$' "Junkyard is not Junk"
scen_expect_nolog 'Trash$|Trash\.old|Junk$|Junk/sub' "ignored mailboxes"
scen_expect_synced "ignore-mailbox"
scen_apply local <<'EOF'
add Trash m8
add INBOX m9
EOF
scen_run ign
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): Added UID 2 -> 2$' "INBOX synced"
scen_expect_nolog 'Trash' "Trash still ignored"

# ---- mailboxes on the command line -----------------------------------------

scen_begin "mailboxes on the command line"
config ign 'ignore-mailbox = ^(?:Trash|Junk)(?:\x00|$)' \
    'list-mailbox = nothing'
scen_apply local <<'EOF'
add INBOX m1
add Trash m2
add a/b m3
add a/c m4
add z m5
EOF
scen_apply remote <<'EOF'
add a.d m6
add y m7
EOF
scen_run ign INBOX Trash
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox Trash$' \
    "ignore-mailbox does not apply to arguments"
scen_expect_nolog 'Created mailbox (a|z|y)|\((a[./]|z|y)' "only the arguments"
scen_run ign 'a/%'
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox a\.b$' "wildcard argument, local"
scen_expect_log '^local: Created mailbox a/d$' "wildcard argument, remote"
scen_expect_nolog 'Created mailbox (INBOX|Trash|z|y)|\((INBOX|Trash|z|y)' \
    "only the arguments"
scen_run ign inbox
scen_expect_rc ok
scen_expect_nolog 'Added|Created' "inbox means INBOX, already synced"
scen_expect_quiet ign

# ---- refusal: a known mailbox deleted on one side --------------------------

scen_begin "refusal: mailbox deleted on one side"
config sync
scen_apply local <<'EOF'
add INBOX m1
add foo m2
add foo/bar m3
add keep m4
EOF
scen_run sync
scen_apply remote <<'EOF'
delete foo.bar
EOF
scen_run sync
scen_expect_rc fail
scen_expect_log '^database: ERROR: Mailbox foo/bar exists\. Run `interimap --target=database --delete foo/bar` to delete\.$' \
    "the reference's message"
scen_expect_state '^db sync: insync foo\\0bar NO \(remote missing\)$' \
    "nothing was recreated"
scen_run sync
scen_expect_rc fail

scen_begin "refusal: mailbox deleted locally"
config sync
scen_apply remote <<'EOF'
add INBOX m1
add foo m2
EOF
scen_run sync
scen_apply local <<'EOF'
delete foo
EOF
scen_run sync
scen_expect_rc fail
scen_expect_log '^database: ERROR: Mailbox foo exists\. Run `interimap --target=database --delete foo` to delete\.$' \
    "the reference's message"

# ---- refusal: UIDVALIDITY changed ------------------------------------------

scen_begin "refusal: UIDVALIDITY changed remotely"
config sync
scen_apply local <<'EOF'
add INBOX m1
add foo/bar m2
add foo/bar m3
EOF
scen_run sync
scen_apply remote <<'EOF'
recreate foo.bar
add foo.bar m2
EOF
scen_run sync
scen_expect_rc fail
scen_expect_log '^remote: ERROR: UIDVALIDITY changed! \(UV != UV\)  Need to invalidate the UID cache for foo\.bar\.$' \
    "the reference's message"
scen_expect_state '^db sync: remote foo\\0bar uidvalidity!=srv' \
    "the database keeps the old UIDVALIDITY"
scen_expect_state '^local: foo/bar: 2 message' "nothing removed"

scen_begin "refusal: UIDVALIDITY changed locally"
config sync
scen_apply remote <<'EOF'
add INBOX m1
add foo m2
EOF
scen_run sync
scen_apply local <<'EOF'
recreate foo
EOF
scen_run sync
scen_expect_rc fail
scen_expect_log '^local: ERROR: UIDVALIDITY changed! \(UV != UV\)  Need to invalidate the UID cache for foo\.$' \
    "the reference's message"

t_done
