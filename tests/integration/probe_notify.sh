#!/bin/bash
#
# Dovecot's NOTIFY as interimap's notify mode meets it (the facts of
# tests/lib/NOTIFY-NOTES.md), against a real Dovecot: what is pushed
# without a command, what stops the pushing (a second NOTIFY SET, INBOX
# having been selected with the SELECTED group), what repairs it (NOTIFY
# NONE then NOTIFY SET), the change lost at UNSELECT, the FETCH that the
# SELECTED group's absence suppresses, the 100-name limit.  If one of these
# fails after a Dovecot upgrade, the notes and the notify mode need a look.
#
# sdbox with the default (fs) layout: with common.sh's LAYOUT=index,
# RENAME and SUBSCRIBE are never notified (see the notes).

source "$SRCDIR/tests/lib/common.sh"
t_setup

export DOVECOT_MAIL_LOCATION="sdbox:~/Mail"
tunnel=$(dovecot_tunnel srv) || { t_fail "dovecot_tunnel"; t_done; }

out=$(/usr/bin/python3 "$SRCDIR/tests/lib/notifyprobe.py" "$tunnel" 2>&1)
printf '%s\n' "$out" >"$T/probe.out"
while IFS= read -r line; do
	case $line in
	"ok - "*)	t_pass "${line#ok - }" ;;
	"not ok - "*)	t_fail "${line#not ok - }" ;;
	*)		echo "$line" ;;
	esac
done <<<"$out"
grep -q '^ok - 100 names' "$T/probe.out" ||
    t_fail "the probe did not run to its end"

t_done
