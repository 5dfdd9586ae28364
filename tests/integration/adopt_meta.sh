#!/bin/bash
#
# Copies recognised on both sides (engine/adopt.c) cost no download of
# bodies that cannot be the same message: new messages on both sides of a
# mailbox that share an INTERNALDATE (an import tool that APPENDs with a
# fixed date does this) have their bodies compared only where the sizes
# (RFC822.SIZE, fetched with the dates) match too.  On two Dovecot
# tunnels, with one fixed date for every new message:
#   local:  a (short), b (long), c (X), g (size S, "g...")
#   remote: d (middle), e (longer), f (X), h (size S, "h...")
# c and f are the same message: paired, not copied; g and h have the same
# size but differ: their bodies are compared, and both are copied; a, b,
# d and e are copied without their bodies ever being fetched for the
# comparison.  Both sides end identical, with no duplicate.
#
# Neither costs a round trip of its own: LIST-STATUS showed new messages
# on both sides, so the FETCH of the candidates goes right behind each
# SELECT, before its answer.  Likewise, new messages on one side only of
# a known mailbox have their FETCH sent with the SELECT (engine/xfer.c).

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }
tunnel_config "$T/conf" "$T/db" "$tl" "$tr"

mkdir -p "$T/msgs"
# msg NAME BODY: a message file whose body is BODY.
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@adopt>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$2" >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}

# The mailbox known on both sides first.
mail_add remote INBOX "$(msg first 'first')"
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "first sync"

# g and h: same length, other bytes (the subject and id too).
MAIL_DATE='01-Jan-2024 12:00:00 +0000' mail_add_many local INBOX \
    "$(msg a 'short')" "$(msg b "$(printf 'long %.0s' {1..200})")" \
    "$(msg X 'the same message on both sides')" \
    "$(msg g 'gggggggggggggggggggg')"
MAIL_DATE='01-Jan-2024 12:00:00 +0000' mail_add_many remote INBOX \
    "$(msg d "$(printf 'middle %.0s' {1..50})")" \
    "$(msg e "$(printf 'longer %.0s' {1..300})")" \
    "$(msg X 'the same message on both sides')" \
    "$(msg h 'hhhhhhhhhhhhhhhhhhhh')"
t_expect_eq "$(mail_uids local INBOX | tr '\n' ' ')" "1 2 3 4 5 " \
    "local UIDs before"
t_expect_eq "$(mail_uids remote INBOX | tr '\n' ' ')" "1 2 3 4 5 " \
    "remote UIDs before"

run_ours --debug --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "sync with new messages on both sides"
err=$(cat "$T/ours.err")

# before_select SIDE TEXT: a command containing TEXT was sent on SIDE
# before the answer to its SELECT came (pipelined behind it).
before_select()
{
	awk -v side="$1" -v text="$2" '
	    $0 ~ "^" side "(\\([^)]*\\))?: C: [0-9]+ " && index($0, text) {
		    if (!c) c = NR }
	    $0 ~ "^" side "(\\([^)]*\\))?: S: [0-9]+ OK .*Select completed" {
		    if (!s) s = NR }
	    END { exit !(c && s && c < s) }' "$T/ours.err"
}

# One metadata FETCH per side, with the sizes.
for side in local remote; do
	before_select "$side" 'UID FETCH 2:4294967295 (MODSEQ INTERNALDATE RFC822.SIZE)'
	t_expect_eq $? 0 "$side: the candidates' FETCH went with the SELECT"
	t_expect_match "$err" \
	    "$side(\\(INBOX\\))?: C: [0-9]+ UID FETCH 2:4294967295 \\(MODSEQ INTERNALDATE RFC822.SIZE\\)" \
	    "$side: dates and sizes in one FETCH"
	# Bodies compared: X and the same-size pair only (UIDs 4 and 5).
	t_expect_eq "$(grep -E "^$side(\\(INBOX\\))?: C: [0-9]+ UID FETCH [0-9:,]+ \\(MODSEQ FLAGS BODY.PEEK\\[\\]\\)$" \
	    "$T/ours.err" | sed -E 's/.* UID FETCH ([0-9:,]+) .*/\1/' |
	    tr '\n' ' ')" "4:5 " "$side: bodies compared only where date and size match"
done
t_expect_match "$err" \
    "Recovered 1 message\\(s\\) copied by an interrupted sync of INBOX: local UID\\(s\\) 4 = remote UID\\(s\\) 4" \
    "the identical pair is paired"
t_expect_match "$err" "local\\(INBOX\\): Added 3 UID\\(s\\)" \
    "three copied to local (d, e, h)"
t_expect_match "$err" "remote\\(INBOX\\): Added 3 UID\\(s\\)" \
    "three copied to remote (a, b, g)"

dl=$(mail_dump local INBOX | sort)
dr=$(mail_dump remote INBOX | sort)
t_expect_eq "$dl" "$dr" "both sides hold the same messages"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 8 "8 messages on local (no duplicate)"
t_expect_eq "$(mail_uids remote INBOX | wc -l)" 8 "8 messages on remote (no duplicate)"

# And the next run has nothing to do.
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "no-change run"
t_expect_eq "$(mail_uids local INBOX | wc -l)" 8 "still 8 on local"
t_expect_eq "$(mail_uids remote INBOX | wc -l)" 8 "still 8 on remote"

# New messages on one side only (remote, then local), one with a flag
# changed on the other side too: their FETCH, bodies included, goes with
# the SELECT; no candidates' FETCH; the flag change is propagated as
# well and both sides end identical.
for side in remote local; do
	other=local flag='\Flagged'
	[ "$side" = local ] && other=remote flag='\Answered'
	next=$(($(mail_uids "$side" INBOX | sort -n | tail -n 1) + 1))
	mail_add_many "$side" INBOX "$(msg "n1-$side" 'one new')" \
	    "$(msg "n2-$side" 'two new')"
	mail_store "$other" INBOX 1 + "$flag"
	run_ours --debug --config="$T/conf"
	t_expect_eq "$OURS_RC" 0 "sync with new messages on $side only"
	err=$(cat "$T/ours.err")
	before_select "$side" \
	    "UID FETCH $next:4294967295 (MODSEQ FLAGS INTERNALDATE BODY.PEEK[])"
	t_expect_eq $? 0 "$side: the new messages' FETCH went with the SELECT"
	t_expect_eq "$(grep -c 'RFC822.SIZE' <<<"$err")" 0 \
	    "$side only: no candidates to compare"
	t_expect_match "$err" \
	    "$side\\(INBOX\\): Updated flags \\([^)]*\\) for UID 1" \
	    "$side only: the flag change on $other propagated"
	t_expect_match "$err" "$other\\(INBOX\\): Added 2 UID\\(s\\)" \
	    "$side only: two copied to $other"
	t_expect_eq "$(mail_dump local INBOX | sort)" \
	    "$(mail_dump remote INBOX | sort)" "$side only: same messages and flags"
done
t_expect_eq "$(mail_uids local INBOX | wc -l)" 12 "12 messages on local"
t_expect_eq "$(mail_uids remote INBOX | wc -l)" 12 "12 messages on remote"
run_ours --config="$T/conf"
t_expect_eq "$OURS_RC" 0 "no-change run at the end"
t_expect_eq "$(grep -v 'IMAP traffic' "$T/ours.err")" "" \
    "nothing to do at the end"

t_done
