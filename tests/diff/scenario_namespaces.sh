#!/bin/bash
#
# Differential scenarios, list-reference: the multi-account layout of the
# reference's documentation (/usr/share/doc/interimap/multi-account.md):
# one local Dovecot with a default namespace (never synchronised) and the
# namespaces "perso/" and "work/", each mirroring a remote account with
# its own config and database; the "perso" remote uses "/", the "work"
# remote "." as hierarchy delimiter.  The reference runs in world A, ours
# in world B (the reference too with INTERIMAP_SCENARIO_SELFTEST=1); see
# tests/lib/scenario.sh.  In the @cyrus variant both remotes are Cyrus
# IMAP ("perso" with unixhierarchysep: yes, "work" with no).
#
# ctest-variants: cyrus

# NAMESPACES is read by scen_layout (local=...:NAMESPACES):
# shellcheck disable=SC2034
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup

NAMESPACES='
namespace perso {
  prefix = perso/
  separator = /
  location = sdbox:~/Mail-perso:LAYOUT=index
}
namespace work {
  prefix = work/
  separator = /
  location = sdbox:~/Mail-work:LAYOUT=index
}'
scen_layout local=tunnel:/:NAMESPACES perso=imaps:/ work=imaps:.

configs()
{
	local acct

	for acct in perso work; do
		scen_config "$acct" <<EOF
database = @WORLD@/$acct.db

[local]
@server local@
list-reference = $acct/

[remote]
@server $acct@
EOF
	done
}

# ---- first sync of both accounts --------------------------------------------

scen_begin "multi-account, first sync"
configs
scen_apply local <<'EOF'
add INBOX own1
add localonly own2
EOF
scen_apply perso <<'EOF'
add INBOX p1 \Seen
add INBOX p2
add debian p3
add debian/debian-devel p4 \Flagged
add debian/debian-devel p5
add debian/debian-project p6
add archives p7 \Seen \Answered
subscribe INBOX
subscribe debian/debian-devel
EOF
scen_apply work <<'EOF'
add INBOX w1
add INBOX.todo w2 $Todo
add attic w3
subscribe INBOX.todo
EOF
scen_run perso
scen_expect_rc ok
scen_expect_log '^local: Created mailbox perso/INBOX$' \
    "INBOX is an ordinary mailbox under the reference"
scen_expect_log '^database: Created mailbox INBOX$' \
    "the database name has no reference"
scen_expect_log '^local: Subscribe to perso/debian/debian-devel$' "subscription"
scen_expect_log '^local\(perso/INBOX\): Added UID 2 <- 2$' "messages copied"
scen_expect_nolog 'localonly|own' "the default namespace is left alone"
scen_expect_synced "perso account" perso
scen_run work
scen_expect_rc ok
scen_expect_log '^local: Created mailbox work/INBOX/todo$' \
    "remote INBOX child under the reference"
scen_expect_log '^local\(work/INBOX/todo\): Added UID 1 <- 1$' "messages copied"
scen_expect_nolog 'perso|debian|localonly' "only this account"
scen_expect_synced "work account" work
scen_expect_state '^local: INBOX: 1 message' "local INBOX untouched"
scen_expect_state '^local: mailbox work/attic -$' "work/attic"
scen_expect_quiet perso
scen_expect_quiet work

# ---- changes on every side ---------------------------------------------------

scen_begin "multi-account, changes"
configs
scen_apply perso <<'EOF'
add INBOX p1
add debian p2
EOF
scen_apply work <<'EOF'
add INBOX w1
add INBOX.todo w2
EOF
scen_run perso
scen_run work
scen_apply local <<'EOF'
add perso/INBOX p3 \Seen
add perso/new/sub p4
subscribe perso/new/sub
store perso/debian @p2 + \Flagged
add work/INBOX/todo w3
expunge work/INBOX @w1
add work/attic w4
add localonly own1
add INBOX own2
EOF
scen_apply perso <<'EOF'
add INBOX p5
store INBOX @p1 + $Label1
EOF
scen_apply work <<'EOF'
add projects.x w5
subscribe projects.x
store INBOX.todo @w2 + \Seen
EOF
scen_run perso
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox new/sub$' "new local mailbox"
scen_expect_log '^remote: Subscribe to new/sub$' "subscribed"
scen_expect_log '^remote\(debian\): Updated flags \(\\Flagged\) for UID 1$' \
    "flag change pushed"
scen_expect_log '^local\(perso/INBOX\): Added UID 3 <- 2$' "new remote mail"
scen_expect_nolog 'work|localonly' "only this account"
scen_expect_synced "perso account" perso
scen_run work
scen_expect_rc ok
scen_expect_log '^remote: Created mailbox attic$' "new local mailbox"
scen_expect_log '^local: Created mailbox work/projects/x$' "new remote mailbox"
scen_expect_log '^remote\(INBOX\): Removed UID 1$' "expunge pushed"
scen_expect_log '^remote\(INBOX\.todo\): Added UID 2 -> 2$' "new local mail"
scen_expect_synced "work account" work
scen_cyrus_parents perso perso/new
scen_expect_quiet perso
scen_expect_quiet work

t_done
