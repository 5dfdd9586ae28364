#!/bin/bash
#
# What Dovecot's [HIGHESTMODSEQ] covers while another client changes the
# mailbox (tests/lib/hmsprobe.py), against a real Dovecot.  The engine
# takes the code of a QRESYNC SELECT as "every change up to here was
# reported to us" and stores it; this checks that it is so, with a
# writer changing a message every 0-3 ms: no SELECT's code may cover a
# change the SELECT did not report.  If this fails after a Dovecot
# upgrade, the engine's rule in netc_state.c (netc_code()) needs a look.
#
# The codes of APPEND, NOOP and STORE do cover such changes now and then
# (about one in a hundred here): the engine takes them as the live value
# only.  Their counts are printed, not judged: a race may not show in a
# given run.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tunnel=$(dovecot_tunnel srv) || { t_fail "dovecot_tunnel"; t_done; }

ROUNDS=${HMS_PROBE_ROUNDS:-400}
out=$(/usr/bin/python3 "$SRCDIR/tests/lib/hmsprobe.py" "$tunnel" "$ROUNDS" 2>&1)
printf '%s\n' "$out" >"$T/probe.out"
sed 's/^/# /' "$T/probe.out"

sel=$(grep '^select: ' "$T/probe.out")
if [[ $sel =~ ^select:\ ([0-9]+)\ rounds,\ ([0-9]+)\ with\ a\ code,\ ([0-9]+)\ uncovered,\ ([0-9]+)\ changes ]]; then
	t_expect_eq "${BASH_REMATCH[2]}" "$ROUNDS" \
	    "every QRESYNC SELECT gives a [HIGHESTMODSEQ]"
	t_expect_eq "${BASH_REMATCH[3]}" 0 \
	    "no SELECT's [HIGHESTMODSEQ] covers a change it did not report"
	# A check that means something: the writer was at work throughout.
	t_expect_match "${BASH_REMATCH[4]}" '^([2-9][0-9][0-9]|[0-9]{4,})$' \
	    "the writer made 200 changes or more meanwhile"
else
	t_fail "the probe did not report on SELECT: $sel"
fi
for kind in append noop store; do
	t_has "$out" "$kind: $ROUNDS rounds, .*" "the $kind rounds ran"
done

t_done
