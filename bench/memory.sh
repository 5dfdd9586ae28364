#!/bin/bash
#
# bench/memory.sh: does any process grow with the data?  The issue asks
# that "a mailbox of 100,000 messages or a single 50 MiB message must not
# make any process grow with it beyond the UID mapping itself".  This
# syncs, remote -> empty local, for ours and the reference in turn:
#
#   baseline       one small message (what every process needs anyway)
#   big            one message of MEM_BIG_MIB MiB (default 50)
#   many           one mailbox of MEM_COUNT small messages (default
#                  100,000)
#   many-nochange  a second run on that synced mailbox: the UID mapping
#                  is loaded, nothing else to do
#
# and reports the peak RSS (VmHWM) of every client process, and its
# growth over the same process in the baseline run.  Each run is verified
# (both stores identical).  Slow (minutes; the reference takes most of
# it): not part of CI.  Output: stdout and bench/results/<date>-memory.md.
#
# Environment: BENCH_OURS, BENCH_REF as for bench/run.sh; MEM_COUNT,
# MEM_BIG_MIB; BENCH_OUT; KEEP=1.  Run as root.

# RELAY_r0_* are set by bench_relay:
# shellcheck disable=SC2154
set -u
export LC_ALL=C
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR
# shellcheck source=bench/lib/bench.sh
source "$SRCDIR/bench/lib/bench.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/memory.sh: run as root (Dovecot runs as imaptest)" >&2
	exit 2
fi

BENCH_OURS=${BENCH_OURS:-${INTERIMAP:-$SRCDIR/build/interimap}}
BENCH_REF=${BENCH_REF:-/usr/bin/interimap}
MEM_COUNT=${MEM_COUNT:-100000}
MEM_BIG_MIB=${MEM_BIG_MIB:-50}
BENCH_DISKDIR=${BENCH_DISKDIR:-$SRCDIR/build-bench-data}
BENCH_BIN=$BENCH_DISKDIR/bin
T_TIMEOUT=${T_TIMEOUT:-300}
for slot in BENCH_OURS BENCH_REF; do
	if [ ! -x "${!slot}" ]; then
		echo "bench/memory.sh: $slot=${!slot} is not an executable" >&2
		exit 2
	fi
done
stamp=$(date -u +%Y-%m-%d)
if [ -z "${BENCH_OUT:-}" ]; then
	BENCH_OUT=$SRCDIR/bench/results/$stamp-memory.md
	n=2
	while [ -e "$BENCH_OUT" ]; do
		BENCH_OUT=$SRCDIR/bench/results/$stamp-memory-$n.md
		n=$((n + 1))
	done
fi
mkdir -p "$(dirname "$BENCH_OUT")" || exit 2
TSV=${BENCH_OUT%.md}.tsv
BENCH_FAILDIR=$BENCH_DISKDIR/failed-$stamp-memory-$$
bench_tools "$BENCH_BIN" || exit 2

# The stores live on tmpfs: this is about memory, not disks.
BUILDDIR=/dev/shm/interimap-bench-memory
TESTNAME=bench-memory
export BUILDDIR TESTNAME
# shellcheck source=tests/lib/common.sh
source "$SRCDIR/tests/lib/common.sh"
t_setup >/dev/null

CTL=("$BENCH_PY" "$SRCDIR/bench/lib/benchctl.py")
declare -A BIN EXE
BIN[ours]=$BENCH_OURS
BIN[ref]=$BENCH_REF
EXE[ours]=$(bench_client_exe "$BENCH_OURS")
EXE[ref]=$(bench_client_exe "$BENCH_REF")

tunnel=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
dovecot_server remote || { t_fail "dovecot_server"; t_done; }
bench_relay r0 0 "$DOVECOT_REMOTE_IMAPS_PORT" || exit 1
write_config "$T/conf" <<EOF
database = $T/db/interimap.db

[local]
type = tunnel
command = $tunnel

[remote]
type = imaps
host = 127.0.0.1
port = $RELAY_r0_PORT
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $DOVECOT_REMOTE_CERT
EOF

printf '%s\n' storage rtt case impl rep rc wall_ms cpu_ms user_ms sys_ms \
    nproc rss_sum_kb rss_max_kb srv_cpu_ms tree_cpu_ms local_recv \
    local_sent remote_recv remote_sent wire_up wire_down relay_cpu_ms \
    procs verified | paste -s - >"$TSV"
failed=0

