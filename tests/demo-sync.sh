#!/bin/bash
#
# A real synchronisation between a throwaway pair of local Dovecot servers:
# "local" is a pre-authenticated tunnel (hierarchy delimiter "/"), "remote"
# a network server reached over IMAPS with COMPRESS=DEFLATE (delimiter ".").
# Both are deleted at the end (KEEP=1 keeps them for a look).
#
#	tests/demo-sync.sh [path/to/interimap]
#
# Needs root (Dovecot runs as the unprivileged user imaptest) and the
# packages of .ci/install-deps.

set -eu
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
INTERIMAP=$(realpath "${1:-$SRCDIR/build/interimap}")
[ -x "$INTERIMAP" ] || { echo "no binary at $INTERIMAP: build first" >&2; exit 1; }
export SRCDIR INTERIMAP
export BUILDDIR=${BUILDDIR:-/tmp/interimap-demo} TESTNAME=demo
mkdir -p "$BUILDDIR"
source "$SRCDIR/tests/lib/common.sh"
t_setup >/dev/null

step()
{
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

show()
{
	local side mbox
	for side in local remote; do
		echo "$side:"
		mailbox_list "$side" | while IFS=$'\t' read -r mbox _; do
			printf '  %-14s %s message(s)\n' "$mbox" \
			    "$(mail_dump "$side" "$mbox" 2>/dev/null | wc -l)"
		done
	done
}

sync()
{
	echo "\$ interimap --config=$T/config.ini"
	"$INTERIMAP" --config="$T/config.ini"
}

step "starting two Dovecot servers"
tunnel=$(dovecot_tunnel local /)
dovecot_server remote .
for i in 1 2 3; do
	printf 'From: alice@example.org\r\nSubject: local %s\r\n\r\nHello %s\r\n' \
	    "$i" "$i" >"$T/l$i.eml"
	printf 'From: bob@example.net\r\nSubject: remote %s\r\n\r\nHi %s\r\n' \
	    "$i" "$i" >"$T/r$i.eml"
	mail_add local INBOX "$T/l$i.eml" '\Seen'
	mail_add remote INBOX "$T/r$i.eml"
done
mail_add remote Lists.dovecot "$T/r1.eml" '\Flagged'
mail_add local Archive/2026 "$T/l2.eml"
write_config "$T/config.ini" <<EOC
[local]
type = tunnel
command = $tunnel

[remote]
type = imaps
host = localhost
port = $DOVECOT_REMOTE_IMAPS_PORT
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $DOVECOT_REMOTE_CERT
EOC
show

step "first synchronisation"
sync
show

step "new mail on both sides, a flag changed, a message deleted"
mail_add local INBOX "$T/l3.eml" '\Answered'
mail_add remote Lists.dovecot "$T/r2.eml"
mail_store remote INBOX 1 + '\Flagged'
mail_expunge local Archive/2026 1
sync
show

step "nothing changed: nothing to do"
sync

local_inbox=$(mail_dump local INBOX)
if [ "$local_inbox" = "$(mail_dump remote INBOX)" ]; then
	step "INBOX is identical on both servers"
else
	step "INBOX differs between the servers!"
	exit 1
fi
t_pass demo >/dev/null
t_done >/dev/null
