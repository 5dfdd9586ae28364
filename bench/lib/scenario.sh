#!/bin/bash
#
# One storage case of one workload of bench/run.sh (which sets the
# environment): servers whose stores live under $BUILDDIR (tmpfs or
# disk), the remote filled as $BENCH_FILL says, then for each RTT and
# repetition, ours and the reference in alternating order, each:
#
#   (1) first sync: populated remote -> empty local, no database
#   (2) no-change run on the synced state
#   (3) incremental: 5 new remote messages in 5 mailboxes, flag changes
#       on 25 remote and 25 local messages, then a run
#   (4) equal dates: new messages on both sides of INBOX, all with the
#       same INTERNALDATE (an import tool's fixed date), then a run
#
# (only the cases named in $BENCH_CASES; (3) and (4) need the "base"
# workload's mailboxes), and, with BENCH_MBSYNC=1, mbsync's first sync
# between the two (remote -> empty local, `Sync Pull`).
#
# Every run is verified (both stores identical: list, subscriptions,
# every message's SHA-256, flags, INTERNALDATE; message counts as
# expected; for mbsync only what it keeps, see benchctl.py dumpcommon); a
# run that fails verification is recorded as such and its numbers are
# never reported.  One TSV row per run goes to $BENCH_TSV, its case named
# "CASE" for the base workload and "WORKLOAD-CASE" for the others.
#
# Environment: BENCH_STORAGE BENCH_WORKLOAD BENCH_FILL BENCH_NMSG
# BENCH_OURS BENCH_REF BENCH_MBSYNC BENCH_BIN BENCH_TSV BENCH_NOTES
# BENCH_RTTS BENCH_REPS BENCH_CASES BENCH_SAMEDATE BENCH_FAILDIR, and
# common.sh's BUILDDIR TESTNAME SRCDIR.

# The BENCH_* settings come from run.sh:
# shellcheck disable=SC2153
set -u
# shellcheck source=tests/lib/common.sh
source "$SRCDIR/tests/lib/common.sh"
# shellcheck source=bench/lib/bench.sh
source "$SRCDIR/bench/lib/bench.sh"
t_setup >/dev/null

CTL=("$BENCH_PY" "$SRCDIR/bench/lib/benchctl.py")
nmsg=$BENCH_NMSG
failed=0
read -r -a fill <<<"$BENCH_FILL"
pfx=
[ "$BENCH_WORKLOAD" = base ] || pfx=$BENCH_WORKLOAD-
# The equal-date case: that many small messages and one of that many
# bytes on each side.
read -r same_count same_big <<<"${BENCH_SAMEDATE:-10 1048576}"

declare -A BIN EXE
BIN[ours]=$BENCH_OURS
BIN[ref]=$BENCH_REF
EXE[ours]=$(bench_client_exe "$BENCH_OURS")
EXE[ref]=$(bench_client_exe "$BENCH_REF")
if [ "${BENCH_MBSYNC:-0}" = 1 ]; then
	BIN[mbsync]=$(command -v mbsync)
	EXE[mbsync]=$(bench_client_exe "${BIN[mbsync]}")
fi

bench_log "$BENCH_WORKLOAD, $BENCH_STORAGE: stores under $T ($(df --output=fstype "$T" |
    tail -n 1))"
tunnel=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
dovecot_server remote || { t_fail "dovecot_server"; t_done; }
# bench_run_cmd measures the remote Dovecot's CPU during each run.
BENCH_SRV=remote

start=$(date +%s.%N)
if ! "${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" "${fill[@]}" >"$T/fill.err" 2>&1
then
	cat "$T/fill.err" >&2
	t_fail "fill the remote"
	t_done
fi
bench_log "$BENCH_WORKLOAD, $BENCH_STORAGE: remote filled with $nmsg" \
    "messages in" \
    "$(awk -v s="$start" -v e="$(date +%s.%N)" \
    'BEGIN { printf "%.1f", e - s }') s ($(du -sh "$T/remote/home" |
    cut -f1) on disk)"
bench_server_idle remote || exit 1
bench_snapshot remote "$T/remote-snap"
# What the remote holds before any sync: a first sync must not change it.
"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" dumpall >"$T/remote-orig.dump" ||
    { t_fail "dump the remote"; t_done; }

