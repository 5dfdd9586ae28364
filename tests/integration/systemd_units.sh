#!/bin/bash
#
# The systemd units (systemd/), as `cmake --install` installs them:
#
#  - the user units in a systemd/user directory, the system templates in a
#    systemd/system one, each ExecStart naming the installed binary;
#  - `systemd-analyze verify` finds nothing to say about any of them
#    (system units in the system manager's view, user units in the user
#    manager's, Documentation=man:interimap(1) found in the page
#    installed beside them); a unit with a mistake in it does not pass;
#  - the system templates' exposure (`systemd-analyze security
#    --offline=yes`, the "Overall exposure level" line) is 2.0 or lower,
#    and --threshold=20 agrees; the reference's user unit does not pass
#    the same check (9.6);
#  - interimap-account-once@.service runs in interimap-account@.service's
#    sandbox, line for line;
#  - the user units keep the reference's semantics: every setting of the
#    reference's units (Debian package interimap) is ours too, with the
#    same command-line arguments.
#
# systemd-analyze works offline (no running systemd needed): it comes with
# the package systemd (.ci/install-deps).

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/unit.sh"
t_setup

# `cmake --install` needs the build tree: the binary's, by hand.
: "${BUILDDIR:=$(dirname "$INTERIMAP")}"

ROOT=$T/root
REF_UNITS=/usr/lib/systemd/user
USER_UNITS=(interimap.service interimap@.service)
SYSTEM_UNITS=(interimap-account@.service interimap-account-once@.service)
# Instances to verify and analyse (a template alone is not loaded).
declare -A INSTANCE=([interimap.service]=interimap.service
    [interimap@.service]=interimap@personal.service
    [interimap-account@.service]=interimap-account@alice.service
    [interimap-account-once@.service]=interimap-account-once@alice.service)
MAX_EXPOSURE=20		# tenths: 2.0

# ---- installation -----------------------------------------------------------

if DESTDIR=$ROOT cmake --install "$BUILDDIR" >"$T/install.log" 2>&1; then
	t_pass "cmake --install with DESTDIR"
else
	t_fail "cmake --install with DESTDIR"
	sed 's/^/#   /' "$T/install.log"
	t_done
fi

declare -A FILE
for u in "${USER_UNITS[@]}" "${SYSTEM_UNITS[@]}"; do
	f=$(find "$ROOT" -name "$u" -type f)
	if [ "$(printf '%s' "$f" | grep -c .)" -ne 1 ]; then
		t_fail "$u installed once (found: ${f:-none})"
		continue
	fi
	FILE[$u]=$f
	case " ${USER_UNITS[*]} " in
	*" $u "*)	kind=systemd/user ;;
	*)		kind=systemd/system ;;
	esac
	t_expect_match "$(dirname "${f#"$ROOT"}")" "/$kind\$" \
	    "$u installed in a $kind unit directory"
done
[ "${#FILE[@]}" -eq 4 ] || t_done

page=$(find "$ROOT" -path '*/man1/interimap.1' -type f)
t_expect_match "$page" '/man1/interimap\.1$' "the manual page is installed"
MANDIR=$(dirname "$(dirname "$page")")

# ExecStart names the installed binary; the copies verified below name it
# where DESTDIR put it (its only difference from the installed unit).
mkdir -p "$T/system" "$T/user"
for u in "${!FILE[@]}"; do
	exec_start=$(unit_value "${FILE[$u]}" Service ExecStart)
	bin=${exec_start%% *}
	t_expect_match "$bin" '^/.*/interimap$' "$u: ExecStart names interimap"
	if [ -x "$ROOT$bin" ] && cmp -s "$ROOT$bin" "${INTERIMAP_RELEASE:-$INTERIMAP}"; then
		t_pass "$u: ExecStart names the installed binary ($bin)"
	else
		t_fail "$u: ExecStart names the installed binary ($bin)"
	fi
	case " ${USER_UNITS[*]} " in
	*" $u "*)	dir=$T/user ;;
	*)		dir=$T/system ;;
	esac
	sed "s|^ExecStart=$bin |ExecStart=$ROOT$bin |" "${FILE[$u]}" >"$dir/$u"
done

# ---- systemd-analyze verify -------------------------------------------------

export XDG_RUNTIME_DIR=$T/xdg-runtime
mkdir -m 700 -p "$XDG_RUNTIME_DIR"

# verify_quiet WHAT ARGS...: status 0 and not a word said.
verify_quiet()
{
	local what=$1 out rc

	shift
	out=$(MANPATH=$MANDIR systemd-analyze verify "$@" 2>&1)
	rc=$?
	t_expect_eq "$rc:$out" "0:" "$what"
}

