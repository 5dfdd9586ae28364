#!/bin/bash
#
# Several connections per server (`connections = N', ipc/proc.h's lanes):
# a one-shot sync runs up to N mailbox jobs at once, each on a pair of
# connections (a lane) with nets of its own.  A Dovecot tunnel (local)
# and a network Dovecot over IMAPS (remote), 14 mailboxes with mail on
# one side or both:
#  - the same data synchronised with one connection and with four ends
#    in the same state on both servers, and prints the same lines in the
#    same order (a job's lines are kept together, in mailbox order);
#  - with four, the jobs really go to several lanes (SELECTs sent by
#    net(remote#2)... in the --debug output, stamped by priv), and each
#    lane's nets start and end well (--audit);
#  - the reference, on the same database, then has nothing to do, and
#    so have we; an incremental run on four lanes converges too;
#  - a bad value is refused with the line and the range.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

# conf N: a configuration with connections = N (none for N = 0).
conf()
{
	write_config "$T/c$1.conf" <<EOF
database = $T/sync.db
$( [ "$1" -gt 0 ] && echo "connections = $1")
$( [ -n "${PREFIX:-}" ] && echo "log-prefix = $PREFIX")

[local]
type = tunnel
command = $tl

[remote]
$(imaps_lines remote)
EOF
}
conf 0
conf 4
PREFIX='[%p] %?n?%?m?%n(%m)&%n?: ?' conf 3

mkdir -p "$T/msgs"
# msgs NAME COUNT: COUNT new message files NAME-1...
msgs()
{
	local i f

	for ((i = 1; i <= $2; i++)); do
		f=$T/msgs/$1-$i.eml
		printf 'From: lanes@example.org\r\nSubject: message %s\r\nMessage-ID: <%s@lanes>\r\n\r\nBody %s.\r\n' \
		    "$1-$i" "$1-$i" "$1-$i" >"$f"
		echo "$f"
	done
}

boxes="INBOX"
for b in a1 a2 a3 a4 a5 a6; do
	MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many local "$b" \
	    $(msgs "l$b" 4)
	boxes="$boxes $b"
done
for b in b1 b2 b3 b4 b5 b6; do
	MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many remote "$b" \
	    $(msgs "r$b" 3)
	boxes="$boxes $b"
done
MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many local INBOX $(msgs li 5)
MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many remote INBOX $(msgs ri 5)
MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many local c1 $(msgs lc 2)
MAIL_DATE='02-Feb-2024 10:00:00 +0000' mail_add_many remote c1 $(msgs rc 2)
boxes="$boxes c1"
mail_store local a2 1:2 + '\Seen'
mail_store remote b3 2 + '\Flagged' '$Label1'

# Each mailbox of one side: its messages (hash, flags, date).
state()
{
	local m

	for m in $boxes; do
		echo "== $m"
		mail_dump "$1" "$m"
	done
}

snap()
{
	rm -rf "$T/snap"
	mkdir -p "$T/snap"
	cp -a "$LDIR/home" "$T/snap/local"
	cp -a "$RDIR/home" "$T/snap/remote"
}

restore()
{
	rm -rf "$LDIR/home" "$RDIR/home" "$T/sync.db" "$T/sync.db-journal"
	cp -a "$T/snap/local" "$LDIR/home"
	cp -a "$T/snap/remote" "$RDIR/home"
}

# What a run printed (ours, or ref), but for the traffic summary (more
# connections, more bytes).
lines()
{
	grep -v 'IMAP traffic (bytes)' "$T/${1:-ours}.err"
}

# ---- one connection, then four, on the same data --------------------------

snap
run_ours --config="$T/c0.conf"
t_expect_eq "$OURS_RC" 0 "first sync, one connection"
one_state=$(state local)
one_lines=$(lines)
t_expect_eq "$(state remote)" "$one_state" "one connection: both sides"
t_expect_eq "$(printf '%s\n' "$one_state" | grep -vc '^==')" 56 \
    "one connection: 56 messages"

restore
run_ours --audit --config="$T/c4.conf"
t_expect_eq "$OURS_RC" 0 "first sync, four connections"
four_lines=$(lines | grep -v 'AUDIT\[')
t_expect_eq "$(state local)" "$one_state" "four connections: local"
t_expect_eq "$(state remote)" "$one_state" "four connections: remote"
t_expect_eq "$four_lines" "$one_lines" \
    "four connections: the same lines, in the same order"