# fill CASE: the remote store of that case.
fill()
{
	local start=$SECONDS

	bench_server_idle remote || exit 1
	bench_wipe remote
	case $1 in
	baseline)
		"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" many Small 1 ;;
	big)
		"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" big Big \
		    $((MEM_BIG_MIB * 1048576)) ;;
	many)
		"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" many Many "$MEM_COUNT" ;;
	esac >"$T/fill.err" 2>&1 || {
		cat "$T/fill.err" >&2
		t_fail "fill $1"
		t_done
	}
	bench_server_idle remote || exit 1
	# No sync may change the remote: it is compared with this.
	"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" dumpall >"$T/remote-orig.dump" ||
	    { t_fail "dump the remote"; t_done; }
	bench_log "remote filled for $1 in $((SECONDS - start)) s"
}

# run CASE IMPL WANT: one run, verified, recorded.
run()
{
	local case=$1 impl=$2 want=$3 base=$T/run-$1-$2 verdict fields n

	bench_run "${BIN[$impl]}" "$T/conf" "$base" "$RELAY_r0_LOG" \
	    "$RELAY_r0_PID"
	verdict=$(bench_rc_verdict)
	if [ "$verdict" = ok ]; then
		"${CTL[@]}" "$tunnel" dumpall >"$T/local.dump" 2>&1
		"${CTL[@]}" "$DOVECOT_REMOTE_TUNNEL" dumpall >"$T/remote.dump" 2>&1
		n=$(grep -cE '^[0-9a-f]{64} ' "$T/local.dump")
		if ! cmp -s "$T/local.dump" "$T/remote.dump"; then
			verdict="stores differ"
		elif ! cmp -s "$T/remote.dump" "$T/remote-orig.dump"; then
			verdict="the remote changed"
		elif [ "$n" -ne "$want" ]; then
			verdict="$n messages, expected $want"
		fi
	fi
	if [ "$verdict" = ok ] && [ "$BENCH_STRAGGLERS" -gt 0 ]; then
		verdict="$BENCH_STRAGGLERS processes outlived the client"
	fi
	if [ "$verdict" != ok ]; then
		failed=$((failed + 1))
		mkdir -p "$BENCH_FAILDIR"
		cp "$base".* "$BENCH_FAILDIR/" 2>/dev/null
	fi
	fields=$(bench_row "$base" "${EXE[$impl]}" "$RELAY_r0_LOG" \
	    "$RELAY_r0_PID")
	printf 'tmpfs\t0\t%s\t%s\t1\t%s\t%s\n' "$case" "$impl" "$fields" \
	    "$verdict" >>"$TSV"
	bench_log "  $case $impl: $verdict, $(awk -F'\t' '{
	    printf "%.1f s wall, peak RSS %.1f MiB (sum), %.1f MiB (largest)",
	    $2 / 1000, $7 / 1024, $8 / 1024 }' <<<"$fields")"
}

fresh_local()
{
	bench_server_idle remote || exit 1
	bench_wipe local
	rm -rf "$T/db"
	mkdir -p "$T/db"
}

for case in baseline big many; do
	fill "$case"
	case $case in
	many)	want=$MEM_COUNT ;;
	*)	want=1 ;;
	esac
	for impl in ours ref; do
		fresh_local
		run "$case" "$impl" "$want"
		if [ "$case" = many ]; then
			run many-nochange "$impl" "$want"
		fi
	done
done

{
	echo "# interimap memory check, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- ours: \`$BENCH_OURS\` ($("$BENCH_OURS" --version 2>&1 |
	    head -n 1))"
	echo "- reference: \`$BENCH_REF\` ($("$BENCH_REF" --version 2>&1 |
	    head -n 1))"
	echo "- big: one message of $MEM_BIG_MIB MiB (text and a base64" \
	    "attachment); many: one mailbox of $MEM_COUNT messages of about" \
	    "450 bytes; stores on tmpfs, remote over IMAPS (COMPRESS) through" \
	    "the relay at 0 ms, local as a tunnel"
	echo
	"$BENCH_PY" "$SRCDIR/bench/lib/report.py" memory "$TSV" \
	    "$MEM_COUNT" "$MEM_BIG_MIB"
	echo
	echo "Raw numbers: \`${TSV#"$SRCDIR"/}\`. Method: bench/README.md."
} >"$BENCH_OUT"
cat "$BENCH_OUT"
bench_log "report: $BENCH_OUT"
[ "$failed" -eq 0 ] || bench_log "failed runs' logs: $BENCH_FAILDIR"

if [ "$failed" -eq 0 ]; then
	t_pass "all runs verified"
else
	t_fail "$failed runs failed verification"
fi
t_done >/dev/null
