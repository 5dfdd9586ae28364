# shellcheck shell=bash
# Variables set here for the tests to read (REF_RC, SOCKS_PORT...):
# shellcheck disable=SC2034
#
# Shared library of the shell tests (tests/integration, tests/diff).
#
#	source "$SRCDIR/tests/lib/common.sh"
#	t_setup
#	...
#	t_done
#
# The environment comes from ctest (tests/CMakeLists.txt): $INTERIMAP (our
# binary: the test build, with the hooks of ipc/testhooks.h),
# $INTERIMAP_RELEASE (the installed binary, without them), $SRCDIR,
# $BUILDDIR, $TESTNAME.  Each is given a default so that a test can also be
# run by hand (`bash tests/integration/harness.sh`).
#
# Tests run as root; Dovecot refuses to serve mail as root, so every server
# runs its mail processes as the unprivileged user `imaptest` (created by
# .ci/install-deps).  Whatever a test starts is stopped by the EXIT trap,
# whether the test passes, fails or dies: servers, SOCKS proxies, and every
# process that still carries this test's marker in its environment.
#
# API (see README.md and tests/integration/harness.sh for an example):
#   t_setup                       scratch dir $T, HOME/XDG_* under it, trap
#   t_pass MSG / t_fail MSG       count a check
#   t_expect_eq ACTUAL EXPECTED WHAT
#   t_expect_match STRING REGEX WHAT   (bash ERE, =~)
#   t_done                        "N passed, M failed", exit status
#   t_on_exit CMD                 extra cleanup (do not set your own trap)
#   t_track_pid PID               kill PID at exit (e.g. a --watch run)
#   dovecot_tunnel NAME [SEP]     prints a tunnel command (pre-auth Dovecot)
#   dovecot_server NAME [SEP [CERTDIR]]
#                                 network Dovecot; sets DOVECOT_<NAME>_*
#   cyrus_server NAME [SEP]       network Cyrus IMAP 3.6; sets CYRUS_<NAME>_*
#   cyrus_reset NAME              empty that Cyrus (restarted, same ports)
#   cyrus_snapshot NAME DIR       copy that Cyrus's state (conf/, spool/)
#   cyrus_restore NAME DIR        put it back (restarted, same ports)
#   server_var NAME FIELD         IMAP_PORT, IMAPS_PORT, CERT or ENDPOINT of
#                                 a network server (ENDPOINT: for scen_ops)
#   mail_add NAME MAILBOX FILE [FLAG...]   (MAIL_DATE="dd-Mon-yyyy ...")
#   mail_add_many NAME MAILBOX FILE...
#   mail_dump NAME MAILBOX        "sha256 flags internaldate", sorted
#   mail_uids NAME MAILBOX        UIDs, one a line
#   mail_store NAME MAILBOX UIDSET +|-|= FLAG...
#   mail_expunge NAME MAILBOX UIDSET
#   mailbox_list NAME [SEP]       "name<TAB>state", sorted
#   mailbox_status NAME MAILBOX   MESSAGES/UIDNEXT/UIDVALIDITY/HIGHESTMODSEQ
#   mailbox_create|mailbox_delete|mailbox_subscribe|mailbox_unsubscribe
#                                 NAME MAILBOX
#   mailbox_rename NAME OLD NEW
#   imap_raw NAME COMMAND...      raw IMAP commands, responses printed;
#                                 status 1 if one was answered NO/BAD; a
#                                 LF is sent as CRLF ({N+} literals)
#   free_port / wait_port PORT [SECONDS]
#   make_cert DIR CN [SAN] / make_ca_and_cert DIR [CN [SAN]]
#   cert_spki_sha256 CERT
#   write_config FILE <<EOF ... EOF
#   tunnel_config FILE DATABASE LOCALCMD REMOTECMD   two tunnels' config
#   run_ref ARGS... / run_ours ARGS...   ($REF_RC, $OURS_RC, $T/*.err)
#   ours_pids                     our binary's processes still running
#   socks_server microsocks|danted [USER:PASS]   sets SOCKS_PORT
#   table_names NAME FILE         the quoted names of C table NAME[] in FILE
#
# Servers.  Each NAME has its directory $T/NAME: dovecot.conf, tunnel.sh
# (pre-authenticated IMAP on stdin/stdout, also for network servers),
# home/ (the store), dovecot.log (network server), imap.log (what
# tunnelled Dovecot processes print on stderr).  The store is
# sdbox:~/Mail:LAYOUT=index, where any mailbox name works with any
# separator; the environment tunes it before the server is made:
#   DOVECOT_MAIL_LOCATION  another mail_location
#   DOVECOT_EXTRA_CONF     text appended to dovecot.conf (later settings
#                          win: e.g. "protocol imap {\n mail_plugins =\n}"
#                          removes COMPRESS, "auth_mechanisms = login")
#   DOVECOT_TZ             the servers' time zone (default UTC; Cyrus's
#                          too)
# A network server has LOGIN and PLAIN for user "user", password "pass"
# (any other name or password is refused).  dovecot_server must run in
# the test's shell (it sets variables); dovecot_tunnel may run in $(...).
#
# The variant: $INTERIMAP_TEST_REMOTE, in $T_REMOTE (tests/CMakeLists.txt
# sets it for the NAME@cyrus tests), names the implementation of the
# network servers: "dovecot" (the default) or "cyrus"; scen_layout
# (scenario.sh) starts a Cyrus for every "imaps" role when it is "cyrus".
#
# A Cyrus server (cyrus_server) has the same user and password, over
# IMAP (+STARTTLS) and IMAPS; its directory $T/NAME holds imapd.conf,
# cyrus.conf, conf/ (configdirectory), spool/ (the partition), sasldb2,
# master.log, and imapctl.login, the endpoint through which the helpers
# below log in (plain LOGIN over TCP) where a Dovecot has tunnel.sh.
# $CYRUS_EXTRA_CONF is appended to imapd.conf (Cyrus refuses a key given
# twice: only keys cyrus_server does not set); $CYRUS_SASL_MECHS replaces
# sasl_mech_list's "PLAIN LOGIN".  Cyrus's own facts and
# quirks: tests/lib/CYRUS-NOTES.md.
#
# mail_dump prints, per message, the SHA-256 of the message as the server
# returns it (BODY[], CRLF), its flags sorted and joined by "," ("-" when
# none; \Recent never), and INTERNALDATE as the server shows it.
# mail_add turns bare LF into CRLF.  mailbox_list states: "subscribed",
# "noselect", "nonexistent" (subscribed only), joined by ",", or "-".

T_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SRCDIR:=$(cd "$T_LIBDIR/../.." && pwd)}"
: "${TESTNAME:=$(basename "$0" .sh)}"
if [ -z "${INTERIMAP:-}" ] && [ -n "${BUILDDIR:-}" ]; then
	INTERIMAP=$BUILDDIR/testbin/interimap
