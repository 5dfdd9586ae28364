#!/bin/bash
#
# The service mode over many cycles: one `--watch=3600 --debug` run taken
# through $SOAK_CYCLES watch cycles (default 1000; fewer, down to 200, only
# for a quick try, and the output says so), each with
# changes on both sides, proves it can run for months:
#  - every cycle: a new message on the local server and one on the remote
#    server (its own Subject and Message-ID), every fifth cycle a flag set
#    or cleared on an older message of one side (the sides alternate);
#    then SIGHUP to priv, which has the engine synchronise at once, and
#    the cycle is over when priv logs the next "engine: idle," (--debug);
#    tests/lib/soakdrive.py does it all through one IMAP connection per
#    server.  A cycle that does not end within 60 s fails the test (a
#    bound for a hang; no time is asserted);
#  - after the initial pass and every 100 cycles, each process's VmRSS
#    and open descriptors (priv and its three children, the same pids
#    throughout: nothing restarted).  After the first 100 cycles (the
#    warm-up: priv's SQLite keeps its rollback journal open from the
#    first write on, one descriptor more than at cycle 0): every
#    process's descriptor count stays exactly what it was, and its RSS at
#    the end is at most 512 kB above what it was at cycle 100.  (priv's
#    RSS follows the database's size, its page cache: about 100 kB more
#    over 1000 cycles, 500 kB over 5000; the table shows both);
#  - no ERROR or WARNING in the log, one pass per cycle, SIGTERM ends the
#    run with 0, no zombie, nothing left running;
#  - both servers' INBOX hold the same messages with the same flags:
#    2 x cycles + the initial ones, the flags the driver set.
# The figures go to the test's output ("# " lines) and to $T/soak.txt.

source "$SRCDIR/tests/lib/common.sh"
t_setup
source "$SRCDIR/tests/lib/held.sh"

CYCLES=${SOAK_CYCLES:-1000}
EVERY=100
RSS_SLACK=512

if ! [[ $CYCLES =~ ^[0-9]+$ ]] || [ "$CYCLES" -lt 200 ]; then
	t_fail "SOAK_CYCLES must be a number of at least 200 ('$CYCLES')"
	t_done
fi
[ "$CYCLES" -ge 1000 ] ||
    t_log "SOAK_CYCLES=$CYCLES: fewer than the 1000 cycles of the proof"

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
CONF=$T/soak.conf
tunnel_config "$CONF" "$T/sync.db" "$tl" "$tr"

# One message on each side before the run.
mkdir -p "$T/msgs"
for side in local remote; do
	printf 'From: soak <soak@example.org>\r\nSubject: %s\r\nMessage-ID: <%s@soak.example.org>\r\n\r\nbefore the run\r\n' \
	    "initial-$side" "initial-$side" >"$T/msgs/$side.eml"
	mail_add "$side" INBOX "$T/msgs/$side.eml" '\Seen' || t_done
done
INITIAL=2
# The database first: --watch does not create one (as the reference).
run_ours --config="$CONF"
t_expect_eq "$OURS_RC" 0 "the initial sync (one-shot) creates the database"

# ---- the run ------------------------------------------------------------

ERR=$T/soak.err
start=$SECONDS
"$INTERIMAP" --config="$CONF" --watch=3600 --debug </dev/null \
    >"$T/soak.out" 2>"$ERR" &
PID=$!
t_track_pid "$PID"

/usr/bin/python3 "$T_LIBDIR/soakdrive.py" --local "$(_t_endpoint local)" \
    --remote "$(_t_endpoint remote)" --pid "$PID" --log "$ERR" \
    --cycles "$CYCLES" --every "$EVERY" --bound 60 \
    --samples "$T/samples" --flags "$T/flags" --changes "$T/changes" \
    --db "$T/sync.db" \
    >"$T/drive.out" 2>&1
DRIVE_RC=$?
touch "$T/samples" "$T/samples.db" "$T/flags"
sed "s/^\(# \)\?/# /" "$T/drive.out"
t_expect_eq "$DRIVE_RC" 0 "$CYCLES cycles, each ended by a pass within 60 s"

zombies=$(zombies_of "$PID")
kill -TERM "$PID" 2>/dev/null
for ((i = 0; i < HELD_WAIT * 20; i++)); do
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$PID" 2>/dev/null && { t_log "still running: killed"; kill -KILL "$PID"; }
wait "$PID"
RC=$?
t_log "the run took $((SECONDS - start)) s"

# ---- the figures --------------------------------------------------------

