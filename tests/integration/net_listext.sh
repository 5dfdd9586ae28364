#!/bin/bash
#
# A server without LIST-EXTENDED (RFC 5258), which the reference refuses:
# net lists it with one LIST and one LSUB per pattern instead
# (net/imap_ops.c's ops_list_plain()), and sends the engine what
# LIST-EXTENDED's RETURN (SUBSCRIBED) would have: each mailbox once,
# \Subscribed where LSUB names it, a subscription to no mailbox left out;
# without LIST-STATUS either, a STATUS per selectable mailbox.
#
#  - differential: the reference syncs a Dovecot that advertises
#    everything (world A), ours the same data on a Dovecot that hides
#    LIST-EXTENDED and LIST-STATUS (world B): both worlds end the same,
#    mailboxes, subscriptions and messages, through a first sync and a
#    second one with subscriptions changed on both sides;
#  - the commands: no RETURN, no pattern list, no selection option goes
#    to such a server; overlapping patterns (list-mailbox) list a mailbox
#    once;
#  - list-select-opts = SUBSCRIBED, from LSUB, as the reference with
#    LIST-EXTENDED; any other selection option, which needs it, is
#    refused naming it,
#    before anything is written;
#  - the same with QRESYNC hidden too (CONDSTORE).

source "$SRCDIR/tests/lib/common.sh"
t_setup

hide=$(hide_caps dovecot LIST-EXTENDED LIST-STATUS)
hidecs=$(hide_caps dovecot LIST-EXTENDED LIST-STATUS QRESYNC)
tlA=$(dovecot_tunnel lA) || { t_fail "dovecot_tunnel lA"; t_done; }
trA=$(dovecot_tunnel rA) || { t_fail "dovecot_tunnel rA"; t_done; }
tlB=$(dovecot_tunnel lB) || { t_fail "dovecot_tunnel lB"; t_done; }
trB=$(DOVECOT_EXTRA_CONF=$hide dovecot_tunnel rB) ||
    { t_fail "dovecot_tunnel rB"; t_done; }
tunnel_config "$T/a.conf" "$T/a.db" "$tlA" "$trA"
tunnel_config "$T/b.conf" "$T/b.db" "$tlB" "$trB"

msg()
{
	printf 'From: a@example.org\nSubject: %s\nMessage-ID: <%s@x>\n\n%s\n' \
	    "$1" "$1" "$1" >"$T/$1.eml"
	echo "$T/$1.eml"
}
# both CMD ARGS...: CMD (a mail_* or mailbox_* helper) on SERVER of each
# world: "both mail_add r INBOX f" runs it on rA and rB.
both()
{
	local f=$1 s=$2
	shift 2
	"$f" "${s}A" "$@"
	"$f" "${s}B" "$@"
}
# same WHAT [MAILBOX...]: each world's servers alike (INBOX a a/b c and
# the MAILBOXes).
same()
{
	local s b what=$1
	shift
	for s in l r; do
		t_expect_eq "$(mailbox_list "${s}B")" "$(mailbox_list "${s}A")" \
		    "$what: $s's mailboxes and subscriptions as the reference's"
		for b in INBOX a a/b c "$@"; do
			t_expect_eq "$(mail_dump "${s}B" "$b" | cut -d' ' -f1-2 |
			    sort)" "$(mail_dump "${s}A" "$b" | cut -d' ' -f1-2 |
			    sort)" \
			    "$what: $s's $b as the reference's"
		done
	done
}

# The remote: a, a/b (subscribed), c (not), a subscription to a mailbox
# that does not exist; the local: d, subscribed.
for b in a a/b c; do
	both mailbox_create r "$b"
done
both mailbox_subscribe r a
both mailbox_subscribe r a/b
both mailbox_create r gone
both mailbox_subscribe r gone
both mailbox_delete r gone
t_expect_match "$(mailbox_list rB)" $'gone\tsubscribed,nonexistent' \
    "the remote keeps a subscription to a mailbox it no longer has"
both mailbox_create l d
both mailbox_subscribe l d
both mail_add r INBOX "$(msg r1)"
both mail_add r a/b "$(msg r2)"
both mail_add r c "$(msg r3)"
both mail_add l d "$(msg l1)"

