#!/bin/bash
#
# The configuration file, ours against the reference.
#
# 1. Golden files, tests/data/config/NAME.ini:
#    - with NAME.dump: ours loads it and INTERIMAP_TEST_DUMP_CONFIG=1 prints
#      exactly NAME.dump (the scratch root written @T@); for ok-* the
#      [_]/[local]/[remote] part is also what the reference's own
#      read_config() makes of the file;
#    - with NAME.err: ours exits EXIT_CONFIG (2) printing exactly NAME.err
#      (file, line, key) and creates nothing; for bad-* the reference
#      fails too, before creating its database.
#    - fix-* are files the reference refuses and ours accepts on purpose
#      (UTF-8 text); strict-* are files ours refuses on purpose and the
#      reference only notices later (a bad ignore-mailbox regex).
# 2. Where the file is looked for (XDG) and what is created.
# 3. Random INI files (fixed seed): read_config() and ours agree on
#    failure, or on every effective key and value.
#
# The reference's view comes from Net::IMAP::InterIMAP::read_config(),
# called with its own key rules; the interimap-only keys are let through
# unchecked there (golden files cover them).

source "$SRCDIR/tests/lib/common.sh"
t_setup

DATA=$SRCDIR/tests/data/config
CFGDIR=$XDG_CONFIG_HOME/interimap
DBDIR=$XDG_DATA_HOME/interimap

# The reference's effective sections, printed as conf_dump() prints them.
cat >"$T/refdump.pl" <<'EOF'
use strict;
use warnings;
use Net::IMAP::InterIMAP qw/read_config/;

