#!/bin/bash
#
# One database, one pair of servers, two programs taking turns: the
# reference, ours, the reference, ours... over ten runs with changes on
# both sides between them (new mail, flag changes, a conflict, expunges,
# new mailboxes, subscriptions), each program acting on mappings the other
# one made.  After every run: exit 0; both servers hold exactly the
# messages the test put there (bytes, flags, INTERNALDATE), each once, none
# lost unless deliberately expunged; the mailbox lists and subscriptions
# match; the database maps every message, and its UIDVALIDITY/UIDNEXT
# agree with the servers; each new message was copied exactly once (one
# "Added" per message) and only the expected warning was printed.
#
# With INTERIMAP_SCENARIO_SELFTEST=1 "ours" is the reference too, which
# proves the test itself.  Local delimiter "/", remote "." (IMAPS).

# Flags such as '$Label1' are meant literally:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scenario.sh"
t_setup
scen_setup

W=$T/W
mkdir -p "$W"
LTUN=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel"; t_done; }
dovecot_server remote . || { t_fail "dovecot_server"; t_done; }
RTUN=$DOVECOT_REMOTE_TUNNEL
write_config "$W/alt.conf" <<EOF
database = $W/alt.db

[local]
type = tunnel
command = $LTUN

[remote]
$(imaps_lines remote)
EOF

# ---- the ledger: what each mailbox must hold -----------------------------------
#
# LEDGER["MAILBOX<TAB>MSG"] = flags (sorted, comma-joined, "-" for none),
# MAILBOX in local form ("/").  NADDED counts the messages added since the
# last run: each must be copied once.

declare -A LEDGER=()
NADDED=0

# Sorted, unique, comma-joined flags ("-" for none).
flagset()
{
	local s

	s=$(printf '%s\n' "$@" | grep -v '^$' | LC_ALL=C sort -u |
	    paste -sd, -)
	echo "${s:--}"
}

# The server name of MAILBOX on SIDE.
srvname()
{
	if [ "$1" = remote ]; then
		echo "${2//\//.}"
	else
		echo "$2"
	fi
}

tunnel_of()
{
	if [ "$1" = remote ]; then
		echo "$RTUN"
	else
		echo "$LTUN"
	fi
}

# add SIDE MAILBOX MSG [FLAG...]
add()
{
	local side=$1 mbox=$2 msg=$3

	shift 3
	scen_ops "$(tunnel_of "$side")" <<<"add \"$(srvname "$side" "$mbox")\" $msg $*" ||
	    t_fail "add $side $mbox $msg"
	LEDGER["$mbox"$'\t'"$msg"]=$(flagset "$@")
	NADDED=$((NADDED + 1))
}

# store SIDE MAILBOX MSG +|-|= [FLAG...]
store()
{
	local side=$1 mbox=$2 msg=$3 op=$4 key cur=() keep

	shift 4
	scen_ops "$(tunnel_of "$side")" \
	    <<<"store \"$(srvname "$side" "$mbox")\" @$msg $op $*" ||
	    t_fail "store $side $mbox $msg"
	key="$mbox"$'\t'"$msg"
	[ "${LEDGER[$key]}" = - ] || IFS=, read -ra cur <<<"${LEDGER[$key]}"
	case $op in
	+)	LEDGER[$key]=$(flagset "${cur[@]}" "$@") ;;
	-)	mapfile -t keep < <(printf '%s\n' "${cur[@]}" |
		    grep -vxF -f <(printf '%s\n' "$@"))
		LEDGER[$key]=$(flagset "${keep[@]}") ;;
	=)	LEDGER[$key]=$(flagset "$@") ;;
	esac
}

# expunge SIDE MAILBOX MSG
expunge()
{
	local side=$1 mbox=$2 msg=$3

	scen_ops "$(tunnel_of "$side")" \
	    <<<"expunge \"$(srvname "$side" "$mbox")\" @$msg" ||
	    t_fail "expunge $side $mbox $msg"
	unset "LEDGER[$mbox"$'\t'"$msg]"
}

ops()
{
	scen_ops "$(tunnel_of "$1")" || t_fail "ops on $1"
}

# "MAILBOX sha256 flags INTERNALDATE" lines the ledger expects, sorted.
expected()
{
	local key mbox msg

	for key in "${!LEDGER[@]}"; do
		mbox=${key%%$'\t'*}
		msg=${key#*$'\t'}
		printf '%s %s %s %s\n' "$mbox" \
		    "$(sha256sum <"$T/msgs/$msg.eml" | cut -d' ' -f1)" \
		    "${LEDGER[$key]}" "$(cat "$T/msgs/$msg.date")"
	done | LC_ALL=C sort
}

# What SIDE holds, from the state file, as "MAILBOX sha flags date" with
# local mailbox names.
held()
{
	sed -nE "s/^$1: (.*): ([0-9a-f]{64} .*)$/\\1\\t\\2/p" "$W/state" |
	    awk -F'\t' -v side="$1" '{
		if (side == "remote")
			gsub(/\./, "/", $1)
		print $1 " " $2
	    }' | LC_ALL=C sort
}

mailboxes()
{
	sed -nE "s/^$1: mailbox (.*)$/\\1/p" "$W/state" |
	    awk -v side="$1" '{
		if (side == "remote")
			gsub(/\./, "/", $1)
		print
	    }' | LC_ALL=C sort
}

# ---- a run and its checks -------------------------------------------------------

NRUN=0