for rtt in $BENCH_RTTS; do
	bench_relay "r$rtt" "$rtt" "$DOVECOT_REMOTE_IMAPS_PORT" || exit 1
	port_var=RELAY_r${rtt}_PORT
	write_config "$T/conf-$rtt" <<EOF
database = $T/db/interimap.db

[local]
type = tunnel
command = $tunnel

[remote]
type = imaps
host = 127.0.0.1
port = ${!port_var}
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $DOVECOT_REMOTE_CERT
EOF
	# Ours with connections = N, and the remote synced with
	# sync-method = M (the reference knows neither key).
	if [ "${BENCH_CONNECTIONS:-1}" -gt 1 ] || [ -n "${BENCH_METHOD:-}" ]
	then
		cp "$T/conf-$rtt" "$T/conf-$rtt-ours"
		if [ "${BENCH_CONNECTIONS:-1}" -gt 1 ]; then
			sed -i "1a connections = $BENCH_CONNECTIONS" \
			    "$T/conf-$rtt-ours"
		fi
		if [ -n "${BENCH_METHOD:-}" ]; then
			echo "sync-method = $BENCH_METHOD" >>"$T/conf-$rtt-ours"
		fi
		chmod 600 "$T/conf-$rtt-ours"
	fi
	if [ -n "${BIN[mbsync]:-}" ]; then
		bench_mbsyncrc "$T/mbsyncrc-$rtt" "${!port_var}" "$tunnel" \
		    "$T/mbsync-state"
	fi
done

# Record run $base of $impl for $case/$rtt/$rep with verdict $2.
record()
{
	local verdict=$1 fields

	if [ "$verdict" = ok ] && [ "$BENCH_STRAGGLERS" -gt 0 ]; then
		verdict="$BENCH_STRAGGLERS processes outlived the client"
	fi
	fields=$(bench_row "$base" "${EXE[$impl]}" "$rlog" "$rpid")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_STORAGE" "$rtt" \
	    "$case" "$impl" "$rep" "$fields" "$verdict" >>"$BENCH_TSV"
	if [ "$verdict" != ok ]; then
		failed=$((failed + 1))
		mkdir -p "$BENCH_FAILDIR"
		for f in "$base".* "$T"/*.dump; do
			[ -e "$f" ] && cp "$f" "$BENCH_FAILDIR/${f##*/}"
		done
		bench_log "  $case $impl rep $rep: $verdict (logs kept in" \
		    "$BENCH_FAILDIR)"
	else
		bench_log "  $case $impl rep $rep: $(awk -F'\t' \
		    '{ printf "%.2f s wall, %.2f s CPU", $2 / 1000, $3 / 1000 }' \
		    <<<"$fields")"
	fi
}

# Full comparison of both stores; $1 = expected number of messages, $2
# the dump (dumpall, or dumpcommon for mbsync).
verify_same()
{
	local want=$1 dump=${2:-dumpall} n

	[ "$BENCH_RC" -eq 0 ] || { bench_rc_verdict; return; }
	"${CTL[@]}" "$tunnel" "$dump" >"$T/local.dump" 2>&1 ||
	    { echo "local dump failed"; return; }
	"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" "$dump" >"$T/remote.dump" 2>&1 ||
	    { echo "remote dump failed"; return; }
	if ! cmp -s "$T/local.dump" "$T/remote.dump"; then
		echo "stores differ"
		return
	fi
	n=$(grep -cE '^[0-9a-f]{64} ' "$T/local.dump")
	if [ "$n" -ne "$want" ]; then
		echo "$n messages, expected $want"
		return
	fi
	echo ok
}

state_both()
{
	"${CTL[@]}" "$tunnel" state && "${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" state
}

