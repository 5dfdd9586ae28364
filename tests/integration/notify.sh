#!/bin/bash
#
# --notify: a change on either server reaches the other while the run
# waits, pushed by the server (NOTIFY, RFC 5465), not found by a timer:
# the interval here is an hour, so only an event can start a pass.
#
#  - Dovecot on both sides: new messages in INBOX and in another mailbox,
#    a flag change and an expunge, each way; a mailbox created while
#    running is created on the other side; one renamed away ends the run
#    with the reference's refusal;
#  - Cyrus IMAP as remote (no NOTIFY): said once in the log, IDLE on
#    INBOX brings INBOX's changes, the interval the rest.
#
# Waiting is bounded (a change that never comes fails), never measured:
# the reaction time is measured by bench/, not here.  In the @condstore
# variant both remotes hide QRESYNC: expunges come as "* n EXPUNGE".
#
# ctest-variants: condstore plain

source "$SRCDIR/tests/lib/common.sh"
t_setup

# NOTIFY-NOTES.md: with LAYOUT=index, Dovecot reports no RENAME.
export DOVECOT_MAIL_LOCATION="sdbox:~/Mail"

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(DOVECOT_EXTRA_CONF=$(method_conf dovecot) dovecot_tunnel remote .) ||
    { t_fail "dovecot_tunnel remote"; t_done; }
tunnel_config "$T/notify.conf" "$T/sync.db" "$tl" "$tr"

mkdir -p "$T/msgs"
n=0
newmsg()
{
	n=$((n + 1))
	printf 'From: a@example.org\r\nSubject: m%d\r\nMessage-ID: <m%d@n>\r\n\r\nbody %d\r\n' \
	    "$n" "$n" "$n" >"$T/msgs/m$n.eml"
	MSG=$T/msgs/m$n.eml
}