for side in local remote; do
	for k in '' '#2' '#3' '#4'; do
		t_expect_match "$(cat "$T/ours.err")" \
		    "AUDIT\\[priv\\] START net\\($side$k\\) pid=[0-9]+" \
		    "net($side$k) started"
		t_expect_match "$(cat "$T/ours.err")" \
		    "AUDIT\\[priv\\] END net\\($side$k\\) pid=[0-9]+ status=0" \
		    "net($side$k) ended well"
		t_expect_match "$(cat "$T/ours.err")" \
		    "AUDIT\\[net\\($side$k\\)\\] CONNECT" \
		    "net($side$k) has a connection of its own"
	done
done
t_expect_eq "$(grep -c 'START net(local#5)' "$T/ours.err")" 0 \
    "no fifth lane"

# The reference carries on from our database: nothing to do.
run_ref --config="$T/c0.conf"
t_expect_eq "$REF_RC" 0 "the reference after us"
t_expect_eq "$(lines ref)" "" "the reference has nothing to do"
run_ours --audit --config="$T/c4.conf"
t_expect_eq "$OURS_RC" 0 "four connections, nothing to do"
t_expect_eq "$(lines | grep -v 'AUDIT\[')" "" \
    "four connections: nothing to say"
# No job, no lane but the first: the others' nets never connect.
t_expect_eq "$(grep -c 'AUDIT\[net([a-z]*#[0-9])\] CONNECT' "$T/ours.err")" \
    0 "nothing to do: one connection to each server"
t_expect_eq "$(grep -c 'AUDIT\[net([a-z]*)\] CONNECT' "$T/ours.err")" 2 \
    "nothing to do: lane 0 connected"

# ---- an incremental run: work in many mailboxes, on three lanes -------------

for b in a1 a3 a5 b2 b4 b6; do
	mail_add_many local "$b" $(msgs "nl$b" 2)
	mail_add_many remote "$b" $(msgs "nr$b" 1)
done
mail_store local a1 1 + '\Answered'
mail_store remote b2 1:2 + '\Seen'
mail_expunge local a4 1
mail_expunge remote b5 2
run_ours --debug --config="$T/c3.conf"
t_expect_eq "$OURS_RC" 0 "incremental, three connections"
for side in local remote; do
	t_expect_eq "$(state $side)" "$(state local)" \
	    "incremental: $side as local"
done
lanes_used=$(grep -oE '^\[net\(remote(#[0-9])?\)\] remote: C: [0-9]+ SELECT' \
    "$T/ours.err" | sed 's/\].*//' | sort -u | wc -l)
t_log "SELECTs sent on $lanes_used remote lane(s)"
if [ "$lanes_used" -ge 2 ]; then
	t_pass "jobs ran on more than one lane"
else
	t_fail "jobs ran on more than one lane ($lanes_used)"
	grep -E 'SELECT' "$T/ours.err" | head -5 | sed 's/^/#   /'
fi
t_expect_eq "$(grep -c 'net(remote#4)' "$T/ours.err")" 0 \
    "three connections: no fourth lane"
run_ref --config="$T/c0.conf"
t_expect_eq "$REF_RC" 0 "the reference after the incremental run"
t_expect_eq "$(lines ref)" "" "the reference: nothing to do"

# ---- --repair on four lanes: the same verdicts as on one ------------------

# A flag changed behind the database's back on each side of two mailboxes.
mail_store local a3 1 + '$Repair1'
mail_store remote b4 1 + '$Repair2'
snap
cp -a "$T/sync.db" "$T/sync.db.repair"
run_ours --repair --config="$T/c0.conf"
t_expect_eq "$OURS_RC" 0 "--repair, one connection"
one_lines=$(lines)
t_log "--repair on one connection said: $(printf '%s' "$one_lines" | tr '\n' '|')"
one_state=$(state local)
restore
cp -a "$T/sync.db.repair" "$T/sync.db"
run_ours --repair --config="$T/c4.conf"
t_expect_eq "$OURS_RC" 0 "--repair, four connections"
t_expect_eq "$(lines)" "$one_lines" "--repair: the same lines, in order"
t_expect_eq "$(state local)" "$one_state" "--repair: the same local state"
t_expect_eq "$(state remote)" "$one_state" "--repair: remote as local"

# ---- one mailbox named, watch mode: one lane ------------------------------

run_ours --debug --config="$T/c4.conf" a1
t_expect_eq "$OURS_RC" 0 "one mailbox named"
t_expect_eq "$(grep -c 'net(local#2)\|connections to each server' \
    "$T/ours.err")" 0 "one mailbox named: one connection"

# ---- a server that allows fewer: the others are refused, the run goes on ---

tl2=$(dovecot_tunnel local2) || { t_fail "dovecot_tunnel local2"; t_done; }
DOVECOT_EXTRA_CONF="mail_max_userip_connections = 2" dovecot_server lim ||
    { t_fail "dovecot_server lim"; t_done; }
