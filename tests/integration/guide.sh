#!/bin/bash
#
# README.md's "Getting started" and "Migrating from the Perl interimap",
# followed as written by a new, unprivileged user:
#
#  - the README's shell blocks are taken in order: each is marked by a
#    comment on the line before its fence,
#	<!-- guide:apt -->	the packages: checked installed, not installed
#	<!-- guide:run -->	run as the user (sh -e, in the user's home)
#	<!-- guide:service -->	systemctl: each unit named is verified with
#				systemd-analyze and its ExecStart run for a
#				while (there is no user manager here)
#	<!-- guide:output -->	what the run block before it prints: the
#				same lines, "..." standing for any text
#    and the provider's placeholders (imap.example.net, the user name,
#    the password) are replaced by a test Dovecot's (IMAPS on 127.0.0.1,
#    its certificate as SSL_CAfile); nothing else is changed;
#  - the user is made here (useradd, home under $T) and removed at the end;
#    interimap is on its PATH as `interimap`, the reference stays
#    /usr/bin/interimap;
#  - after the first synchronisation the user's Dovecot (~/Mail) holds
#    the provider's messages, byte for byte, and the database is where
#    the guide says;
#  - the service's command line (interimap.service's ExecStart) brings a
#    new message over, tells the service manager the status the guide
#    shows (NOTIFY_SOCKET: tests/lib/notify_listen.py), keeps the
#    reference out (the lock) and stops with exit 0 on SIGTERM;
#  - mutt, configured as the guide says, shows the synchronised inbox
#    (run on a pseudo-terminal by script(1));
#  - the Perl interimap, run as the migration section says, carries on
#    from our database: changes both ways, nothing copied twice; ours
#    then finds nothing to do.

source "$SRCDIR/tests/lib/common.sh"
t_setup

README=$SRCDIR/README.md
UNITDIR=$SRCDIR/systemd

# ---- the guide's blocks -------------------------------------------------------

# Every block, in order, as $T/blocks/NN.KIND.
mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
	/^<!-- guide:[a-z]+ -->$/ {
		kind = $0; sub(/^<!-- guide:/, "", kind); sub(/ -->$/, "", kind)
		want = 1; next
	}
	want && /^```/ {
		n++; file = sprintf("%s/%02d.%s", dir, n, kind)
		printf "" >file; inblock = 1; want = 0; next
	}
	want { print "guide.sh: a guide marker is not followed by a block" \
	    >"/dev/stderr"; exit 1 }
	inblock && /^```$/ { inblock = 0; close(file); next }
	inblock { print >file }