my $file = shift;
my $any = qr/\A(.*)\z/s;
my $conf = eval {
    read_config($file, [qw/_ local remote/],
        map { $_ => $any } qw/database logfile log-prefix list-reference
            list-mailbox list-select-opts ignore-mailbox/);
};
if (!defined $conf) {
    print "FAIL $@";
    exit 0;
}
$conf->{$_}->{'list-reference'} //= "" foreach qw/local remote/;
my %bool = map { $_ => 1 } qw/STARTTLS null-stderr compress SSL_verify/;
foreach my $s (qw/_ local remote/) {
    print "[$s]\n";
    foreach my $k (sort keys %{$conf->{$s}}) {
        my $v = $conf->{$s}->{$k};
        next unless defined $v;
        if ($k eq 'password') {
            $v = '********';
        } elsif ($bool{$k}) {
            $v = $v ? 'YES' : 'NO';
        } else {
            $v =~ s/(["\\])/\\$1/g;
            $v =~ s/([\x00-\x1F\x7F])/sprintf("\\x%02X", ord($1))/ge;
        }
        print "$k = \"$v\"\n";
    }
}
EOF

# Our sections, from the dump.
ours_sections()
{
	sed -n '/^\[_\]$/,/^# derived$/p' "$1" | sed '$d'
}

fresh()
{
	rm -rf "$CFGDIR" "$DBDIR"
	mkdir -p "$CFGDIR"
}

dump_ours()
{
	INTERIMAP_TEST_DUMP_CONFIG=1 run_ours "$@"
	sed -i "s|$T|@T@|g" "$T/ours.out" "$T/ours.err"
}

# ------------------------------------------------------------------------
# 1. Golden files

nok=0
nbad=0
for ini in "$DATA"/*.ini; do
	name=$(basename "$ini")
	base=${name%.ini}
	fresh
	cp "$ini" "$CFGDIR/$name"
	chmod 600 "$CFGDIR/$name"
	dump_ours --config="$name"

	if [ -f "$DATA/$base.dump" ]; then
		nok=$((nok + 1))
		t_expect_eq "$OURS_RC" 0 "$name: ours loads it"
		t_expect_eq "$(cat "$T/ours.err")" "" "$name: ours is silent"
		t_expect_eq "$(cat "$T/ours.out")" "$(cat "$DATA/$base.dump")" \
		    "$name: our dump"
		case $base in
		ok-*)
			perl "$T/refdump.pl" "$CFGDIR/$name" >"$T/ref.sections"
			ours_sections "$T/ours.out" >"$T/ours.sections"
			t_expect_eq "$(cat "$T/ours.sections")" \
			    "$(cat "$T/ref.sections")" \
			    "$name: sections as read_config() has them"
			;;
		fix-*)
			fresh
			cp "$ini" "$CFGDIR/$name"
			chmod 600 "$CFGDIR/$name"
			run_ref --config="$name"
			t_expect_match "$REF_RC" '^[1-9][0-9]*$' \
			    "$name: the reference refuses it (fixed)"
			t_expect_match "$(cat "$T/ref.err")" '^Invalid option ' \
			    "$name: the reference's reason"
			;;
		*)
			t_fail "$name: unknown kind of golden file"
			;;
		esac
	elif [ -f "$DATA/$base.err" ]; then
		nbad=$((nbad + 1))
		t_expect_eq "$OURS_RC" 2 "$name: ours exits EXIT_CONFIG"
		t_expect_eq "$(cat "$T/ours.err")" "$(cat "$DATA/$base.err")" \
		    "$name: our message"
		t_expect_eq "$(cat "$T/ours.out")" "" "$name: no dump"
		if [ -e "$DBDIR" ]; then
			t_fail "$name: ours created $DBDIR"
		else
			t_pass "$name: ours created nothing"
		fi
		case $base in
		bad-*)
			fresh
			cp "$ini" "$CFGDIR/$name"
			chmod 600 "$CFGDIR/$name"
			run_ref --config="$name"
			t_expect_match "$REF_RC" '^[1-9][0-9]*$' \
			    "$name: the reference fails too"
			if ls "$DBDIR"/*.db >/dev/null 2>&1; then
				t_fail "$name: the reference got past the config"
			else
				t_pass "$name: the reference failed at the config"
			fi
			;;
		strict-*)
			;;
		*)
			t_fail "$name: unknown kind of golden file"
			;;
		esac
	else
		t_fail "$name: neither $base.dump nor $base.err"
	fi
done
t_expect_match "$nok $nbad" '^([5-9]|[1-9][0-9]+) ([1-9][0-9]+)$' \
    "golden files found ($nok valid, $nbad broken)"

# ------------------------------------------------------------------------
# 2. Where the file is, and what is created

CONF_OK='[local]
type = tunnel
command = false
[remote]
type = tunnel
command = false'

# Both programs, same environment; both fail with the same message, ours
# with EXIT_CONFIG.
both_fail_same()
{
	local what=$1 ref_err

	shift
	run_ref "$@"
	ref_err=$(sed -E 's/ at \/usr\/share\/perl5\/Net\/IMAP\/InterIMAP\.pm line [0-9]+\.$//' "$T/ref.err")
	run_ours "$@"
	t_expect_match "$REF_RC" '^[1-9][0-9]*$' "$what: the reference fails"
	t_expect_eq "$OURS_RC" 2 "$what: ours exits EXIT_CONFIG"
	t_expect_eq "$(cat "$T/ours.err")" "$ref_err" "$what: same message"
}

fresh
rmdir "$CFGDIR"
both_fail_same "missing default config"
t_expect_eq "$(cat "$T/ours.err")" \
    "No such config file $CFGDIR/config" "missing default config: text"
if [ -d "$CFGDIR" ] && [ "$(stat -c %a "$CFGDIR")" = 700 ]; then
	t_pass "missing default config: config dir made, mode 0700"
else
	t_fail "missing default config: config dir made, mode 0700"
fi
[ -e "$DBDIR" ] && t_fail "missing config: data dir made" ||
    t_pass "missing config: no data dir"

both_fail_same "missing --config=NAME" --config=nope.ini
both_fail_same "missing absolute --config" --config="$T/nope.ini"
both_fail_same "directory as --config" --config="$T"
both_fail_same "empty --config" --config=
both_fail_same "tab in --config" --config=$'a\tb'

(
	unset XDG_CONFIG_HOME
	both_fail_same "XDG_CONFIG_HOME unset, no ~/.config"
	mkdir -p "$HOME/.config"
	both_fail_same "XDG_CONFIG_HOME unset, ~/.config"
	t_expect_eq "$(cat "$T/ours.err")" \
	    "No such config file $HOME/.config/interimap/config" \
	    "XDG_CONFIG_HOME unset: under HOME"
	write_config "$HOME/.config/interimap/config" <<<"$CONF_OK"
	dump_ours
	t_expect_eq "$OURS_RC" 0 "XDG_CONFIG_HOME unset: loads ~/.config"
	t_expect_match "$(head -n 1 "$T/ours.out")" \
	    '^# config "@T@/home/.config/interimap/config"$' \
	    "XDG_CONFIG_HOME unset: path"
)
XDG_CONFIG_HOME= both_fail_same "XDG_CONFIG_HOME empty"
(
	cd "$T" && mkdir -p rel &&
	    XDG_CONFIG_HOME=rel both_fail_same "XDG_CONFIG_HOME relative"
)

# The database: XDG data rule, the directory made only for a good config.
fresh
write_config "$CFGDIR/config" <<<"$CONF_OK"
XDG_DATA_HOME= both_fail_same "XDG_DATA_HOME empty"
XDG_DATA_HOME=$T/nowhere both_fail_same "XDG_DATA_HOME missing"
[ -e "$T/nowhere" ] && t_fail "XDG_DATA_HOME missing: created" ||
    t_pass "XDG_DATA_HOME missing: nothing created"
dump_ours
t_expect_eq "$OURS_RC" 0 "good config: loads"
t_expect_match "$(cat "$T/ours.out")" \
    'database = "@T@/data/interimap/localhost.db"' "good config: database"
if [ -d "$DBDIR" ] && [ "$(stat -c %a "$DBDIR")" = 700 ] &&
    [ -z "$(ls -A "$DBDIR")" ]; then
	t_pass "good config: data dir made 0700, no database file"
else
	t_fail "good config: data dir made 0700, no database file"
fi

# A config readable by others: a warning, once, not an error.
chmod 644 "$CFGDIR/config"
dump_ours
t_expect_eq "$OURS_RC" 0 "mode 0644: loads"
t_expect_eq "$(cat "$T/ours.err")" \
    "WARNING: @T@/config/interimap/config is readable by others and may contain passwords" \
    "mode 0644: one warning"
chmod 600 "$CFGDIR/config"

# A value past CONF_VALUE_MAX (3072 bytes) is the file's fault, named with
# its line and key; before, a 1 MB value ended in "IMSG_NET_CONF: bad
# length".  At the limit on every key a net gets, the section still
# reaches the net.
fresh
big=$(head -c 1048576 /dev/zero | tr '\0' a)
printf '%s\nusername = %s\n' "$CONF_OK" "$big" >"$CFGDIR/config"
chmod 600 "$CFGDIR/config"
run_ours
t_expect_eq "$OURS_RC" 2 "1 MB value: EXIT_CONFIG"
t_expect_eq "$(cat "$T/ours.err")" \
    "$CFGDIR/config:7: value too long: username (1048576 bytes, at most 3072)" \
    "1 MB value: the file, line, key and limit"
[ -e "$DBDIR" ] && t_fail "1 MB value: data dir made" ||
    t_pass "1 MB value: nothing created"
fresh
printf '%s\nlist-mailbox = %s\n' "$CONF_OK" "${big:0:3073}" \
    >"$CFGDIR/config"
chmod 600 "$CFGDIR/config"
run_ours
t_expect_eq "$OURS_RC" 2 "3073 bytes: EXIT_CONFIG"
t_expect_match "$(cat "$T/ours.err")" \
    ':7: value too long: list-mailbox \(3073 bytes, at most 3072\)$' \
    "3073 bytes: too long"
fresh
v=${big:0:3072}
fp=$(printf 'sha256$%064d ' $(seq 1 42))
fp=${fp% }
{
	printf '[remote]\ntype = tunnel\ncommand = exit 7\n'
	printf '[local]\ntype = imap\ncommand = exit 7\nport = 1\n'
	for k in host username password auth SSL_cipherlist SSL_ciphersuites \
	    SSL_hostname SSL_CApath SSL_CAfile SSL_protocol_min \
	    SSL_protocol_max; do
		printf '%s = %s\n' "$k" "$v"
	done
	printf 'SSL_fingerprint = %s\nSSL_protocols = TLSv1.2\n' "$fp"
	printf 'STARTTLS = NO\ncompress = NO\nSSL_verify = NO\n'
} >"$CFGDIR/config"
chmod 600 "$CFGDIR/config"
run_ours
t_expect_eq "$(grep -c 'IMSG_NET_CONF' "$T/ours.err")" 0 \
    "every net key at 3072 bytes: the section reaches the net"
t_expect_match "$(cat "$T/ours.err")" "(^|"$'\n'")local: ERROR: getaddrinfo\\(a{3072}\\): " \
    "every net key at 3072 bytes: the run went on to connect"

# priv's echo of a bad line escapes C1 controls too (0x9B is CSI to many
# terminals): bad-syntax-c1.ini and bad-c1.ini above show the text.
fresh
printf '%s\nx\233y\n' "$CONF_OK" >"$CFGDIR/config"
chmod 600 "$CFGDIR/config"
run_ours
t_expect_eq "$OURS_RC" 2 "C1 in a bad line: EXIT_CONFIG"
if LC_ALL=C grep -q $'\x9b' "$T/ours.err"; then
	t_fail "C1 in a bad line: raw 0x9B on stderr"
else
	t_pass "C1 in a bad line: no raw 0x9B on stderr"
fi
t_expect_match "$(cat "$T/ours.err")" ':7: syntax error: x\\x9By$' \
    "C1 in a bad line: shown as \\x9B"

# ------------------------------------------------------------------------
# 3. Random files: the reference's reader and ours agree.

cat >"$T/gen.pl" <<'EOF'
# Writes N random INI files from tricky fragments into DIR.
use strict;
use warnings;
my ($dir, $n) = @ARGV;
srand(20240611);
my @sect = ('[local]', '[remote]', '[_]', '[ local ]', "[\tremote ]",
    '[Local]', '[other]', '[local] ; c', '[ ]', '[lo cal]', '[local]]');
my @badsect = ('[]', '[local', 'local]', '[remote];c');
my @keys = qw/host port type STARTTLS username password auth compress
    null-stderr SSL_fingerprint SSL_hostname SSL_verify command proxy
    SSL_protocols Host starttls bogus/;
push @keys, ' host', 'user name', "port\t";
my @vals = ('x', '', 'imap', 'imaps', 'tunnel', 'IMAP', 'YES', 'no',
    'Yes', 'maybe', '993', '"quoted"', 'a ; b', 'a;b', 'a ;b', 'a ; ',
    'a ;  b', 'PLAIN LOGIN', 'PLAIN  LOGIN', 'sha256$ab', 'zz', 'TLSv1.2',
    '!SSLv3 TLSv1.3', 'TLSv1.4', "a\tb", "a\x01", "caf\xe9", "\xa0x",
    "a\x7f", 'a = b', '=', ' # not a comment', '[x]');
my @eol = ("\n", "\r\n", "\r", "\r\r\n");
# Valid settings (some made odd by the comment rule), to reach acceptance.
my @good = ('host=imap.example', 'host=a;b', 'port=993', 'port=1143',
    'type=imap', 'type=imaps', 'type=tunnel', 'STARTTLS=YES',
    'STARTTLS=no', 'compress=Yes', 'null-stderr=NO', 'username=me',
    'password="p w"', 'password=x;y', 'auth=PLAIN LOGIN', 'auth=LOGIN',
    'SSL_hostname=', 'SSL_fingerprint=sha256$0a1B', 'command=a ; b',
    'SSL_protocols=!SSLv3 TLSv1.2', "host=caf\xe9", 'proxy=socks5://p');
for my $i (1 .. $n) {
    my $s = '';
    my $lines = 1 + int(rand(9));
    for (1 .. $lines) {
        my $r = rand();
        my $l;
        if ($r < 0.20) {
            $l = $sect[rand @sect];
        } elsif ($r < 0.23) {
            $l = $badsect[rand @badsect];
        } elsif ($r < 0.32) {
            $l = (' ', '', "\t")[rand 3] . ('#', ';')[rand 2] . ' c';
        } elsif ($r < 0.36) {
            $l = ('', ' ', "\t \x0b")[rand 3];
        } elsif ($r < 0.38) {
            $l = ('junk', 'k', '= v', ' = v')[rand 4];
        } elsif ($r < 0.90) {
            $l = $good[rand @good];
            $l =~ s/=/(' = ', '=', ' =', "\t=\t")[rand 4]/e;
            $l .= ('', ' ', ' ; c', ' ;c')[rand 4];
        } else {
            $l = $keys[rand @keys] . (' = ', '=', ' =', "\t=\t")[rand 4]
                . $vals[rand @vals] . ('', ' ', ' ; c')[rand 3];
        }
        $s .= $l . $eol[rand @eol];
    }
    # Most files get both sections, so that validation is reached.
    $s = "[local]\n" . $s if rand() < 0.5;
    $s .= "\n[remote]\n" if rand() < 0.7;
    open my $fh, '>', sprintf('%s/r%03d.ini', $dir, $i) or die;
    print $fh $s;
    close $fh;
}
EOF

NRANDOM=300
mkdir -p "$T/random"
perl "$T/gen.pl" "$T/random" "$NRANDOM"
agree=0
nfail=0
for ini in "$T"/random/r*.ini; do
	name=$(basename "$ini")
	fresh
	cp "$ini" "$CFGDIR/$name"
	chmod 600 "$CFGDIR/$name"
	perl "$T/refdump.pl" "$CFGDIR/$name" >"$T/ref.sections"
	dump_ours --config="$name"
	if grep -q '^FAIL ' "$T/ref.sections"; then
		nfail=$((nfail + 1))
		if [ "$OURS_RC" = 2 ] && [ -s "$T/ours.err" ] &&
		    [ ! -s "$T/ours.out" ]; then
			agree=$((agree + 1))
		else
			t_fail "random $name: the reference fails, ours" \
			    "exits $OURS_RC"
			sed 's/^/#   /' "$T/ref.sections"
		fi
		continue
	fi
	ours_sections "$T/ours.out" >"$T/ours.sections"
	if [ "$OURS_RC" = 0 ] && cmp -s "$T/ref.sections" "$T/ours.sections"
	then
		agree=$((agree + 1))
	else
		t_fail "random $name: ours (exit $OURS_RC) differs"
		diff -u "$T/ref.sections" "$T/ours.sections" | head -n 20 |
		    sed 's/^/#   /'
		sed 's/^/#   /' "$T/ours.err"
		cp "$ini" "$T/failed-$name"
	fi
done
t_expect_eq "$agree" "$NRANDOM" "random files: all $NRANDOM agree"
# Both outcomes must be well represented for the comparison to mean much.
if [ "$nfail" -gt 30 ] && [ $((NRANDOM - nfail)) -gt 30 ]; then
	t_pass "random files: $nfail refused, $((NRANDOM - nfail)) accepted"
else
	t_fail "random files: too one-sided ($nfail refused of $NRANDOM)"
fi


# ------------------------------------------------------------------------
# 4. list-mailbox: the reference refuses a value before it creates the
#    database ("Invalid value for list-mailbox"), else goes on to the
#    tunnel ("false", which ends the run); ours must accept and refuse
#    the same values.  (What a value decodes to is in the unit test; the
#    one deliberate difference, \v, decodes but is valid for both.)

cat >"$T/lmgen.pl" <<'EOF'
use strict;
use warnings;
srand(4242);
my @c = ('a', 'b', ' ', '"', '\\', '(', ')', '{', '}', 'x', '0', '4', 'f',
    'g', 'v', 'n', '*', '%', "\t", '"', '\\');
for (1 .. 150) {
    my $v = '';
    $v .= $c[rand @c] for 1 .. 1 + int(rand(8));
    $v =~ s/^\s+//;
    $v =~ s/\s+$//;
    print "$v\n" if $v ne '';
}
EOF
LM_FIXED=(
	'INBOX' '*' '%' 'INBOX foo/* %' '"a b"' '"(x){y}"' '"foo\x00bar"'
	'"\x41\x7e\xFf"' '"\"\\"' '"\0\a\b\t\n\v\f\r"' '"\012"'
	'INBOX "Sent Items"' '""' '"a' 'a"b"' '"a"b' '"a" "b' '(a)' 'a (b)'
	'a{1}' 'a\b' '"\q"' '"\x4"' '"\x4g"' '"\x"' '"a\"' 'a}' 'a]'
	$'a\tb' $'"a\tb"' '"a\\\\"'
)
mapfile -t LM_RANDOM < <(perl "$T/lmgen.pl")
lm_agree=0
lm_total=0
lm_refused=0
for v in "${LM_FIXED[@]}" "${LM_RANDOM[@]}"; do
	lm_total=$((lm_total + 1))
	fresh
	printf 'list-mailbox = %s\n%s\n' "$v" "$CONF_OK" >"$CFGDIR/config"
	chmod 600 "$CFGDIR/config"
	run_ref
	if grep -q '^Invalid value for list-mailbox: \|^Invalid option list-mailbox' \
	    "$T/ref.err"; then
		ref=refuses
		lm_refused=$((lm_refused + 1))
	elif grep -q '^local: ERROR: ' "$T/ref.err"; then
		ref=accepts
	else
		ref="fails unexpectedly ($(head -n 1 "$T/ref.err"))"
	fi
	fresh
	printf 'list-mailbox = %s\n%s\n' "$v" "$CONF_OK" >"$CFGDIR/config"
	chmod 600 "$CFGDIR/config"
	dump_ours
	if [ "$OURS_RC" = 0 ]; then
		ours=accepts
	elif [ "$OURS_RC" = 2 ] && grep -q \
	    '^@T@/config/interimap/config:1: Invalid \(value for list-mailbox: \|option list-mailbox\)' \
	    "$T/ours.err"; then
		ours=refuses
	else
		ours="fails unexpectedly ($(head -n 1 "$T/ours.err"))"
	fi
	if [ "$ref" = "$ours" ]; then
		lm_agree=$((lm_agree + 1))
	else
		t_fail "list-mailbox = $v: the reference $ref, ours $ours"
	fi
done
t_expect_eq "$lm_agree" "$lm_total" "list-mailbox: all $lm_total agree"
if [ "$lm_refused" -gt 20 ] && [ $((lm_total - lm_refused)) -gt 20 ]; then
	t_pass "list-mailbox: $lm_refused refused," \
	    "$((lm_total - lm_refused)) accepted"
else
	t_fail "list-mailbox: too one-sided ($lm_refused refused of $lm_total)"
fi

t_done
