#!/bin/bash
#
# The command line, ours against the reference: for argument vectors that
# end before a configuration is read (usage errors, bad MAILBOX names,
# --help, --version) or right at the missing config file, both programs
# must agree on success or failure and print the same lines.
#
# Normalised differences (deliberate, documented in priv/cli.c):
#  - --help: the reference prints to stderr, ours to stdout;
#  - --version: "/usr/bin/interimap version V" and a Getopt/Perl line for
#    the reference, "interimap OURS (compatible with InterIMAP V)" for ours,
#    OURS being the project's version in CMakeLists.txt: the reference's V
#    must be the release ours claims compatibility with;
#  - Perl's " at FILE line N." suffix on die messages;
#  - exit codes: only the class (0 / non-zero) is compared with the
#    reference; ours are checked exactly (proc.h).
# Vectors where ours deliberately differs (negative --watch) are checked
# against our own expected text.

source "$SRCDIR/tests/lib/common.sh"
t_setup

CFGDIR=$XDG_CONFIG_HOME/interimap
X80=$'\x80'
EACUTE=$'\xc3\xa9'
NL=$'\n'
SHORT="Usage: interimap [OPTIONS] [COMMAND] [MAILBOX [..]]
Try 'interimap --help' or consult the manpage for more information."

# Each vector is one line of shell words (eval'ed), and the exit code
# ours must give: 0 (EXIT_OK), 1 (EXIT_FAIL, usage), 2 (EXIT_CONFIG, here
# always the missing config file).
VECTORS=(
	# Unknown options: case-sensitive, no abbreviation.
	'1 --deb'
	'1 --conf=x'
	'1 --c=x'
	'1 --Quiet'
	'1 --hel'
	'1 --versio'
	'1 --Version'
	'1 -x'
	'1 -V'
	'1 -Q'
	'1 -H'
	'1 --=x'
	'1 ---x'
	'1 --deb --foo'
	'1 --help --deb'
	'1 --watch --watch=abc --foo'
	# Bundles.
	'0 -qh'
	'0 -hq'
	'0 -h-'
	'1 -qx'
	'1 -qhx'
	'1 -quiet'
	'1 -h=1'
	'1 -q-x'
	'1 -x-q'
	'1 -q--'
	# Flags take no value.
	'1 --notify=1'
	'1 --debug=2'
	'1 --help=1'
	'1 --quiet='
	'1 --quiet=0'
	'1 --q=1'
	'1 --h=1'
	'1 --rename=1'
	'1 --version=1'
	'1 --repair=yes'
	# Required values.
	'1 --config'
	'1 --target'
	# --watch values.
	'1 --watch=abc'
	'1 --watch=5x'
	'1 --watch=-'
	'1 --watch=_'
	'1 --watch=0x10'
	'1 --watch=1e3'
	'1 "--watch= 5"'
	'1 --watch=5=6'
	'1 --watch -5x'
	# --help and --version.
	'0 --help'
	'0 -h'
	'0 --h'
	'0 --version'
	'0 --deb --version'
	'0 --version --deb'
	'0 --help --version'
	'0 --version --help'
	'0 -q --version'
	'0 --repair --delete --version'
	# Command combinations.
	'1 --repair --delete'
	'1 --repair --repair --rename a b'
	'1 --delete'
	'1 --rename a'
	'1 --rename a b c'
	'1 --repair --watch'
	'1 --repair --watch=5'
	'1 --repair --notify'
	'1 --delete --notify a'
	'1 --rename --watch a b'
	'1 --target=local'
	'1 --target=x'
	'1 --target='
	'1 --target=, INBOX'
	'1 --target=local --repair'
	'1 --repair --delete $X80'
	# MAILBOX names.
	'1 $X80'
	'1 INBOX $EACUTE'
	'1 --delete a ""'
	'1 --watch "" x'
	'1 -- -q $X80'
	'1 $X80 -q'
	'1 - $X80'
	'1 -q- $X80'
	'1 -qq $X80'
	'1 --watch -0 $X80'
	'1 --watch=+7 $X80'
	'1 --watch= $X80'
	'1 --watch --notify $X80'
	'1 --watch - $X80'
	'1 --rename $X80 b'
	# Past the command line: the missing config file.
	'2'
	'2 -q'
	'2 --'
	'2 -'
	'2 --q'
	'2 --watch abc'
	'2 --watch 5x'
	'2 --watch 5 5'
	'2 --watch -- -q'
	'2 --notify --watch=0'
	'2 --config --quiet'
	'2 --config -q'
	'2 --config --'
	'2 --config=a=b'
	'2 --config=a --config=b'
	'2 -q-config=foo'
	'2 - --version'
	'2 --target=x --delete a'
	'2 "--target=" --delete a'
	'2 --target a --target b --delete x'
	'2 --delete --delete a'
	'2 --rename inbox INBOX'
	'2 --config=/nonexistent/file'
	'2 --config=' # "Insecure": the empty path
)

