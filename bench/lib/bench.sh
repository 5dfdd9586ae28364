# shellcheck shell=bash
# Variables set here are read by the scripts that source this file, and
# BENCH_BIN is set by them:
# shellcheck disable=SC2034,SC2153
#
# Shared by bench/run.sh, bench/lib/scenario.sh and bench/memory.sh:
# building the two helpers, starting delay relays, running one client
# under proctrack and turning what it left into one row of numbers.
# Servers, stores and clean-up come from tests/lib/common.sh (t_setup,
# dovecot_server, dovecot_tunnel, the EXIT trap).
#
#   bench_tools DIR             compile relay and proctrack into DIR
#   bench_client_exe BINARY     the executable its processes run (the
#                               interpreter for a script)
#   bench_relay NAME RTT_MS PORT     relay to 127.0.0.1:PORT; sets
#                               RELAY_<NAME>_PORT/_PID/_LOG
#   bench_run BINARY CONF BASE RELAYLOG RELAYPID
#                               one traced run; files BASE.{pt,out,err},
#                               $BENCH_RC, $BENCH_STRAGGLERS; prints nothing
#   bench_run_cmd BASE RELAYLOG RELAYPID COMMAND...
#                               the same for any command (mbsync)
#   bench_mbsyncrc FILE PORT TUNNEL STATEDIR
#                               an mbsyncrc copying the remote (IMAPS
#                               through the relay on PORT) to the local
#                               tunnel's empty store, state in STATEDIR
#   bench_rc_verdict            "ok", or what its exit status says
#   bench_row BASE EXE RELAYLOG RELAYPID
#                               the TSV fields of that run (report.py row);
#                               with $BENCH_SRV set, also the memory at
#                               one instant, that server's CPU and the
#                               number of CPUs (report.py FIELDS_ALL)
#   bench_server_idle NAME      wait until network server NAME has no
#                               session left (imap, imap-login)
#   bench_server_cpu_ms NAME    CPU time network server NAME has used so
#                               far: its master and every descendant,
#                               live or reaped
#   bench_snapshot NAME DIR / bench_restore NAME DIR
#                               copy a server's home out and back
#   bench_wipe NAME             empty a server's home
#
# With BENCH_SRV=NAME (a network server of common.sh), bench_run_cmd
# also measures the CPU that server spends on the run: from just before
# the client starts until the server has no session left after it
# ($BENCH_SRV_CPU, in ms).

BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_PY=/usr/bin/python3

bench_log()
{
	printf '# %s\n' "$*" >&2
}

bench_tools()
{
	local dir=$1 f

	mkdir -p "$dir" || return 1
	for f in relay proctrack; do
		if [ ! -x "$dir/$f" ] ||
		    [ "$BENCH_LIB/../$f.c" -nt "$dir/$f" ]; then
			cc -O2 -Wall -Wextra -Werror -o "$dir/$f" \
			    "$BENCH_LIB/../$f.c" || return 1
		fi
	done
}

bench_client_exe()
{
	local bin=$1 line interp

	bin=$(readlink -f "$bin") || return 1
	IFS= read -r line <"$bin" || true
	if [[ $line == '#!'* ]]; then
		read -r interp line <<<"${line#'#!'}"
		if [ "$(basename "$interp")" = env ]; then
			interp=$(command -v "${line%% *}") || return 1
		fi
		readlink -f "$interp"
		return
	fi
	echo "$bin"
}

bench_relay()
{
	local name=$1 rtt=$2 port=$3 dir log pid line='' i

	dir=$T/relay-$name
	mkdir -p "$dir"
	log=$dir/conns.log
	: >"$log"
	# Half the round trip each way, in microseconds.
	"$BENCH_BIN/relay" -d "$(awk -v r="$rtt" 'BEGIN { printf "%d", r * 500 }')" \
	    -s "$log" 0 "$port" >"$dir/stdout" 2>"$dir/stderr" &
	pid=$!
	t_track_pid "$pid"
	for ((i = 0; i < 100; i++)); do
		[ -s "$dir/stdout" ] && read -r _ line <"$dir/stdout"
		[ -n "$line" ] && break
		sleep 0.05
	done
	if [ -z "$line" ]; then
		echo "bench_relay: relay did not start" >&2
		cat "$dir/stderr" >&2
		return 1
	fi
	declare -g "RELAY_${name}_PORT=$line" "RELAY_${name}_PID=$pid" \
	    "RELAY_${name}_LOG=$log"
}

# CPU time (ms) a process has used so far.
bench_proc_cpu_ms()
{
	local stat tick f

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) }
	tick=$(getconf CLK_TCK)
	read -r -a f <<<"$stat"
	# Fields 14 and 15 of stat, counted from after "comm)".
	echo $(((f[11] + f[12]) * 1000 / tick))
}

bench_run()
{
	bench_run_cmd "$3" "$4" "$5" "$1" --config="$2"
}

