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

run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "ours again"
t_expect_eq "$(grep -v 'IMAP traffic' "$T/ours.err")" "" \
    "ours again: nothing to do"
run_ref --config="$T/conf"
t_expect_eq "$REF_RC" 0 "the reference after us"
t_expect_eq "$(grep -v 'IMAP traffic' "$T/ref.err")" "" \
    "the reference: nothing to do"

t_done