for u in "${SYSTEM_UNITS[@]}"; do
	verify_quiet "systemd-analyze verify ${INSTANCE[$u]}" \
	    "$T/system/${INSTANCE[$u]}"
done
for u in "${USER_UNITS[@]}"; do
	verify_quiet "systemd-analyze verify --user ${INSTANCE[$u]}" \
	    --user "$T/user/${INSTANCE[$u]}"
done

# The check can fail: a key systemd does not know, a binary that is not
# there, a manual page that is not found.
mkdir -p "$T/bad"
sed 's/^UMask=/UMasque=/' "$T/system/interimap-account@.service" \
    >"$T/bad/interimap-account@.service"
out=$(MANPATH=$MANDIR systemd-analyze verify \
    "$T/bad/interimap-account@alice.service" 2>&1)
t_expect_match "$out" "Unknown key 'UMasque'" \
    "systemd-analyze verify: an unknown key is reported"
sed "s|^ExecStart=[^ ]*|ExecStart=$T/nonexistent|" \
    "$T/system/interimap-account@.service" >"$T/bad/interimap-account@.service"
out=$(MANPATH=$MANDIR systemd-analyze verify \
    "$T/bad/interimap-account@alice.service" 2>&1)
t_expect_match "$out" "is not executable" \
    "systemd-analyze verify: a missing binary is reported"
out=$(MANPATH=$T/nonexistent systemd-analyze verify \
    "$T/system/interimap-account@alice.service" 2>&1)
t_expect_match "$out" "man interimap\(1\)" \
    "systemd-analyze verify: a missing manual page is reported"

# ---- systemd-analyze security -----------------------------------------------

# exposure FILE: the overall exposure level, in tenths ("1.1" -> 11).
exposure()
{
	local out level

	out=$(systemd-analyze security --offline=yes "$1" 2>&1)
	level=$(sed -n 's/.*Overall exposure level for [^ ]*: \([0-9]*\)\.\([0-9]\) .*/\1\2/p' \
	    <<<"$out")
	printf '%s\n' "$out" | grep 'Overall exposure level' | sed 's/^/# /' >&2
	echo "$((10#${level:-999}))"
}

for u in "${SYSTEM_UNITS[@]}"; do
	level=$(exposure "$T/system/${INSTANCE[$u]}")
	t_expect_eq "$((level <= MAX_EXPOSURE))" 1 \
	    "$u: exposure $((level / 10)).$((level % 10)) <= 2.0"
	if systemd-analyze security --offline=yes --threshold=$MAX_EXPOSURE \
	    "$T/system/${INSTANCE[$u]}" >/dev/null 2>&1; then
		t_pass "$u: systemd-analyze security --threshold=$MAX_EXPOSURE"
	else
		t_fail "$u: systemd-analyze security --threshold=$MAX_EXPOSURE"
	fi
done
for u in "${USER_UNITS[@]}"; do
	level=$(exposure "$T/user/${INSTANCE[$u]}")
	t_log "$u (user unit, as the reference's): exposure" \
	    "$((level / 10)).$((level % 10))"
done
# The check can fail: the reference's user unit is far above.
level=$(exposure "$REF_UNITS/interimap.service")
t_expect_eq "$((level > MAX_EXPOSURE))" 1 \
    "the reference's interimap.service fails the check ($((level / 10)).$((level % 10)))"

# ---- one sandbox for both system templates ------------------------------------

# From "# Who, and where." to the end of [Service].
sandbox_of()
{
	awk '/^# Who, and where\./ { on = 1 } /^\[/ && on && !/^\[Service\]/ {
		exit } on { print }' "$1"
}
a=$(sandbox_of "${FILE[interimap-account@.service]}")
b=$(sandbox_of "${FILE[interimap-account-once@.service]}")
t_expect_match "$a" 'DynamicUser=yes' "the sandbox block is found"
t_expect_eq "$b" "$a" \
    "interimap-account-once@.service: interimap-account@.service's sandbox"

# ---- the user units keep the reference's semantics --------------------------

for u in "${USER_UNITS[@]}"; do
	ref=$REF_UNITS/$u
	ours=${FILE[$u]}
	if [ ! -f "$ref" ]; then
		t_fail "$ref (package interimap) is there"
		continue
	fi
	for sec in Unit Service Install; do
		for key in $(unit_keys "$ref" "$sec"); do
			want=$(unit_values "$ref" "$sec" "$key")
			got=$(unit_values "$ours" "$sec" "$key")
			case $key in
			ExecStart)
				want=${want#* }
				got=${got#* } ;;
			Documentation)
				# Their web page is theirs; the man page both.
				want=$(grep '^man:' <<<"$want") ;;
			esac
			t_expect_eq "$got" "$want" "$u: [$sec] $key as the reference"
		done
	done
done

t_done
