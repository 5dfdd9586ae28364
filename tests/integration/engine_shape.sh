#!/bin/bash
#
# The engine's shape (HOUSE-STYLE "Event loops", issue 7): one poll loop
# at the top of the call graph and no handler that waits.  At run time
# eng_poll() refuses to be entered from a handler (engine/loop.c); this
# test reads the sources so that a new wait cannot even be written:
#  - poll(2) is called only in loop.c, eng_poll() only by the top loop
#    (run.c's sync_run) and by engine.c once the run is over;
#  - nothing in the engine blocks on a channel (ipc_get_sync,
#    ipc_flush_sync) but start-up and exit;
#  - no waiting helper of the old shape (netc_wait, dbc_call, *_wait_all);
#  - files stay a few hundred lines each (the test client aside).

source "$SRCDIR/tests/lib/common.sh"
t_setup

cd "$SRCDIR/engine"
files=$(ls ./*.c | grep -v '^./testclient\.c$')

# shellcheck disable=SC2086
callers=$(grep -n '\beng_poll(' $files | grep -v '^\./loop\.c:' |
    grep -v '^[^:]*:[0-9]*:[[:space:]]*\*' || true)
t_expect_eq "$(printf '%s\n' "$callers" | sed 's/:.*//' | sort | tr '\n' ' ')" \
    "./engine.c ./run.c " "eng_poll() called from the top loops only"
t_expect_eq "$(printf '%s\n' "$callers" | wc -l)" 2 \
    "eng_poll() called twice in all"
# shellcheck disable=SC2086
polls=$(grep -n '[^_a-z]poll(' $files | grep -v '^\./loop\.c:' |
    grep -v 'eng_poll(' | grep -v '^[^:]*:[0-9]*:[[:space:]]*\*' || true)
t_expect_eq "$polls" "" "poll(2) only in loop.c"
# shellcheck disable=SC2086
sync=$(grep -n 'ipc_get_sync\|ipc_flush_sync' $files |
    grep -v '^\./engine\.c:\|^\./loop\.c:' || true)
t_expect_eq "$sync" "" "blocking IPC only at start-up and exit"
# shellcheck disable=SC2086
waits=$(grep -n '\bnetc_wait\|\bdbc_call\|_wait_all(' $files ./*.h || true)
t_expect_eq "$waits" "" "no waiting helper"
for f in $files; do
	n=$(wc -l <"$f")
	if [ "$n" -le 800 ]; then
		t_pass "$f: $n lines"
	else
		t_fail "$f: $n lines, more than 800"
	fi
done

# The run-time guard really fires: a handler that waits is ended.
t_expect_match "$(grep -c 'nested poll' loop.c)" '^[1-9]' \
    "loop.c refuses a nested eng_poll()"

t_done
