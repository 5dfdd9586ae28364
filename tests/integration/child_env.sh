#!/bin/bash
#
# priv's children start with an environment of their own (priv/proc.c),
# never priv's: a net gets only what its work reads (TZ, OpenSSL's
# configuration and CA variables), the engine nothing; in the test build,
# also the hooks each reads and the harness's marker (ipc/testhooks.h).
# A variable of the user's (a secret kept in the environment) reaches no
# child.  Read from /proc/PID/environ of the running children: of the
# installed binary ($INTERIMAP_RELEASE) in watch mode, and of the test
# build held (tests/lib/held.sh).  Each binary's children are that binary.

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/held.sh"
t_setup

REL=${INTERIMAP_RELEASE:-}
if [ -z "$REL" ] || [ ! -x "$REL" ]; then
	t_fail "\$INTERIMAP_RELEASE ('$REL') is not executable"
	t_done
fi

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
tunnel_remote=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel"; t_done; }
CONF=$T/env.conf
tunnel_config "$CONF" "$T/env.db" "$tunnel_local" "$tunnel_remote"

# What priv has and no child may get; what a net may get.
export INTERIMAP_ENV_PROBE=secret-probe-value
export TZ=UTC
NET_OK="TZ OPENSSL_CONF OPENSSL_MODULES SSL_CERT_FILE SSL_CERT_DIR"
# A sanitizer build also hands its runtime's options to every child.
SAN_OK="ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS"

# names_of PID: the names in PID's environment, one a line, sorted.
names_of()
{
	tr '\0' '\n' <"/proc/$1/environ" | sed -n 's/=.*//p' | sort -u
}

# check_child WHAT PRIV TITLE ALLOWED MUST...: the child of PRIV titled
# TITLE has none but ALLOWED (blank-separated) in its environment, all
# of MUST, and never the probe.
check_child()
{
	local what=$1 priv=$2 title=$3 allowed="$4 $SAN_OK" pid names bad v

	shift 4
	if ! pid=$(child_titled "$priv" "$title"); then
		t_fail "$what: no child '$title'"
		return
	fi
	if ! names=$(names_of "$pid") || [ ! -r "/proc/$pid/environ" ]; then
		t_fail "$what: /proc/$pid/environ unreadable"
		return
	fi
	t_log "$what: $title: $(echo $names)"
	# Re-executed from /proc/self/exe: priv's own binary, whichever.
	t_expect_eq "$(readlink "/proc/$pid/exe")" \
	    "$(readlink "/proc/$priv/exe")" "$what: $title: priv's binary"
	bad=
	for v in $names; do
		[[ " $allowed " == *" $v "* ]] || bad="$bad $v"
	done
	t_expect_eq "$bad" "" "$what: $title: nothing else of priv's"
	t_expect_eq "$(grep -c 'secret-probe-value' "/proc/$pid/environ")" 0 \
	    "$what: $title: not the user's variable"
	for v in "$@"; do
		if printf '%s\n' "$names" | grep -qx "$v"; then
			t_pass "$what: $title: $v given"
		else
			t_fail "$what: $title: $v given"
		fi
	done
}

# ---- the installed binary: watch mode, no hook ---------------------------

# Watch mode opens only an existing database.
"$REL" --config="$CONF" </dev/null >"$T/first.out" 2>"$T/first.err"
t_expect_eq "$?" 0 "installed binary: a first run"
INTERIMAP=$REL start_held --watch=600 ||
    t_fail "installed binary: the children start"
t_expect_eq "$(readlink "/proc/$HELD_PID/exe")" "$(readlink -f "$REL")" \
    "installed binary: priv runs it"
if [ -n "$(children_of "$HELD_PID")" ]; then
	t_expect_eq "$(grep -c secret-probe-value "/proc/$HELD_PID/environ")" \
	    1 "installed binary: priv has the probe (the check can fail)"
	check_child installed "$HELD_PID" "interimap: engine" ""
	check_child installed "$HELD_PID" "interimap: net(local)" "$NET_OK" TZ
	check_child installed "$HELD_PID" "interimap: net(remote)" "$NET_OK" TZ
fi
kill -TERM "$HELD_PID" 2>/dev/null
stop_held
t_expect_eq "$HELD_RC" 0 "installed binary: SIGTERM ends the watch, exit 0"

# ---- the test build: the hooks each child reads, held --------------------

INTERIMAP_TEST_TIMEOUT=60 INTERIMAP_TEST_KILL_AT=99 start_held ||
    t_fail "test build: the children start"
t_expect_eq "$(readlink "/proc/$HELD_PID/exe")" "$(readlink -f "$INTERIMAP")" \
    "test build: priv runs it"
if [ -n "$(children_of "$HELD_PID")" ]; then
	# TRAP mode, which the suite turns on (tests/CMakeLists.txt), is
	# a hook both kinds of child read.
	check_child "test build" "$HELD_PID" "interimap: engine" \
	    "INTERIMAP_TEST_SCRATCH INTERIMAP_SECCOMP_TRAP" \
	    INTERIMAP_TEST_SCRATCH
	check_child "test build" "$HELD_PID" "interimap: net(local)" \
	    "$NET_OK INTERIMAP_TEST_TIMEOUT INTERIMAP_TEST_SCRATCH INTERIMAP_SECCOMP_TRAP" \
	    TZ INTERIMAP_TEST_TIMEOUT INTERIMAP_TEST_SCRATCH
	check_child "test build" "$HELD_PID" "interimap: net(remote)" \
	    "$NET_OK INTERIMAP_TEST_TIMEOUT INTERIMAP_TEST_SCRATCH INTERIMAP_SECCOMP_TRAP" \
	    TZ INTERIMAP_TEST_TIMEOUT INTERIMAP_TEST_SCRATCH
fi
stop_held
t_expect_eq "$HELD_RC" 0 "test build: the held run ends, exit 0"

t_done