fi
if [ -z "${INTERIMAP_RELEASE:-}" ] && [ -n "${BUILDDIR:-}" ]; then
	INTERIMAP_RELEASE=$BUILDDIR/interimap
fi
export SRCDIR TESTNAME INTERIMAP INTERIMAP_RELEASE

IMAPTEST_USER=${IMAPTEST_USER:-imaptest}
REF_INTERIMAP=${REF_INTERIMAP:-/usr/bin/interimap}
# The servers' time zone: INTERNALDATE is shown in it.
T_SRV_TZ=${DOVECOT_TZ:-UTC}
# How long one run_ref/run_ours may take before it is killed.
T_TIMEOUT=${T_TIMEOUT:-300}
# The implementation of this variant's network servers (see above).
T_REMOTE=${INTERIMAP_TEST_REMOTE:-dovecot}
case $T_REMOTE in
dovecot|cyrus)	;;
*)	echo "common.sh: INTERIMAP_TEST_REMOTE must be dovecot or cyrus" \
	    "(not '$T_REMOTE')" >&2
	exit 1 ;;
esac
# The sync method of the variant (tests/CMakeLists.txt): "qresync" (the
# default), "condstore", where the network servers our program talks to
# hide QRESYNC, or "plain", where they hide CONDSTORE too (scen_layout:
# world B's; see hide_caps).
T_METHOD=${INTERIMAP_TEST_METHOD:-qresync}
case $T_METHOD in
qresync|condstore|plain)	;;
*)	echo "common.sh: INTERIMAP_TEST_METHOD must be qresync," \
	    "condstore or plain (not '$T_METHOD')" >&2
	exit 1 ;;
esac
# What Dovecot 2.3 advertises after login (hide_caps): a tunnel's list; a
# network server adds COMPRESS=DEFLATE.
T_DOVECOT_CAPS='IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY'

export LC_ALL=C

# --------------------------------------------------------------------------

# method_conf KIND: for a server our program syncs, the hide_caps setting
# the variant's method needs (none with T_METHOD qresync).
method_conf()
{
	case $T_METHOD in
	condstore)	hide_caps "$1" QRESYNC ;;
	plain)		hide_caps "$1" QRESYNC CONDSTORE ;;
	esac
}

# hide_caps KIND CAP...: the server setting (for DOVECOT_EXTRA_CONF with
# KIND dovecot (a tunnel) or dovecot-server, CYRUS_EXTRA_CONF with cyrus)
# that stops the server from advertising the capabilities CAP...  Dovecot
# still honours what it hides if asked; we never ask for what the server
# did not advertise.  (Dovecot's imap_capability replaces the whole list,
# the plugins' capabilities included.)
hide_caps()
{
	local kind=$1 cap keep=() c all=$T_DOVECOT_CAPS
	shift
	if [ "$kind" = cyrus ]; then
		echo "suppress_capabilities: $*"
		return
	fi
	[ "$kind" = dovecot-server ] && all+=" COMPRESS=DEFLATE"
	for c in $all; do
		for cap in "$@"; do
			[ "$c" = "$cap" ] && continue 2
		done
		keep+=("$c")
	done
	echo "imap_capability = ${keep[*]}"
}
# Results and lifetime

t_setup()
{
	local root

	if [ -n "${BUILDDIR:-}" ]; then
		root=$BUILDDIR/tmp
	else
		root=/tmp/interimap-tests
	fi
	T=$root/$TESTNAME
	export T

	if ! id -u "$IMAPTEST_USER" >/dev/null 2>&1; then
		echo "common.sh: user $IMAPTEST_USER missing:" \
		    "run .ci/install-deps" >&2
		exit 1
	fi

	# A previous run of this test that was killed may have left
	# processes behind: they carry the same marker.
	_t_sweep
	rm -rf "$T"
	mkdir -p "$T" || exit 1
	chmod 755 "$T"
	: >"$T/.results"
	: >"$T/.cleanup"
	: >"$T/.ports"

	# Every process started from here on carries this marker, so that
	# the EXIT trap can find and end whatever is left.
	export INTERIMAP_TEST_SCRATCH=$T

	export HOME=$T/home
	export XDG_CONFIG_HOME=$T/config
	export XDG_DATA_HOME=$T/data
	mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"

	# The servers' files must be reachable by the unprivileged user; if
	# some parent of $T is not, they live under /tmp instead, linked
	# from $T.
	T_SRVROOT=$T
	if ! _t_as_imaptest test -x "$T"; then
		T_SRVROOT=$(mktemp -d /tmp/imt-srv.XXXXXX) || exit 1
		chmod 755 "$T_SRVROOT"
		echo "rmdir $T_SRVROOT" >>"$T/.cleanup"
	fi

	T_ON_EXIT=()
	T_ON_DONE=()
	T_DONE=
	trap _t_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	echo "# $TESTNAME: scratch $T"
}

t_pass()
{
	echo "PASS $*" >>"$T/.results"
	echo "ok - $*"
}

t_fail()
{
	echo "FAIL $*" >>"$T/.results"
	echo "not ok - $*"
}

t_log()
{
	echo "# $*"
}

t_expect_eq()
{
	local actual=$1 expected=$2 what=$3

	if [ "$actual" == "$expected" ]; then
		t_pass "$what"
		return 0
	fi
	t_fail "$what"
	if [[ $actual == *$'\n'* || $expected == *$'\n'* ]]; then
		diff -u --label expected --label actual \
		    <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") |
		    sed 's/^/#   /' || true
	else
		echo "#   expected: '$expected'"
		echo "#   actual:   '$actual'"
	fi
	return 1
}

t_expect_match()
{
	local string=$1 regex=$2 what=$3

	if [[ $string =~ $regex ]]; then
		t_pass "$what"
		return 0
	fi
	t_fail "$what"
	echo "#   regex:  $regex"
	printf '%s\n' "$string" | head -n 40 | sed 's/^/#   string: /' || true
	return 1
}

# t_has TEXT REGEX WHAT: a whole line of TEXT matches the extended
# REGEX; t_hasnt TEXT REGEX WHAT: no line of TEXT contains a match.
t_has()
{
	t_expect_match "$1" "(^|"$'\n'")$2(\$|"$'\n'")" "$3"
}

t_hasnt()
{
	t_expect_eq "$(grep -cE -- "$2" <<<"$1")" 0 "$3"
}

# fake_conf SCENARIO [EXTRA-REMOTE-LINES]: $CONF ($T/interimap.conf) with
# a scripted remote playing SCENARIO (tests/integration/net_fake_imap.py,
# logging to $FAKE_IMAP_LOG, $T/fake.log) and a well-behaved local.
fake_conf()
{
	local fake=$SRCDIR/tests/integration/net_fake_imap.py

	CONF=$T/interimap.conf
	export FAKE_IMAP_LOG=$T/fake.log
	write_config "$CONF" <<EOF
[local]
type = tunnel
command = env FAKE_IMAP_LOG=/dev/null python3 $fake ok

[remote]
type = tunnel
command = python3 $fake $1
${2:-}
EOF
}

