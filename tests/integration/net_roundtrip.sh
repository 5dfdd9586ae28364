#!/bin/bash
#
# Messages go through the net children byte-exact, with their flags and
# INTERNALDATE: an 8-bit message, one with a 100 KB line and a 20 MiB
# one are FETCHed from one real Dovecot and APPENDed to another by the
# test engine (INTERIMAP_TEST_ENGINE_SCRIPT, engine/testclient.c), the
# bodies streamed chunk by chunk, over IMAPS with COMPRESS=DEFLATE on one
# side and plain IMAP+STARTTLS without compression on the other.  The
# largest process of the run must stay well below the message size:
# nothing holds a whole body.

source "$SRCDIR/tests/lib/common.sh"
t_setup

dovecot_server src
dovecot_server dst /
CONF=$T/interimap.conf
write_config "$CONF" <<EOF
[local]
type = imap
host = localhost
port = $DOVECOT_DST_IMAP_PORT
username = user
password = pass
SSL_CAfile = $DOVECOT_DST_CERT

[remote]
$(imaps_lines src)
EOF

# ---- the messages ------------------------------------------------------------

python3 - "$T" <<'EOF'
import os, random, sys
t = sys.argv[1]
rnd = random.Random(42)
# 8-bit: every byte value but NUL, CR and LF, in CRLF lines.
body = bytes(b for b in range(1, 256) if b not in (10, 13))
with open(f"{t}/m8bit", "wb") as f:
    f.write(b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n"
            b"Subject: 8-bit \xc3\xa9t\xc3\xa9\r\n"
            b"Content-Type: text/plain; charset=latin1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n")
    for i in range(40):
        f.write(body[i:] + body[:i] + b"\r\n")
# One line of 100 KB.
with open(f"{t}/mlong", "wb") as f:
    f.write(b"From: long@example.org\r\nSubject: long line\r\n\r\n")
    f.write(bytes(rnd.choice(b"abcdefghij ") for _ in range(100 * 1024)))
    f.write(b"\r\n")
