#!/bin/bash
#
# Copies the two ways at once on one pair of connections must not hang
# the run (engine/xfer.c: xfer_may_copy()).  Jobs that share the
# connections (known mailboxes, servers with QRESYNC and UIDPLUS) could
# each send their FETCH of bodies at once: the remote's new mail of one
# mailbox going to the local, the local's new mail of another going to
# the remote.  Each server then writes a FETCH answer that we can only
# read as fast as the other server takes our APPEND, which it reads only
# once its own FETCH answer is written: with more bodies than the
# buffers between us hold, neither moves again.  Two Dovecot tunnels
# (a pipe's buffers are small), two mailboxes known on both sides, then
# 4 MiB of new mail in each, one on each side:
#  - the run ends (within 60 s: it takes about one; it hung for ever
#    before) with exit 0;
#  - both sides hold the same messages, and each server got its copies;
#  - ours and the reference then have nothing to do.
# Then new mail on both sides of each mailbox, more than the pipes hold
# each way.  The local pass's FETCH goes with the remote pass's where
# the local side's new bytes fit the budget (engine/xfer_pre.c:
# xfer_early(), 4 MiB): INBOX, 2 MiB; not where they do not: Other,
# 5 MiB.  The run ends, both sides alike; in INBOX the local side's
# bodies are asked for before the remote side's copies are appended
# there, in Other after; the log still shows each mailbox's copies to
# the local side first, as the reference's does.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
tunnel_config "$T/conf" "$T/db" "$tl" "$tr"

mkdir -p "$T/msgs"
# msgs NAME COUNT: COUNT message files of about 100 KiB each (base64 of
# random bytes: no pipe or compression makes them small).
msgs()
{
	local i f

	for ((i = 1; i <= $2; i++)); do
		f=$T/msgs/$1-$i.eml
		{
			printf 'From: cross@example.org\r\nSubject: %s\r\n' "$1-$i"
			printf 'Message-ID: <%s@cross>\r\n\r\n' "$1-$i"
			head -c 76800 /dev/urandom | base64 | sed 's/$/\r/'
		} >"$f"
		echo "$f"
	done
}

state()
{
	local m

	for m in INBOX Other; do
		echo "== $m"
		mail_dump "$1" "$m"
	done
}

mail_add remote INBOX "$(msgs first 1)"
mail_add local Other "$(msgs other 1)"
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "first sync: both mailboxes known"

# 40 x 100 KiB each way: far more than the pipes hold.
mail_add_many remote INBOX $(msgs rin 40)
mail_add_many local Other $(msgs lot 40)
T_TIMEOUT=60 run_ours --config="$T/conf"
if [ "$OURS_RC" -ne 0 ]; then
	# 124: still running after 60 s (it takes about a second).
	t_fail "new mail both ways at once: the run ends (exit $OURS_RC)"
	t_done
fi
t_pass "new mail both ways at once: the run ends"
t_expect_eq "$(state remote)" "$(state local)" "both sides alike"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 41 "local INBOX: 41 messages"
t_expect_eq "$(mail_uids remote Other | wc -l)" 41 "remote Other: 41 messages"
t_expect_match "$(cat "$T/ours.err")" 'local\(INBOX\): Added ' \
    "the remote's new mail copied"
t_expect_match "$(cat "$T/ours.err")" 'remote\(Other\): Added ' \
    "the local's new mail copied"

# nothing_to_do WHAT: ours, then the reference, find nothing to do.
nothing_to_do()
{
	run_ours --config="$T/conf"
	t_expect_eq "$OURS_RC" 0 "$1: ours again"
	t_expect_eq "$(grep -v 'IMAP traffic' "$T/ours.err")" "" \
	    "$1: ours again: nothing to do"
	run_ref --config="$T/conf"
	t_expect_eq "$REF_RC" 0 "$1: the reference after us"
	t_expect_eq "$(grep -v 'IMAP traffic' "$T/ref.err")" "" \
	    "$1: the reference: nothing to do"
}
nothing_to_do "both ways"

# ---- new mail on both sides of one mailbox ----------------------------------

# Names of other lengths each side: no date and size in common, which
# adoption would compare byte for byte first.
mail_add_many remote INBOX $(msgs rb 40)
mail_add_many local INBOX $(msgs lboth 20)
mail_add_many remote Other $(msgs rg 10)
mail_add_many local Other $(msgs lbig 50)
T_TIMEOUT=60 run_ours --debug --config="$T/conf"
if [ "$OURS_RC" -ne 0 ]; then
	t_fail "new mail on both sides: the run ends (exit $OURS_RC)"
	t_done
fi
t_pass "new mail on both sides: the run ends"
t_expect_eq "$(state remote)" "$(state local)" "both sides: alike"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 101 "INBOX: 101 messages"
t_expect_eq "$(mail_uids remote Other | wc -l)" 101 "Other: 101 messages"
# first_line REGEX: the number of the log's first line that matches.
first_line()
{
	grep -n -m1 -E "$1" "$T/ours.err" | cut -d: -f1
}
last_line()
{
	grep -n -E "$1" "$T/ours.err" | tail -n 1 | cut -d: -f1
}
# order M WANT WHICH: is the local side's FETCH of bodies for M before
# (WANT "before") or after the first APPEND of the remote side's copies
# to M?  A FETCH names no mailbox: WHICH says whether M's is the log's
# first ("first_line") or last ("last_line") FETCH of bodies on local.
order()
{
	local f a got

	f=$($3 "^local(\\([^)]*\\))?: C: [0-9]+ UID FETCH .*BODY\\.PEEK\\[\\]")
	a=$(first_line "^local(\\([^)]*\\))?: C: [0-9]+ APPEND $1 ")
	got=none
	if [ -n "$f" ] && [ -n "$a" ]; then
		got=after
		[ "$f" -lt "$a" ] && got=before
	fi
	t_expect_eq "$got" "$2" "$1: the local side's bodies asked for $2 the remote side's copies are appended (FETCH line ${f:-none}, APPEND line ${a:-none})"
}
order INBOX before first_line
order Other after last_line
for m in INBOX Other; do
	lo=$(last_line "^local\($m\): Added ")
	re=$(first_line "^remote\($m\): Added ")
	if [ -n "$lo" ] && [ -n "$re" ] && [ "$lo" -lt "$re" ]; then
		t_pass "$m: the log has the copies to the local side first"
	else
		t_fail "$m: the log has the copies to the local side first (last local line ${lo:-none}, first remote line ${re:-none})"
	fi
done
cp "$T/ours.err" "$T/both.err"
nothing_to_do "both sides"

t_done
