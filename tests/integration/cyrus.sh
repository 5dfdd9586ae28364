#!/bin/bash
#
# Cyrus IMAP 3.6 as the remote server (tests/lib/common.sh: cyrus_server):
# what it advertises, the test helpers against it (LOGIN over TCP where a
# Dovecot has a tunnel), and both programs synchronising a tunnel Dovecot
# with it over IMAPS, with "/" (unixhierarchysep: yes) and "." (no) as
# hierarchy delimiter.  Facts: tests/lib/CYRUS-NOTES.md.

# Flags such as '$Label1' are meant literally:
# shellcheck disable=SC2016
source "$SRCDIR/tests/lib/common.sh"
t_setup

mkdir -p "$T/msgs"
for i in 1 2 3 4 5 6; do
	cat >"$T/msgs/$i.eml" <<EOF
From: Alice <alice@example.org>
To: Bob <bob@example.net>
Subject: cyrus message $i
Message-ID: <$i.cyrus@example.org>

Body of message $i.
EOF
done
# Raw UTF-8 in a header: Cyrus rewrites it to "X"s unless munge8bit: no.
{
	printf 'From: Chlo\xc3\xa9 <chloe@example.org>\n'
	printf 'Subject: R\xc3\xa9sum\xc3\xa9\nMessage-ID: <8bit.cyrus@example.org>\n'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Fran\xc3\xa7ais, and a Latin-1 byte: \xe9.\n'
} >"$T/msgs/8bit.eml"
crlf_sha()
{
	sed 's/$/\r/' "$1" | sha256sum | cut -d' ' -f1
}

# ---- the server ---------------------------------------------------------------

cyrus_server cyr / || { t_fail "cyrus_server cyr /"; t_done; }
caps=$(imap_raw cyr CAPABILITY | tr -d '\r')
for cap in IMAP4rev1 ENABLE QRESYNC CONDSTORE LIST-EXTENDED LIST-STATUS \
    UIDPLUS MULTIAPPEND LITERAL+ COMPRESS=DEFLATE; do
	t_expect_match "$caps" "^\\* CAPABILITY (.* )?${cap//+/\\+}( |$'\n')" \
	    "Cyrus advertises $cap (after LOGIN)"
done
t_expect_match "$(imap_raw cyr 'LIST "" ""')" '^\* LIST \(\\Noselect\) "/" ""' \
    "unixhierarchysep: yes gives '/'"

# ---- the helpers ----------------------------------------------------------------

MAIL_DATE="03-Feb-2024 09:05:06 +0000" \
    mail_add cyr INBOX "$T/msgs/1.eml" '\Seen' '$Label1'
mail_add cyr INBOX "$T/msgs/8bit.eml"
mail_add cyr INBOX "$T/msgs/2.eml" '\Flagged'
t_expect_match "$(mail_dump cyr INBOX)" \
    "$(crlf_sha "$T/msgs/1.eml") \\\$Label1,\\\\Seen 03-Feb-2024 09:05:06 \\+0000" \
    "mail_add/mail_dump: bytes, flags, INTERNALDATE (two-digit day)"
t_expect_match "$(mail_dump cyr INBOX)" "$(crlf_sha "$T/msgs/8bit.eml") - " \
    "munge8bit: no: 8-bit header bytes stored as given"
t_expect_eq "$(mail_uids cyr INBOX | paste -sd' ' -)" "1 2 3" "mail_uids"
mail_store cyr INBOX 3 - '\Flagged'
mail_store cyr INBOX 1 + '\Answered'
mail_expunge cyr INBOX 2
t_expect_eq "$(mail_dump cyr INBOX | cut -d' ' -f2 | sort)" \
    "$(printf '%s\n' '$Label1,\Answered,\Seen' - | sort)" \
    "mail_store and mail_expunge"
t_expect_eq "$(mail_uids cyr INBOX | paste -sd' ' -)" "1 3" "UID 2 expunged"
t_expect_match "$(mailbox_status cyr INBOX)" \
    '^MESSAGES 2 UIDNEXT 4 UIDVALIDITY [0-9]+ HIGHESTMODSEQ [0-9]+$' \
    "mailbox_status"
# A subscription to no mailbox (allowallsubscribe: yes).
mailbox_create cyr "Sent Items"
mailbox_create cyr a/b
mailbox_subscribe cyr a/b
mailbox_subscribe cyr gone
mailbox_rename cyr "Sent Items" Sent
mailbox_unsubscribe cyr INBOX
t_expect_eq "$(mailbox_list cyr)" "$(printf '%s\t%s\n' INBOX - Sent - \
    a - a/b subscribed gone subscribed,nonexistent)" \
    "mailbox_create/rename/subscribe/list (the parent a is a mailbox)"
