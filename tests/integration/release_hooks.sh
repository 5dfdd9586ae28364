#!/bin/bash
#
# The installed binary has no test hook (ipc/testhooks.h): not one of the
# hooks' variable names, no test client, no trap handler, no configuration
# printer (conf_dump()) in it, and a run with every hook's variable set
# synchronises as if none were (a cron job that left
# INTERIMAP_TEST_DB_ONLY set, a DUMP_CONFIG that would print the proxy's
# password).  `cmake --install` installs that binary and no
# other.  The test build ($INTERIMAP) has them all: the same searches find
# them there, so they do look for what is there to find.
#
# $INTERIMAP_RELEASE: the installed binary (tests/CMakeLists.txt).

source "$SRCDIR/tests/lib/common.sh"
t_setup

REL=${INTERIMAP_RELEASE:-}
if [ -z "$REL" ] || [ ! -x "$REL" ]; then
	t_fail "\$INTERIMAP_RELEASE ('$REL') is not executable"
	t_done
fi

HOOKS=(INTERIMAP_TEST_ENGINE_SCRIPT INTERIMAP_TEST_SANDBOX
    INTERIMAP_TEST_HOLD INTERIMAP_TEST_KILL_AT INTERIMAP_TEST_KILL_BEFORE
    INTERIMAP_TEST_DB_ONLY INTERIMAP_TEST_DUMP_CONFIG INTERIMAP_TEST_TIMEOUT
    INTERIMAP_SECCOMP_TRAP)
# The test client, the seccomp trap handler, the sandbox tests, and
# DUMP_CONFIG's printer (priv/conf_dump.c: its name, its "# derived" line).
CODE=("testclient: " eng_testclient "forbidden system call"
    "sandbox test" conf_dump "# derived")

# in_binary FILE STRING: how many times STRING is in FILE's bytes.
in_binary()
{
	grep -a -c -F -- "$2" "$1"
}

# ---- the bytes --------------------------------------------------------------

for s in "${HOOKS[@]}" INTERIMAP_TEST_ "${CODE[@]}"; do
	t_expect_eq "$(in_binary "$REL" "$s")" 0 "installed binary: no '$s'"
	if [ "$(in_binary "$INTERIMAP" "$s")" -gt 0 ]; then
		t_pass "test build: '$s' found"
	else
		t_fail "test build: '$s' not found"
	fi
done

# ---- the behaviour ----------------------------------------------------------

tunnel_local=$(dovecot_tunnel local) || { t_fail "dovecot_tunnel"; t_done; }
tunnel_remote=$(dovecot_tunnel remote) || { t_fail "dovecot_tunnel"; t_done; }
CONF=$T/hooks.conf
tunnel_config "$CONF" "$T/hooks.db" "$tunnel_local" "$tunnel_remote"
mkdir -p "$T/msgs"

# add_one: the n-th message, added remotely; synced: how many of them the
# local INBOX has (n once the last one has reached it).
n=0
add_one()
{
	n=$((n + 1))
	printf 'From: a@example.org\r\nSubject: hook %d\r\n\r\nbody %d\r\n' \
	    "$n" "$n" >"$T/msgs/$n.eml"
	mail_add remote INBOX "$T/msgs/$n.eml"
}
synced()
{
	mail_uids local INBOX 2>/dev/null | grep -c .
}

# run_with BIN WHAT VAR=VALUE...: one run of BIN with those variables set.
run_with()
{
	local bin=$1 what=$2

	shift 2
	env "$@" "$bin" --config="$CONF" </dev/null \
	    >"$T/$what.out" 2>"$T/$what.err"
	RC=$?
}

add_one
run_with "$REL" db-only INTERIMAP_TEST_DB_ONLY=1
t_expect_eq "$RC" 0 "installed, INTERIMAP_TEST_DB_ONLY=1: exit 0"
t_expect_eq "$(synced)" "$n" "installed, INTERIMAP_TEST_DB_ONLY=1: it syncs"

add_one
run_with "$REL" dump INTERIMAP_TEST_DUMP_CONFIG=1
t_expect_eq "$RC" 0 "installed, INTERIMAP_TEST_DUMP_CONFIG=1: exit 0"
t_expect_eq "$(cat "$T/dump.out")" "" \
    "installed, INTERIMAP_TEST_DUMP_CONFIG=1: no configuration printed"
t_expect_eq "$(synced)" "$n" \
    "installed, INTERIMAP_TEST_DUMP_CONFIG=1: it syncs"

# Each of these would end the run, or replace it, in the test build.
add_one
run_with "$REL" all INTERIMAP_TEST_ENGINE_SCRIPT=list \
    INTERIMAP_TEST_SANDBOX=engine:1 INTERIMAP_TEST_KILL_BEFORE=1 \
    INTERIMAP_TEST_KILL_AT=1 INTERIMAP_TEST_TIMEOUT=1ms \
    INTERIMAP_SECCOMP_TRAP=1 INTERIMAP_TEST_HOLD=1
t_expect_eq "$RC" 0 "installed, every other hook set: exit 0"
t_expect_eq "$(synced)" "$n" "installed, every other hook set: it syncs"
t_expect_eq "$(grep -c 'testclient\|seccomp\|ERROR' "$T/all.err")" 0 \
    "installed, every other hook set: nothing said of them"

# The same variables do act on the test build.
add_one
run_with "$INTERIMAP" t-db-only INTERIMAP_TEST_DB_ONLY=1
t_expect_eq "$(synced)" "$((n - 1))" \
    "test build, INTERIMAP_TEST_DB_ONLY=1: no sync"
run_with "$INTERIMAP" t-dump INTERIMAP_TEST_DUMP_CONFIG=1
t_expect_match "$(cat "$T/t-dump.out")" 'database' \
    "test build, INTERIMAP_TEST_DUMP_CONFIG=1: the configuration printed"
run_with "$INTERIMAP" t-kill INTERIMAP_TEST_KILL_BEFORE=1
t_expect_eq "$RC" 137 "test build, INTERIMAP_TEST_KILL_BEFORE=1: exit 137"

# ---- what is installed ------------------------------------------------------

if [ -n "${BUILDDIR:-}" ]; then
	DEST=$T/dest
	if DESTDIR=$DEST cmake --install "$BUILDDIR" >"$T/install.out" 2>&1
	then
		t_pass "cmake --install"
		mapfile -t exes < <(find "$DEST" -type f -perm -u+x |
		    while read -r f; do
			[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = \
			    '177ELF' ] && echo "$f"
		    done)
		t_expect_eq "${#exes[@]}" 1 "one executable installed"
		t_expect_eq "$(basename "${exes[0]:-none}")" interimap \
		    "the installed executable is interimap"
		if cmp -s "${exes[0]:-/dev/null}" "$REL"; then
			t_pass "the installed binary is \$INTERIMAP_RELEASE"
		else
			t_fail "the installed binary is \$INTERIMAP_RELEASE"
		fi
	else
		t_fail "cmake --install: $(tail -n 3 "$T/install.out")"
	fi
else
	t_log "no BUILDDIR: the install is not checked"
fi

t_done