one_impl()
{
	local bin=${BIN[$impl]} conf=$T/conf-$rtt verdict before kw n r l

	[ "$impl" = ours ] && [ -f "$T/conf-$rtt-ours" ] && conf=$T/conf-$rtt-ours
	local rlog_var=RELAY_r${rtt}_LOG rpid_var=RELAY_r${rtt}_PID

	rlog=${!rlog_var}
	rpid=${!rpid_var}

	# A fresh start: remote as filled, empty local, no database.
	bench_server_idle remote || exit 1
	bench_restore remote "$T/remote-snap"
	bench_wipe local
	rm -rf "$T/db" "$T/mbsync-state"
	mkdir -p "$T/db" "$T/mbsync-state"

	case=${pfx}first
	base=$T/run-$rtt-$rep-$impl-$case
	if [ "$impl" = mbsync ]; then
		# Only what mbsync keeps is compared (dumpcommon); the remote
		# must still be exactly as filled.
		bench_run_cmd "$base" "$rlog" "$rpid" "$bin" \
		    -c "$T/mbsyncrc-$rtt" -a
		verdict=$(verify_same "$nmsg" dumpcommon)
		if [ "$verdict" = ok ] &&
		    ! "${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" dumpall |
		    cmp -s - "$T/remote-orig.dump"; then
			verdict="the remote changed"
		fi
		record "$verdict"
		return 0
	fi
	bench_run "$bin" "$conf" "$base" "$rlog" "$rpid"
	verdict=$(verify_same "$nmsg")
	if [ "$verdict" = ok ] &&
	    ! cmp -s "$T/remote.dump" "$T/remote-orig.dump"; then
		verdict="the remote changed"
	fi
	record "$verdict"
	[ "$verdict" = ok ] || return 0
	[[ " $BENCH_CASES " == *" nochange "* ]] || return 0

	case=${pfx}nochange
	base=$T/run-$rtt-$rep-$impl-$case
	before=$(state_both)
	bench_run "$bin" "$conf" "$base" "$rlog" "$rpid"
	verdict=$(bench_rc_verdict)
	if [ "$verdict" = ok ] && [ "$(state_both)" != "$before" ]; then
		verdict="a no-change run changed a store"
	fi
	record "$verdict"
	[ "$verdict" = ok ] || return 0
	[[ " $BENCH_CASES " == *" incremental "* ]] || return 0

	case=incremental
	base=$T/run-$rtt-$rep-$impl-$case
	if ! "${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" change remote "$rep" \
	    >"$T/change.err" 2>&1 ||
	    ! "${CTL[@]}" "$tunnel" change local "$rep" >>"$T/change.err" 2>&1
	then
		cat "$T/change.err" >&2
		t_fail "change the stores"
		return 0
	fi
	bench_run "$bin" "$conf" "$base" "$rlog" "$rpid"
	verdict=$(verify_same $((nmsg + 5)))
	if [ "$verdict" = ok ]; then
		kw=\$Bench$rep
		n=$(grep -c "[ ,]\\${kw}[ ,]" "$T/local.dump")
		[ "$n" -eq 50 ] ||
		    verdict="$n messages with $kw, expected 50"
	fi
	record "$verdict"
	[ "$verdict" = ok ] || return 0
	[[ " $BENCH_CASES " == *" samedate "* ]] || return 0

	case=samedate
	base=$T/run-$rtt-$rep-$impl-$case
	if ! r=$("${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" samedate remote "$rep" \
	    INBOX "$same_count" "$same_big" 2>"$T/change.err") ||
	    ! l=$("${CTL[@]}" "$tunnel" samedate local "$rep" INBOX \
	    "$same_count" "$same_big" 2>>"$T/change.err"); then
		cat "$T/change.err" >&2
		t_fail "append the equal-date messages"
		return 0
	fi
	# The least IMAP traffic that case needs: every new body read once
	# and written once.
	printf 'samedate_bytes\t%s\t%s\t%s\n' "$rtt" "$rep" \
	    "$((2 * (r + l)))" >>"$BENCH_NOTES"
	bench_run "$bin" "$conf" "$base" "$rlog" "$rpid"
	verdict=$(verify_same $((nmsg + 5 + 2 * (same_count + 1))))
	record "$verdict"
}

for rtt in $BENCH_RTTS; do
	for ((rep = 1; rep <= BENCH_REPS; rep++)); do
		# Alternate who goes first, so that a drift of the machine
		# does not always favour the same one.
		if ((rep % 2)); then
			order="ours ref"
		else
			order="ref ours"
		fi
		# mbsync (first sync only) between them.
		[ -n "${BIN[mbsync]:-}" ] && order=${order/ / mbsync }
		bench_log "$BENCH_STORAGE, RTT $rtt ms, repetition" \
		    "$rep/$BENCH_REPS ($order)"
		for impl in $order; do
			one_impl
		done
	done
done

if [ "$failed" -eq 0 ]; then
	t_pass "all runs verified"
else
	t_fail "$failed runs failed verification"
fi
t_done >/dev/null