# fake_run SCRIPT [ARGS...]: our program with the test engine's SCRIPT
# (engine/testclient.c) on $CONF, whose servers are scripted ones
# (tests/integration/net_fake_imap.py, logging to $FAKE_IMAP_LOG): its
# stderr in $ERR, its status in $OURS_RC, the fake's log in $FLOG.
fake_run()
{
	local script=$1

	shift
	: >"$FAKE_IMAP_LOG"
	INTERIMAP_TEST_TIMEOUT=${FAKE_TIMEOUT:-5} \
	    INTERIMAP_TEST_ENGINE_SCRIPT=$script run_ours --config="$CONF" "$@"
	ERR=$(cat "$T/ours.err")
	FLOG=$(cat "$FAKE_IMAP_LOG")
}

# t_expect_net_lost RC ERR SIDE WHAT: the run ended on a transient fault
# of SIDE's net (a lost connection or a silent server: the net exits
# EXIT_NET_LOST, 5), and nothing else died.  A one-shot run reports it as
# exit 1; until priv maps a net's 5 to that, priv says "net(SIDE) exited
# unexpectedly (status 5)" and exits 4 (EXIT_CHILD), accepted here too.
t_expect_net_lost()
{
	local rc=$1 err=$2 side=$3 what=$4 others

	others=$(grep -v "ERROR: net($side) exited unexpectedly (status 5)$" \
	    <<<"$err" | grep -c 'killed by signal\|exited unexpectedly\|broken IPC\|PANIC at\|Sanitizer')
	if [ "$rc" = 1 ] && ! grep -q 'exited unexpectedly' <<<"$err"; then
		t_pass "$what: exit 1 (a lost connection)"
	elif [ "$rc" = 4 ] && grep -q "ERROR: net($side) exited unexpectedly (status 5)$" <<<"$err"; then
		t_pass "$what: net($side) exited 5 (a lost connection; exit 4 until priv maps it)"
	else
		t_fail "$what: a lost connection (exit 1, or net($side)'s status 5)"
		echo "#   exit: $rc"
		grep 'ERROR' <<<"$err" | head -n 5 | sed 's/^/#   /' || true
	fi
	t_expect_eq "$others" 0 "$what: no process died of it"
}

t_done()
{
	local npass nfail cmd

	# The checks a library makes of the whole test (t_on_done), once.
	for cmd in "${T_ON_DONE[@]}"; do
		eval "$cmd"
	done
	T_ON_DONE=()
	npass=$(grep -c '^PASS' "$T/.results" || true)
	nfail=$(grep -c '^FAIL' "$T/.results" || true)
	T_DONE=1
	if [ "$nfail" -ne 0 ] || [ "$npass" -eq 0 ]; then
		_t_diagnostics
	fi
	echo "$npass passed, $nfail failed"
	if [ "$nfail" -ne 0 ] || [ "$npass" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

t_on_exit()
{
	T_ON_EXIT+=("$*")
}

# t_on_done CMD: run CMD at t_done, before the results are counted (a
# check that needs the whole test), not when t_done is never reached.
t_on_done()
{
	T_ON_DONE+=("$*")
}

t_track_pid()
{
	echo "pid $1" >>"$T/.cleanup"
}

# Print what helps to understand a failure: the tail of every log.
_t_diagnostics()
{
	local f

	echo "# ---- diagnostics ($T) ----"
	for f in "$T"/*.err "$T"/*/dovecot.log "$T"/*/imap.log \
	    "$T"/*/master.log "$T"/*/start.err "$T"/socks-*/log \
	    "$T"/socks-*/danted.log; do
		[ -s "$f" ] || continue
		echo "# -- ${f#"$T"/} (last 25 lines)"
		tail -n 25 "$f" | sed 's/^/#   /'
	done
}

_t_exit()
{
	local rc=$? cmd left pid

	trap - EXIT INT TERM HUP
	set +e
	for cmd in "${T_ON_EXIT[@]}"; do
		eval "$cmd"
	done
	_t_cleanup
	if [ -z "$T_DONE" ]; then
		echo "not ok - test ended before t_done (status $rc)"
		_t_diagnostics
		[ "$rc" -eq 0 ] && rc=1
	fi
	left=$(_t_marked_pids)
	if [ -n "$left" ]; then
		# Processes that were already ending get a moment.
		sleep 1
		left=$(_t_marked_pids)
	fi
	if [ -n "$left" ]; then
		echo "not ok - processes left running after the test:"
		for pid in $left; do
			ps -o pid=,user=,args= -p "$pid" | sed 's/^/#   /'
		done
		_t_sweep KILL
		[ "$rc" -eq 0 ] && rc=1
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# KEEP=1: scratch left in $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

_t_cleanup()
{
	local what arg

	[ -f "$T/.cleanup" ] || return 0
	# Dovecot and Cyrus first, in an orderly way, then whatever is left.
	while read -r what arg; do
		case $what in
		dovecot) _t_dovecot_stop "$arg" ;;
		cyrus)	_t_cyrus_stop "$arg" ;;
		esac
	done <"$T/.cleanup"
	while read -r what arg; do
		[ "$what" = pid ] && _t_kill "$arg"
	done <"$T/.cleanup"
	_t_sweep
	while read -r what arg; do
		case $what in
		rmdir)	rm -rf "$arg" ;;
		rmfile)	rm -f "$arg" ;;
		esac
	done <"$T/.cleanup"
}

