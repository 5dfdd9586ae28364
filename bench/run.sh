#!/bin/bash
#
# bench/run.sh: interimap (ours) against the reference (/usr/bin/interimap),
# side by side in one run, on the same data, the same servers and the
# same simulated network; medians and ratios reference / ours to stdout
# and to bench/results/<date>.md.  See bench/README.md.
#
# Run as root from anywhere (Dovecot serves mail as the user imaptest,
# like the tests).  Settings, from the environment:
#
#   BENCH_OURS=PATH       "ours" (default $INTERIMAP, else build/interimap)
#   BENCH_REF=PATH        the reference (default /usr/bin/interimap)
#   BENCH_QUICK=1         a smoke run: 20 x 20 messages, 1 repetition
#   BENCH_REPS=N          repetitions of each case (default 3)
#   BENCH_RTTS="0 20"     round-trip times to the remote, in ms
#   BENCH_STORAGES="tmpfs disk"
#   BENCH_MAILBOXES=20 BENCH_MESSAGES=150 BENCH_BYTES=12582912
#   BENCH_DISKDIR=DIR     where the disk case keeps its stores (default
#                         build-bench-data/ in the source tree)
#   BENCH_OUT=FILE        the report (default bench/results/<date>.md)
#   KEEP=1                keep the scratch directories
#
# Exit status: 0 when every run was verified, 1 otherwise.

set -u
export LC_ALL=C
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR
# shellcheck source=bench/lib/bench.sh
source "$SRCDIR/bench/lib/bench.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root (Dovecot runs as imaptest)" >&2
	exit 2
fi

BENCH_OURS=${BENCH_OURS:-${INTERIMAP:-$SRCDIR/build/interimap}}
BENCH_REF=${BENCH_REF:-/usr/bin/interimap}
BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then
	BENCH_REPS=${BENCH_REPS:-1}
	BENCH_MESSAGES=${BENCH_MESSAGES:-20}
	BENCH_BYTES=${BENCH_BYTES:-1677722}
fi
BENCH_REPS=${BENCH_REPS:-3}
BENCH_RTTS=${BENCH_RTTS:-0 20}
BENCH_STORAGES=${BENCH_STORAGES:-tmpfs disk}
BENCH_MAILBOXES=${BENCH_MAILBOXES:-20}
BENCH_MESSAGES=${BENCH_MESSAGES:-150}
BENCH_BYTES=${BENCH_BYTES:-12582912}
BENCH_DISKDIR=${BENCH_DISKDIR:-$SRCDIR/build-bench-data}
BENCH_SHMDIR=/dev/shm/interimap-bench-$$
BENCH_BIN=$BENCH_DISKDIR/bin
T_TIMEOUT=${T_TIMEOUT:-300}
export BENCH_OURS BENCH_REF BENCH_REPS BENCH_RTTS BENCH_MAILBOXES \
    BENCH_MESSAGES BENCH_BYTES BENCH_BIN T_TIMEOUT

for slot in BENCH_OURS BENCH_REF; do
	if [ ! -x "${!slot}" ]; then
		echo "bench/run.sh: $slot=${!slot} is not an executable" >&2
		exit 2
	fi
done
if [ "$BENCH_MAILBOXES" -lt 15 ]; then
	echo "bench/run.sh: the incremental case needs 15 mailboxes" >&2
	exit 2
fi

stamp=$(date -u +%Y-%m-%d)
if [ -z "${BENCH_OUT:-}" ]; then
	suffix=
	[ "$BENCH_QUICK" = 1 ] && suffix=-quick
	BENCH_OUT=$SRCDIR/bench/results/$stamp$suffix.md
	n=2
	while [ -e "$BENCH_OUT" ]; do
		BENCH_OUT=$SRCDIR/bench/results/$stamp$suffix-$n.md
		n=$((n + 1))
	done
fi
mkdir -p "$(dirname "$BENCH_OUT")" "$BENCH_DISKDIR" || exit 2
BENCH_TSV=${BENCH_OUT%.md}.tsv
BENCH_FAILDIR=$BENCH_DISKDIR/failed-$stamp-$$
export BENCH_TSV BENCH_FAILDIR