run_ref --config="$T/a.conf"
t_expect_eq "$REF_RC" 0 "the reference, first sync: exit 0"
run_ours --config="$T/b.conf" --debug
t_expect_eq "$OURS_RC" 0 "without LIST-EXTENDED, first sync: exit 0"
t_expect_eq "$(grep -c 'remote: Server lacks LIST-EXTENDED: LIST and LSUB instead' \
    "$T/ours.err")" 1 "first sync: said once"
t_expect_eq "$(grep -c 'local: Server lacks LIST-EXTENDED' "$T/ours.err")" 0 \
    "first sync: not said of the local"
rcmds=$(grep -oE '^remote: C: [0-9]+ [A-Z]+ .*' "$T/ours.err" | cut -d' ' -f4-)
t_expect_eq "$(grep -E '^(LIST|LSUB) ' <<<"$rcmds" | sort | uniq -c |
    awk '{$1=$1; print}' | paste -sd, -)" \
    '1 LIST "" *,1 LSUB "" *' \
    "first sync: one LIST \"\" * and one LSUB \"\" *"
t_expect_eq "$(grep -cE 'RETURN|^LIST \(|^LIST "[^"]*" \(' <<<"$rcmds")" 0 \
    "first sync: no LIST-EXTENDED syntax sent"
t_expect_eq "$(grep -cE '^STATUS ' <<<"$rcmds")" 4 \
    "first sync: a STATUS for each of the 4 selectable mailboxes"
t_expect_eq "$(grep -c 'WARNING\|ERROR' "$T/ours.err")" 0 \
    "first sync: no warning"
same "first sync"
t_expect_match "$(mailbox_list lB)" $'a/b\tsubscribed' \
    "first sync: a/b subscribed locally"
t_expect_eq "$(mailbox_list lB | grep -c gone)" 0 \
    "first sync: a subscription to no mailbox left out"

# Subscriptions changed on both sides, a new mailbox, new mail.
both mailbox_unsubscribe r a
both mailbox_subscribe l c
both mailbox_unsubscribe l d
both mailbox_subscribe r d
both mailbox_create r e
both mailbox_subscribe r e
both mail_add l a "$(msg l2)"
both mail_add r e "$(msg r4)"
run_ref --config="$T/a.conf"
t_expect_eq "$REF_RC" 0 "the reference, changes: exit 0"
run_ours --config="$T/b.conf"
t_expect_eq "$OURS_RC" 0 "without LIST-EXTENDED, changes: exit 0"
same "changes"
t_expect_eq "$(mail_dump lB e | wc -l)" 1 "changes: e and its message"
t_expect_eq "$(sed 's/^remote: //' "$T/ours.out" "$T/ours.err" |
    grep -E 'Subscribe|Unsubscribe|Created' | sort)" \
    "$(sed 's/^remote: //' "$T/ref.out" "$T/ref.err" |
    grep -E 'Subscribe|Unsubscribe|Created' | sort)" \
    "changes: the same subscription and creation lines as the reference"
run_ours --config="$T/b.conf"
t_expect_eq "$(grep -cE 'Added|Removed|Updated|[Ss]ubscri|Created' \
    "$T/ours.err" "$T/ours.out" | awk -F: '{s += $NF} END {print s}')" 0 \
    "the next run has nothing to do"

# Overlapping patterns: a/b matches both, and is listed once.
cp "$T/b.conf" "$T/pat.conf"
sed -i '1a list-mailbox = a* a/*' "$T/pat.conf"
both mail_add r a/b "$(msg r5)"
run_ours --config="$T/pat.conf" --debug
t_expect_eq "$OURS_RC" 0 "overlapping patterns: exit 0"
rcmds=$(grep -oE '^remote: C: [0-9]+ [A-Z]+ .*' "$T/ours.err" | cut -d' ' -f4-)
t_expect_eq "$(grep -E '^(LIST|LSUB) "" "[^"]' <<<"$rcmds" | sort |
    paste -sd, -)" 'LIST "" "a*",LIST "" "a/*",LSUB "" "a*",LSUB "" "a/*"' \
    "overlapping patterns: a LIST and an LSUB each"
t_expect_eq "$(grep -cE '^STATUS a/b ' <<<"$rcmds")" 1 \
    "overlapping patterns: a/b asked for once"
t_expect_eq "$(mail_dump lB a/b | wc -l)" 2 "overlapping patterns: a/b synced"
t_expect_eq "$(grep -c 'WARNING\|ERROR' "$T/ours.err")" 0 \
    "overlapping patterns: no warning"

# list-select-opts = SUBSCRIBED: what LSUB names, with LIST's
# attributes (\NonExistent for a subscription to no mailbox), as the
# reference lists it with LIST-EXTENDED.
for w in a b; do
	cp "$T/$w.conf" "$T/${w}sel.conf"
	sed -i '1a list-select-opts = SUBSCRIBED' "$T/${w}sel.conf"
done
both mailbox_create r s1
both mailbox_subscribe r s1
both mail_add r s1 "$(msg r6)"
both mailbox_create r u1
both mail_add r u1 "$(msg r7)"
both mailbox_create l s2
both mailbox_subscribe l s2
both mailbox_create l s3
both mailbox_subscribe l s3
both mailbox_delete l s3
run_ref --config="$T/asel.conf"
t_expect_eq "$REF_RC" 0 "the reference, (SUBSCRIBED): exit 0"
run_ours --config="$T/bsel.conf" --debug
t_expect_eq "$OURS_RC" 0 "(SUBSCRIBED) without LIST-EXTENDED: exit 0"
same "(SUBSCRIBED)" s1 u1 s2
t_expect_eq "$(mailbox_list lB | grep -c '^u1')" 0 \
    "(SUBSCRIBED): the unsubscribed mailbox left alone"
t_expect_match "$(mailbox_list lB)" $'s1\tsubscribed' \
    "(SUBSCRIBED): the subscribed one created"
t_expect_eq "$(grep -cE '^remote: C: [0-9]+ LIST .*(SUBSCRIBED|RETURN)' \
    "$T/ours.err")" 0 "(SUBSCRIBED): no LIST-EXTENDED syntax sent"

# Other selection options need LIST-EXTENDED.
cp "$T/b.conf" "$T/sel.conf"
sed -i '1a list-select-opts = subscribed recursivematch' "$T/sel.conf"
before=$(sqlite3 "$T/b.db" 'SELECT COUNT(*) FROM mapping')
run_ours --config="$T/sel.conf"
t_expect_eq "$OURS_RC" 1 "list-select-opts without LIST-EXTENDED: exit 1"
t_expect_match "$(cat "$T/ours.err")" \
    "remote: ERROR: list-select-opts = SUBSCRIBED RECURSIVEMATCH needs LIST-EXTENDED, which the server did not advertise\\." \
    "list-select-opts without LIST-EXTENDED: the message names both"
t_expect_eq "$(sqlite3 "$T/b.db" 'SELECT COUNT(*) FROM mapping')" "$before" \
    "list-select-opts without LIST-EXTENDED: nothing written"

# Without QRESYNC either: CONDSTORE, and LIST + LSUB.
tlc=$(dovecot_tunnel lc) || { t_fail "dovecot_tunnel lc"; t_done; }
trc=$(DOVECOT_EXTRA_CONF=$hidecs dovecot_tunnel rc) ||
    { t_fail "dovecot_tunnel rc"; t_done; }
tunnel_config "$T/c.conf" "$T/c.db" "$tlc" "$trc"
mailbox_create rc x
mailbox_subscribe rc x
mail_add rc x "$(msg c1)"
mail_add rc INBOX "$(msg c2)"
run_ours --config="$T/c.conf"
t_expect_eq "$OURS_RC" 0 "CONDSTORE without LIST-EXTENDED: exit 0"
t_expect_match "$(cat "$T/ours.err")" "remote: Server lacks QRESYNC" \
    "CONDSTORE without LIST-EXTENDED: the method said"
t_expect_eq "$(mailbox_list lc)" "$(mailbox_list rc)" \
    "CONDSTORE without LIST-EXTENDED: mailboxes and subscriptions alike"
t_expect_eq "$(mail_dump lc x | sort)" "$(mail_dump rc x | sort)" \
    "CONDSTORE without LIST-EXTENDED: x alike"
mail_expunge rc x 1
run_ours --config="$T/c.conf"
t_expect_eq "$(mail_dump lc x | wc -l)" 0 \
    "CONDSTORE without LIST-EXTENDED: an expunge carried"

t_done