mailbox_delete cyr a/b
t_expect_eq "$(mailbox_list cyr | grep '^a')" "$(printf '%s\t%s\n' a - \
    a/b subscribed,nonexistent)" "mailbox_delete (the subscription stays)"
if imap_raw cyr 'SELECT nosuchbox' >/dev/null; then
	t_fail "imap_raw: status 1 when refused"
else
	t_pass "imap_raw: status 1 when refused"
fi
cyrus_reset cyr || t_fail "cyrus_reset"
t_expect_eq "$(mailbox_list cyr)" "$(printf '%s\t%s' INBOX subscribed)" \
    "cyrus_reset: empty again (Cyrus subscribes the new INBOX)"
t_expect_eq "$(mail_dump cyr INBOX)" "" "cyrus_reset: no message"

# ---- both programs, each with its pair of servers -------------------------------

# run WHO: one run of the reference or ours with WHO's config; $RC its
# exit status, $LOG what it printed.
run()
{
	if [ "$1" = reference ]; then
		run_ref --config="$T/$1.conf"
		RC=$REF_RC
		LOG=$(cat "$T/ref.out" "$T/ref.err")
	else
		run_ours --config="$T/$1.conf"
		RC=$OURS_RC
		LOG=$(cat "$T/ours.out" "$T/ours.err")
	fi
}

# sync_with WHO SEP: a tunnel Dovecot (local, "/") and a Cyrus (remote,
# SEP) over IMAPS; mail and mailboxes on both sides, a first sync, a change
# on each side, a second sync, then nothing to do.
sync_with()
{
	local who=$1 sep=$2 l=local_$1 r=cyr_$1 tun rsub

	tun=$(dovecot_tunnel "$l" /) || { t_fail "$who: dovecot_tunnel"; return; }
	cyrus_server "$r" "$sep" || { t_fail "$who: cyrus_server"; return; }
	rsub=work${sep}sub
	mail_add "$l" INBOX "$T/msgs/3.eml" '\Seen'
	mail_add "$l" INBOX "$T/msgs/8bit.eml"
	mail_add "$l" work/sub "$T/msgs/4.eml" '\Flagged'
	mailbox_subscribe "$l" work/sub
	mail_add "$r" INBOX "$T/msgs/5.eml" '\Answered'
	mail_add "$r" "lists${sep}dev" "$T/msgs/6.eml"
	write_config "$T/$who.conf" <<EOF
database = $T/$who.db

[local]
type = tunnel
command = $tun

[remote]
$(imaps_lines "$r")
EOF
	run "$who"
	t_expect_eq "$RC" 0 "$who (\"$sep\"): first sync"
	t_expect_match "$LOG" "remote: Created mailbox work${sep//./\\.}sub" \
	    "$who: local mailbox created on Cyrus"
	t_expect_match "$LOG" "local: Created mailbox lists/dev" \
	    "$who: Cyrus mailbox created locally"
	t_expect_eq "$(mail_dump "$r" INBOX)" "$(mail_dump "$l" INBOX)" \
	    "$who: INBOX the same on both (8-bit message included)"
	t_expect_eq "$(mail_dump "$l" INBOX | wc -l)" 3 "$who: 3 messages"
	t_expect_eq "$(mail_dump "$r" "$rsub")" "$(mail_dump "$l" work/sub)" \
	    "$who: work/sub the same"
	t_expect_match "$(mailbox_list "$r" /)" $'work/sub\tsubscribed' \
	    "$who: subscription copied to Cyrus"

	mail_add "$r" INBOX "$T/msgs/1.eml" '\Draft'
	mail_store "$r" INBOX 1 + '$Cyrus'
	mail_add "$l" work/sub "$T/msgs/2.eml"
	run "$who"
	t_expect_eq "$RC" 0 "$who: second sync"
	t_expect_eq "$(mail_dump "$r" INBOX)" "$(mail_dump "$l" INBOX)" \
	    "$who: INBOX still the same"
	t_expect_match "$(mail_dump "$l" INBOX)" '\$Cyrus,\\Answered' \
	    "$who: a Cyrus flag change copied"
	t_expect_eq "$(mail_dump "$r" "$rsub")" "$(mail_dump "$l" work/sub)" \
	    "$who: work/sub still the same"

	run "$who"
	t_expect_eq "$RC" 0 "$who: third sync"
	t_expect_eq "$(grep -E 'Added|Removed|Updated|Created|WARNING' <<<"$LOG")" \
	    "" "$who: then nothing to do"
}

sync_with reference /
sync_with ours .

t_done
