#!/bin/bash
#
# Scale: 1,000 mailboxes (and INBOX) in a three-level hierarchy, two
# messages each on either side, synced for the first time, then again
# without a change, then after a few changes spread over the mailboxes:
#   - local holds the subtrees d00..d06 (700 mailboxes), remote
#     d04..d09 (600): 300 exist on both sides, with other messages;
#     d00, d01 and d05 are subscribed on the local, d08 and d09 on the
#     remote;
#   - first sync: every mailbox on both sides, the same subscriptions,
#     each mailbox holding both sides' messages;
#   - no-change run: exits 0, nothing reported;
#   - changes on both sides: new messages in every 50th / 45th mailbox,
#     flag changes in every 37th / 43rd, an expunge in every 41st /
#     53rd, and new mailboxes (local "newl/x1..x5", remote "newr.y1..y3");
#     then each side must hold what the other did (scalectl.py merge3:
#     expunges win, flags of the side that changed them), the database
#     consistent again, and a last run quiet.
# After each run: the mailbox lists of both sides are the same (names
# and subscriptions), so are their contents (each message once), and the
# database maps every message of every mailbox exactly once with state
# rows matching the servers (tests/lib/scalectl.py dbcheck).  Each run
# prints its wall time and the peak memory of our processes.  SCALE_REF=1
# also times the reference on the same three runs (printed only).
#
# Servers: two pre-authenticated Dovecots (tunnels), delimiters "/" and
# ".", stores on tmpfs.

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scale.sh"
t_setup
scale_setup

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote .) || { t_fail "dovecot_tunnel remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

tunnel_config "$T/scale.conf" "$T/sync.db" "$tl" "$tr"

# The 1,000 names, in order, with separator SEP, of the subtrees d$1..d$2:
# dNN, dNN/tT (T 1..9), dNN/tT/pP (P 0..9).
names()
{
	local sep=$1 d t p

	for ((d = $2; d <= $3; d++)); do
		printf 'd%02d\n' "$d"
		for ((t = 1; t <= 9; t++)); do
			printf 'd%02d%st%d\n' "$d" "$sep" "$t"
			for ((p = 0; p <= 9; p++)); do
				printf 'd%02d%st%d%sp%d\n' "$d" "$sep" "$t" "$sep" "$p"
			done
		done
	done
}

# gen_spec SEP FIRST LAST TAG: two messages in each mailbox.
gen_spec()
{
	names "$1" "$2" "$3" | awk -v tag="$4" '
	    { t = $0; gsub(/[\/.]/, "-", t); print $0 "\t" tag "-" t "\t1\t2" }'
}

# ---- the stores ------------------------------------------------------------

start=$SECONDS
gen_spec / 0 6 L | scale_gen local
gen_spec . 4 9 R | scale_gen remote
names / 0 1 | scale_mkboxes local
names / 5 5 | scale_mkboxes local
names . 8 9 | scale_mkboxes remote
t_log "stores filled in $((SECONDS - start)) s"
t_expect_eq "$(mailbox_list local / | wc -l):$(mailbox_list remote / |
    wc -l)" "701:601" "set-up: 700 mailboxes on the local, 600 on the remote"

mkdir -p "$T/snap"
cp -a "$LDIR/home" "$T/snap/local"
cp -a "$RDIR/home" "$T/snap/remote"
scale_dumpall local / >"$T/before.local"
scale_dumpall remote / >"$T/before.remote"
: >"$T/empty"

# check WHAT EXPECTED_FILE NBOXES: both sides and the database after a
# run that exited 0.
check()
{
	local what=$1 expect=$2 nboxes=$3 ll rl

	if scale_dbcheck "$T/sync.db" exact; then
		t_pass "$what: the database maps every message once"
	else
		t_fail "$what: the database maps every message once"
	fi
	sed 's/^/#   /' "$T/dbcheck.out" | tail -n 8
	scale_expect_same "$(cat "$T/dump.local")" "$(cat "$expect")" \
	    "$what: the local store holds every message once"
	scale_expect_same "$(cat "$T/dump.remote")" "$(cat "$expect")" \
	    "$what: the remote store holds every message once"
	ll=$(mailbox_list local /)
	rl=$(mailbox_list remote /)
	t_expect_eq "$rl" "$ll" \
	    "$what: the same mailboxes and subscriptions on both sides"
	t_expect_eq "$(wc -l <<<"$ll")" "$nboxes" \
	    "$what: $nboxes mailboxes"
	t_expect_eq "$(grep -c 'subscribed' <<<"$ll")" 500 \
	    "$what: the 500 subscriptions of either side on both"
}