# until_ok SECONDS CMD...
until_ok()
{
	local left=$(($1 * 10))

	shift
	while [ "$left" -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		left=$((left - 1))
	done
	return 1
}

same()
{
	[ "$(mail_dump local "$1")" = "$(mail_dump remote "$2")" ]
}

check_same()
{
	if until_ok 60 same "$1" "$2"; then
		t_pass "$3"
	else
		t_fail "$3"
		diff <(mail_dump local "$1") <(mail_dump remote "$2") |
		    sed 's/^/#   /'
	fi
}

newmsg
mail_add local INBOX "$MSG" '\Seen'
mailbox_create remote Lists
newmsg
mail_add remote Lists "$MSG"
run_ours --config="$T/notify.conf"
t_expect_eq "$OURS_RC" 0 "first sync"

# --debug for priv's "engine: idle" line: the first pass is over and
# both servers' events are armed before any change is made.
"$INTERIMAP" --config="$T/notify.conf" --notify --watch=3600 --debug \
    >"$T/notify.out" 2>"$T/notify.err" &
WPID=$!
t_track_pid "$WPID"
if until_ok 60 grep -q '^engine: idle' "$T/notify.err"; then
	t_pass "the first pass, then waiting for events"
else
	t_fail "the first pass, then waiting for events"
fi

newmsg
mail_add local INBOX "$MSG"
check_same INBOX INBOX "a new local message in INBOX pushed to the remote"
newmsg
mail_add remote INBOX "$MSG"
check_same INBOX INBOX "a new remote message in INBOX pushed to the local"
newmsg
mail_add remote Lists "$MSG"
check_same Lists Lists "a new message in another mailbox"
mail_store local Lists 1 + '\Flagged'
check_same Lists Lists "a flag change"
mail_expunge remote INBOX 1
if until_ok 60 test "$(mail_dump local INBOX | wc -l)" -eq 2; then :; fi
check_same INBOX INBOX "an expunge"
t_expect_eq "$(mail_dump local INBOX | wc -l)" 2 "two messages left in INBOX"

mailbox_create local Projects
newmsg
mail_add local Projects "$MSG"
projects_there()
{
	[ "$(mail_dump remote Projects 2>/dev/null | wc -l)" -eq 1 ]
}
if until_ok 60 projects_there; then
	t_pass "a mailbox created while running: created and synchronised"
else
	t_fail "a mailbox created while running: created and synchronised"
fi
if kill -0 "$WPID" 2>/dev/null; then
	t_pass "the run goes on"
else
	t_fail "the run goes on"
fi

# Renamed on one side: for a known mailbox, the reference's refusal.
mailbox_rename remote Projects Attic
if until_ok 60 bash -c "! kill -0 $WPID 2>/dev/null"; then
	t_pass "a mailbox renamed while running is noticed"
else
	t_fail "a mailbox renamed while running is noticed"
	kill -TERM "$WPID" 2>/dev/null
fi
wait "$WPID"
t_expect_eq "$?" 1 "and ends the run with exit 1"
t_expect_match "$(cat "$T/notify.err")" \
    "database: ERROR: Mailbox Projects exists\\. Run \`interimap --target=database --delete Projects\` to delete\\." \
    "with the reference's refusal"
t_expect_eq "$(grep -c ' WARNING' "$T/notify.err")" 0 "no warning"
t_expect_eq "$(ours_pids)" "" "no process left"

# ---- Cyrus as remote: no NOTIFY, IDLE on INBOX ----------------------------

# Without idled, Cyrus looks for changes to report in IDLE every
# imapidlepoll seconds (60 by default).
export CYRUS_EXTRA_CONF="imapidlepoll: 1"
CYRUS_EXTRA_CONF="$CYRUS_EXTRA_CONF"$'\n'$(method_conf cyrus) \
    cyrus_server cyr / || { t_fail "cyrus_server"; t_done; }
cport=$(server_var cyr IMAPS_PORT)
ccert=$(server_var cyr CERT)
write_config "$T/cyrus.conf" <<EOF
database = $T/cyrus.db

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = 127.0.0.1
port = $cport
username = user
password = pass
SSL_CAfile = $ccert
EOF
mailbox_create local Cyr
newmsg
mail_add local Cyr "$MSG"
run_ours --config="$T/cyrus.conf"
t_expect_eq "$OURS_RC" 0 "first sync with Cyrus as remote"

# An hour's interval: only IDLE (remote) and NOTIFY (local) can bring
# changes.
"$INTERIMAP" --config="$T/cyrus.conf" --notify --watch=3600 --debug \
    >"$T/cyrus.out" 2>"$T/cyrus.err" &
WPID=$!
t_track_pid "$WPID"
until_ok 60 grep -q '^engine: idle' "$T/cyrus.err" || true
t_expect_match "$(cat "$T/cyrus.err")" \
    "remote: The server has no NOTIFY \\(RFC 5465\\): waiting with IDLE on INBOX, and listing every 1500 s" \
    "no NOTIFY on Cyrus: said once (the wait at most 25 minutes)"
t_expect_eq "$(grep -c 'has no NOTIFY' "$T/cyrus.err")" 1 "only once"
# net(remote) writes its IDLE after the engine says it is idle: another
# process, so a moment later (CI once read the log in between).  Behind
# a SELECT that net completes with commands of its own (CONDSTORE, plain)
# it waits for the SELECT's answers, and the log names the mailbox.
until_ok 30 grep -qE '^remote(\(INBOX\))?: C: [0-9]+ IDLE$' "$T/cyrus.err" ||
    true
t_expect_match "$(cat "$T/cyrus.err")" \
    $'(^|\n)remote(\\(INBOX\\))?: C: [0-9]+ IDLE(\n|$)' "IDLE sent to Cyrus"

cyr_same()
{
	[ "$(mail_dump local "$1")" = "$(mail_dump cyr "$1")" ]
}
newmsg
mail_add cyr INBOX "$MSG"
if until_ok 60 cyr_same INBOX; then
	t_pass "Cyrus INBOX: a new message comes through IDLE"
else
	t_fail "Cyrus INBOX: a new message comes through IDLE"
fi
newmsg
mail_add local INBOX "$MSG"
if until_ok 60 cyr_same INBOX; then
	t_pass "a local change reaches Cyrus (NOTIFY on the local side)"
else
	t_fail "a local change reaches Cyrus (NOTIFY on the local side)"
fi
kill -TERM "$WPID"
wait "$WPID"
t_expect_eq "$?" 0 "SIGTERM ends it with 0"
t_expect_eq "$(grep -c ' ERROR\| WARNING\|^ERROR\|^WARNING' "$T/cyrus.err")" 0 \
    "no error or warning"

# A short interval: Cyrus's other mailboxes are found by the listing.
"$INTERIMAP" --config="$T/cyrus.conf" --notify --watch=3 \
    >"$T/cyrus2.out" 2>"$T/cyrus2.err" &
WPID=$!
t_track_pid "$WPID"
newmsg
mail_add cyr Cyr "$MSG"
if until_ok 60 cyr_same Cyr; then
	t_pass "Cyrus, another mailbox: found by the listing at the interval"
else
	t_fail "Cyrus, another mailbox: found by the listing at the interval"
fi
kill -TERM "$WPID"
wait "$WPID"
t_expect_eq "$?" 0 "SIGTERM ends it with 0"

t_done