roles=(priv engine "net(local)" "net(remote)")
{
	printf '%-6s' cycle
	for r in "${roles[@]}"; do
		printf '  %-20s' "$r RSS kB/fds"
	done
	printf '  %s\n' "sync.db kB"
	for c in $(awk '{print $1}' "$T/samples" | uniq); do
		printf '%-6s' "$c"
		for r in "${roles[@]}"; do
			printf '  %-20s' "$(awk -v c="$c" -v r="$r" \
			    '$1 == c && $2 == r { print $4 " / " $5 }' \
			    "$T/samples")"
		done
		printf '  %s\n' "$(awk -v c="$c" '$1 == c { print $2 }' \
		    "$T/samples.db")"
	done
	echo "pids: $(awk '$1 == 0 { printf "%s %s  ", $2, $3 }' "$T/samples")"
} >"$T/soak.txt"
while IFS= read -r line; do
	t_log "$line"
done <"$T/soak.txt"

# ---- the assertions -----------------------------------------------------

last=$(tail -n 1 "$T/samples" | awk '{print $1}')
t_expect_eq "$last" "$CYCLES" "samples up to the last cycle"
t_expect_eq "$(awk '{print $1}' "$T/samples" | uniq | wc -l)" \
    $((CYCLES / EVERY + 1 + (CYCLES % EVERY != 0))) \
    "a sample after the initial pass and every $EVERY cycles"
for r in "${roles[@]}"; do
	t_expect_eq "$(awk -v r="$r" '$2 == r { print $3 }' "$T/samples" |
	    sort -u | wc -l)" 1 "$r: the same process throughout"
	fds=$(awk -v r="$r" -v w="$EVERY" '$2 == r && $1 >= w { print $5 }' \
	    "$T/samples" | sort -u | tr '\n' ' ')
	t_expect_eq "$fds" "$(awk -v r="$r" -v w="$EVERY" \
	    '$2 == r && $1 == w { print $5 " " }' "$T/samples")" \
	    "$r: descriptors from cycle $EVERY to $CYCLES unchanged"
	read -r warm end < <(awk -v r="$r" -v w="$EVERY" -v e="$CYCLES" \
	    '$2 == r && $1 == w { a = $4 } $2 == r && $1 == e { b = $4 }
	    END { print a, b }' "$T/samples")
	if [ -n "$warm" ] && [ -n "$end" ] &&
	    [ "$end" -le $((warm + RSS_SLACK)) ]; then
		t_pass "$r: RSS $end kB at cycle $CYCLES, $warm kB at cycle $EVERY (at most +$RSS_SLACK)"
	else
		t_fail "$r: RSS ${end:-?} kB at cycle $CYCLES, ${warm:-?} kB at cycle $EVERY (at most +$RSS_SLACK)"
	fi
done

t_expect_eq "$RC" 0 "SIGTERM: exit 0"
t_expect_eq "$zombies" "" "no zombie before the end"
t_expect_eq "$(ours_pids)" "" "nothing of ours left running"
t_expect_eq "$(grep -c 'ERROR\|WARNING' "$ERR")" 0 \
    "no error or warning in the log"
grep 'ERROR\|WARNING' "$ERR" | head -n 10 | sed 's/^/#   /'
t_expect_eq "$(grep -c '^engine: idle,' "$ERR")" $((CYCLES + 1)) \
    "one pass per cycle, and the initial one"
t_expect_eq "$(grep -c 'connection lost\|reconnecting' "$ERR")" 0 \
    "no connection lost"
# Each cycle's pass (from one "engine: idle," to the next) copied that
# cycle's two messages, no more, no fewer: no pass lagged behind.
t_expect_eq "$(awk '
	/^engine: idle,/ { if (n++ && !(l == 1 && r == 1)) bad++; l = r = 0 }
	/^local\(INBOX\): Added 1 UID\(s\) / { l++ }
	/^remote\(INBOX\): Added 1 UID\(s\) / { r++ }
	END { print n - 1, bad + 0 }' "$ERR")" "$CYCLES 0" \
    "each cycle's pass copied its new message each way (passes, passes that did not)"
t_expect_eq "$(grep -c '^\(local\|remote\)(INBOX): Updated flags ' "$ERR")" \
    "$(cat "$T/changes" 2>/dev/null)" "every flag change copied once"

dl=$(mail_dump local INBOX)
dr=$(mail_dump remote INBOX)
t_expect_eq "$(printf '%s\n' "$dl" | grep -c .)" $((2 * CYCLES + INITIAL)) \
    "local INBOX: 2 x $CYCLES + $INITIAL messages"
t_expect_eq "$dr" "$dl" "both servers' INBOX agree, flags too"
# The driver's messages and the initial (\Seen) ones.
want=$( { cat "$T/flags"; echo "$INITIAL \\Seen"; } |
    awk '{ n[$2] += $1 } END { for (f in n) print n[f], f }' | sort -k2)
t_expect_eq "$(printf '%s\n' "$dr" | awk '{ print $2 }' | sort | uniq -c |
    awk '{ print $1, $2 }' | sort -k2)" "$want" \
    "the flags are those the driver set"

t_done
