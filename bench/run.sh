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
#   BENCH_WORKLOADS=base  which workloads: base (the cases above, on
#                         every storage), boxes (1,000 mailboxes x 9
#                         messages), many (one mailbox of 100,000
#                         messages), big (one 50 MiB message), or all;
#                         the scale ones run on tmpfs, smaller with
#                         BENCH_QUICK=1
#   BENCH_SCALE_REPS=N    repetitions of the scale workloads (default
#                         BENCH_REPS)
#   BENCH_CONNECTIONS=N   ours with connections = N (default 1, as
#                         everyone gets without the key)
#   BENCH_METHOD=M        ours syncs the remote with sync-method = M
#                         (qresync, condstore or plain: what a server
#                         without QRESYNC, or without CONDSTORE either,
#                         costs; the reference always uses QRESYNC)
#   BENCH_MBSYNC=auto     mbsync's first sync as a third contender: 1, 0,
#                         or auto (when /usr/bin/mbsync is there)
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
BENCH_SCALE_REPS=${BENCH_SCALE_REPS:-$BENCH_REPS}
BENCH_WORKLOADS=${BENCH_WORKLOADS:-base}
[ "$BENCH_WORKLOADS" = all ] && BENCH_WORKLOADS="base boxes many big"
BENCH_MBSYNC=${BENCH_MBSYNC:-auto}
if [ "$BENCH_MBSYNC" = auto ]; then
	BENCH_MBSYNC=0
	command -v mbsync >/dev/null && BENCH_MBSYNC=1
fi
if [ "$BENCH_QUICK" = 1 ]; then
	scale_boxes=100 scale_many=5000 scale_big=$((5 << 20))
else
	scale_boxes=1000 scale_many=100000 scale_big=$((50 << 20))
fi
BENCH_RTTS=${BENCH_RTTS:-0 20}
BENCH_STORAGES=${BENCH_STORAGES:-tmpfs disk}
BENCH_MAILBOXES=${BENCH_MAILBOXES:-20}
BENCH_MESSAGES=${BENCH_MESSAGES:-150}
BENCH_BYTES=${BENCH_BYTES:-12582912}
BENCH_DISKDIR=${BENCH_DISKDIR:-$SRCDIR/build-bench-data}
BENCH_SHMDIR=/dev/shm/interimap-bench-$$
BENCH_BIN=$BENCH_DISKDIR/bin
T_TIMEOUT=${T_TIMEOUT:-300}
export BENCH_OURS BENCH_REF BENCH_RTTS BENCH_MAILBOXES BENCH_MESSAGES \
    BENCH_BYTES BENCH_BIN BENCH_MBSYNC T_TIMEOUT

for slot in BENCH_OURS BENCH_REF; do
	if [ ! -x "${!slot}" ]; then
		echo "bench/run.sh: $slot=${!slot} is not an executable" >&2
		exit 2
	fi
done
for workload in $BENCH_WORKLOADS; do
	case $workload in
	base|boxes|many|big) ;;
	*)
		echo "bench/run.sh: unknown workload $workload (base, boxes," \
		    "many, big or all)" >&2
		exit 2
		;;
	esac
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
# What the tables need besides the runs: the relay's bulk rate per RTT,
# the least traffic of the equal-date case.
BENCH_NOTES=${BENCH_OUT%.md}.notes
BENCH_FAILDIR=$BENCH_DISKDIR/failed-$stamp-$$
export BENCH_TSV BENCH_NOTES BENCH_FAILDIR

bench_tools "$BENCH_BIN" || exit 2
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$BENCH_SHMDIR"' EXIT

version()
{
	"$1" --version 2>&1 | head -n 1
}

t0=$(date +%s)
bench_log "ours: $BENCH_OURS ($(version "$BENCH_OURS"))"
bench_log "reference: $BENCH_REF ($(version "$BENCH_REF"))"
[ "$BENCH_MBSYNC" = 1 ] && bench_log "mbsync: $(command -v mbsync)" \
    "($(version mbsync))"
bench_log "workloads: $BENCH_WORKLOADS"
bench_log "measuring the relay"
delays=()
for r in $BENCH_RTTS; do
	delays+=("$(awk -v r="$r" 'BEGIN { print r / 2 }')")
done
relaycheck=$("$BENCH_PY" "$SRCDIR/bench/lib/relaycheck.py" \
    "$BENCH_BIN/relay" "${delays[@]}") || exit 2
