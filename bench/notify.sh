#!/bin/bash
#
# bench/notify.sh: how fast a running `--notify` propagates a change, for
# ours and the reference side by side on the same kind of servers.  Two
# pre-authenticated Dovecot servers (tunnels; sdbox stores on tmpfs, with
# mailbox_list_index as NOTIFY needs), INBOX and Lists on both, synced
# once; then `--notify --watch=3600` runs (an hour: only an event can
# start a pass) while bench/lib/notifylat.py makes NOTIFY_CHANGES changes
# (default 20), alternating sides, mailboxes and kinds (new message, flag
# change), and times each until the other server shows it (capped at
# NOTIFY_CAP seconds, default 20).  Reports the median and maximum per
# implementation.  Run as root; a minute or two; not part of CI.
#
# Environment: BENCH_OURS (default build/interimap), BENCH_REF (default
# /usr/bin/interimap), NOTIFY_CHANGES, NOTIFY_CAP, BENCH_OUT.

set -u
export LC_ALL=C
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR
OURS=${BENCH_OURS:-$SRCDIR/build/interimap}
REF=${BENCH_REF:-/usr/bin/interimap}
N=${NOTIFY_CHANGES:-20}
CAP=${NOTIFY_CAP:-20}
OUT=${BENCH_OUT:-$SRCDIR/bench/results/$(date +%F)-notify.md}

export INTERIMAP=$OURS BUILDDIR=${BUILDDIR:-$SRCDIR/build}
export TESTNAME=bench-notify
# shellcheck source=tests/lib/common.sh
source "$SRCDIR/tests/lib/common.sh"
t_setup
export DOVECOT_MAIL_LOCATION="sdbox:~/Mail"

mkdir -p "$T/msgs"
printf 'From: a@example.org\r\nSubject: seed\r\n\r\nseed\r\n' >"$T/msgs/seed"

# one IMPL BINARY: a fresh pair of servers, a first sync, the --notify run
# and the changes; the latencies in $T/IMPL.tsv.
one()
{
	local impl=$1 bin=$2 lt rt pid

	lt=$(dovecot_tunnel "l$impl" /) && rt=$(dovecot_tunnel "r$impl" .) ||
	    { echo "bench/notify.sh: no servers" >&2; exit 1; }
	mailbox_create "l$impl" Lists
	mailbox_create "r$impl" Lists
	mail_add "l$impl" INBOX "$T/msgs/seed"
	mail_add "r$impl" Lists "$T/msgs/seed"
	mkdir -p "$T/$impl"
	tunnel_config "$T/$impl.conf" "$T/$impl/sync.db" "$lt" "$rt"
	# The reference's XDG directories, as the tests set them.
	"$bin" --config="$T/$impl.conf" >"$T/$impl.first" 2>&1 ||
	    { echo "bench/notify.sh: $impl: first sync failed" >&2; exit 1; }
	"$bin" --config="$T/$impl.conf" --notify --watch=3600 \
	    >"$T/$impl.out" 2>"$T/$impl.err" &
	pid=$!
	t_track_pid "$pid"
	sleep 3
	python3 "$SRCDIR/bench/lib/notifylat.py" \
	    "$(_t_srvdir "l$impl")/tunnel.sh" "$(_t_srvdir "r$impl")/tunnel.sh" \
	    "$N" "$CAP" "$T/$impl.tsv"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

one ours "$OURS"
one ref "$REF"

stats()
{
	sort -n -k5 "$1" | awk -F'\t' '
	    { v[NR] = $5; if ($6 != "yes") missed++ }
	    END {
		if (NR == 0) { print "- | - | -"; exit }
		med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f | %.3f | %d of %d\n", med, v[NR], missed + 0, NR
	    }'
}

{
	echo "# interimap --notify reaction time, $(date -u '+%F %H:%M') UTC"
	echo
	echo "- ours: \`$OURS\`; reference: \`$REF\` ($("$REF" --version 2>&1 | head -n 1))"
	echo "- two tunnelled Dovecot $(dovecot --version | cut -d' ' -f1) servers (sdbox on tmpfs, mailbox_list_index), INBOX and Lists; \`--notify --watch=3600\`"
	echo "- $N changes, one every ~0.5 s once the previous one showed, alternating side, mailbox and kind (new message, flag change); time until the other server's HIGHESTMODSEQ of that mailbox grows, polled every 10 ms; capped at $CAP s (\"missed\")"
	echo
	echo "| impl | median s | max s | missed |"
	echo "|---|---|---|---|"
	echo "| ours | $(stats "$T/ours.tsv") |"
	echo "| reference | $(stats "$T/ref.tsv") |"
	echo
	echo "Each change (n, side changed, mailbox, kind, seconds, seen):"
	echo
	echo '```'
	echo "ours:"
	cat "$T/ours.tsv"
	echo "reference:"
	cat "$T/ref.tsv"
	echo '```'
} | tee "$OUT"
echo "# report: $OUT"
t_done >/dev/null