' "$README" || t_fail "README.md: every guide marker precedes a block"
BLOCKS=("$T"/blocks/*)
runs=("$T"/blocks/*.run)
t_expect_eq "${#runs[@]}" 8 "README.md: the guide's run blocks are found"
for kind in apt service output; do
	if compgen -G "$T/blocks/*.$kind" >/dev/null; then
		t_pass "README.md: a guide:$kind block is found"
	else
		t_fail "README.md: a guide:$kind block is found"
	fi
done

# ---- the provider, the user -----------------------------------------------------

# The provider: "." as separator, where the user's Dovecot has "/".
dovecot_server remote . || { t_fail "dovecot_server"; t_done; }
mkdir -p "$T/msgs"
for i in 1 2 3 4 5 6; do
	cat >"$T/msgs/$i.eml" <<EOF
From: Bob <bob@example.org>
To: Alice <alice@example.net>
Subject: guide message $i
Date: Mon, 0$i Dec 2025 10:00:00 +0000
Message-ID: <$i.guide@example.org>

Body of message $i.
EOF
done
mail_add remote INBOX "$T/msgs/1.eml" '\Seen'
mail_add remote INBOX "$T/msgs/2.eml"
mail_add remote INBOX "$T/msgs/3.eml" '\Flagged'
mail_add remote Archive.2024 "$T/msgs/4.eml" '\Seen'

GUSER=imtguide$$
GUSER=${GUSER:0:31}
GHOME=$T/guide-home
if ! _t_as_imaptest test -x "$T"; then
	GHOME=$(mktemp -d /tmp/imt-guide.XXXXXX)/home || t_done
	chmod 0755 "$(dirname "$GHOME")"
	echo "rmdir $(dirname "$GHOME")" >>"$T/.cleanup"
fi
if ! useradd --no-create-home --home-dir "$GHOME" --shell /bin/sh \
    --user-group "$GUSER"; then
	t_fail "useradd $GUSER"
	t_done
fi
# Its processes first: all carry the marker.
t_on_exit "_t_sweep; userdel -f $GUSER; groupdel $GUSER 2>/dev/null"
mkdir -p "$GHOME"
chown "$GUSER:$GUSER" "$GHOME"
chmod 0755 "$GHOME"

# interimap on the user's PATH; the CA the provider's certificate is
# checked against.
GBIN=$(dirname "$GHOME")/bin
mkdir -p "$GBIN"
cp "$INTERIMAP" "$GBIN/interimap"
chmod 0755 "$GBIN" "$GBIN/interimap"
# A directory of the test's that the user may write (mutt's screen).
GOUT=$(dirname "$GHOME")/out
mkdir -p "$GOUT"
chown "$GUSER:$GUSER" "$GOUT"
CAFILE=$(dirname "$GHOME")/provider-ca.pem
cp "$DOVECOT_REMOTE_CERT" "$CAFILE"
chmod 0644 "$CAFILE"

# as_user CMD...: CMD as the new user, in its home, with a login's
# environment (and the test's marker, so that nothing is left running).
# "${AS_USER[@]}" CMD... where $! must be CMD's.
AS_USER=(setpriv --reuid="$GUSER" --regid="$GUSER" --init-groups
    env -i -C "$GHOME" HOME="$GHOME" USER="$GUSER" LOGNAME="$GUSER"
    SHELL=/bin/sh PATH="$GBIN:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8
    INTERIMAP_TEST_SCRATCH="$T")
as_user()
{
	"${AS_USER[@]}" TERM="${GTERM:-dumb}" "$@"
}

# The user's own Dovecot, for the checks (imapctl.py), through the
# guide's script.
{
	echo '#!/bin/sh'
	printf 'exec setpriv --reuid=%q --regid=%q --init-groups' "$GUSER" "$GUSER"
	printf ' env -i HOME=%q USER=%q PATH=/usr/bin:/bin' "$GHOME" "$GUSER"
	printf ' INTERIMAP_TEST_SCRATCH=%q' "$T"
	printf ' %q\n' "$GHOME/.local/bin/dovecot-imap"
} >"$T/guide-local.sh"
chmod 0755 "$T/guide-local.sh"
local_dump()
{
	python3 "$T_LIBDIR/imapctl.py" "$T/guide-local.sh" dump "$1"
}
local_count()
{
	local_dump "$1" | grep -c .
}
remote_count()
{
	mail_dump remote "$1" | grep -c .
}

# The provider's placeholders, in the blocks and the sample outputs.
subst()
{
	sed -e "s|^host = imap\\.example\\.net\$|host = 127.0.0.1\\
port = $DOVECOT_REMOTE_IMAPS_PORT\\
SSL_CAfile = $CAFILE|" \
	    -e "s|^username = .*|username = $DOVECOT_REMOTE_USER|" \
	    -e "s|^password = .*|password = $DOVECOT_REMOTE_PASS|" \
	    -e "s|imap\\.example\\.net|127.0.0.1|g" \
	    -e "s|Logged in as alice\$|Logged in as $GUSER|" \
	    -e "s|/home/alice/|$GHOME/|g" "$1"
}

# ---- following the guide ------------------------------------------------------------

# matches_sample OUTPUT SAMPLEFILE: the same number of lines, each
# matching its sample line, in which "..." stands for any text; a number
# stands for any number (sizes, "1.80K", and Dovecot's timings vary).
numbers()
{
	tr -d '\r' | sed -E 's/[0-9]+(\.[0-9]+)?K?/N/g'
}
matches_sample()
{
	local out=$1 sample=$2 n_out n_sample i line pat
	local -a got want

	mapfile -t got < <(printf '%s\n' "$out" | numbers)
	mapfile -t want < <(numbers <"$sample")
	n_out=${#got[@]}
	n_sample=${#want[@]}
	if [ "$n_out" -ne "$n_sample" ]; then
		echo "$n_out lines where the guide shows $n_sample"
		return 1
	fi
	for ((i = 0; i < n_out; i++)); do
		line=${want[i]}
		pat=
		while [[ $line == *...* ]]; do
			pat+=$(printf '%q' "${line%%...*}")'*'
			line=${line#*...}
		done
		pat+=$(printf '%q' "$line")
		# shellcheck disable=SC2053
		if [[ ${got[i]} != $pat ]]; then
			echo "line $((i + 1)): '${got[i]}' is not '${want[i]}'"
			return 1
		fi
	done
}

FIRST_SYNC=
LAST_OUT=
LAST_WHAT=
for b in "${BLOCKS[@]}"; do
	kind=${b##*.}
	what="$(basename "$b"): $(head -n 1 "$b")"
	case $kind in
	apt)
		pkgs=$(sed -n 's/.*apt-get install -y //p' "$b")
		t_expect_match "$pkgs" 'dovecot-imapd' "$what: names Dovecot"
		for p in $pkgs; do
			if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			    grep -q '^install ok installed$'; then
				t_pass "$what: $p is installed (.ci/install-deps)"
			else
				t_fail "$what: $p is installed (.ci/install-deps)"
			fi
		done
		;;
	output)
		subst "$b" >"$b.subst"
		if why=$(matches_sample "$LAST_OUT" "$b.subst"); then
			t_pass "$what: what $LAST_WHAT prints"
		else
			t_fail "$what: what $LAST_WHAT prints: $why"
			printf '%s\n' "$LAST_OUT" | sed 's/^/#   /'
		fi
		;;
	run)
		cmd=$(cat "$b")
		# Before: what the step after it has to carry.
		case $cmd in
		/usr/bin/interimap)
			# Changes on both sides, for the Perl interimap to
			# carry on from our database.
			mail_add remote INBOX "$T/msgs/6.eml"
			python3 "$T_LIBDIR/imapctl.py" "$T/guide-local.sh" \
			    store INBOX 2 + '\Answered' ||
			    t_fail "a flag set on the user's Dovecot"
			;;
		esac
		# Where the user can read it.
		script=$GOUT/$(basename "$b").sh
		subst "$b" >"$script"
		chmod 0644 "$script"
		start=$EPOCHREALTIME
		out=$(as_user sh -e "$script" </dev/null 2>"$b.err")
		rc=$?
		secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
		    'BEGIN { printf "%.1f", b - a }')
		t_expect_eq "$rc" 0 "$what: runs as given"
		if [ "$rc" -ne 0 ] || [ -s "$b.err" ]; then
			sed 's/^/#   stderr: /' "$b.err"
		fi
		# What a user sees: the standard output, then the error.
		LAST_OUT=$( { printf '%s' "$out"; [ -n "$out" ] && echo
		    cat "$b.err"; } | sed '$!b; /^$/d')
		LAST_WHAT=$(head -n 1 "$b")
		# After: what the step did.
		case $cmd in
		*LIST*)
			t_expect_match "$out" 'CAPABILITY [^]]* QRESYNC' \
			    "$what: the user's Dovecot has QRESYNC"
			t_expect_match "$out" $'\n\\* LIST \\([^)]*\\) "/" INBOX\r?\n' \
			    "$what: lists INBOX with / as separator"
			;;
		interimap)
			FIRST_SYNC=1
			t_log "the first synchronisation: $secs s"
			t_expect_eq "$(local_dump INBOX)" \
			    "$(mail_dump remote INBOX)" \
			    "first sync: ~/Mail's INBOX is the provider's"
			t_expect_eq "$(local_dump Archive/2024)" \
			    "$(mail_dump remote Archive.2024)" \
			    "first sync: Archive/2024 is the provider's Archive.2024"
			t_expect_eq "$(local_count INBOX)" 3 \
			    "first sync: 3 messages in the user's INBOX"
			if [ -d "$GHOME/Mail" ] &&
			    [ "$(stat -c %U "$GHOME/Mail")" = "$GUSER" ]; then
				t_pass "first sync: the store is ~/Mail, the user's"
			else
				t_fail "first sync: the store is ~/Mail, the user's"
			fi
			;;
		ls*)
			t_expect_eq "$out" 127.0.0.1.db \
			    "$what: the database, named after the host"
			t_expect_eq "$(stat -c %U "$GHOME/.local/share/interimap/127.0.0.1.db")" \
			    "$GUSER" "the database is the user's"
			;;
		*muttrc*)
			# mutt on a terminal: it opens the inbox through the
			# tunnel, shows the index, and quits (a mutt that
			# asks a question instead is stopped).
			GTERM=vt100 as_user timeout -k 5 30 script -qfec \
			    "mutt -e 'push <quit>'" "$GOUT/mutt.typescript" \
			    </dev/null >/dev/null 2>&1
			rc=$?
			t_expect_eq "$rc" 0 "mutt with the guide's .muttrc: exit 0"
			screen=$(tr -d '\033' <"$GOUT/mutt.typescript")
			for i in 1 2 3; do
				t_expect_match "$screen" "guide message $i" \
				    "mutt shows the synchronised message $i"
			done
			t_expect_match "$screen" 'INBOX' "mutt opened INBOX"
			;;
		/usr/bin/interimap)
			t_expect_eq "$(local_dump INBOX)" \
			    "$(mail_dump remote INBOX)" \
			    "the Perl interimap: INBOX the same on both sides"
			t_expect_eq "$(remote_count INBOX):$(local_count INBOX)" \
			    5:5 "the Perl interimap: nothing copied twice"
			t_expect_match "$(mail_dump remote INBOX)" \
			    '\\Answered' \
			    "the Perl interimap: the local flag reached the provider"
			out=$(as_user interimap 2>&1 </dev/null)
			rc=$?
			t_expect_eq "$rc:$(grep -v 'IMAP traffic' <<<"$out")" \
			    "0:" "ours after the Perl interimap: nothing to do"
			;;
		esac
		;;
	service)
		[ -n "$FIRST_SYNC" ] ||
		    t_fail "$what: comes after the first synchronisation"
		# shellcheck disable=SC2013
		for unit in $(grep -o '[a-z@-]*\.service' "$b" | sort -u); do
			svc_checked=${svc_checked:-}
			case " $svc_checked " in *" $unit "*) continue ;; esac
			svc_checked+=" $unit"
			if [ ! -f "$UNITDIR/$unit.in" ]; then
				t_fail "$what: $unit is one of ours (systemd/)"
				continue
			fi
			# Documentation=man:interimap(1): the page of the tree.
			mkdir -p "$T/units" "$T/man/man1"
			ln -sf "$SRCDIR/man/interimap.1" "$T/man/man1/"
			sed "s|@INTERIMAP_BIN@|$GBIN/interimap|" \
			    "$UNITDIR/$unit.in" >"$T/units/$unit"
			out=$(XDG_RUNTIME_DIR=$T/units MANPATH=$T/man \
			    systemd-analyze verify --user "$T/units/$unit" 2>&1)
			t_expect_eq "$?:$out" "0:" \
			    "systemd-analyze verify --user $unit"
		done
		if grep -q 'enable --now interimap\.service' "$b"; then
			# What the unit runs, as the user, for a while.
			exec_start=$(sed -n 's/^ExecStart=//p' \
			    "$T/units/interimap.service")
			t_expect_match "$exec_start" ' --watch=60$' \
			    "interimap.service runs --watch=60"
			# Its first pass is at once; the next, a minute later.
			mail_add remote INBOX "$T/msgs/5.eml"
			# The service manager's end of sd_notify, for the
			# status the guide shows.
			python3 "$T_LIBDIR/notify_listen.py" "$GOUT/notify.sock" \
			    "$T/notify.out" &
			listen_pid=$!
			t_track_pid "$listen_pid"
			for ((i = 0; i < 50; i++)); do
				[ -S "$GOUT/notify.sock" ] && break
				sleep 0.1
			done
			# shellcheck disable=SC2086
			"${AS_USER[@]}" NOTIFY_SOCKET="$GOUT/notify.sock" \
			    $exec_start </dev/null >"$T/watch.out" 2>&1 &
			watch_pid=$!
			t_track_pid "$watch_pid"
			for ((i = 0; i < 40; i++)); do
				[ "$(local_count INBOX)" -eq 4 ] && break
				sleep 0.5
			done
			t_expect_eq "$(local_count INBOX)" 4 \
			    "the service's command brings a new message over"
			# "Status: idle, 2 mailboxes, last sync 10:42"
			status_want=$(sed -n 's/.*"Status: \([^"]*\)".*/\1/p' "$b")
			for ((i = 0; i < 50; i++)); do
				grep -q 'STATUS=idle' "$T/notify.out" && break
				sleep 0.1
			done
			status_got=$(sed -n 's/.*STATUS=\(idle[^|]*\).*/\1/p' \
			    "$T/notify.out" | tail -n 1)
			t_expect_eq "$(numbers <<<"$status_got")" \
			    "$(numbers <<<"$status_want")" \
			    "the service's status, as the guide shows it ($status_got)"
			out=$(as_user /usr/bin/interimap 2>&1 </dev/null)
			rc=$?
			t_expect_eq "$((rc != 0))" 1 \
			    "while it runs, the Perl interimap is refused"
			t_log "the Perl interimap while ours runs: $out"
			kill -TERM "$watch_pid"
			wait "$watch_pid"
			rc=$?
			t_expect_eq "$rc" 0 "the service's command: SIGTERM, exit 0"
			if [ "$rc" -ne 0 ]; then
				sed 's/^/#   /' "$T/watch.out"
			fi
			kill -TERM "$listen_pid"
			wait "$listen_pid"
		fi
		;;
	esac
done

t_done
