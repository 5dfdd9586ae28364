#!/bin/bash
#
# Scale: a first sync (no database) of two stores that already share
# messages.  The local INBOX holds SCALE_MSGS (30,000) small messages,
# each with its own INTERNALDATE; the remote INBOX holds copies (same
# bytes, same INTERNALDATE, same flags) of every second one.  Our engine
# pairs identical new messages found on both sides ("Recovered N
# message(s) ...") instead of copying them again (the reference
# duplicates them, REFERENCE-BEHAVIOUR §9.9), so afterwards:
#   - the run exits 0, having copied the other half to the remote and
#     nothing to the local;
#   - both sides hold exactly the same SCALE_MSGS messages, none twice;
#   - the database maps every message once, each pair the same message
#     (tests/lib/scalectl.py dbcheck);
#   - a second run does nothing (no Added/Removed/Updated line).
# Every run prints its wall time and the peak memory of each of our
# processes ("scale: ..." lines).  SCALE_REF=1 also times the reference
# on the same stores (printed only; it duplicates the shared half).
#
# Local: a tunnel ("/"); remote: a network Dovecot over IMAPS with
# COMPRESS ("."); both stores on tmpfs.

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/scale.sh"
t_setup
scale_setup

N=${SCALE_MSGS:-30000}
HALF=$((N / 2))

tl=$(dovecot_tunnel local /) || { t_fail "dovecot_tunnel local"; t_done; }
dovecot_server remote . || { t_fail "dovecot_server remote"; t_done; }
LDIR=$(cd "$T/local" && pwd -P)
RDIR=$(cd "$T/remote" && pwd -P)

write_config "$T/scale.conf" <<EOF
database = $T/sync.db

[local]
type = tunnel
command = $tl

[remote]
type = imaps
host = 127.0.0.1
port = $DOVECOT_REMOTE_IMAPS_PORT
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $DOVECOT_REMOTE_CERT
EOF

# ---- the stores ------------------------------------------------------------

start=$SECONDS
printf 'INBOX\tpre\t1\t%d\n' "$N" | scale_gen local
printf 'INBOX\tpre\t2\t%d\t2\n' "$N" | scale_gen remote
t_log "stores filled in $((SECONDS - start)) s"

expect=$(scale_dumpall local /) || t_fail "dump the local store"
t_expect_eq "$(grep -vc '^==' <<<"$expect")" "$N" \
    "set-up: $N messages on the local side"
t_expect_eq "$(scale_dumpall remote | grep -vc '^==')" "$HALF" \
    "set-up: $HALF of them on the remote side"
t_expect_eq "$(grep -v '^==' <<<"$expect" | cut -d' ' -f1 | sort |
    uniq -d | wc -l)" 0 "set-up: no two messages alike"

# For SCALE_REF=1: the stores as they are before any sync.
if [ "${SCALE_REF:-0}" = 1 ]; then
	mkdir -p "$T/snap"
	cp -a "$LDIR/home" "$T/snap/local"
	cp -a "$RDIR/home" "$T/snap/remote"
fi

# ---- first sync --------------------------------------------------------------

scale_run "first sync, no database, $N local msgs, $HALF identical on remote" \
    --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "first sync exits 0"
grep -E 'ERROR|PANIC|WARNING' "$T/ours.err" | head -n 5 | sed 's/^/#   /'
cp "$T/ours.err" "$T/first.log"

t_expect_eq "$(scale_added "$T/first.log" remote)" "$HALF" \
    "first sync: the $HALF messages missing on the remote copied there"
t_expect_eq "$(scale_added "$T/first.log" local)" 0 \
    "first sync: nothing copied to the local (the shared half is paired)"
if scale_dbcheck "$T/sync.db" exact; then
	t_pass "first sync: the database maps every message once"
else
	t_fail "first sync: the database maps every message once"
fi
sed 's/^/#   /' "$T/dbcheck.out" | head -n 12
scale_expect_same "$(cat "$T/dump.local")" "$expect" \
    "first sync: the local store holds the $N messages, once each"
scale_expect_same "$(cat "$T/dump.remote")" "$expect" \
    "first sync: the remote store holds the same $N messages, once each"

# ---- second run: nothing to do -------------------------------------------------

scale_run "second run, no change, $N msgs" --config="$T/scale.conf"
t_expect_eq "$OURS_RC" 0 "second run exits 0"
t_expect_eq "$(scale_quiet "$T/ours.err")" "" \
    "second run: nothing added, removed or updated"
grep -E 'ERROR|PANIC' "$T/ours.err" | head -n 5 | sed 's/^/#   /'
scale_expect_same "$(scale_dumpall remote /)" "$expect" \
    "second run: the remote store unchanged"

# ---- the reference, for comparison (printed only) --------------------------------

if [ "${SCALE_REF:-0}" = 1 ]; then
	rm -rf "${LDIR:?}/home" "${RDIR:?}/home" "$T/sync.db"
	cp -a "$T/snap/local" "$LDIR/home"
	cp -a "$T/snap/remote" "$RDIR/home"
	scale_time_ref "reference: first sync, no database, $N local msgs, $HALF identical on remote" \
	    --config="$T/scale.conf"
	t_log "reference: local now $(scale_dumpall local | grep -vc '^==')" \
	    "messages, remote $(scale_dumpall remote | grep -vc '^==');" \
	    "added to local $(scale_added "$T/ref.err" local)," \
	    "to remote $(scale_added "$T/ref.err" remote)"
	scale_time_ref "reference: second run, no change" \
	    --config="$T/scale.conf"
fi

t_done
