# shellcheck shell=bash
# Variables set here for the tests to read (HELD_PID, HELD_RC...):
# shellcheck disable=SC2034
#
# Runs that stay up while a test looks at them and signals them
# (priv_signals.sh, priv_reconnect.sh).  Source after common.sh and
# t_setup.
#
#   start_held ARGS...      our binary with INTERIMAP_TEST_HOLD=1 in the
#                           background (the configuration in $CONF), its
#                           stdin a FIFO held open, stderr in $HELD_ERR;
#                           returns once its three children are confined
#                           (HELD_PID)
#   stop_held               close the FIFO (the run may end), wait: HELD_RC
#   wait_held               wait for a run that ends by itself: HELD_RC
#   wait_for FILE REGEX [N] until FILE has N (default 1) lines matching
#                           REGEX (grep -E); non-zero after 60 s, or
#                           once process $WAIT_PID (if set) has ended
#   wait_for_file FILE      until FILE exists; non-zero after 60 s
#   expect_line FILE LINE WHAT   FILE has LINE once, as a whole line
#   children_of PID         the interimap children of PID, sorted
#   child_titled PID TITLE  the child of PID whose title is TITLE
#   title_of PID            "interimap: net(remote)"
#   fd_count PID            how many descriptors PID has open
#   sig_caught PID N / sig_ignored PID N
#                           is signal N in SigCgt / SigIgn of PID?
#   zombies_of PID          children of PID that are zombies

# How long wait_for and the waits for a run's end may take: a bound for a
# hang, never a measure of speed.
HELD_WAIT=60

start_held()
{
	local i n kids k ok

	HELD_ERR=$T/held.$RANDOM.err
	rm -f "$T/hold.fifo"
	mkfifo "$T/hold.fifo" || return 1
	INTERIMAP_TEST_HOLD=1 "$INTERIMAP" --config="$CONF" "$@" \
	    <"$T/hold.fifo" 2>"$HELD_ERR" &
	HELD_PID=$!
	t_track_pid "$HELD_PID"
	exec 7>"$T/hold.fifo"
	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		kids=$(children_of "$HELD_PID")
		n=$(printf '%s' "$kids" | grep -c .)
		if [ "$n" -eq 3 ]; then
			ok=1
			for k in $kids; do
				[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' \
				    "/proc/$k/status" 2>/dev/null)" = 2 ] ||
				    ok=0
			done
			[ "$ok" = 1 ] && return 0
		fi
		kill -0 "$HELD_PID" 2>/dev/null || break
		sleep 0.05
	done
	t_log "start_held: children not ready: $(cat "$HELD_ERR")"
	return 1
}

stop_held()
{
	exec 7>&-
	_held_wait
}

wait_held()
{
	local i

	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		kill -0 "$HELD_PID" 2>/dev/null || break
		sleep 0.05
	done
	exec 7>&-
	_held_wait
}

_held_wait()
{
	local i

	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		kill -0 "$HELD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$HELD_PID" 2>/dev/null; then
		t_log "held run $HELD_PID still there after ${HELD_WAIT}s:" \
		    "killed"
		kill -KILL "$HELD_PID"
	fi
	wait "$HELD_PID"
	HELD_RC=$?
}

wait_for()
{
	local file=$1 re=$2 want=${3:-1} i

	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		[ "$(grep -cE -- "$re" "$file" 2>/dev/null)" -ge "$want" ] &&
		    return 0
		# Its writer has ended: it will not come.
		if [ -n "${WAIT_PID:-}" ] && ! _t_alive "$WAIT_PID"; then
			[ "$(grep -cE -- "$re" "$file" 2>/dev/null)" -ge \
			    "$want" ] && return 0
			t_log "wait_for: /$re/ not in ${file##*/}, and" \
			    "$WAIT_PID has ended"
			return 1
		fi
		sleep 0.05
	done
	t_log "wait_for: $want x /$re/ not in ${file##*/} after ${HELD_WAIT}s"
	return 1
}

wait_for_file()
{
	local i

	for ((i = 0; i < HELD_WAIT * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	t_log "wait_for_file: no ${1#"$T"/} after ${HELD_WAIT}s"
	return 1
}

# FILE has LINE exactly once, as a whole line.
expect_line()
{
	t_expect_eq "$(grep -cFx -- "$2" "$1")" 1 "$3"
}

children_of()
{
	pgrep -x -P "$1" interimap | sort -n
}

title_of()
{
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1
}

child_titled()
{
	local k

	for k in $(children_of "$1"); do
		if [ "$(title_of "$k")" = "$2" ]; then
			echo "$k"
			return 0
		fi
	done
	return 1
}

fd_count()
{
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

_sig_in()
{
	local mask

	mask=$(sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null)
	[ -n "$mask" ] && (( (0x$mask >> ($3 - 1)) & 1 ))
}

sig_caught() { _sig_in "$1" SigCgt "$2"; }
sig_ignored() { _sig_in "$1" SigIgn "$2"; }

zombies_of()
{
	local p

	for p in $(pgrep -P "$1"); do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] &&
		    echo "$p"
	done
	return 0
}
