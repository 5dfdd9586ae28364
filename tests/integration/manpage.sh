#!/bin/bash
#
# The manual page, man/interimap.1, against mandoc and against the code:
#
#  - mandoc -Tlint -Wwarning finds nothing, and the page renders;
#  - every option of priv/cli.c (its cli_opts table) has an entry in
#    OPTIONS, and every entry there names an option the binary accepts;
#  - every key of priv/conf_validate.c (its conf_keys table) has an entry,
#    and every key documented is one the binary accepts;
#  - every exit code of ipc/proc.h is listed in EXIT STATUS, and nothing
#    else is;
#  - the test hooks (INTERIMAP_TEST_*) are not documented, the seccomp
#    trap variable is, under the name ipc/sandbox.h gives it;
#  - the SYNOPSIS has the forms --help prints, --version prints what the
#    page says, every .Sx names a section of the page;
#  - `cmake --install` puts the page in share/man/man1.
#
# Adding an option, a key or an exit code without documenting it fails
# here.

source "$SRCDIR/tests/lib/common.sh"
t_setup

PAGE=$SRCDIR/man/interimap.1
CLI_C=$SRCDIR/priv/cli.c
CONF_C=$SRCDIR/priv/conf_validate.c
PROC_H=$SRCDIR/ipc/proc.h

if [ ! -r "$PAGE" ]; then
	t_fail "$PAGE is readable"
	t_done
fi

# The lines of section $1 (a .Sh title), without the .Sh line itself.
section()
{
	awk -v want="$1" '
		/^\.Sh / { insec = (substr($0, 5) == want); next }
		insec { print }
	' "$PAGE"
}

# ---- mandoc ---------------------------------------------------------------

lint=$(mandoc -Tlint -Wwarning "$PAGE" 2>&1)
rc=$?
t_expect_eq "$rc:$lint" "0:" "mandoc -Tlint -Wwarning: no warning"

mandoc -Tutf8 "$PAGE" >"$T/page.txt" 2>"$T/render.err"
rc=$?
t_expect_eq "$rc:$(cat "$T/render.err")" "0:" "mandoc -Tutf8 renders"
# The text a user reads, without overstriking (bold and underline are
# "c BS c" and "_ BS c") or line-end hyphenation.
mandoc -Tascii -Owidth=1000 "$PAGE" 2>/dev/null | sed 's/.\x08//g' \
    >"$T/page.ascii"
t_expect_match "$(head -n 1 "$T/page.ascii")" '^INTERIMAP\(1\)' \
    "the page is interimap(1)"

# ---- options --------------------------------------------------------------

mapfile -t opts < <(table_names cli_opts "$CLI_C")
# Guard against a table the parser no longer finds.
t_expect_match " ${opts[*]} " ' config .* q .* version ' \
    "options read from priv/cli.c (${#opts[@]})"

