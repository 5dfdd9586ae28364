#!/bin/bash
#
# `cmake --install` of this build into a scratch prefix lays out what
# README.md, "Installing", promises:
#
#  - the binary, bin/interimap, which runs and prints the build's version;
#  - the manual page, share/man/man1/interimap.1, clean for mandoc -Tlint;
#  - the two user units and the two system templates, whose ExecStart names
#    the binary where this build's prefix puts it;
#  - share/doc/interimap/: README.md and config.sample, the sample
#    configuration, which holds every key priv/conf_validate.c knows and
#    every key the manual page documents (CONFIGURATION FILE and TLS), as
#    a "key = value" or "#key = value" line; it parses as it is, and each
#    of its commented-out values is accepted when uncommented.

source "$SRCDIR/tests/lib/common.sh"
t_setup

CONF_C=$SRCDIR/priv/conf_validate.c
PAGE=$SRCDIR/man/interimap.1

if [ -z "${BUILDDIR:-}" ] || [ ! -f "$BUILDDIR/cmake_install.cmake" ]; then
	t_fail "BUILDDIR (${BUILDDIR:-unset}) is a CMake build directory"
	t_done
fi

cache()
{
	sed -n "s/^$1:[A-Z]*=//p" "$BUILDDIR/CMakeCache.txt"
}

P=$T/inst
cmake --install "$BUILDDIR" --prefix "$P" >"$T/install.log" 2>&1
rc=$?
t_expect_eq "$rc" 0 "cmake --install --prefix succeeds"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/install.log"

# ---- the files ----------------------------------------------------------------

BIN=$P/bin/interimap
DOC=$P/share/doc/interimap
for f in bin/interimap share/man/man1/interimap.1 \
    share/doc/interimap/README.md share/doc/interimap/config.sample; do
	if [ -f "$P/$f" ]; then
		t_pass "installed $f"
	else
		t_fail "installed $f"
	fi
done
t_expect_eq "$(stat -c %a "$BIN" 2>&1)" 755 "the binary is mode 0755"
t_expect_eq "$("$BIN" --version 2>&1)" "$("$INTERIMAP" --version 2>&1)" \
    "the installed binary runs and prints the build's version"
if cmp -s "$SRCDIR/README.md" "$DOC/README.md"; then
	t_pass "README.md installed as it is"
else
	t_fail "README.md installed as it is"
fi

lint=$(mandoc -Tlint -Wwarning "$P/share/man/man1/interimap.1" 2>&1)
t_expect_eq "$?:$lint" "0:" "installed page: mandoc -Tlint -Wwarning"

# The units, wherever pkg-config's systemd (or the cache) sent them.
bindir=$(cache CMAKE_INSTALL_BINDIR)
case $bindir in
/*)	want=$bindir/interimap ;;
*)	want=$(cache CMAKE_INSTALL_PREFIX)/$bindir/interimap ;;
esac
for unit in user/interimap.service user/interimap@.service \
    system/interimap-account@.service \
    system/interimap-account-once@.service; do
	found=$(find "$P" -path "*/systemd/$unit" -type f | head -n 1)
	if [ -z "$found" ]; then
		t_fail "unit $unit installed under the prefix"
		continue
	fi
	t_pass "unit $unit installed (${found#"$P"/})"
	exec=$(sed -n 's/^ExecStart=//p' "$found")
	t_expect_match "$exec" "^$want " "$unit: ExecStart runs $want"
done

# ---- the sample configuration -------------------------------------------------

SAMPLE=$DOC/config.sample

# The lines of section $1 (a .Sh title) of the page.
section()
{
	awk -v want="$1" '
		/^\.Sh / { insec = (substr($0, 5) == want); next }
		insec { print }
	' "$PAGE"
}

mapfile -t keys < <(table_names conf_keys "$CONF_C")
t_expect_match " ${keys[*]} " ' host .* SSL_fingerprint .* ignore-mailbox ' \
    "keys read from priv/conf_validate.c (${#keys[@]})"
mapfile -t dkeys < <({ section "CONFIGURATION FILE"; section TLS; } |
    grep '^\.It Cm ' | grep -o 'Cm [^ %][^ ]*' | sed 's/^Cm //' | sort -u)
t_expect_match "${#dkeys[@]}" '^[1-9]' "keys read from the manual page"

missing=
for k in $(printf '%s\n' "${keys[@]}" "${dkeys[@]}" | sort -u); do
	grep -qE "^#?$k = " "$SAMPLE" 2>/dev/null || missing="$missing $k"
done
t_expect_eq "$missing" "" "the sample has every key of the code and the page"

# As it is: read without error up to the bogus --target, which ends the
# run right after the configuration is read.
cp "$SAMPLE" "$T/sample.conf" && chmod 600 "$T/sample.conf"
out=$(cd "$T" && "$BIN" --config="$T/sample.conf" --target=bogus \
    --delete x 2>&1 </dev/null)
t_expect_eq "$out" "Invalid target bogus" "the sample parses as it is"

# Each commented-out "#key = value", uncommented alone in the default
# section of an otherwise valid file, is accepted.
n=0
while IFS= read -r line; do
	n=$((n + 1))
	{
		printf '%s\n' "$line"
		printf '[local]\ntype = tunnel\ncommand = true\n'
		printf '[remote]\ntype = tunnel\ncommand = true\n'
	} >"$T/key.conf"
	chmod 600 "$T/key.conf"
	out=$(cd "$T" && "$BIN" --config="$T/key.conf" --target=bogus \
	    --delete x 2>&1 </dev/null)
	t_expect_eq "$out" "Invalid target bogus" "sample value: $line"
done < <(sed -n 's/^#\([A-Za-z_-]* = \)/\1/p' "$SAMPLE")
t_expect_match "$n" '^[1-9]' "the sample has commented-out values ($n)"

t_done
