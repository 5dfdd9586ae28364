#!/bin/bash
#
# One connection per server shared by several first syncs (job.c, the
# lease): a mailbox whose messages are all on one side lends that side's
# connection as soon as its SELECT and FETCH are sent, so that the next
# such mailbox's SELECT and FETCH follow at once instead of a round trip
# after the answer; the other side's connection goes to the next job
# once the last APPEND is sent.  A command of a job whose mailbox is no
# longer selected there is preceded by a SELECT of it (netc_send).
#
# A Dovecot tunnel (local) and a network Dovecot over IMAPS (remote)
# behind the benchmarks' relay (bench/relay.c), 25 ms each way, so that
# an answer cannot come before the commands sent right behind its own:
#  - eight mailboxes with mail on the remote only, four on the local
#    only, INBOX on both;
#  - the first sync ends with both servers alike, and SELECTs went out
#    while another mailbox's FETCH was still unanswered, on each server;
#  - the reference, on the same database, then has nothing to do, nor
#    have we;
#  - new mail, flag changes and an expunge in ten of those mailboxes
#    (known now: each lends both connections once its SELECTs are
#    sent) converge too, the SELECTs overlapping again, and the
#    reference agrees.

source "$SRCDIR/tests/lib/common.sh"
# shellcheck source=bench/lib/bench.sh
source "$SRCDIR/bench/lib/bench.sh"
t_setup

# The relay ctest built ($RELAY), else one compiled here.
if [ -n "${RELAY:-}" ] && [ -x "$RELAY" ]; then
	BENCH_BIN=$(dirname "$RELAY")
else
	BENCH_BIN=$T/bin
	bench_tools "$BENCH_BIN" || { t_fail "build bench/relay.c"; t_done; }
fi

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }

bench_relay r50 50 "$DOVECOT_REMOTE_IMAPS_PORT" || { t_fail "relay"; t_done; }
# shellcheck disable=SC2154 # set by bench_relay
port=$RELAY_r50_PORT

write_config "$T/c.conf" <<EOF
database = $T/sync.db

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = localhost
port = $port
SSL_CAfile = $DOVECOT_REMOTE_CERT
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
EOF

mkdir -p "$T/msgs"
# msgs NAME COUNT: COUNT new message files NAME-1...
msgs()
{
	local i f

	for ((i = 1; i <= $2; i++)); do
		f=$T/msgs/$1-$i.eml
		printf 'From: shared@example.org\r\nSubject: message %s\r\nMessage-ID: <%s@shared>\r\n\r\nBody %s.\r\n' \
		    "$1-$i" "$1-$i" "$1-$i" >"$f"
		echo "$f"
	done
}

boxes=INBOX
for b in r1 r2 r3 r4 r5 r6 r7 r8; do
	mail_add_many remote "$b" $(msgs "$b" 3)
	boxes="$boxes $b"
done
for b in l1 l2 l3 l4; do
	mail_add_many local "$b" $(msgs "$b" 2)
	boxes="$boxes $b"
done
mail_add_many local INBOX $(msgs li 2)
mail_add_many remote INBOX $(msgs ri 2)
mail_store remote r2 1 + '\Seen'
mail_store local l3 2 + '\Flagged' '$Label1'

state()
{
	local m

	for m in $boxes; do
		echo "== $m"
		mail_dump "$1" "$m"
	done
}

lines()
{
	grep -v 'IMAP traffic (bytes)' "$T/${1:-ours}.err"
}

# overlap SIDE: how many SELECTs went out on SIDE's connection while a
# command sent there about another mailbox (SELECT, UID FETCH, STORE or
# EXPUNGE, APPEND) was still unanswered, from the protocol log of
# --debug, in the order net wrote and read.  One job at a time on the
# connection makes it 0.
overlap()
{
	awk -v side="$1" '
	$1 !~ "^" side "(\\(|:)" { next }
	$2 == "C:" && $4 == "SELECT" {
		for (t in out)
			if (out[t] != $5) { n++; break }
		sel = $5
		out[$3] = $5
		next
	}
	$2 == "C:" && $4 == "UID" { out[$3] = sel; next }
	$2 == "C:" && $4 == "APPEND" { out[$3] = $5; next }
	$2 == "S:" && ($3 in out) { delete out[$3] }
	END { print n + 0 }' "$T/ours.err"
}

# ---- the first sync ---------------------------------------------------------

run_ours --debug --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "first sync"
t_expect_eq "$(state remote)" "$(state local)" "first sync: both sides alike"
t_expect_eq "$(state local | grep -vc '^==')" 36 "first sync: 36 messages"
n=$(overlap remote)
t_log "remote: $n SELECT(s) sent while another mailbox's FETCH was unanswered"
if [ "$n" -ge 3 ]; then
	t_pass "remote: the next mailboxes' SELECTs went behind the FETCHes"
else
	t_fail "remote: the next mailboxes' SELECTs went behind the FETCHes ($n)"
	grep -E 'remote(\([^)]*\))?: (C: [0-9]+ (SELECT|UID FETCH)|S: [0-9]+ )' \
	    "$T/ours.err" | head -40 | sed 's/^/#   /'
fi
t_expect_match "$(cat "$T/ours.err")" \
    'SELECT again for the job.s next command' \
    "a job's copies went to its mailbox once another was selected"

# The reference carries on from our database: nothing to do.
run_ref --config="$T/c.conf"
t_expect_eq "$REF_RC" 0 "the reference after us"
t_expect_eq "$(lines ref)" "" "the reference has nothing to do"
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "ours again"
t_expect_eq "$(lines)" "" "ours again: nothing to do"

# ---- new mail and flag changes in those mailboxes ---------------------------

for b in r1 r3 r5; do
	mail_add_many remote "$b" $(msgs "n$b" 2)
done
for b in l1 l2; do
	mail_add_many local "$b" $(msgs "n$b" 1)
done
mail_store remote r4 2 + '\Answered'
mail_store local r6 1 + '\Flagged'
mail_store local r7 1 + '$Label2'
mail_store remote r8 3 + '\Seen'
mail_expunge remote l4 1
run_ours --debug --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "incremental run"
n=$(overlap remote)
t_log "incremental, remote: $n overlapping SELECT(s)"
if [ "$n" -ge 3 ]; then
	t_pass "incremental: the next mailboxes' SELECTs went behind"
else
	t_fail "incremental: the next mailboxes' SELECTs went behind ($n)"
fi
t_expect_eq "$(state remote)" "$(state local)" "incremental: both sides alike"
t_expect_eq "$(state local | grep -vc '^==')" 43 "incremental: 43 messages"
run_ref --config="$T/c.conf"
t_expect_eq "$REF_RC" 0 "the reference after the incremental run"
t_expect_eq "$(lines ref)" "" "the reference: nothing to do"

t_done
