# shellcheck shell=bash
# Variables set here for the tests to read (SCALE_*):
# shellcheck disable=SC2034
#
# What the scale tests (tests/integration/scale_*.sh) share, on top of
# tests/lib/common.sh:
#
#	source "$SRCDIR/tests/lib/common.sh"
#	source "$SRCDIR/tests/lib/scale.sh"
#	t_setup
#	scale_setup
#
#   scale_setup                  mail stores on tmpfs, the process tracker
#   scale_gen NAME <SPEC         fill a store (scalectl.py gen)
#   scale_thin NAME MAILBOX KEEP SEED   expunge at random until KEEP
#                                messages are left (scattered UIDs)
#   scale_mkboxes NAME <NAMES    create and subscribe mailboxes
#   scale_poke NAME <EDITS       flag changes and expunges (scalectl.py)
#   scale_merge3 BASE LOCAL REMOTE   what both stores must hold once
#                                synced, from scale_dumpall files
#   scale_dumpall NAME [SEP]     "== MAILBOX" + mail_dump lines, every
#                                mailbox
#   scale_dbcheck DB [exact]     the database against both stores (local
#                                and remote); output in $T/dbcheck.out,
#                                status 1 if anything is wrong; leaves the
#                                scale_dumpall of each store (SEP "/") in
#                                $T/dump.local and $T/dump.remote
#   scale_run LABEL ARGS...      run our binary under the tracker: like
#                                run_ours ($OURS_RC, $T/ours.err), and
#                                print (and keep in $T/scale.log) the line
#     scale: LABEL: 12.3 s; peak KiB priv 5120 engine 9000 net(local) 4000 net(remote) 4100
#                                (wall time of the run; VmHWM of each of
#                                our processes when it ended)
#   scale_time_ref LABEL ARGS... the same for the reference (run_ref):
#     scale: LABEL: 12.3 s; peak KiB perl 35000
#   scale_expect_same ACTUAL EXPECTED WHAT   t_expect_eq for whole-store dumps
#                                (a short summary of a difference)
#   scale_added LOGFILE SIDE     total of "SIDE(...): Added N UID(s)" lines
#   scale_quiet LOGFILE          the lines of a run that tell of a change
#                                (Added, Removed, Updated, Created,
#                                Subscribe, Recovered, Resuming...):
#                                nothing for a quiet run
#
# Times and memory are printed, never asserted: the machine is shared.

# The tracker: bench/proctrack.c follows every process of a run (ptrace,
# stopping only at fork, exec and exit) and reads /proc/PID/status at each
# exit, so that even short-lived children have their peak recorded.
# CMake builds it ($PROCTRACK from ctest); by hand it is compiled here.
scale_setup()
{
	local shm

	# Dovecot's own fsyncs dominate on disk: the stores live on tmpfs
	# (common.sh puts server NAME in $T_SRVROOT/NAME and links it from
	# $T when they differ).
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		shm=$(mktemp -d /dev/shm/imt-scale.XXXXXX) || exit 1
		chmod 755 "$shm"
		echo "rmdir $shm" >>"$T/.cleanup"
		T_SRVROOT=$shm
	fi
	if [ -z "${PROCTRACK:-}" ] || [ ! -x "$PROCTRACK" ]; then
		PROCTRACK=$T/proctrack
		cc -O2 -o "$PROCTRACK" "$SRCDIR/bench/proctrack.c" ||
		    { t_fail "build bench/proctrack.c"; t_done; }
	fi
	SCALE_EXE=$(readlink -f "$INTERIMAP")
	: >"$T/scale.log"
}

_scale_ctl()
{
	/usr/bin/python3 "$SRCDIR/tests/lib/scalectl.py" "$@"
}

scale_gen()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_scale_ctl "$dir/tunnel.sh" gen || { t_fail "scale_gen $1"; return 1; }
}

scale_thin()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_scale_ctl "$dir/tunnel.sh" thin "$2" "$3" "$4" ||
	    { t_fail "scale_thin $*"; return 1; }
}

scale_mkboxes()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_scale_ctl "$dir/tunnel.sh" mkboxes ||
	    { t_fail "scale_mkboxes $1"; return 1; }
}

scale_poke()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_scale_ctl "$dir/tunnel.sh" poke || { t_fail "scale_poke $1"; return 1; }
}

scale_merge3()
{
	_scale_ctl merge3 "$@"
}

scale_dumpall()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_scale_ctl "$dir/tunnel.sh" dumpall "${@:2}"
}

