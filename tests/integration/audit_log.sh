#!/bin/bash
#
# Audit logs, per process (interimap(1) AUDITING), on two Dovecot tunnels:
#
#  - with "%p" in the log-prefix, every line names the process that wrote
#    it (priv, engine, net(local), net(remote)), and each process's lines
#    are of the kinds only it writes;
#  - with --audit, the audit lines account for every change on both
#    servers: for each side and mailbox, the UIDs after the run are those
#    before it, minus the EXPUNGEd, plus the APPENDed; every message whose
#    flags changed has a STORE line with the flags it now has, and every
#    STORE is what the server has; every APPEND has its DB map-add; a
#    mailbox created is a CREATE line; the connections and the children
#    started and ended are there;
#  - log-syslog = yes sends the same lines to a syslog socket (a receiver
#    of ours, tests/lib/syslog_listen.py) under one ident per process;
#  - without --audit, no audit line, and the default prefix is the
#    reference's (tests/diff compares it byte for byte).
# A child's attempt to pass for another is in tests/unit/test_logsink.c.

source "$SRCDIR/tests/lib/common.sh"
t_setup

tl=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel local"; t_done; }
tr=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel remote"; t_done; }

SOCK=$T/syslog.sock
SLOG=$T/syslog.out
mkfifo "$T/ready.fifo"
python3 "$SRCDIR/tests/lib/syslog_listen.py" "$SOCK" "$SLOG" \
    >"$T/ready.fifo" &
t_track_pid $!
read -r -t 10 ready <"$T/ready.fifo"
t_expect_eq "${ready:-}" ready "the syslog receiver listens"

CONF=$T/audit.conf
tunnel_config "$CONF" "$T/audit.db" "$tl" "$tr" \
    'log-prefix = [%p] %?n?%?m?%n(%m)&%n?: ?' 'log-syslog = yes' \
    "log-syslog-socket = $SOCK"
PLAIN=$T/plain.conf
tunnel_config "$PLAIN" "$T/audit.db" "$tl" "$tr"

mkdir -p "$T/msgs"
msg()
{
	printf 'From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@audit>\r\n\r\n%s\r\n' \
	    "$1" "$1" "$1" >"$T/msgs/$1.eml"
	echo "$T/msgs/$1.eml"
}

# "UID FLAG..." lines (flags sorted, no \Recent) of SIDE's MAILBOX.
flags_of()
{
	imap_raw "$1" "EXAMINE \"$2\"" "UID FETCH 1:* (FLAGS)" 2>/dev/null |
	    python3 -c '
import re, sys
out = []
for ln in sys.stdin:
    m = re.search(r"FETCH \((.*)\)", ln)
    if not m:
        continue
    u = re.search(r"UID (\d+)", m.group(1))
    f = re.search(r"FLAGS \(([^)]*)\)", m.group(1))
    if not u or not f:
        continue
    fl = sorted(x for x in f.group(1).split() if x.lower() != "\\recent")
    out.append((int(u.group(1)), " ".join(fl)))
for u, fl in sorted(out):
    print(("%d %s" % (u, fl)).rstrip())
'
}

# An IMAP UID set (1:3,7) as one UID a line.
uidset_expand()
{
	tr ',' '\n' <<<"$1" | awk -F: 'NF == 1 { print $1 }
	    NF == 2 { for (i = $1; i <= $2; i++) print i }'
}

# snap SIDE MAILBOX TAG: the flags by UID in $T/snap.TAG.SIDE.MAILBOX.
snap()
{
	flags_of "$1" "$2" >"$T/snap.$3.$1.$2"
}

