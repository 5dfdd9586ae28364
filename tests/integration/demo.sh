#!/bin/bash
#
# The README's "Try it" command must keep working: run tests/demo-sync.sh
# on the built binary and check what it shows.

source "$SRCDIR/tests/lib/common.sh"
t_setup

out=$(BUILDDIR=$T/demo-build "$SRCDIR/tests/demo-sync.sh" "$INTERIMAP" 2>&1)
rc=$?
t_expect_eq "$rc" 0 "demo-sync.sh exits 0"
t_expect_match "$out" 'remote: Created mailbox Archive\.2026' \
    "demo: mailbox created remotely with the remote delimiter"
t_expect_match "$out" 'local\(INBOX\): Added 3 UID\(s\) 4:6 <- 1:3' \
    "demo: remote mail added locally"
t_expect_match "$out" 'remote\(INBOX\): Added 3 UID\(s\) 1:3 -> 4:6' \
    "demo: local mail added remotely"
t_expect_match "$out" 'local\(INBOX\): Updated flags \(\\Flagged\) for UID 4' \
    "demo: a flag change propagated"
t_expect_match "$out" 'remote\(Archive\.2026\): Removed 1 UID\(s\) 1' \
    "demo: an expunge propagated"
t_expect_match "$out" 'compr\. ' "demo: COMPRESS active on the remote side"
t_expect_match "$out" 'INBOX is identical on both servers' \
    "demo: INBOX identical at the end"
t_done