scale_dbcheck()
{
	local l r

	l=$(_t_srvdir local) && r=$(_t_srvdir remote) || return 1
	rm -f "$T/dump.local" "$T/dump.remote"
	_scale_ctl dbcheck "$1" "$l/tunnel.sh" "$r/tunnel.sh" \
	    "${2:-loose}" "$T/dump" >"$T/dbcheck.out" 2>&1
}

# Peak of each of our processes from a proctrack record: the largest
# VmHWM per title (priv keeps "interimap"; the children are retitled
# "interimap: engine", "interimap: net(local)", ...).
_scale_peaks()
{
	awk -v exe="$SCALE_EXE" '
	$1 == "proc" {
		e = ""; t = ""; h = 0
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^exe=/) e = substr($i, 5)
			else if ($i ~ /^title=/) t = substr($i, 7)
			else if ($i ~ /^hwm_kb=/) h = substr($i, 8) + 0
		}
		if (e != exe) next
		sub(/^[^:]*:_/, "", t)
		if (t !~ /^(engine|net\(local\)|net\(remote\))$/) t = "priv"
		if (h > peak[t]) peak[t] = h
		seen[t] = 1
	}
	END {
		n = split("priv engine net(local) net(remote)", k, " ")
		for (i = 1; i <= n; i++)
			printf " %s %s", k[i], (k[i] in seen) ? peak[k[i]] : "-"
	}' "$1"
}

_scale_wall()
{
	awk '$1 == "root" { for (i = 2; i <= NF; i++) if ($i ~ /^wall_ns=/)
	    printf "%.2f", substr($i, 9) / 1e9 }' "$1"
}

scale_run()
{
	local label=$1 rec=$T/proctrack.$$.$RANDOM opts=$- line

	shift
	set +e
	# LeakSanitizer (sanitizer builds) cannot run under a tracer.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    timeout -k 5 "$T_TIMEOUT" "$PROCTRACK" -o "$rec" -- "$INTERIMAP" "$@" \
	    </dev/null >"$T/ours.out" 2>"$T/ours.err"
	OURS_RC=$?
	[[ $opts == *e* ]] && set -e
	line="scale: $label: $(_scale_wall "$rec") s; peak KiB$(_scale_peaks \
	    "$rec") (exit $OURS_RC)"
	echo "$line" | tee -a "$T/scale.log"
	rm -f "$rec"
	return 0
}

scale_time_ref()
{
	local label=$1 rec=$T/proctrack.$$.$RANDOM opts=$- line

	shift
	set +e
	timeout -k 5 "$T_TIMEOUT" "$PROCTRACK" -o "$rec" -- \
	    "$REF_INTERIMAP" "$@" </dev/null >"$T/ref.out" 2>"$T/ref.err"
	REF_RC=$?
	[[ $opts == *e* ]] && set -e
	line="scale: $label: $(_scale_wall "$rec") s; peak KiB perl $(awk '
	    $1 == "proc" && / exe=\/usr\/bin\/perl/ {
		for (i = 2; i <= NF; i++) if ($i ~ /^hwm_kb=/) {
			h = substr($i, 8) + 0; if (h > m) m = h } }
	    END { print m + 0 }' "$rec") (exit $REF_RC)"
	echo "$line" | tee -a "$T/scale.log"
	rm -f "$rec"
	return 0
}

# Total N of the "SIDE(MAILBOX): Added N UID(s) ..." lines of a log.
scale_added()
{
	awk -v side="$2" '
	index($0, side "(") == 1 && $2 == "Added" { n += $3 }
	END { print n + 0 }' "$1"
}

scale_quiet()
{
	grep -E '(^|: )(Added|Removed|Updated|Created|Deleted|Renamed|Subscribe|Unsubscribe|Recovered|Resuming|WARNING|ERROR|PANIC)' \
	    "$1" || true
}

# scale_expect_same ACTUAL EXPECTED WHAT: t_expect_eq for big dumps: on a
# difference, only the counts and the first lines of the diff.
scale_expect_same()
{
	local actual=$1 expected=$2 what=$3

	if [ "$actual" == "$expected" ]; then
		t_pass "$what"
		return 0
	fi
	t_fail "$what"
	diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") \
	    >"$T/scale.diff"
	echo "#   expected $(grep -vc '^==' <<<"$expected") messages," \
	    "got $(grep -vc '^==' <<<"$actual"):" \
	    "$(grep -c '^<' "$T/scale.diff") line(s) missing," \
	    "$(grep -c '^>' "$T/scale.diff") unexpected; first ones" \
	    "(< missing, > unexpected):"
	grep '^[<>]' "$T/scale.diff" | head -n 8 | sed 's/^/#   /'
	return 1
}
