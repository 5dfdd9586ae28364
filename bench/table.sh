#!/bin/bash
#
# bench/table.sh [TSV...]: the compact Markdown table that README.md
# shows (per workload and RTT: reference, ours, their ratio, mbsync), from
# the raw numbers of one or more bench/run.sh runs, e.g. a default run and
# a BENCH_WORKLOADS=all run together.  Without an argument: the newest
# bench/results/*.tsv of bench/run.sh (not of memory.sh, not a quick run,
# not a reference-vs-reference run).  bench/run.sh prints the same table
# under "Summary" in its report.

set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)

if [ "$#" -eq 0 ]; then
	newest=
	for f in "$SRCDIR"/bench/results/*.tsv; do
		case ${f##*/} in
		*memory*|*quick*|*ref-vs-ref*|*notify*) continue ;;
		esac
		[ -z "$newest" ] || [ "$f" -nt "$newest" ] && newest=$f
	done
	if [ -z "$newest" ]; then
		echo "bench/table.sh: no bench/results/*.tsv; run bench/run.sh" >&2
		exit 2
	fi
	set -- "$newest"
fi
for f in "$@"; do
	if [ ! -r "$f" ]; then
		echo "bench/table.sh: cannot read $f" >&2
		exit 2
	fi
done
exec /usr/bin/python3 "$SRCDIR/bench/lib/report.py" compact "$@"
