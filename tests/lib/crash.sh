# tests/lib/crash.sh: what the crash-resume tests share (crash_resume.sh
# against two Dovecots, crash_resume_cyrus.sh with a Cyrus).  The test
# defines
#	crash_busy	prints something while processes of the interrupted
#			run (ours, the servers' sessions) remain
#	state SIDE	what SIDE holds, as compared with the expectation
# and keeps its configuration in $T/crash.conf.

# crash_msg NAME KIB: a message file of about KIB KiB (so that batches
# also end on the 1 MiB bound), named by NAME in its subject and
# Message-ID; prints its path.
crash_msg()
{
	local f=$T/msgs/$1.eml

	mkdir -p "$T/msgs"
	{
		printf 'From: crash test <crash@example.org>\r\n'
		printf 'Subject: message %s\r\n' "$1"
		printf 'Message-ID: <%s@crash.example.org>\r\n\r\n' "$1"
		printf 'Body of %s.\r\n' "$1"
		head -c $((($2 + 0) * 1024)) /dev/zero | tr '\0' 'x'
		printf '\r\n'
	} >"$f"
	echo "$f"
}

# Waits (10 s at most) until the interrupted run's processes are gone, as
# they would be after a real crash.
crash_settle()
{
	local i

	for ((i = 0; i < 100; i++)); do
		[ -z "$(crash_busy)" ] && return 0
		sleep 0.1
	done
	t_log "processes of the interrupted run still there after 10 s"
}

# crash_check_after WHAT EXPECT: after an interruption, run again until
# it succeeds (at most 3), without a "No match for" warning; then both
# sides must hold EXPECT and a further run must be silent.
crash_check_after()
{
	local what=$1 expect=$2 n rcs=""

	cp "$T/ours.err" "$T/killed.log" 2>/dev/null
	rm -f "$T"/rerun*.log
	crash_settle
	for n in 1 2 3; do
		run_ours --config="$T/crash.conf"
		cp "$T/ours.err" "$T/rerun$n.log"
		rcs="$rcs $OURS_RC"
		[ "$OURS_RC" -eq 0 ] && break
	done
	if [ "$OURS_RC" -ne 0 ]; then
		t_fail "$what: rerun exits 0 (got$rcs)"
		sed 's/^/#   /' "$T/ours.err" | head -20
		return
	fi
	# What a run cut short wrote must match what the servers say next:
	# an expunge it made is reported again, and finds its mapping row.
	if grep -h 'No match for' "$T"/rerun*.log >"$T/nomatch.log"; then
		t_fail "$what: no \"No match\" warning when resuming"
		sed 's/^/#   /' "$T/nomatch.log" | head -5
		return
	fi
	local l r
	l=$(state local)
	r=$(state remote)
	if [ "$l" != "$expect" ] || [ "$r" != "$expect" ]; then
		t_fail "$what: state after resuming"
		diff <(printf '%s\n' "$expect") <(printf '%s\n' "$l") |
		    head -10 | sed 's/^/#   local: /'
		diff <(printf '%s\n' "$expect") <(printf '%s\n' "$r") |
		    head -10 | sed 's/^/#   remote: /'
		echo "#   the interrupted run said:"
		sed 's/^/#     /' "$T/killed.log" | head -20
		for f in "$T"/rerun*.log; do
			echo "#   ${f##*/}:"
			sed 's/^/#     /' "$f" | head -20
		done
		return
	fi
	run_ours -q --config="$T/crash.conf"
	if [ "$OURS_RC" -ne 0 ] || [ -s "$T/ours.err" ]; then
		t_fail "$what: the run after is clean"
		sed 's/^/#   /' "$T/ours.err" | head -10
		return
	fi
	t_pass "$what"
}