# turn WARNINGS: run the program whose turn it is, then check everything.
# WARNINGS is the number of WARNING lines expected.
turn()
{
	local nwarn=$1 prog who what added dups db bad msgs maps

	NRUN=$((NRUN + 1))
	if [ $((NRUN % 2)) -eq 1 ]; then
		who=reference
		prog=$REF_INTERIMAP
	else
		who=ours
		prog=${INTERIMAP:-}
		if [ "$SCEN_SELFTEST" = 1 ]; then
			who="ours (self-test: the reference)"
			prog=$REF_INTERIMAP
		elif [ -z "$prog" ] || [ ! -x "$prog" ]; then
			t_fail "run $NRUN: \$INTERIMAP ('$prog') is not executable"
			prog=/bin/false
		fi
	fi
	what="run $NRUN, $who"
	timeout -k 5 "$T_TIMEOUT" "$prog" --config="$W/alt.conf" \
	    </dev/null >"$W/run.out" 2>"$W/run.err"
	t_expect_eq "$?" 0 "$what: exit status"
	cat "$W/run.out" "$W/run.err" >"$W/run.all"
	if ! scen_read_world "$W" "local=$LTUN=-" \
	    "remote=$RTUN=$DOVECOT_REMOTE_IMAPS_PORT" -- "alt=$W/alt.conf"; then
		t_fail "$what: reading the servers: $(cat "$W/state.err")"
	fi

	# The log.
	added=$(grep -c ': Added UID ' "$W/log" || true)
	t_expect_eq "$added" "$NADDED" "$what: each new message copied once"
	NADDED=0
	t_expect_eq "$(grep -c 'WARNING' "$W/log" || true)" "$nwarn" \
	    "$what: $nwarn warning(s)"
	t_expect_eq "$(grep -E 'ERROR|PANIC' "$W/log" || true)" "" \
	    "$what: no error"

	# The servers.
	t_expect_eq "$(held local)" "$(expected)" \
	    "$what: local holds exactly the expected messages"
	t_expect_eq "$(held remote)" "$(expected)" \
	    "$what: remote holds exactly the expected messages"
	dups=$(held local | cut -d' ' -f1,2 | uniq -d
	    held remote | cut -d' ' -f1,2 | uniq -d)
	t_expect_eq "$dups" "" "$what: no duplicate on either side"
	t_expect_eq "$(mailboxes remote)" "$(mailboxes local)" \
	    "$what: same mailboxes and subscriptions"

	# The database against the servers.
	db=$(grep '^db alt: ' "$W/state")
	bad=$(printf '%s\n' "$db" | grep -E ': (local|remote) ' |
	    grep -vE 'uidvalidity=srv uidnext=srv hms<=srv$' || true)
	bad+=$(printf '%s\n' "$db" | grep ': insync ' | grep -v ' yes$' || true)
	t_expect_eq "$bad" "" "$what: database agrees with the servers"
	msgs=$(held local | cut -d' ' -f1 | uniq -c)
	maps=$(printf '%s\n' "$db" | sed -nE 's/^db alt: map (.*) [0-9]+ [0-9]+$/\1/p' |
	    sed 's|\\0|/|g' | LC_ALL=C sort | uniq -c)
	t_expect_eq "$maps" "$msgs" "$what: one mapping row per message"
}

# ---- ten runs -------------------------------------------------------------------

# 1 (reference): the first sync.
add local INBOX a1 '\Seen'
add local INBOX a2
add local INBOX a3
add local Work/x a6
ops local <<<'subscribe Work/x'
add remote INBOX a4
add remote INBOX a5 '\Flagged'
add remote Lists a7
turn 0

# 2 (ours): new mail and flags on both sides.
add local INBOX b1
store local INBOX a2 + '\Seen'
add remote INBOX b2 '\Answered'
add remote Lists b3
store remote INBOX a4 + '\Flagged'
turn 0

# 3 (reference): expunges, flags on copies ours made, new mail.
expunge local INBOX a3
store local INBOX b2 = '\Answered' '\Seen'
store local Lists b3 + '$Label1'
add local Work/x b4
expunge remote INBOX a5
store remote INBOX b1 + '\Flagged'
turn 0

# 4 (ours): new mailboxes both sides, a conflict, an expunge of a copy.
add local New/box c1
add local New/box c2
ops local <<<'subscribe New/box'
store local INBOX a1 + foo
add remote Remote/new c3
store remote INBOX a1 + bar
expunge remote INBOX b1
turn 1

# 5 (reference): changes to what ours created.
store local Remote/new c3 + '\Seen'
add local INBOX d1
store remote New/box c1 + '\Flagged'
expunge remote New/box c2
add remote Lists d2
turn 0

# 6 (ours): expunges of copies the reference made, a subscription.
expunge local INBOX d1
add local Work/x d3
ops local <<<'unsubscribe Work/x'
expunge remote Lists d2
store remote INBOX a4 - '\Flagged'
add remote INBOX d4 '\Seen'
turn 0

# 7, 8 (reference, ours): nothing to do.
turn 0
t_expect_eq "$(grep -E 'Removed|Updated|Created|Subscribe' "$W/log" || true)" \
    "" "run $NRUN: nothing done"
turn 0
t_expect_eq "$(grep -E 'Removed|Updated|Created|Subscribe' "$W/log" || true)" \
    "" "run $NRUN: nothing done"

# 9 (reference): still in step after ours' quiet run.
add local INBOX e1
add remote INBOX e2 '\Draft'
store remote Work/x d3 + '\Seen'
turn 0

# 10 (ours).
expunge local INBOX e2
add remote Remote/new e3
turn 0

t_expect_match "$(mailboxes local)" $'Work/x -' "Work/x unsubscribed on both"
t_expect_match "$(mailboxes local)" $'New/box subscribed' "New/box subscribed"

t_done