bench_run_cmd()
{
	local base=$1 rlog=$2 rpid=$3 i n0 last exe srv0=

	shift 3
	# The client's processes, for proctrack's memory samples: the
	# same rule as report.py's.
	exe=$(bench_client_exe "$1") || exe=
	BENCH_RLINES0=$(wc -l <"$rlog")
	BENCH_RCPU0=$(bench_proc_cpu_ms "$rpid")
	BENCH_SRV_CPU=
	# Whatever an earlier step left dirty is written out now, not
	# during the measurement.
	sync
	[ -n "${BENCH_SRV:-}" ] && srv0=$(bench_server_cpu_ms "$BENCH_SRV")
	timeout -k 5 "${T_TIMEOUT:-300}" "$BENCH_BIN/proctrack" -o "$base.pt" \
	    ${exe:+-e "$exe"} -- "$@" </dev/null >"$base.out" 2>"$base.err"
	BENCH_RC=$?
	# Processes that outlived the client by 10 s (proctrack killed them).
	BENCH_STRAGGLERS=$(grep -c '^straggler' "$base.pt" 2>/dev/null)
	: "${BENCH_STRAGGLERS:=0}"
	# The relay logs the connection once both ends have closed it.
	n0=$BENCH_RLINES0
	for ((i = 0; i < 100; i++)); do
		last=$(tail -n 1 "$rlog")
		if [ "$(wc -l <"$rlog")" -gt "$n0" ] &&
		    [[ $last == *" active 0" ]]; then
			break
		fi
		sleep 0.05
	done
	# The server's share ends when its last session of the run has.
	if [ -n "$srv0" ] && bench_server_idle "$BENCH_SRV"; then
		BENCH_SRV_CPU=$(($(bench_server_cpu_ms "$BENCH_SRV") - srv0))
	fi
	return 0
}

# mbsync 1.4 checks the certificate's DNS names only (not its IP address):
# it connects to "localhost", which the certificate names, and the relay
# listens on 127.0.0.1 (mbsync tries each address of the name).
bench_mbsyncrc()
{
	local file=$1 port=$2 tunnel=$3 state=$4

	mkdir -p "$state" || return 1
	cat >"$file" <<EOF
IMAPAccount remote
Host localhost
Port $port
User $DOVECOT_REMOTE_USER
Pass $DOVECOT_REMOTE_PASS
SSLType IMAPS
CertificateFile $DOVECOT_REMOTE_CERT

IMAPStore remote
Account remote

IMAPAccount local
Tunnel "$tunnel"

IMAPStore local
Account local

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
CopyArrivalDate yes
SyncState $state/
EOF
}

# What went wrong with the run's exit status, or "ok".
bench_rc_verdict()
{
	case $BENCH_RC in
	0)	echo ok ;;
	124)	echo "timed out after ${T_TIMEOUT:-300} s" ;;
	*)	echo "exit status $BENCH_RC" ;;
	esac
}

bench_row()
{
	local base=$1 exe=$2 rlog=$3 rpid=$4

	"$BENCH_PY" "$BENCH_LIB/report.py" row "$base.pt" "$base.err" "$exe" \
	    "$rlog" "$BENCH_RLINES0" "$BENCH_RCPU0" \
	    "$(bench_proc_cpu_ms "$rpid")" \
	    ${BENCH_SRV:+"${BENCH_SRV_CPU:-}" "$(nproc)"}
}

bench_server_cpu_ms()
{
	local dir base master

	dir=$(cd "$T/$1" && pwd -P) || return 1
	base=$(cat "$dir/base_dir" 2>/dev/null) || return 1
	master=$(cat "$base/master.pid" 2>/dev/null) || return 1
	# utime + stime + cutime + cstime (fields 14-17) of the master and
	# its descendants: a session that has ended is in its parent's
	# cutime/cstime once reaped (bench_server_idle waits for that),
	# one still running in its own utime/stime.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$master" \
	    -v tick="$(getconf CLK_TCK)" '
	{
		pid = $1
		sub(/^.*\) /, "")
		parent[pid] = $2
		t[pid] = $12 + $13 + $14 + $15
	}
	END {
		for (pid in t) {
			for (p = pid; p != "" && p != root && p > 1; p = parent[p])
				;
			if (p == root)
				sum += t[pid]
		}
		printf "%d\n", sum * 1000 / tick
	}'
}

bench_server_idle()
{
	local name=$1 dir base master pid comm i busy

	dir=$(cd "$T/$name" && pwd -P) || return 1
	base=$(cat "$dir/base_dir" 2>/dev/null) || return 0
	master=$(cat "$base/master.pid" 2>/dev/null) || return 0
	for ((i = 0; i < 200; i++)); do
		busy=
		for pid in $(pgrep -P "$master"); do
			comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
			case $comm in
			imap|imap-login) busy=1 ;;
			esac
		done
		[ -z "$busy" ] && return 0
		sleep 0.05
	done
	echo "bench_server_idle: $name still has sessions" >&2
	return 1
}

bench_snapshot()
{
	local name=$1 snap=$2

	rm -rf "$snap"
	cp -a "$T/$name/home/." "$snap/"
}

bench_restore()
{
	local name=$1 snap=$2

	bench_wipe "$name"
	cp -a "$snap/." "$T/$name/home/"
}

bench_wipe()
{
	find "$T/$1/home" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
}
