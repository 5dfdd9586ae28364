#!/bin/bash
#
# Differential scenarios, message contents: 8-bit messages (raw UTF-8 and
# Latin-1 bytes in headers and body, every byte value from 0x80) and large
# ones (10 MiB each way, plus sizes around the reference's 1 MiB
# MULTIAPPEND batch limit), copied byte for byte with flags and
# INTERNALDATE.  The reference runs in world A, ours in world B (the
# reference too with INTERIMAP_SCENARIO_SELFTEST=1); see
# tests/lib/scenario.sh.  In the @cyrus variant the remote is Cyrus IMAP
# (unixhierarchysep: no, "."; munge8bit: no keeps 8-bit header bytes).
#
# ctest-variants: cyrus condstore plain

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup
scen_layout local=tunnel:/ remote=imaps:.

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

MiB=1048576

# ---- 8-bit messages ------------------------------------------------------------

scen_begin "8-bit messages"
config
scen_msg e1 8bit
scen_msg e2 8bit
scen_msg e3 8bit
scen_msg e4 8bit
scen_apply local <<'EOF'
add INBOX e1 \Seen
add INBOX e2
add INBOX/8bit e3 $Label1
EOF
scen_apply remote <<'EOF'
add INBOX e4 \Flagged
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\.8bit\): Added UID 1 -> 1$' "8-bit mail to remote"
scen_expect_log '^local\(INBOX\): Added UID 3 <- 1$' "8-bit mail to local"
scen_expect_synced "8-bit"
scen_apply remote <<'EOF'
store INBOX @e2 + \Answered
EOF
scen_run sync
scen_expect_rc ok
scen_expect_synced "8-bit flag change"
scen_expect_quiet sync

# ---- large messages ------------------------------------------------------------

scen_begin "large messages"
config
scen_msg big1 $((10 * MiB))
scen_msg big2 $((10 * MiB))
scen_msg mid1 $((3 * MiB / 2))
scen_msg mid2 $((700 * 1024))
scen_msg mid3 $((700 * 1024))
scen_msg mid4 $((MiB - 4096))
scen_apply local <<'EOF'
add INBOX s1 \Seen
add INBOX big1 \Flagged
add INBOX s2
add Archive mid2
add Archive mid3 \Seen
add Archive mid4
add Archive s4
EOF
scen_apply remote <<'EOF'
add INBOX big2
add INBOX s3 \Answered
add Archive mid1
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^remote\(INBOX\): Added UID 2 -> 4$' "10 MiB to remote"
scen_expect_log '^local\(INBOX\): Added UID 4 <- 1$' "10 MiB to local"
scen_expect_log '^remote\(Archive\): Added UID 4 -> 5$' "batches around 1 MiB"
scen_expect_synced "large messages"
scen_apply remote <<'EOF'
store INBOX @big1 + \Seen
add INBOX s5
EOF
scen_apply local <<'EOF'
expunge INBOX @big2
add Archive big3
EOF
scen_run sync
scen_expect_rc ok
scen_expect_log '^local\(INBOX\): Updated flags \(\\Flagged \\Seen\) for UID 2$' \
    "flag change on a large message"
scen_expect_log '^remote\(INBOX\): Removed UID 1$' "large message expunged"
scen_expect_synced "large messages, later changes"
scen_expect_quiet sync

t_done