# 20 MiB of base64-looking lines.
alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
line = bytearray()
with open(f"{t}/mbig", "wb") as f:
    f.write(b"From: big@example.org\r\nSubject: big\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    size = 0
    chunk = bytes(rnd.choice(alphabet) for _ in range(76 * 4096))
    while size < 20 * 1024 * 1024:
        for i in range(0, len(chunk), 76):
            f.write(chunk[i:i + 76] + b"\r\n")
        size += len(chunk) // 76 * 78
        chunk = chunk[7:] + chunk[:7]
EOF
t_log "sizes: $(stat -c '%n=%s' "$T"/m8bit "$T"/mlong "$T"/mbig | sed "s|$T/||g" | tr '\n' ' ')"

MAIL_DATE="03-Feb-2019 04:05:06 +0200" mail_add src INBOX "$T/m8bit" \
    '\Seen' 'Junk'
MAIL_DATE="31-Dec-1999 23:59:59 -0800" mail_add src INBOX "$T/mlong" \
    '\Flagged' '\Answered' '$Label1'
MAIL_DATE="29-Feb-2024 12:00:00 +0000" mail_add src INBOX "$T/mbig" '\Draft'
mailbox_create dst INBOX 2>/dev/null

# ---- the copy, remote -> local ----------------------------------------------

# Runs our binary, its peak memory (the largest process of the tree, KiB)
# in $T/maxrss.
run_measured()
{
	python3 - "$T" "$@" <<'EOF'
import resource, subprocess, sys
t = sys.argv[1]
with open(f"{t}/measured.out", "wb") as out, \
        open(f"{t}/measured.err", "wb") as err:
    rc = subprocess.call(sys.argv[2:], stdin=subprocess.DEVNULL,
                         stdout=out, stderr=err, timeout=300)
with open(f"{t}/maxrss", "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)
EOF
	OURS_RC=$?
}

# The same run with a small message gives the baseline (libraries,
# buffers).  A sanitizer build keeps freed memory in quarantine: not here.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
MAIL_DATE="03-Feb-2019 04:05:06 +0200" mail_add src small "$T/m8bit"
INTERIMAP_TEST_ENGINE_SCRIPT="copy remote small small" \
    run_measured "$INTERIMAP" --config="$CONF"
t_expect_eq "$OURS_RC" 0 "baseline run (one small message) exits 0"
base=$(cat "$T/maxrss")
INTERIMAP_TEST_ENGINE_SCRIPT="copy remote INBOX INBOX" \
    run_measured "$INTERIMAP" --config="$CONF"
err=$(cat "$T/measured.err")
t_expect_eq "$OURS_RC" 0 "copy run exits 0"
t_expect_match "$err" $'(^|\n)local: copy: 3 message\\(s\\), [0-9]+ bytes, to INBOX: OK APPENDUID [0-9]+ 1:3(\n|$)' \
    "one MULTIAPPEND of the three messages, APPENDUID 1:3"
t_expect_match "$err" $'(^|\n)remote: READY caps=0x[0-9a-f]+ compressed' \
    "remote (imaps) is compressed"
t_expect_match "$err" $'(^|\n)local: READY caps=0x[0-9a-f]+\n' \
    "local (imap+STARTTLS, compress defaults to NO) is not"
t_expect_match "$err" $'(^|\n)remote: IMAP traffic \\(bytes\\): recv 2[0-9.]+M \\(compr\\. [0-9.]+M, factor 0\\.[0-9]+\\) sent [0-9.K]+ \\(compr\\. [0-9.K]+, factor [0-9.]+\\)(\n|$)' \
    "remote's summary shows the compression"
t_expect_match "$err" $'(^|\n)local: IMAP traffic \\(bytes\\): recv [0-9.K]+ sent 2[0-9.]+M(\n|$)' \
    "local's summary: 20 MiB sent, no compression part"
t_expect_match "$(grep -n 'IMAP traffic' <<<"$err")" '^[0-9]+:local:.*'$'\n''[0-9]+:remote:' \
    "local's summary first"

src=$(mail_dump src INBOX)
dst=$(mail_dump dst INBOX)
t_expect_eq "$(wc -l <<<"$dst")" 3 "three messages arrived"
t_expect_eq "$dst" "$src" "bodies, flags and INTERNALDATEs identical"
for m in m8bit mlong mbig; do
	sum=$(sha256sum <"$T/$m" | cut -d' ' -f1)
	t_expect_match "$dst" "(^|"$'\n'")$sum " "$m arrived byte-exact"
done

maxrss=$(cat "$T/maxrss")
t_log "peak RSS: ${base} KiB for a small message, ${maxrss} KiB with 20 MiB"
# A held body would add at least its 20 MiB.
if [ $((maxrss - base)) -lt 10240 ]; then
	t_pass "no process held a 20 MiB body (+$((maxrss - base)) KiB)"
else
	t_fail "the peak grew by $((maxrss - base)) KiB for a 20 MiB message"
fi

# ---- and back, local -> remote, with --debug: bodies never logged ------------

INTERIMAP_TEST_ENGINE_SCRIPT="remote create back; wait; copy local INBOX back" \
    run_ours --config="$CONF" --debug
err=$(cat "$T/ours.err")
t_expect_eq "$OURS_RC" 0 "copy back exits 0"
t_expect_eq "$(mail_dump src back)" "$src" "copied back identical"
t_expect_match "$err" $'\nremote: C: [0-9]+ APPEND back \\(Junk \\\\Seen\\) "03-Feb-2019 02:05:06 \\+0000" \\{[0-9]+\\+\\}\n' \
    "APPEND with flags, date (as the server gave it), non-synchronising literal"
t_expect_match "$err" $'\nremote: C: \\[\\.\\.\\.\\] \\(\\$Label1 \\\\Answered \\\\Flagged\\) "01-Jan-2000 07:59:59 \\+0000" \\{[0-9]+\\+\\}\n' \
    "MULTIAPPEND: the next message on the line after the literal"
t_expect_eq "$(grep -c 'AAAAAAA\|abcabc' <<<"$err")" 0 \
    "no body bytes in the protocol log"
t_expect_eq "$(grep -c '^local\((INBOX)\)\?: S: \[\.\.\.\])$' <<<"$err")" 3 \
    "each FETCHed body shown as [...]"

t_done