section OPTIONS >"$T/options.mdoc"
mapfile -t items < <(grep '^\.It ' "$T/options.mdoc")
for o in "${opts[@]}"; do
	if [ ${#o} -eq 1 ]; then
		flag="Fl $o"
		shown="-$o"
	else
		flag="Fl -$o"
		shown="--$o"
	fi
	found=
	for it in "${items[@]}"; do
		if [[ " $it " == *" $flag "* ]]; then
			found=1
			break
		fi
	done
	if [ -n "$found" ]; then
		t_pass "option $shown documented in OPTIONS"
	else
		t_fail "option $shown documented in OPTIONS"
	fi
done

# Every option an OPTIONS entry names, the binary must know.
mapfile -t documented < <(printf '%s\n' "${items[@]}" |
    grep -o 'Fl -\?[A-Za-z][A-Za-z-]*' | sed 's/^Fl /-/' | sort -u)
t_expect_match "${#documented[@]}" '^[1-9]' "OPTIONS has entries"
for d in "${documented[@]}"; do
	if [[ $d == --* ]]; then
		out=$(cd "$T" && "$INTERIMAP" "$d=x" --help 2>&1 </dev/null)
	else
		out=$(cd "$T" && "$INTERIMAP" "$d" --help 2>&1 </dev/null)
	fi
	if [[ $out == *"Unknown option"* ]]; then
		t_fail "documented option $d is accepted"
		printf '%s\n' "$out" | sed 's/^/#   /'
	else
		t_pass "documented option $d is accepted"
	fi
done

# ---- configuration keys ---------------------------------------------------

mapfile -t keys < <(table_names conf_keys "$CONF_C")
t_expect_match " ${keys[*]} " ' host .* SSL_fingerprint .* ignore-mailbox ' \
    "keys read from priv/conf_validate.c (${#keys[@]})"

{ section "CONFIGURATION FILE"; section TLS; } >"$T/keys.mdoc"
# The .It entries naming keys: ".It Cm key" or ".It Cm a , Cm b".
mapfile -t kitems < <(grep '^\.It Cm ' "$T/keys.mdoc")
for k in "${keys[@]}"; do
	found=
	for it in "${kitems[@]}"; do
		if [[ " $it " == *" Cm $k "* ]]; then
			found=1
			break
		fi
	done
	if [ -n "$found" ]; then
		t_pass "key $k documented"
	else
		t_fail "key $k documented"
	fi
done

# Every key documented must be one the binary accepts: set it alone in the
# default section of an otherwise valid file; an unknown key is "Invalid
# option KEY", a refused value "Invalid option KEY = VALUE".  The bogus
# --target stops the run right after the configuration is read.
mapfile -t dkeys < <(printf '%s\n' "${kitems[@]}" |
    grep -o 'Cm [^ %][^ ]*' | sed 's/^Cm //' | sort -u)
t_expect_match "${#dkeys[@]}" '^[1-9]' "key entries found in the page"
for k in "${dkeys[@]}"; do
	write_config "$T/keys.conf" <<EOF
$k = x
[local]
type = tunnel
command = true
[remote]
type = tunnel
command = true
EOF
	out=$(cd "$T" && "$INTERIMAP" --config="$T/keys.conf" \
	    --target=bogus --delete x 2>&1 </dev/null)
	if grep -qxF "$T/keys.conf:1: Invalid option $k" <<<"$out"; then
		t_fail "documented key $k is accepted"
	elif [[ $out != *"Invalid target bogus"* &&
	    $out != *"Invalid option $k = x"* ]]; then
		t_fail "documented key $k: unexpected outcome"
		printf '%s\n' "$out" | sed 's/^/#   /'
	else
		t_pass "documented key $k is accepted"
	fi
done

# ---- exit codes -----------------------------------------------------------

# EXIT_NET_LOST and EXIT_AUTH_RETRY are a net's own statuses, which priv
# turns into EXIT_FAIL (or a restart): interimap itself never exits with
# them.
mapfile -t codes < <(
    grep -v '^#define[[:space:]]*EXIT_\(NET_LOST\|AUTH_RETRY\)[[:space:]]' "$PROC_H" |
    sed -n \
    's/^#define[ \t]\{1,\}EXIT_[A-Z_]\{1,\}[ \t]\{1,\}\([0-9]\{1,\}\).*/\1/p' |
    sort -n -u)
t_expect_match " ${codes[*]} " ' 0 1 .* 255 ' \
    "exit codes read from ipc/proc.h (${#codes[@]})"
listed=$(section "EXIT STATUS" | sed -n 's/^\.It \([0-9][0-9]*\)$/\1/p' |
    sort -n -u)
t_expect_eq "$listed" "$(printf '%s\n' "${codes[@]}")" \
    "EXIT STATUS lists exactly the codes of ipc/proc.h"

# ---- environment ----------------------------------------------------------

# The test hooks (ipc/testhooks.h) are not in the installed binary: the
# page names none of them.
if grep -q 'INTERIMAP_TEST_\|INTERIMAP_SECCOMP_TRAP' "$PAGE"; then
	t_fail "the test hooks are not documented"
else
	t_pass "the test hooks are not documented"
fi
for v in XDG_CONFIG_HOME XDG_DATA_HOME HOME; do
	if section ENVIRONMENT | grep -q "^\.It Ev $v\( \|$\)"; then
		t_pass "ENVIRONMENT documents $v"
	else
		t_fail "ENVIRONMENT documents $v"
	fi
done

# ---- synopsis, version, cross-references ------------------------------------

forms=$(section SYNOPSIS | grep -c '^\.Nm$')
helpforms=$(cd "$T" && "$INTERIMAP" --help 2>/dev/null |
    grep -c '^\(Usage\|  or\): interimap ')
t_expect_eq "$forms" "$helpforms" "SYNOPSIS has the forms --help prints"
t_expect_eq "$forms" 4 "SYNOPSIS has four forms"
for cmd in repair delete rename; do
	if section SYNOPSIS | grep -qx "\.Fl -$cmd"; then
		t_pass "SYNOPSIS has the --$cmd form"
	else
		t_fail "SYNOPSIS has the --$cmd form"
	fi
done

version=$(cd "$T" && "$INTERIMAP" --version 2>/dev/null)
if grep -qF "$version" "$T/page.ascii"; then
	t_pass "the page quotes what --version prints ($version)"
else
	t_fail "the page quotes what --version prints ($version)"
fi

# Every .Sx names a .Sh or .Ss of the page (mandoc does not check).
grep -E '^\.S[hs] ' "$PAGE" | cut -c5- | sort -u >"$T/titles"
bad=
while IFS= read -r ref; do
	if ! grep -qxF "$ref" "$T/titles"; then
		bad="$bad [$ref]"
	fi
done < <(sed -n 's/^\.Sx //p' "$PAGE" |
    sed -E 's/( [],.;:()!?[]+)+$//' | sort -u)
t_expect_eq "$bad" "" "every .Sx names a section of the page"

# ---- installation ---------------------------------------------------------

if [ -n "${BUILDDIR:-}" ] && [ -f "$BUILDDIR/cmake_install.cmake" ]; then
	cmake --install "$BUILDDIR" --prefix "$T/inst" >"$T/install.log" 2>&1
	t_expect_eq "$?" 0 "cmake --install succeeds"
	if cmp -s "$PAGE" "$T/inst/share/man/man1/interimap.1"; then
		t_pass "installed as share/man/man1/interimap.1"
	else
		t_fail "installed as share/man/man1/interimap.1"
		sed 's/^/#   /' "$T/install.log"
	fi
else
	t_fail "BUILDDIR (${BUILDDIR:-unset}) is a CMake build directory"
fi

t_done