for b in a1 a2 a3 a4 a5; do
	mail_add_many lim "$b" $(msgs "lim$b" 2)
done
# lim.conf: the database, then connections = N if N is given.
limconf()
{
	write_config "$T/lim$1.conf" <<EOF
database = $T/lim.db
$( [ -n "$1" ] && echo "connections = $1")

[local]
type = tunnel
command = $tl2

[remote]
$(imaps_lines lim)
EOF
}
limconf 4
limconf ""
run_ours --config="$T/lim4.conf"
t_expect_eq "$OURS_RC" 0 "two connections allowed of four: exit 0"
# The extra lanes log in while the jobs run: those that come before the
# end are refused (at most two), each said as a warning and a notice.
refused=$(grep -cE '^remote: connection #[234] failed; going on without it$' \
    "$T/ours.err")
warned=$(grep -cE '^remote: WARNING: Authentication failed: NO \[LIMIT\]' \
    "$T/ours.err")
t_log "two connections allowed of four: $refused refused"
if [ "$refused" -le 2 ] && [ "$refused" -eq "$warned" ]; then
	t_pass "two connections allowed of four: each refusal said so"
else
	t_fail "two connections allowed of four: each refusal said so" \
	    "($refused notices, $warned warnings)"
fi
t_expect_eq "$(grep -c 'ERROR' "$T/ours.err")" 0 \
    "two connections allowed of four: no error"
t_expect_eq "$(grep -c 'local: connection #' "$T/ours.err")" 0 \
    "two connections allowed of four: the local's all connected"
for b in a1 a2 a3 a4 a5; do
	t_expect_eq "$(mail_dump local2 "$b")" "$(mail_dump lim "$b")" \
	    "two connections allowed of four: $b the same on both"
done
t_expect_eq "$(mail_dump lim a3 | wc -l)" 2 \
    "two connections allowed of four: a3 has its 2 messages"
run_ref --config="$T/lim.conf"
t_expect_eq "$REF_RC" 0 "the reference after a run that lost lanes"
t_expect_eq "$(lines ref)" "" "the reference: nothing to do there"

# ---- Cyrus IMAP as the remote: four lanes, the same as one ---------------

tl3=$(dovecot_tunnel local3) || { t_fail "dovecot_tunnel local3"; t_done; }
cyrus_server cyr / || { t_fail "cyrus_server cyr"; t_done; }
for b in c1 c2 c3 c4 c5 c6; do
	mail_add_many cyr "$b" $(msgs "cyr$b" 3)
	mail_add_many local3 "$b" $(msgs "loc$b" 2)
done
mail_store cyr c2 1 + '\Flagged'
# cyrconf N: a configuration with connections = N (none for N = 0).
cyrconf()
{
	write_config "$T/cyr$1.conf" <<EOF
database = $T/cyr.db
$( [ "$1" -gt 0 ] && echo "connections = $1")

[local]
type = tunnel
command = $tl3

[remote]
$(imaps_lines cyr)
EOF
}
cyrconf 0
cyrconf 4
run_ours --audit --config="$T/cyr4.conf"
t_expect_eq "$OURS_RC" 0 "Cyrus, four connections: exit 0"
t_expect_match "$(cat "$T/ours.err")" \
    'AUDIT\[net\(remote#[234]\)\] CONNECT type=imaps' \
    "Cyrus, four connections: more than one lane connected"
for b in c1 c2 c3 c4 c5 c6; do
	t_expect_eq "$(mail_dump local3 "$b")" "$(mail_dump cyr "$b")" \
	    "Cyrus, four connections: $b the same on both"
done
t_expect_eq "$(mail_dump cyr c4 | wc -l)" 5 \
    "Cyrus, four connections: c4 has its 5 messages"
run_ref --config="$T/cyr0.conf"
t_expect_eq "$REF_RC" 0 "Cyrus: the reference after four lanes"
t_expect_eq "$(lines ref)" "" "Cyrus: the reference has nothing to do"

# ---- bad values ------------------------------------------------------------

for v in 0 9 x 2x -1; do
	sed "s/^connections = 4/connections = $v/" "$T/c4.conf" >"$T/bad.conf"
	run_ours --config="$T/bad.conf"
	t_expect_eq "$OURS_RC" 2 "connections = $v: exit 2"
	t_expect_match "$(cat "$T/ours.err")" \
	    "bad.conf:2: Invalid option connections = $v \\(a number from 1 to 8\\)" \
	    "connections = $v: the line and the range"
done

t_done