# Is PID alive (and not a zombie waiting to be reaped)?
_t_alive()
{
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

_t_kill()
{
	local pid=$1 i

	_t_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		_t_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# The processes (other than this shell) whose environment carries this
# test's marker.
_t_marked_pids()
{
	local self=$BASHPID pid ppid

	[ -n "${T:-}" ] || return 0
	# This function runs in a command substitution: its own subshell,
	# the loop's subshell and grep carry the marker too; skip them.
	grep -lzxF -- "INTERIMAP_TEST_SCRATCH=$T" /proc/[0-9]*/environ \
	    2>/dev/null | while IFS=/ read -r _ _ pid _; do
		[ "$pid" = "$$" ] && continue
		[ "$pid" = "$self" ] && continue
		[ "$pid" = "$BASHPID" ] && continue
		ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) ||
		    continue
		[ "$ppid" = "$self" ] && continue
		_t_alive "$pid" && echo "$pid"
	done
	return 0
}

_t_sweep()
{
	local sig pids i

	for sig in ${1:-TERM} KILL; do
		pids=$(_t_marked_pids)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -"$sig" $pids 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			[ -n "$(_t_marked_pids)" ] || return 0
			sleep 0.1
		done
	done
	return 0
}

_t_as_imaptest()
{
	setpriv --reuid="$IMAPTEST_USER" --regid="$IMAPTEST_USER" \
	    --init-groups "$@"
}

# --------------------------------------------------------------------------
# Small tools

# An unused TCP port on 127.0.0.1 (never the same twice in one test).
free_port()
{
	local p i

	for ((i = 0; i < 500; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
		grep -qx "$p" "$T/.ports" 2>/dev/null && continue
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			echo "$p" >>"$T/.ports"
			echo "$p"
			return 0
		fi
	done
	echo "free_port: no free port found" >&2
	return 1
}

# Wait until something accepts connections on 127.0.0.1:PORT.
wait_port()
{
	local port=$1 secs=${2:-10} i

	for ((i = 0; i < secs * 20; i++)); do
		if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "wait_port: nothing listens on port $port after ${secs}s" >&2
	return 1
}

# Self-signed certificate DIR/cert.pem + DIR/key.pem for CN, with
# subjectAltName SAN (default DNS:localhost,IP:127.0.0.1).
make_cert()
{
	local dir=$1 cn=${2:-localhost}
	local san=${3:-DNS:localhost,IP:127.0.0.1}

	mkdir -p "$dir" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 30 -subj "/CN=$cn" -addext "subjectAltName=$san" \
	    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/openssl.err" ||
	    { cat "$dir/openssl.err" >&2; return 1; }
}

# A private CA (DIR/ca.pem, DIR/ca.key) and a server certificate signed by
# it (DIR/cert.pem, DIR/key.pem, DIR/chain.pem = cert + CA).  Each call
# makes a new CA, so two such directories do not trust each other.
make_ca_and_cert()
{
	local dir=$1 cn=${2:-localhost}
	local san=${3:-DNS:localhost,IP:127.0.0.1}

	mkdir -p "$dir" || return 1
	{
		openssl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		    -subj "/CN=interimap test CA $RANDOM$RANDOM" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" \
		    -keyout "$dir/ca.key" -out "$dir/ca.pem" &&
		openssl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/CN=$cn" -keyout "$dir/key.pem" -out "$dir/cert.csr" &&
		printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" \
		    "extendedKeyUsage=serverAuth" >"$dir/cert.ext" &&
		openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" \
		    -CAkey "$dir/ca.key" -set_serial "$((RANDOM * 32768 + RANDOM))" \
		    -days 30 -extfile "$dir/cert.ext" -out "$dir/cert.pem"
	} 2>"$dir/openssl.err" || { cat "$dir/openssl.err" >&2; return 1; }
	cat "$dir/cert.pem" "$dir/ca.pem" >"$dir/chain.pem"
}

# The SHA-256 of a certificate's SubjectPublicKeyInfo, as SSL_fingerprint
# wants it.
cert_spki_sha256()
{
	openssl x509 -in "$1" -pubkey -noout |
	    openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -r | cut -d' ' -f1
}

# write_config FILE <<EOF ... EOF
write_config()
{
	mkdir -p "$(dirname "$1")" || return 1
	cat >"$1" && chmod 600 "$1"
}

# Run the reference / our binary with the test's environment, no stdin,
# stdout to $T/{ref,ours}.out, stderr to $T/{ref,ours}.err, the exit status
# in $REF_RC / $OURS_RC.  Never fails itself (safe under set -e).
# tunnel_config FILE DATABASE LOCALCMD REMOTECMD [LINE...]: a
# configuration of two tunnelled servers (dovecot_tunnel's commands) and
# the database; each LINE ("key = value") goes to the default section too.
tunnel_config()
{
	_t_pair_config "$1" "$2" "type = tunnel"$'\n'"command = $3" \
	    "type = tunnel"$'\n'"command = $4" "${@:5}"
}

# _t_pair_config FILE DATABASE LOCAL-LINES REMOTE-LINES [LINE...]
_t_pair_config()
{
	write_config "$1" <<EOF
database = $2
$(printf '%s\n' "${@:5}")
[local]
$3

[remote]
$4
EOF
}

# imaps_lines SERVER: the section lines reaching SERVER (dovecot_server's
# or cyrus_server's NAME) over IMAPS as user/pass, its certificate trusted.
imaps_lines()
{
	printf '%s\n' "type = imaps" "host = localhost" \
	    "port = $(server_var "$1" IMAPS_PORT)" "username = user" \
	    "password = pass" "SSL_CAfile = $(server_var "$1" CERT)"
}

# imaps_config FILE DATABASE LOCALCMD [LINE...]: a configuration of a
# tunnelled local server (dovecot_tunnel's command) and the server named
# remote over IMAPS (imaps_lines); each LINE goes to the default section.
imaps_config()
{
	_t_pair_config "$1" "$2" "type = tunnel"$'\n'"command = $3" \
	    "$(imaps_lines remote)" "${@:4}"
}

run_ref()
{
	_t_run "$T/ref" "$REF_INTERIMAP" "$@"
	REF_RC=$_T_RC
}

run_ours()
{
	if [ -z "${INTERIMAP:-}" ] || [ ! -x "$INTERIMAP" ]; then
		t_fail "run_ours: \$INTERIMAP ('${INTERIMAP:-}') is not executable"
		OURS_RC=127
		return 0
	fi
	_t_run "$T/ours" "$INTERIMAP" "$@"
	OURS_RC=$_T_RC
}

# The PIDs of this test's processes that run our binary (priv or any of
# its children), one a line: empty once a run has ended cleanly.
ours_pids()
{
	local exe pid

	exe=$(readlink -f "${INTERIMAP:-}") || return 0
	for pid in $(_t_marked_pids); do
		if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
			echo "$pid"
		fi
	done
	return 0
}

_t_run()
{
	local base=$1 opts=$-

	shift
	set +e
	timeout -k 5 "$T_TIMEOUT" "$@" </dev/null >"$base.out" 2>"$base.err"
	_T_RC=$?
	[[ $opts == *e* ]] && set -e
	return 0
}

# --------------------------------------------------------------------------
# Dovecot

# Make the directory of server NAME ($T/NAME, owned by the test user) and
# print its path.
_t_mkserverdir()
{
	local name=$1 dir

	if [[ ! $name =~ ^[A-Za-z][A-Za-z0-9_]*$ ]]; then
		echo "dovecot: bad server name '$name'" \
		    "(letters, digits, _)" >&2
		return 1
	fi
	if [ -e "$T/$name" ]; then
		echo "dovecot: server '$name' already exists" >&2
		return 1
	fi
	dir=$T_SRVROOT/$name
	[ "$T_SRVROOT" = "$T" ] || ln -s "$dir" "$T/$name"
	mkdir -p "$dir/home" "$dir/state" || return 1
	: >"$dir/imap.log"
	chown -R "$IMAPTEST_USER:$IMAPTEST_USER" "$dir"
	echo "$dir"
}

_t_srvdir()
{
	local dir=$T/$1

	if [ ! -f "$dir/kind" ]; then
		echo "common.sh: no server named '$1'" >&2
		return 1
	fi
	(cd "$dir" && pwd -P)
}

# The endpoint of server NAME for imapctl.py: its tunnel.sh (Dovecot,
# pre-authenticated) or its imapctl.login (Cyrus, LOGIN over TCP).
_t_endpoint()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	if [ -f "$dir/tunnel.sh" ]; then
		echo "$dir/tunnel.sh"
	else
		echo "$dir/imapctl.login"
	fi
}

# The settings both kinds share.  $DOVECOT_MAIL_LOCATION overrides the
# store (sdbox with LAYOUT=index allows any mailbox name under any
# separator and keeps UIDVALIDITY stable); $DOVECOT_EXTRA_CONF is appended
# to every configuration (later settings override earlier ones).
_t_dovecot_common_conf()
{
	local dir=$1 sep=$2

	cat <<EOF
# Written by tests/lib/common.sh for test $TESTNAME.
state_dir = $dir/state
mail_location = ${DOVECOT_MAIL_LOCATION:-sdbox:~/Mail:LAYOUT=index}
mailbox_list_index = yes
first_valid_uid = 0
first_valid_gid = 0
namespace inbox {
  inbox = yes
  separator = $sep
}
EOF
}

# The tunnel script: pre-authenticated IMAP on stdin/stdout as the test
# user, Dovecot's own log lines (on stderr when standalone) into imap.log.
_t_write_tunnel()
{
	local dir=$1 user=$2 cap

	cap=$(sed -n 's/^[[:space:]]*imap_capability[[:space:]]*=[[:space:]]*//p' \
	    <<<"${DOVECOT_EXTRA_CONF:-}" | tail -n 1)

	{
		echo '#!/bin/sh'
		echo "# Pre-authenticated IMAP for test $TESTNAME (common.sh)."
		printf 'exec 2>>%q\n' "$dir/imap.log"
		printf 'set -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin'
		printf ' HOME=%q USER=%q TZ=%q' "$dir/home" "$user" "$T_SRV_TZ"
		printf ' INTERIMAP_TEST_SCRATCH=%q' "$T"
		printf ' doveadm -c %q exec imap' "$dir/dovecot.conf"
		# `doveadm exec imap` ignores imap_capability in the file.
		if [ -n "$cap" ]; then
			printf ' -o %q' "imap_capability=$cap"
		fi
		printf '\n'
		echo 'if [ "$(id -u)" -eq 0 ]; then'
		printf '\texec setpriv --reuid=%q --regid=%q --init-groups "$@"\n' \
		    "$IMAPTEST_USER" "$IMAPTEST_USER"
		echo 'fi'
		echo 'exec "$@"'
	} >"$dir/tunnel.sh"
	chmod 755 "$dir/tunnel.sh"
}

# dovecot_tunnel NAME [SEP]: prints the command for a config's `command =`.
# Safe to call in $(...): everything it needs later is kept in $T/NAME.
dovecot_tunnel()
{
	local name=$1 sep=${2:-/} dir

	dir=$(_t_mkserverdir "$name") || return 1
	{
		echo "base_dir = $dir/run"
		echo "log_path = $dir/imap.log"
		echo "mail_uid = $IMAPTEST_USER"
		echo "mail_gid = $IMAPTEST_USER"
		_t_dovecot_common_conf "$dir" "$sep"
		printf '%s\n' "${DOVECOT_EXTRA_CONF:-}"
	} >"$dir/dovecot.conf"
	echo tunnel >"$dir/kind"
	_t_write_tunnel "$dir" "$IMAPTEST_USER"
	echo "$dir/tunnel.sh"
}

# dovecot_server NAME [SEP [CERTDIR]]: a network Dovecot on 127.0.0.1 with
# IMAP (+STARTTLS) and IMAPS, LOGIN/PLAIN for user "user" password "pass",
# COMPRESS=DEFLATE and NOTIFY.  CERTDIR (from make_cert or
# make_ca_and_cert) replaces the default self-signed localhost certificate.
# Sets DOVECOT_<NAME>_{IMAP_PORT,IMAPS_PORT,CERT,DIR,TUNNEL,USER,PASS};
# CERT is the file to trust (ca.pem when CERTDIR has one).
dovecot_server()
{
	local name=$1 sep=${2:-/} certdir=${3:-} dir base trust
	local imap_port imaps_port try var

	dir=$(_t_mkserverdir "$name") || return 1
	if [ -n "$certdir" ]; then
		cp "$certdir/cert.pem" "$certdir/key.pem" "$dir/" || return 1
		trust=$certdir/cert.pem
		[ -f "$certdir/ca.pem" ] && trust=$certdir/ca.pem
	else
		make_cert "$dir" localhost || return 1
		trust=$dir/cert.pem
	fi
	chown root:"$IMAPTEST_USER" "$dir/key.pem"
	chmod 640 "$dir/key.pem"
	echo 'user:{PLAIN}pass::::::' >"$dir/passwd"
	echo server >"$dir/kind"
	_t_write_tunnel "$dir" user

	# Sockets live in base_dir: keep its path short (sun_path).
	base=$(mktemp -d /tmp/imt.XXXXXX) || return 1
	chmod 755 "$base"
	echo "rmdir $base" >>"$T/.cleanup"
	echo "$base" >"$dir/base_dir"

	for ((try = 0; try < 8; try++)); do
		imap_port=$(free_port) && imaps_port=$(free_port) || return 1
		{
			echo "base_dir = $base"
			echo "instance_name = imt-$name-$$"
			echo "log_path = $dir/dovecot.log"
			echo "protocols = imap"
			echo "listen = 127.0.0.1"
			echo "ssl = yes"
			echo "ssl_cert = <$dir/cert.pem"
			echo "ssl_key = <$dir/key.pem"
			echo "disable_plaintext_auth = no"
			echo "auth_mechanisms = plain login"
			echo "auth_failure_delay = 0"
			echo "default_login_user = $IMAPTEST_USER"
			echo "default_internal_user = $IMAPTEST_USER"
			echo "default_internal_group = $IMAPTEST_USER"
			_t_dovecot_common_conf "$dir" "$sep"
			cat <<EOF
passdb {
  driver = passwd-file
  args = $dir/passwd
}
userdb {
  driver = static
  args = uid=$IMAPTEST_USER gid=$IMAPTEST_USER home=$dir/home
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
}
EOF
			printf '%s\n' "${DOVECOT_EXTRA_CONF:-}"
		} >"$dir/dovecot.conf"
		echo "dovecot $dir" >>"$T/.cleanup"
		if TZ=$T_SRV_TZ dovecot -c "$dir/dovecot.conf" \
		    2>>"$dir/start.err" &&
		    _t_wait_greeting "$imap_port"; then
			break
		fi
		_t_dovecot_stop "$dir"
		imap_port=
	done
	if [ -z "$imap_port" ]; then
		echo "dovecot_server: $name did not start:" >&2
		tail -n 20 "$dir/start.err" "$dir/dovecot.log" >&2
		return 1
	fi

	var=DOVECOT_$(echo "$name" | tr '[:lower:]' '[:upper:]')
	declare -g "${var}_IMAP_PORT=$imap_port" \
	    "${var}_IMAPS_PORT=$imaps_port" "${var}_CERT=$trust" \
	    "${var}_DIR=$dir" "${var}_TUNNEL=$dir/tunnel.sh" \
	    "${var}_USER=user" "${var}_PASS=pass"
	printf '%s\n' "IMAP_PORT=$imap_port" "IMAPS_PORT=$imaps_port" \
	    "CERT=$trust" "ENDPOINT=$dir/tunnel.sh" >"$dir/vars"
}

# Wait for the real greeting (the one with CAPABILITY: before the auth
# process is up, Dovecot first sends "* OK Waiting for ...").
_t_wait_greeting()
{
	local port=$1 i

	for ((i = 0; i < 100; i++)); do
		if (
			exec 9<>"/dev/tcp/127.0.0.1/$port" || exit 1
			while IFS= read -r -t 5 line <&9; do
				[[ $line == *CAPABILITY* ]] && exit 0
			done
			exit 1
		) 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

_t_dovecot_stop()
{
	local dir=$1 base pid i

	base=$(cat "$dir/base_dir" 2>/dev/null) || return 0
	pid=$(cat "$base/master.pid" 2>/dev/null) || return 0
	# Only the master started with this configuration.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
	    grep -qF -- "$dir/dovecot.conf" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_t_alive "$pid" || break
		sleep 0.1
	done
	_t_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	rm -f "$base/master.pid"
	return 0
}

_t_imapctl()
{
	local name=$1 endpoint

	shift
	endpoint=$(_t_endpoint "$name") || return 1
	/usr/bin/python3 "$T_LIBDIR/imapctl.py" "$endpoint" "$@"
}

# Helpers that change a store: a failure means the test's set-up is broken,
# so it counts as a failed check (and returns non-zero).
_t_imapctl_must()
{
	local what=$1

	shift
	if ! _t_imapctl "$@"; then
		t_fail "$what: $*"
		return 1
	fi
}

mail_add()
{
	IMAPCTL_DATE=${MAIL_DATE:-} \
	    _t_imapctl_must mail_add "$1" add "${@:2}"
}

mail_add_many()
{
	IMAPCTL_DATE=${MAIL_DATE:-} \
	    _t_imapctl_must mail_add_many "$1" addmany "${@:2}"
}

mail_store()
{
	_t_imapctl_must mail_store "$1" store "${@:2}"
}

mail_expunge()
{
	_t_imapctl_must mail_expunge "$1" expunge "${@:2}"
}

mailbox_create()
{
	_t_imapctl_must mailbox_create "$1" create "$2"
}

mailbox_delete()
{
	_t_imapctl_must mailbox_delete "$1" delete "$2"
}

mailbox_rename()
{
	_t_imapctl_must mailbox_rename "$1" rename "$2" "$3"
}

mailbox_subscribe()
{
	_t_imapctl_must mailbox_subscribe "$1" subscribe "$2"
}

mailbox_unsubscribe()
{
	_t_imapctl_must mailbox_unsubscribe "$1" unsubscribe "$2"
}

# Queries: non-zero when the server refuses (e.g. no such mailbox).
mail_dump()
{
	_t_imapctl "$1" dump "$2"
}

mail_uids()
{
	_t_imapctl "$1" uids "$2"
}

mailbox_list()
{
	_t_imapctl "$1" list "${@:2}"
}

mailbox_status()
{
	_t_imapctl "$1" status "$2"
}

imap_raw()
{
	_t_imapctl "$1" raw "${@:2}"
}

# --------------------------------------------------------------------------
# Cyrus IMAP

# Unpacked there by .ci/install-deps (its packages conflict with Dovecot's).
CYRUS_ROOT=${CYRUS_ROOT:-/opt/interimap-test/cyrus}

# cyrus_server NAME [SEP]: a network Cyrus IMAP 3.6 on 127.0.0.1, IMAP
# (+STARTTLS) and IMAPS with a self-signed localhost certificate, LOGIN and
# PLAIN for user "user" password "pass" (sasldb), the alternate namespace
# (personal mailboxes beside INBOX, as on Dovecot) with SEP ("/" or ".")
# as hierarchy delimiter, COMPRESS=DEFLATE, QRESYNC.  The processes run as
# the test user (cyrus_user).  Sets CYRUS_<NAME>_{IMAP_PORT,IMAPS_PORT,
# CERT,DIR,LOGIN,USER,PASS} (LOGIN: the imapctl.py endpoint).  Must run
# in the test's shell (it sets variables).
cyrus_server()
{
	local name=$1 sep=${2:-/} dir sock imap_port imaps_port try var

	case $sep in
	/|.)	;;
	*)	echo "cyrus_server: SEP must be / or . (not '$sep')" >&2
		return 1 ;;
	esac
	if [ ! -x "$CYRUS_ROOT/usr/lib/cyrus/bin/master" ]; then
		echo "cyrus_server: no Cyrus in $CYRUS_ROOT:" \
		    "run .ci/install-deps" >&2
		return 1
	fi
	dir=$(_t_mkserverdir "$name") || return 1
	if [[ $dir =~ [[:space:]\"] ]]; then
		# cyrus.conf splits cmd= on white space.
		echo "cyrus_server: unusable directory '$dir'" >&2
		return 1
	fi
	make_cert "$dir" localhost || return 1
	# The SASL realm is Cyrus's servername (localhost).
	printf pass | saslpasswd2 -p -c -f "$dir/sasldb2" -u localhost user ||
	    return 1
	printf '%s\n' "host 127.0.0.1" "user user" "pass pass" \
	    >"$dir/imapctl.login"
	echo cyrus >"$dir/kind"
	chown -R "$IMAPTEST_USER:$IMAPTEST_USER" "$dir"
	chmod 600 "$dir/key.pem" "$dir/sasldb2"

	# Unix sockets (idled's, lmtpd's, notifyd's: unused, but master and
	# imapd still bind or look for some) need a short path (sun_path).
	sock=$(mktemp -d /tmp/imt.XXXXXX) || return 1
	chown "$IMAPTEST_USER:$IMAPTEST_USER" "$sock"
	echo "rmdir $sock" >>"$T/.cleanup"
	echo "cyrus $dir" >>"$T/.cleanup"

	for ((try = 0; try < 8; try++)); do
		imap_port=$(free_port) && imaps_port=$(free_port) || return 1
		_t_cyrus_conf "$dir" "$sep" "$imap_port" "$imaps_port" "$sock"
		if _t_cyrus_start "$dir" "$imap_port" "$imaps_port"; then
			break
		fi
		_t_cyrus_stop "$dir"
		imap_port=
	done
	if [ -z "$imap_port" ]; then
		echo "cyrus_server: $name did not start:" >&2
		tail -n 20 "$dir/start.err" "$dir/master.log" >&2 2>/dev/null
		return 1
	fi
	echo "port $imap_port" >>"$dir/imapctl.login"

	var=CYRUS_$(echo "$name" | tr '[:lower:]' '[:upper:]')
	declare -g "${var}_IMAP_PORT=$imap_port" \
	    "${var}_IMAPS_PORT=$imaps_port" "${var}_CERT=$dir/cert.pem" \
	    "${var}_DIR=$dir" "${var}_LOGIN=$dir/imapctl.login" \
	    "${var}_USER=user" "${var}_PASS=pass"
	printf '%s\n' "IMAP_PORT=$imap_port" "IMAPS_PORT=$imaps_port" \
	    "CERT=$dir/cert.pem" "ENDPOINT=$dir/imapctl.login" >"$dir/vars"
}

# cyrus_reset NAME: stop the server, throw its mailboxes, subscriptions
# and databases away, start it again on the same ports (a new INBOX is
# made at the next login).  Deleting mailboxes over IMAP cannot do it:
# the user's INBOX (and its UIDNEXT) would stay.
cyrus_reset()
{
	local dir imap_port imaps_port

	dir=$(_t_srvdir "$1") || return 1
	imap_port=$(sed -n 's/^IMAP_PORT=//p' "$dir/vars")
	imaps_port=$(sed -n 's/^IMAPS_PORT=//p' "$dir/vars")
	_t_cyrus_stop "$dir"
	if ! _t_cyrus_start "$dir" "$imap_port" "$imaps_port"; then
		echo "cyrus_reset: $1 did not start again:" >&2
		tail -n 20 "$dir/start.err" "$dir/master.log" >&2 2>/dev/null
		return 1
	fi
}

# cyrus_snapshot NAME DIR: stop the server, copy its state to DIR
# (replacing what was there), start it again.  The state is conf/ (the
# configdirectory: mailboxes.db, which names each mailbox's UIDVALIDITY
# and directory, subscriptions, quota) and spool/ (the messages and each
# mailbox's cyrus.index: UIDNEXT, HIGHESTMODSEQ): the two go together.
# cyrus_restore NAME DIR: stop the server (which ends its imapd
# processes), put the state of DIR back, start it again on the same
# ports: every mailbox as it was, same UIDVALIDITY, UIDNEXT and
# HIGHESTMODSEQ.
cyrus_snapshot()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	_t_cyrus_stop "$dir"
	rm -rf "$2"
	mkdir -p "$2" &&
	    cp -a "$dir/conf" "$dir/spool" "$2/" || {
		echo "cyrus_snapshot: cannot copy $1's state to $2" >&2
		return 1
	}
	_t_cyrus_again "$1" "$dir"
}

cyrus_restore()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	if [ ! -d "$2/conf" ] || [ ! -d "$2/spool" ]; then
		echo "cyrus_restore: no snapshot in $2" >&2
		return 1
	fi
	_t_cyrus_stop "$dir"
	rm -rf "$dir/conf" "$dir/spool"
	cp -a "$2/conf" "$2/spool" "$dir/" || {
		echo "cyrus_restore: cannot copy $2 back to $1" >&2
		return 1
	}
	_t_cyrus_again "$1" "$dir"
}

# _t_cyrus_again NAME DIR: start the stopped Cyrus of NAME (in DIR) again
# on its ports, on the conf/ and spool/ in place.
_t_cyrus_again()
{
	local imap_port imaps_port

	imap_port=$(sed -n 's/^IMAP_PORT=//p' "$2/vars")
	imaps_port=$(sed -n 's/^IMAPS_PORT=//p' "$2/vars")
	if ! _t_cyrus_start "$2" "$imap_port" "$imaps_port" keep; then
		echo "${FUNCNAME[1]}: $1 did not start again:" >&2
		tail -n 20 "$2/start.err" "$2/master.log" >&2 2>/dev/null
		return 1
	fi
}

# imapd.conf and cyrus.conf; what each setting is for is in
# tests/lib/CYRUS-NOTES.md.  Cyrus refuses a key given twice (master
# exits 78, silently: it logs to syslog).
_t_cyrus_conf()
{
	local dir=$1 sep=$2 imap_port=$3 imaps_port=$4 sock=$5 bin uhs=no

	bin=$CYRUS_ROOT/usr/lib/cyrus/bin
	[ "$sep" = / ] && uhs=yes
	cat >"$dir/imapd.conf" <<EOF
# Written by tests/lib/common.sh for test $TESTNAME (cyrus_server).
configdirectory: $dir/conf
defaultpartition: default
partition-default: $dir/spool
idlesocket: $sock/idle
lmtpsocket: $sock/lmtp
notifysocket: $sock/notify
cyrus_user: $IMAPTEST_USER
servername: localhost
altnamespace: yes
unixhierarchysep: $uhs
munge8bit: no
allowplaintext: yes
allowallsubscribe: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $dir/sasldb2
sasl_mech_list: ${CYRUS_SASL_MECHS:-PLAIN LOGIN}
failedloginpause: 0
autocreate_quota: 0
expunge_mode: semidelayed
delete_mode: immediate
tls_server_cert: $dir/cert.pem
tls_server_key: $dir/key.pem
EOF
	printf '%s\n' "${CYRUS_EXTRA_CONF:-}" >>"$dir/imapd.conf"
	# master passes no -C to its services: each cmd names imapd.conf.
	cat >"$dir/cyrus.conf" <<EOF
# Written by tests/lib/common.sh for test $TESTNAME (cyrus_server).
SERVICES {
	imap	cmd="$bin/imapd -C $dir/imapd.conf" listen="127.0.0.1:$imap_port" proto=tcp4 prefork=1
	imaps	cmd="$bin/imapd -s -C $dir/imapd.conf" listen="127.0.0.1:$imaps_port" proto=tcp4 prefork=1
}
EOF
}

# Start master on an empty store (with a fourth argument, "keep": on the
# conf/ and spool/ in place); wait for the IMAP greeting and for the
# IMAPS port.
_t_cyrus_start()
{
	local dir=$1 imap_port=$2 imaps_port=$3 keep=${4:-} libdir

	libdir=$(dirname "$(echo "$CYRUS_ROOT"/usr/lib/*/libcyrus_min.so.0)")
	[ "$keep" = keep ] || rm -rf "$dir/conf" "$dir/spool"
	mkdir -p "$dir/conf/socket" "$dir/spool" || return 1
	chown -R "$IMAPTEST_USER:$IMAPTEST_USER" "$dir/conf" "$dir/spool"
	rm -f "$dir/master.pid"
	# master opens master.log, binds its ports, then becomes cyrus_user
	# and (-d) goes into the background.
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TZ="$T_SRV_TZ" \
	    LD_LIBRARY_PATH="$libdir" INTERIMAP_TEST_SCRATCH="$T" \
	    "$CYRUS_ROOT/usr/lib/cyrus/bin/master" -C "$dir/imapd.conf" \
	    -M "$dir/cyrus.conf" -p "$dir/master.pid" -L "$dir/master.log" \
	    -d 2>>"$dir/start.err" || {
		# 78 (EX_CONFIG): e.g. a key twice in imapd.conf.
		echo "master exited with status $?" >>"$dir/start.err"
		return 1
	}
	_t_wait_greeting "$imap_port" && wait_port "$imaps_port" 5
}

# The PIDs of the master and the services of the Cyrus in DIR: Cyrus
# programs with DIR/imapd.conf as an argument (grep itself has it too).
_t_cyrus_pids()
{
	local pid

	grep -lzxF -- "$1/imapd.conf" /proc/[0-9]*/cmdline 2>/dev/null |
	    while IFS=/ read -r _ _ pid _; do
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == \
		    "$CYRUS_ROOT"/* ]] && _t_alive "$pid" && echo "$pid"
	done
	return 0
}

# SIGTERM to master ends its services too; wait for all of them.
_t_cyrus_stop()
{
	local dir=$1 pid i

	pid=$(cat "$dir/master.pid" 2>/dev/null)
	if [ -n "$pid" ] &&
	    grep -qzxF -- "$dir/imapd.conf" "/proc/$pid/cmdline" 2>/dev/null
	then
		kill -TERM "$pid" 2>/dev/null
	fi
	for ((i = 0; i < 100; i++)); do
		[ -n "$(_t_cyrus_pids "$dir")" ] || break
		sleep 0.05
	done
	for pid in $(_t_cyrus_pids "$dir"); do
		kill -KILL "$pid" 2>/dev/null
	done
	rm -f "$dir/master.pid"
	return 0
}

# --------------------------------------------------------------------------
# Either kind

# server_var NAME FIELD: a network server's IMAP_PORT, IMAPS_PORT, CERT
# (the file to trust) or ENDPOINT (tunnel.sh or imapctl.login).
server_var()
{
	local dir

	dir=$(_t_srvdir "$1") || return 1
	sed -n "s/^$2=//p" "$dir/vars" | grep . ||
	    { echo "server_var: $1 has no $2" >&2; return 1; }
}

# --------------------------------------------------------------------------
# SOCKS5 proxies

# socks_server microsocks|danted [USER:PASS]: a SOCKS5 proxy on 127.0.0.1
# that only connects to loopback; sets SOCKS_PORT (and SOCKS_PID).
socks_server()
{
	local kind=$1 auth=${2:-} dir n port pid try i

	n=0
	while [ -e "$T/socks-$kind-$n" ]; do
		n=$((n + 1))
	done
	dir=$T/socks-$kind-$n
	mkdir -p "$dir" || return 1
	for ((try = 0; try < 5; try++)); do
		port=$(free_port) || return 1
		case $kind in
		microsocks)
			local args=(-i 127.0.0.1 -p "$port" -b 127.0.0.1)
			[ -n "$auth" ] &&
			    args+=(-u "${auth%%:*}" -P "${auth#*:}")
			microsocks "${args[@]}" >>"$dir/log" 2>&1 &
			pid=$!
			;;
		danted|dante)
			_t_danted_conf "$dir" "$port" "$auth" || return 1
			danted -f "$dir/danted.conf" -p "$dir/danted.pid" \
			    >>"$dir/log" 2>&1 &
			pid=$!
			;;
		*)
			echo "socks_server: unknown kind '$kind'" >&2
			return 1
			;;
		esac
		echo "pid $pid" >>"$T/.cleanup"
		for ((i = 0; i < 100; i++)); do
			_t_alive "$pid" || break
			if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
			then
				SOCKS_PORT=$port
				SOCKS_PID=$pid
				return 0
			fi
			sleep 0.05
		done
		_t_kill "$pid"
		# A configuration error will not go away with another port.
		grep -q 'error:' "$dir/danted.log" 2>/dev/null && break
	done
	echo "socks_server: $kind did not start:" >&2
	tail -n 20 "$dir/log" "$dir/danted.log" >&2 2>/dev/null
	return 1
}

# Dante checks USER:PASS through PAM: a service file of our own whose
# pam_userdb database holds the one pair (both removed at exit).  (pam_exec
# cannot be used: Dante reaps the children itself and PAM sees an error.)
_t_danted_conf()
{
	local dir=$1 port=$2 auth=$3 method=none svc

	if [ -n "$auth" ]; then
		method=pam.username
		svc=interimap-test-$$-$RANDOM
		SOCKS_USER=${auth%%:*} SOCKS_PASS=${auth#*:} perl -MDB_File -e '
			my %h;
			tie(%h, "DB_File", $ARGV[0], O_RDWR | O_CREAT, 0644,
			    $DB_HASH) or die "$ARGV[0]: $!\n";
			$h{$ENV{SOCKS_USER}} = $ENV{SOCKS_PASS};
			untie %h;' "$dir/users.db" || return 1
		{
			echo "auth required pam_userdb.so db=$dir/users"
			echo "account required pam_permit.so"
		} >"/etc/pam.d/$svc"
		echo "rmfile /etc/pam.d/$svc" >>"$T/.cleanup"
	fi
	cat >"$dir/danted.conf" <<EOF
logoutput: $dir/danted.log
${DANTE_DEBUG:+debug: 2}
internal: 127.0.0.1 port = $port
external: 127.0.0.1
clientmethod: none
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
	${svc:+pam.servicename: $svc}
}
socks pass {
	from: 127.0.0.0/8 to: localhost
	command: connect
	${svc:+pam.servicename: $svc}
}
EOF
}

# --------------------------------------------------------------------------
# The sources

# table_names NAME FILE: the quoted names of a C table "NAME[] = {" ...
# "};" in FILE, one a line (the options of priv/cli.c, the keys of
# priv/conf_validate.c).
table_names()
{
	awk -v start="$1" '
		index($0, start "[] = {") { intab = 1; next }
		intab && /^};/ { exit }
		intab && match($0, /^[ \t]*\{ *"[^"]+"/) {
			s = substr($0, RSTART, RLENGTH)
			sub(/^[^"]*"/, "", s)
			sub(/"$/, "", s)
			print s
		}
	' "$2"
}