# account SIDE MAILBOX ERRFILE: the audit lines of ERRFILE about SIDE's
# MAILBOX explain every difference between snapshots "before" and "after".
account()
{
	local side=$1 mbox=$2 err=$3 pfx before after bad changed missing

	pfx="[engine] $side($mbox): AUDIT[engine]"
	before=$T/snap.before.$side.$mbox
	after=$T/snap.after.$side.$mbox
	[ -f "$before" ] || : >"$before"
	grep -F "$pfx APPEND " "$err" |
	    sed -n 's/.* APPEND uid=\([0-9]*\) .*/\1/p' | sort -n \
	    >"$T/appended"
	grep -F "$pfx EXPUNGE " "$err" | sed 's/.* uids=//' |
	    while read -r set; do uidset_expand "$set"; done |
	    sort -n >"$T/expunged"
	{ cut -d' ' -f1 "$before" | grep -vxFf "$T/expunged";
	    cat "$T/appended"; } | sort -n >"$T/expected"
	t_expect_eq "$(cat "$T/expected")" "$(cut -d' ' -f1 "$after")" \
	    "$side($mbox): UIDs after = before - EXPUNGE + APPEND ($(wc -l \
	    <"$T/appended") appended, $(wc -l <"$T/expunged") expunged)"
	grep -F "$pfx STORE " "$err" |
	    sed 's/.* STORE uids=\([^ ]*\) flags=(\(.*\))$/\1 \2/' |
	    while read -r set fl; do
		fl=$(tr ' ' '\n' <<<"$fl" | grep -v '^$' | sort |
		    tr '\n' ' ' | sed 's/ $//')
		for u in $(uidset_expand "$set"); do
			echo "$u $fl" | sed 's/ $//'
		done
	    done | sort -n >"$T/stored"
	bad=$(while read -r u fl; do
		now=$(awk -v u="$u" '$1 == u { $1 = ""; sub(/^ /, "");
		    print }' "$after")
		[ "$now" = "$fl" ] || echo "UID $u: STORE ($fl), now ($now)"
	done <"$T/stored")
	t_expect_eq "$bad" "" \
	    "$side($mbox): $(wc -l <"$T/stored") STORE(s), each what the server has"
	changed=$(awk 'NR == FNR { b[$1] = $0; next }
	    ($1 in b) && b[$1] != $0 { print $1 }' "$before" "$after")
	missing=$(for u in $changed; do
		grep -q "^$u\( \|$\)" "$T/stored" || echo "$u"
	done)
	t_expect_eq "$missing" "" \
	    "$side($mbox): every flag change ($(echo $changed | wc -w)) has a STORE"
}

# lines_of ERRFILE PROCESS: the lines of that process.
lines_of()
{
	grep -F "[$2] " "$1" | grep -vF -e "[$2] [" || true
}

# ---- run 1: a first sync, new messages on both sides -----------------------

mail_add_many remote INBOX "$(msg r1)" "$(msg r2)" "$(msg r3)"
mail_add local INBOX "$(msg l1)" '\Seen'
for s in local remote; do snap $s INBOX before; done
run_ours --audit --config="$CONF"
t_expect_eq "$OURS_RC" 0 "run 1"
E1=$T/run1.err
cp "$T/ours.err" "$E1"
for s in local remote; do
	snap $s INBOX after
	account $s INBOX "$E1"
done
t_expect_eq "$(grep -c 'AUDIT\[engine\] APPEND ' "$E1")" 4 \
    "run 1: four APPENDs (3 to local, 1 to remote)"
t_expect_eq "$(grep -c 'AUDIT\[priv\] DB map-add ' "$E1")" 4 \
    "run 1: a DB map-add per APPEND"
# Each APPEND's pair of UIDs is its map-add's.
pairs_append=$(sed -n \
    's/.*local(INBOX): AUDIT\[engine\] APPEND uid=\([0-9]*\) from=remote:\([0-9]*\) .*/\1 \2/p
     s/.*remote(INBOX): AUDIT\[engine\] APPEND uid=\([0-9]*\) from=local:\([0-9]*\) .*/\2 \1/p' \
    "$E1" | sort)
pairs_db=$(sed -n 's/.*DB map-add idx=[0-9]* local=\([0-9]*\) remote=\([0-9]*\)$/\1 \2/p' \
    "$E1" | sort)
t_expect_eq "$pairs_db" "$pairs_append" "run 1: map-adds = APPENDs' pairs"
t_expect_match "$(grep 'APPEND ' "$E1" | head -n 1)" ' size=[1-9][0-9]*$' \
    "an APPEND gives the size"

# Every line names its process, and each process writes its own kinds.
other=$(grep -v '^\[\(priv\|engine\|net(local)\|net(remote)\)\] ' "$E1")
t_expect_eq "$other" "" "run 1: every line names one of the four processes"
for p in engine 'net(local)' 'net(remote)'; do
	t_expect_match "$(lines_of "$E1" priv)" \
	    "AUDIT\[priv\] START ${p//[()]/\\&} pid=[0-9]+" "priv started $p"
	t_expect_match "$(lines_of "$E1" priv)" \
	    "AUDIT\[priv\] END ${p//[()]/\\&} pid=[0-9]+ status=0" \
	    "$p ended with status 0"
done
# The tunnels, priv's children too: started and ended, with their pid.
for side in local remote; do
	start=$(lines_of "$E1" priv | sed -n "s/^\[priv\] $side: AUDIT\[priv\] START tunnel pid=\([0-9]*\)\$/\1/p")
	t_expect_match "$start" '^[0-9]+$' "the $side tunnel's start, once"
	t_expect_match "$(lines_of "$E1" priv)" \
	    "\[priv\] $side: AUDIT\[priv\] END tunnel pid=${start:-none} status=0" \
	    "the $side tunnel's end, with its pid and status"
done
for side in local remote; do
	lines=$(lines_of "$E1" "net($side)")
	t_expect_match "$lines" \
	    "^\[net\($side\)\] $side: AUDIT\[net\($side\)\] CONNECT type=tunnel host=" \
	    "net($side): its connection"
	t_expect_match "$lines" "AUDIT\[net\($side\)\] AUTH mechanism=PREAUTH" \
	    "net($side): how it was authenticated"
	t_expect_eq "$(grep -v "^\[net($side)\] $side: " <<<"$lines")" "" \
	    "net($side) speaks only as $side"
done
t_expect_eq "$(lines_of "$E1" engine | grep -c 'AUDIT\[engine\] ')" \
    "$(grep -c 'AUDIT\[engine\] ' "$E1")" \
    "AUDIT[engine] only on the engine's lines"
t_expect_eq "$(lines_of "$E1" engine | grep -c 'DB map-add')" 0 \
    "database writes are priv's lines, not the engine's"
t_expect_match "$(lines_of "$E1" engine)" \
    '\[engine\] local\(INBOX\): Added 3 UID\(s\) 2:4 <- 1:3' \
    "the reference's lines are there too, under the engine"

# ---- run 2: changes on both sides, a new mailbox ---------------------------

mail_store local INBOX 1 + '\Flagged'
mail_store remote INBOX 3 + '\Answered' '\Seen'
mail_expunge local INBOX 3
mail_add remote INBOX "$(msg r4)"
mail_add local INBOX "$(msg l2)" '\Draft'
mailbox_create remote Projects
mail_add_many remote Projects "$(msg p1)" "$(msg p2)"
for s in local remote; do
	snap $s INBOX before
	snap $s Projects before
done
run_ours --audit --config="$CONF"
t_expect_eq "$OURS_RC" 0 "run 2"
E2=$T/run2.err
cp "$T/ours.err" "$E2"
for s in local remote; do
	snap $s INBOX after
	snap $s Projects after
	account $s INBOX "$E2"
	account $s Projects "$E2"
done
t_expect_match "$(grep -F 'local(Projects): AUDIT[engine] CREATE' "$E2")" \
    'CREATE$' "CREATE names the mailbox (%m)"
t_expect_match "$(cat "$E2")" 'AUDIT\[priv\] DB mailbox-add idx=[0-9]+' \
    "the database's new mailbox row"
t_expect_match "$(cat "$E2")" 'AUDIT\[priv\] DB commit n=[0-9]+' \
    "commits"
t_expect_eq "$(grep -c 'AUDIT\[engine\] STORE ' "$E2")" 2 \
    "run 2: two STOREs (one each way)"
t_expect_eq "$(grep -c 'AUDIT\[engine\] EXPUNGE ' "$E2")" 1 \
    "run 2: one EXPUNGE (on remote)"
t_expect_eq "$(grep -c 'AUDIT\[engine\] APPEND ' "$E2")" 4 \
    "run 2: four APPENDs (r4, l2, p1, p2)"
t_expect_eq "$(mail_dump local INBOX)" "$(mail_dump remote INBOX)" \
    "INBOX in sync"
t_expect_eq "$(mail_dump local Projects)" "$(mail_dump remote Projects)" \
    "Projects in sync"

# ---- syslog: the same lines, one ident per process --------------------------

sleep 0.2
idents=$(sed -n 's/^<[0-9]*>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* \(interimap\/[^[]*\)\[[0-9]*\]: .*/\1/p' \
    "$SLOG" | sort -u | tr '\n' ' ')
t_expect_eq "$idents" \
    "interimap/engine interimap/net(local) interimap/net(remote) interimap/priv " \
    "syslog: one ident per process"
t_expect_eq "$(wc -l <"$SLOG")" "$(cat "$E1" "$E2" | wc -l)" \
    "syslog: every line of both runs"
# The ident is the process of %p, line for line.
mism=$(sed -n 's/^<[0-9]*>[^]]*interimap\/\([^[]*\)\[[0-9]*\]: \[\([^]]*\)\] .*/\1 \2/p' \
    "$SLOG" | awk '$1 != $2' | head -n 3)
t_expect_eq "$mism" "" "syslog: the ident is the line's process"
t_expect_match "$(grep -F 'interimap/engine[' "$SLOG" | grep -F ' APPEND ' |
    head -n 1)" '^<21>' "an audit line is a notice (mail.notice = 21)"
t_expect_match "$(grep -F ': Added ' "$SLOG" | head -n 1)" '^<22>' \
    "an informational line is mail.info (22)"

# ---- --delete: DELETE on each server, the database row --------------------

run_ours --audit --config="$CONF" --delete Projects
t_expect_eq "$OURS_RC" 0 "--delete Projects"
E3=$T/run3.err
cp "$T/ours.err" "$E3"
for side in local remote; do
	t_expect_match "$(cat "$E3")" \
	    "\\[engine\\] $side\\(Projects\\): AUDIT\\[engine\\] DELETE" \
	    "--delete: DELETE on $side"
done
t_expect_match "$(cat "$E3")" \
    '\[priv\] database: AUDIT\[priv\] DB delete idx=[0-9]+' \
    "--delete: the database row"

# ---- a TLS connection: version, cipher, verification, pin, login -----------

dovecot_server tls || { t_fail "dovecot_server tls"; t_done; }
fp=$(cert_spki_sha256 "$DOVECOT_TLS_CERT")
tl2=$(dovecot_tunnel local2) || { t_fail "dovecot_tunnel local2"; t_done; }
write_config "$T/tls.conf" <<EOF
database = $T/tls.db
log-prefix = [%p] %?n?%?m?%n(%m)&%n?: ?

[local]
type = tunnel
command = $tl2

[remote]
type = imaps
host = localhost
port = $DOVECOT_TLS_IMAPS_PORT
SSL_CAfile = $DOVECOT_TLS_CERT
SSL_fingerprint = sha256\$$fp
username = $DOVECOT_TLS_USER
password = $DOVECOT_TLS_PASS
EOF
run_ours --audit --config="$T/tls.conf"
t_expect_eq "$OURS_RC" 0 "a sync over IMAPS"
net=$(lines_of "$T/ours.err" 'net(remote)')
t_log "$net"
t_expect_match "$net" \
    'AUDIT\[net\(remote\)\] CONNECT type=imaps host=localhost' \
    "IMAPS: the server"
t_expect_match "$net" "AUDIT\\[net\\(remote\\)\\] TLS pin=sha256\\\$$fp" \
    "IMAPS: the pin that matched"
t_expect_match "$net" \
    'AUDIT\[net\(remote\)\] TLS host=localhost version=TLSv1\.[23] cipher=[A-Za-z0-9_-]+ verify=chain' \
    "IMAPS: TLS version, cipher, verification"
t_expect_match "$net" \
    "AUDIT\\[net\\(remote\\)\\] AUTH mechanism=[A-Z0-9-]+ user=$DOVECOT_TLS_USER\$" \
    "IMAPS: the mechanism and the user"
t_expect_eq "$(grep -c -F "$DOVECOT_TLS_PASS" "$T/ours.err")" 0 \
    "no password in the log"

# ---- a real journal: systemd-journald in a namespace of its own ------------
#
# Root and systemd-journald are needed (journald makes its sockets under
# /run/systemd/journal.NAMESPACE/); elsewhere tests/unit/test_logsink.c
# checks the datagrams.  The namespace, its sockets and its files are
# removed at the end.

JD=/lib/systemd/systemd-journald
NS=interimap-audit-$$
JDIR=/run/systemd/journal.$NS
if [ "$(id -u)" = 0 ] && [ -x "$JD" ] && command -v journalctl >/dev/null
then
	"$JD" "$NS" >"$T/journald.log" 2>&1 &
	jpid=$!
	t_track_pid "$jpid"
	for _ in $(seq 50); do
		[ -S "$JDIR/socket" ] && break
		sleep 0.1
	done
	if [ -S "$JDIR/socket" ]; then
		write_config "$T/journal.conf" <<EOF
database = $T/audit.db
audit = yes
log-syslog = journal
log-syslog-socket = $JDIR/socket

[local]
type = tunnel
command = $tl

[remote]
type = tunnel
command = $tr
EOF
		mail_store local INBOX 1 + '\Answered'
		run_ours --config="$T/journal.conf"
		t_expect_eq "$OURS_RC" 0 "a run logging to the journal"
		jc() { journalctl --namespace="$NS" --no-pager "$@" 2>/dev/null; }
		for _ in $(seq 50); do
			jc -F SYSLOG_IDENTIFIER | grep -q 'interimap/priv' &&
			    jc -t interimap/priv -o cat | grep -q 'END engine' &&
			    break
			sleep 0.1
		done
		t_expect_eq "$(jc -F SYSLOG_IDENTIFIER | grep '^interimap' |
		    sort | tr '\n' ' ')" \
		    "interimap/engine interimap/net(local) interimap/net(remote) interimap/priv " \
		    "journal: one identifier per process"
		t_expect_eq "$(jc -t 'interimap/net(remote)' -o cat |
		    grep -vc '^remote: ')" 0 \
		    "journalctl -t 'interimap/net(remote)': that process only"
		t_expect_match "$(jc -t 'interimap/net(remote)' -o cat)" \
		    'remote: AUDIT\[net\(remote\)\] CONNECT type=tunnel' \
		    "journalctl -t 'interimap/net(remote)': its audit lines"
		t_expect_eq "$(jc INTERIMAP_AUDIT=1 INTERIMAP_PROCESS=engine \
		    INTERIMAP_PEER=remote INTERIMAP_MAILBOX=INBOX -o cat)" \
		    'remote(INBOX): AUDIT[engine] STORE uids=4 flags=(\Answered \Flagged \Seen)' \
		    "journal fields: process, peer, mailbox, audit"
		kill "$jpid" 2>/dev/null
		wait "$jpid" 2>/dev/null
	else
		t_log "systemd-journald $NS did not start: journal part skipped"
		kill "$jpid" 2>/dev/null
	fi
	rm -rf "$JDIR" /var/log/journal/*."$NS" /run/log/journal/*."$NS"
else
	t_log "not root or no systemd-journald: the journal part skipped"
fi

# ---- without --audit: the reference's output -------------------------------

mail_store remote INBOX 1 + '\Seen'
run_ours --config="$PLAIN"
t_expect_eq "$OURS_RC" 0 "a run without --audit"
t_expect_eq "$(grep -c 'AUDIT' "$T/ours.err")" 0 "no audit line"
t_expect_eq "$(head -n 1 "$T/ours.err")" \
    'local(INBOX): Updated flags (\Seen) for UID 2' \
    "the default prefix, no process named"
t_expect_eq "$(grep -c '^\[' "$T/ours.err")" 0 "no line names its process"

t_done