bench_tools "$BENCH_BIN" || exit 2
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$BENCH_SHMDIR"' EXIT

version()
{
	"$1" --version 2>&1 | head -n 1
}

t0=$(date +%s)
bench_log "ours: $BENCH_OURS ($(version "$BENCH_OURS"))"
bench_log "reference: $BENCH_REF ($(version "$BENCH_REF"))"
bench_log "measuring the relay"
delays=()
for r in $BENCH_RTTS; do
	delays+=("$(awk -v r="$r" 'BEGIN { print r / 2 }')")
done
relaycheck=$("$BENCH_PY" "$SRCDIR/bench/lib/relaycheck.py" \
    "$BENCH_BIN/relay" "${delays[@]}") || exit 2
load0=$(cut -d' ' -f1-3 /proc/loadavg)

printf '%s\n' storage rtt case impl rep rc wall_ms cpu_ms user_ms sys_ms \
    nproc rss_sum_kb rss_max_kb srv_cpu_ms tree_cpu_ms local_recv \
    local_sent remote_recv remote_sent wire_up wire_down relay_cpu_ms \
    procs verified | paste -s - >"$BENCH_TSV"

status=0
for storage in $BENCH_STORAGES; do
	case $storage in
	tmpfs)
		root=$BENCH_SHMDIR
		cases="first nochange incremental"
		;;
	disk)
		root=$BENCH_DISKDIR
		cases="first"
		;;
	*)
		echo "bench/run.sh: unknown storage $storage" >&2
		exit 2
		;;
	esac
	BENCH_STORAGE=$storage BENCH_CASES=$cases BUILDDIR=$root \
	    TESTNAME=bench-$storage bash "$SRCDIR/bench/lib/scenario.sh" ||
	    status=1
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t0))

{
	echo "# interimap benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- ours: \`$BENCH_OURS\` ($(version "$BENCH_OURS"))"
	echo "- reference: \`$BENCH_REF\` ($(version "$BENCH_REF"))"
	if [ "$(readlink -f "$BENCH_OURS")" = "$(readlink -f "$BENCH_REF")" ]
	then
		echo "- **both slots run the same program**: this run proves" \
		    "the harness, the ratios show its noise"
	fi
	echo "- source: $(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null ||
	    echo '?')$(git -C "$SRCDIR" diff --quiet HEAD 2>/dev/null ||
	    echo ' (with uncommitted changes)')"
	echo "- machine: $(nproc) CPU ($(sed -n \
	    's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
	    "$(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux" \
	    "$(uname -r); load average $load0 before, $load1 after"
	echo "- Dovecot $(dovecot --version | cut -d' ' -f1), remote over" \
	    "IMAPS (TLS, COMPRESS=DEFLATE) through the relay, local as a" \
	    "pre-authenticated tunnel (\`doveadm exec imap\`)"
	echo "- data: $BENCH_MAILBOXES mailboxes x $BENCH_MESSAGES messages," \
	    "$(awk -v b="$BENCH_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')" \
	    "MiB; $BENCH_REPS repetition(s) per case, ours and the reference" \
	    "alternating; the whole run took ${elapsed} s" \
	    "$([ "$BENCH_QUICK" = 1 ] && echo '(BENCH_QUICK=1)')"
	echo
	echo "## Relay"
	echo
	echo "One-way delay per chunk, both ways; 1-byte ping-pong medians," \
	    "256 MiB bulk transfer."
	echo
	echo "| one-way delay ms | RTT direct ms | RTT via relay ms |" \
	    "MiB/s direct | MiB/s via relay |"
	echo "|---|---|---|---|---|"
	echo "$relaycheck"
	echo
	echo "## Results"
	echo
	"$BENCH_PY" "$SRCDIR/bench/lib/report.py" table "$BENCH_TSV"
	echo
	echo "Raw numbers, one row per run: \`${BENCH_TSV#"$SRCDIR"/}\`." \
	    "Method: bench/README.md."
} >"$BENCH_OUT"
cat "$BENCH_OUT"
bench_log "report: $BENCH_OUT"
[ "$status" -eq 0 ] || bench_log "some runs failed: logs in $BENCH_FAILDIR"
exit "$status"