# Rows "| one-way delay | ... | MiB/s via relay |": the RTT is twice
# the delay.
awk -F' *[|] *' '{ printf "relay_bulk\t%g\t%s\n", $2 * 2, $6 }' \
    <<<"$relaycheck" >"$BENCH_NOTES"
printf 'size\t%s\t%s\n' base "$BENCH_MAILBOXES mailboxes x $BENCH_MESSAGES \
messages" boxes "$scale_boxes mailboxes x 9 messages" many \
    "$scale_many messages" big "$((scale_big >> 20)) MiB" >>"$BENCH_NOTES"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

"$BENCH_PY" "$SRCDIR/bench/lib/report.py" header >"$BENCH_TSV"

status=0
# scenario STORAGE WORKLOAD REPS NMSG CASES FILL...: one scenario.sh run.
scenario()
{
	local storage=$1 workload=$2 reps=$3 nmsg=$4 cases=$5 root

	shift 5
	case $storage in
	tmpfs)	root=$BENCH_SHMDIR ;;
	disk)	root=$BENCH_DISKDIR ;;
	esac
	BENCH_STORAGE=$storage BENCH_WORKLOAD=$workload BENCH_REPS=$reps \
	    BENCH_NMSG=$nmsg BENCH_CASES=$cases BENCH_FILL="$*" \
	    BUILDDIR=$root TESTNAME=bench-$workload-$storage \
	    bash "$SRCDIR/bench/lib/scenario.sh" || status=1
}
for workload in $BENCH_WORKLOADS; do
	case $workload in
	base)
		for storage in $BENCH_STORAGES; do
			case $storage in
			tmpfs)	cases="first nochange incremental samedate" ;;
			disk)	cases="first" ;;
			*)
				echo "bench/run.sh: unknown storage $storage" >&2
				exit 2
				;;
			esac
			scenario "$storage" base "$BENCH_REPS" \
			    $((BENCH_MAILBOXES * BENCH_MESSAGES)) "$cases" \
			    fill "$BENCH_MAILBOXES" "$BENCH_MESSAGES" \
			    "$BENCH_BYTES" 1
		done
		;;
	boxes)
		# About 2 KiB per message.
		scenario tmpfs boxes "$BENCH_SCALE_REPS" $((scale_boxes * 9)) \
		    "first nochange" fill "$scale_boxes" 9 \
		    $((scale_boxes * 9 * 2048)) 1
		;;
	many)
		scenario tmpfs many "$BENCH_SCALE_REPS" "$scale_many" first \
		    many Many "$scale_many"
		;;
	big)
		scenario tmpfs big "$BENCH_SCALE_REPS" 1 first big Big \
		    "$scale_big"
		;;
	esac
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t0))

{
	echo "# interimap benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- ours: \`$BENCH_OURS\` ($(version "$BENCH_OURS"))$(
	    [ "${BENCH_CONNECTIONS:-1}" -gt 1 ] &&
	    echo ", with connections = $BENCH_CONNECTIONS")$(
	    [ -n "${BENCH_METHOD:-}" ] &&
	    echo ", the remote synced with sync-method = $BENCH_METHOD")"
	echo "- reference: \`$BENCH_REF\` ($(version "$BENCH_REF"))"
	[ "$BENCH_MBSYNC" = 1 ] && echo "- third contender, first syncs" \
	    "only: \`$(command -v mbsync)\` ($(version mbsync))"
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
	    "alternating; the whole run took ${elapsed} s$([ "$BENCH_QUICK" = 1 ] &&
	    echo ' (BENCH_QUICK=1)')"
	echo "- workloads: $BENCH_WORKLOADS$(
	    for w in $BENCH_WORKLOADS; do
		case $w in
		boxes)	printf '; boxes: %d mailboxes x 9 messages' \
			    "$scale_boxes" ;;
		many)	printf '; many: one mailbox of %d messages' \
			    "$scale_many" ;;
		big)	printf '; big: one message of %d MiB' \
			    $((scale_big >> 20)) ;;
		esac
	    done)$([ "$BENCH_WORKLOADS" != base ] &&
	    echo " ($BENCH_SCALE_REPS repetition(s) each)")"
	echo
	echo "## Summary"
	echo
	"$BENCH_PY" "$SRCDIR/bench/lib/report.py" compact "$BENCH_TSV"
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