# The changes of the third run, on both sides.
changes()
{
	local i name

	i=0
	names / 0 9 >"$T/names"
	while read -r name; do
		((i % 50 == 0)) && printf '%s\tL2-%d\t1\t1\n' "$name" "$i"
		i=$((i + 1))
	done <"$T/names" | scale_gen local
	i=0
	while read -r name; do
		((i % 37 == 0)) && printf '%s\tstore\t1\t+\t\\Flagged\n' "$name"
		((i % 41 == 5)) && printf '%s\texpunge\t2\n' "$name"
		i=$((i + 1))
	done <"$T/names" | scale_poke local
	{
		printf 'newl\tL3-newl\t1\t1\n'
		for i in 1 2 3 4 5; do
			printf 'newl/x%d\tL3-x%d\t1\t2\n' "$i" "$i"
		done
	} | scale_gen local
	i=0
	while read -r name; do
		((i % 45 == 7)) && printf '%s\tR2-%d\t1\t1\n' "${name//\//.}" "$i"
		i=$((i + 1))
	done <"$T/names" | scale_gen remote
	i=0
	while read -r name; do
		((i % 43 == 3)) &&
		    printf '%s\tstore\t2\t=\t\\Answered %s\n' \
		    "${name//\//.}" "\$Done"
		((i % 53 == 11)) && printf '%s\texpunge\t1\n' "${name//\//.}"
		i=$((i + 1))
	done <"$T/names" | scale_poke remote
	{
		printf 'newr\tR3-newr\t1\t1\n'
		for i in 1 2 3; do
			printf 'newr.y%d\tR3-y%d\t1\t3\n' "$i" "$i"
		done
	} | scale_gen remote
}

# ---- first sync ------------------------------------------------------------

scale_merge3 "$T/empty" "$T/before.local" "$T/before.remote" \
    >"$T/expect.first"
t_expect_eq "$(grep -c '^==' "$T/expect.first"):$(grep -vc '^==' \
    "$T/expect.first")" "1001:2600" \
    "set-up: 1,000 mailboxes and INBOX, 2,600 messages in all"

scale_run "first sync, 1000 mailboxes, 2600 msgs" --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "first sync exits 0"
grep -E 'ERROR|PANIC|WARNING' "$T/ours.err" | head -n 5 | sed 's/^/#   /'
check "first sync" "$T/expect.first" 1001

# ---- no change -------------------------------------------------------------

scale_run "no-change run, 1000 mailboxes" --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "no-change run exits 0"
t_expect_eq "$(scale_quiet "$T/ours.err")" "" \
    "no-change run: nothing to report"

# ---- a few changes, spread -------------------------------------------------

cp "$T/dump.local" "$T/base"
changes
scale_dumpall local / >"$T/changed.local"
scale_dumpall remote / >"$T/changed.remote"
scale_merge3 "$T/base" "$T/changed.local" "$T/changed.remote" \
    >"$T/expect.changes"
# How many mailboxes the changes touch.
touched=$(awk '/^== / { n = $2; next } FNR == NR { a[n] = a[n] $0 "|"; next }
    { b[n] = b[n] $0 "|" } END { for (k in b) if (a[k] != b[k]) c++
    print c + 0 }' "$T/base" "$T/expect.changes")
t_log "changes: $(diff "$T/base" "$T/expect.changes" | grep -c '^>')" \
    "lines new or changed, $(diff "$T/base" "$T/expect.changes" |
    grep -c '^<') gone, in $touched mailboxes"

scale_run "change run, 1000 mailboxes, $touched changed (10 of them new)" \
    --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "change run exits 0"
grep -E 'ERROR|PANIC|WARNING' "$T/ours.err" | head -n 5 | sed 's/^/#   /'
t_log "change run: $(grep -c '' "$T/ours.err") lines of output"
check "change run" "$T/expect.changes" 1011

scale_run "no-change run after the changes" --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "last run exits 0"
t_expect_eq "$(scale_quiet "$T/ours.err")" "" "last run: nothing to report"

# ---- the reference, for comparison (printed only) --------------------------

if [ "${SCALE_REF:-0}" = 1 ]; then
	rm -rf "${LDIR:?}/home" "${RDIR:?}/home" "$T/sync.db"
	cp -a "$T/snap/local" "$LDIR/home"
	cp -a "$T/snap/remote" "$RDIR/home"
	scale_time_ref "reference: first sync, 1000 mailboxes, 2600 msgs" \
	    --config="$T/scale.conf"
	scale_time_ref "reference: no-change run, 1000 mailboxes" \
	    --config="$T/scale.conf"
	changes
	scale_time_ref "reference: change run, 1000 mailboxes" \
	    --config="$T/scale.conf"
	scale_dbcheck "$T/sync.db" exact
	t_log "reference, after its change run: $(tail -n 1 \
	    "$T/dbcheck.out"); the two sides $(cmp -s "$T/dump.local" \
	    "$T/dump.remote" && echo agree || echo differ)"
fi

t_done