# Our own version, as the top CMakeLists.txt sets it.
OURVER=$(sed -n 's/^project(interimap VERSION \([0-9.]*\) .*/\1/p' \
    "$SRCDIR/CMakeLists.txt")
t_expect_match "$OURVER" '^[0-9]+\.[0-9]+\.[0-9]+$' \
    "our version read from CMakeLists.txt ($OURVER)"

# The reference's text as ours prints it.
norm_ref_out()
{
	sed -e "s|^/usr/bin/interimap version \\(.*\\)\$|interimap $OURVER (compatible with InterIMAP \\1)|" \
	    -e '/^(Getopt::Long::GetOptions version /d' "$1"
}

norm_ref_err()
{
	sed -E -e 's/ at \/usr\/(bin\/interimap|share\/perl5\/Net\/IMAP\/InterIMAP\.pm) line [0-9]+\.$//' "$1"
}

n=0
for v in "${VECTORS[@]}"; do
	n=$((n + 1))
	want_rc=${v%% *}
	[ "$want_rc" = "$v" ] && args='' || args=${v#* }
	eval "set -- $args"
	what="[$n] interimap $args"

	rm -rf "$CFGDIR"
	run_ref "$@"
	rm -rf "$CFGDIR"
	run_ours "$@"

	ref_out=$(norm_ref_out "$T/ref.out")
	ref_err=$(norm_ref_err "$T/ref.err")
	ours_out=$(cat "$T/ours.out")
	ours_err=$(cat "$T/ours.err")

	# --help: the reference's stderr is our stdout.
	if [ "$REF_RC" -eq 0 ] && [ -z "$ref_out" ]; then
		ref_out=$ref_err
		ref_err=
	fi

	if [ "$REF_RC" -eq 0 ]; then
		t_expect_eq "$OURS_RC" 0 "$what: both succeed"
	else
		t_expect_match "$OURS_RC" '^[1-9][0-9]*$' \
		    "$what: both fail (reference $REF_RC)"
	fi
	t_expect_eq "$OURS_RC" "$want_rc" "$what: our exit code"
	t_expect_eq "$ours_out" "$ref_out" "$what: stdout"
	t_expect_eq "$ours_err" "$ref_err" "$what: stderr"
done

# Deliberate differences: a negative or huge --watch is refused by ours
# (the reference takes it and goes on to the config file).
OURS_ONLY=(
	'--watch=-5|Value "-5" invalid for option watch (negative interval)'
	'--watch -5|Value "-5" invalid for option watch (negative interval)'
	'--notify --watch -1|Value "-1" invalid for option watch (negative interval)'
	'--watch=99999999999|Value "99999999999" invalid for option watch (number too large)'
)
for v in "${OURS_ONLY[@]}"; do
	args=${v%%|*}
	msg=${v#*|}
	eval "set -- $args"
	run_ref "$@"
	run_ours "$@"
	t_expect_match "$(cat "$T/ref.err")" '^No such config file ' \
	    "interimap $args: the reference takes it"
	t_expect_eq "$OURS_RC" 1 "interimap $args: ours refuses it"
	t_expect_eq "$(cat "$T/ours.err")" "$msg$NL$SHORT" \
	    "interimap $args: our message"
done

# --version prints our version and the release we are compatible with,
# which is the reference's (its first line, compared above, agrees).
run_ours --version
t_expect_eq "$(cat "$T/ours.out")" \
    "interimap $OURVER (compatible with InterIMAP 0.5.7)" "--version text"
run_ref --version
t_expect_eq "$(head -n 1 "$T/ref.out")" "/usr/bin/interimap version 0.5.7" \
    "the reference is InterIMAP 0.5.7"

t_done
