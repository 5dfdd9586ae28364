#!/bin/bash
#
# A flag removed locally must stay removed after our own uploads to a
# Cyrus IMAP server.  Cyrus 3.6 answers APPEND with EXISTS, RECENT and
# "OK [APPENDUID ...]" only, no [HIGHESTMODSEQ], so the remote
# HIGHESTMODSEQ a run stores after its APPENDs is behind the server's; the
# next run then fetches the messages it uploaded as if they had changed on
# the server, and takes a local flag change made in between for a
# conflict: "WARNING: Conflicting flag update ... Setting both to the
# union", which puts the removed \Seen back on both sides.
#
# Local: a tunnel Dovecot; remote: Cyrus over IMAPS.  Messages arrive
# locally with \Seen, the first sync copies them to Cyrus, the user marks
# them unseen locally, the second sync must make them unseen on Cyrus too,
# without a warning.  The reference (world A) has the bug, which this test
# also checks, so that it shows what is fixed; ours (world B) must not.
# A third part checks that expunges do not have the same problem: Cyrus's
# UID EXPUNGE answers OK [HIGHESTMODSEQ], and the next run must print no
# "No match for ... vanished ... UID(s)" warning.

source "$SRCDIR/tests/lib/common.sh"
t_setup

mkdir -p "$T/msgs"
for i in 1 2 3; do
	printf 'From: a@example.org\r\nSubject: seen %s\r\nMessage-ID: <%s@modseq>\r\n\r\nBody %s.\r\n' \
	    "$i" "$i" "$i" >"$T/msgs/$i.eml"
done

# ---- what Cyrus answers ----------------------------------------------------------

cyrus_server probe / || { t_fail "cyrus_server probe"; t_done; }
# (Tags c2...c6: c1 is imapctl's LOGIN.  The literal: 16 bytes once its
# LFs are sent as CRLF.)
out=$(imap_raw probe 'ENABLE QRESYNC' 'SELECT INBOX' \
    'APPEND INBOX (\Seen) {16+}
Subject: x

Hi' 'UID STORE 1 +FLAGS.SILENT (\Deleted)' 'UID EXPUNGE 1' | tr -d '\r')
t_expect_match "$out" $'\nc4 OK \\[APPENDUID [0-9]+ 1\\] ' \
    "Cyrus: APPEND answered with APPENDUID"
t_expect_eq "$(grep '^c4 ' <<<"$out" | grep -c HIGHESTMODSEQ)" 0 \
    "Cyrus: ... and no HIGHESTMODSEQ (the cause)"
t_expect_match "$out" $'\nc6 OK \\[HIGHESTMODSEQ [0-9]+\\] ' \
    "Cyrus: UID EXPUNGE answered with HIGHESTMODSEQ"

# ---- two worlds: the reference in A, ours in B ---------------------------------------

for w in A B; do
	tun=$(dovecot_tunnel "local$w" /) || { t_fail "dovecot_tunnel"; t_done; }
	cyrus_server "remote$w" / || { t_fail "cyrus_server"; t_done; }
	write_config "$T/$w.conf" <<EOF
database = $T/$w.db

[local]
type = tunnel
command = $tun

[remote]
$(imaps_lines "remote$w")
EOF
	MAIL_DATE="01-Mar-2024 09:00:00 +0000" mail_add_many "local$w" INBOX \
	    "$T/msgs/1.eml" "$T/msgs/2.eml" "$T/msgs/3.eml"
	mail_store "local$w" INBOX 1:3 + '\Seen'
done

run_both()
{
	run_ref --config="$T/A.conf"
	run_ours --config="$T/B.conf"
	t_expect_eq "$REF_RC:$OURS_RC" "0:0" "$1: both exit 0"
}

# The flags of every message of INBOX on server NAME, one line each.
flags()
{
	mail_dump "$1" INBOX | cut -d' ' -f2
}

run_both "first sync (uploads to Cyrus)"
for w in A B; do
	t_expect_eq "$(flags "remote$w")" $'\\Seen\n\\Seen\n\\Seen' \
	    "world $w: the three messages on Cyrus, \\Seen"
done

# The user reads them elsewhere and marks them unread locally.
mail_store localA INBOX 1:3 - '\Seen'
mail_store localB INBOX 1:3 - '\Seen'
run_both "second sync (a local flag removal)"
# Kept for the diagnostics at the end (they show $T/*.err).
cp "$T/ref.err" "$T/ref-second.err"
cp "$T/ours.err" "$T/ours-second.err"

# The reference has the bug.
t_expect_match "$(cat "$T/ref.err")" \
    'WARNING: Conflicting flag update in INBOX for local UID 1 \(\) and remote UID 1 \(\\Seen\)\. Setting both to the union \(\\Seen\)\.' \
    "reference: the local change taken for a conflict"
t_expect_eq "$(flags localA)" $'\\Seen\n\\Seen\n\\Seen' \
    "reference: \\Seen put back locally"

# Ours must not.
t_expect_eq "$(grep -c 'Conflicting flag update' "$T/ours.err")" 0 \
    "ours: no conflict warning"
t_expect_eq "$(flags localB)" $'-\n-\n-' "ours: local INBOX unseen"
t_expect_eq "$(flags remoteB)" $'-\n-\n-' "ours: Cyrus INBOX unseen too"

# ---- expunges: UID EXPUNGE answers HIGHESTMODSEQ ---------------------------------

for w in A B; do
	mail_expunge "local$w" INBOX 2
done
run_both "third sync (a local expunge)"
for w in A B; do
	t_expect_eq "$(mail_dump "remote$w" INBOX | wc -l)" 2 \
	    "world $w: expunged on Cyrus"
done
run_both "fourth sync (nothing new)"
t_expect_eq "$(grep -h 'vanished' "$T/ref.err" "$T/ours.err")" "" \
    "no 'No match for ... vanished' warning after the expunge"
t_expect_eq "$(mail_dump remoteB INBOX)" "$(mail_dump localB INBOX)" \
    "ours: both sides the same in the end"

t_done
