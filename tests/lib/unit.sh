# shellcheck shell=bash
#
# Reading systemd unit files, for the tests of systemd/ (systemd_units.sh,
# systemd_account.sh): what a unit says, never a copy of it.
#
#	unit_values FILE SECTION KEY    every value of KEY in [SECTION], one a
#	                                line, in order; an empty assignment
#	                                (KEY=) prints an empty line
#	unit_value FILE SECTION KEY     the last value (systemd's reading of
#	                                a key given once or overridden)
#	unit_keys FILE SECTION          the keys of [SECTION], in order, once
#	unit_seconds VALUE              a time span ("5min", "90s", "1h 5s")
#	                                in microseconds
#	syscall_filter_set FILE         the system calls SystemCallFilter=
#	                                lets through, one a line, sorted
#
# The units of this tree use no line continuation and no quoting; these
# readers refuse both rather than misread them.

# The lines KEY=VALUE of [SECTION], comments and blank lines out.
_unit_section()
{
	local file=$1 section=$2

	if grep -q '\\$' "$file"; then
		echo "unit.sh: $file: line continuation not supported" >&2
		return 1
	fi
	awk -v want="[$section]" '
		/^[ \t]*[#;]/ || /^[ \t]*$/ { next }
		/^\[/ { insec = ($0 == want); next }
		insec { print }
	' "$file"
}

unit_values()
{
	_unit_section "$1" "$2" | sed -n "s/^$3[ \t]*=[ \t]*//p"
}

unit_value()
{
	unit_values "$@" | tail -n 1
}

unit_keys()
{
	_unit_section "$1" "$2" | sed -n 's/^\([A-Za-z][A-Za-z0-9]*\)[ \t]*=.*/\1/p' |
	    awk '!seen[$0]++'
}

unit_seconds()
{
	local v=$1 total=0 n u

	v=${v// /}
	while [ -n "$v" ]; do
		if [[ ! $v =~ ^([0-9]+)([a-z]*)(.*)$ ]]; then
			echo "unit_seconds: cannot read '$1'" >&2
			return 1
		fi
		n=${BASH_REMATCH[1]}
		u=${BASH_REMATCH[2]:-s}
		v=${BASH_REMATCH[3]}
		case $u in
		us)	total=$((total + n)) ;;
		ms)	total=$((total + n * 1000)) ;;
		s|sec)	total=$((total + n * 1000000)) ;;
		m|min)	total=$((total + n * 60000000)) ;;
		h|hr)	total=$((total + n * 3600000000)) ;;
		d)	total=$((total + n * 86400000000)) ;;
		*)	echo "unit_seconds: cannot read '$1'" >&2
			return 1 ;;
		esac
	done
	echo "$total"
}

# The calls of a filter item: a name, or a @group (nested groups too),
# as systemd-analyze syscall-filter lists them.
_syscall_expand()
{
	local item=$1 line

	if [[ $item != @* ]]; then
		echo "$item"
		return 0
	fi
	systemd-analyze syscall-filter "$item" 2>/dev/null |
	    while IFS= read -r line; do
		line=${line#"${line%%[! ]*}"}
		case $line in
		''|'#'*|"$item")	;;
		@*)	_syscall_expand "$line" ;;
		*)	echo "$line" ;;
		esac
	done
}

# An allow list (the first SystemCallFilter= has no "~"), then each later
# line adds to it, or with "~" takes from it: systemd's reading.
syscall_filter_set()
{
	local file=$1 line item first=1 set

	set=$(mktemp) || return 1
	while IFS= read -r line; do
		if [ -n "$first" ] && [[ $line == '~'* ]]; then
			echo "syscall_filter_set: a deny list is not supported" >&2
			rm -f "$set"
			return 1
		fi
		first=
		if [[ $line == '~'* ]]; then
			for item in ${line#\~}; do
				_syscall_expand "$item"
			done | sort -u | comm -23 "$set" - >"$set.new"
		else
			for item in $line; do
				_syscall_expand "$item"
			done | sort -u - "$set" >"$set.new"
		fi
		mv "$set.new" "$set"
	done < <(unit_values "$file" Service SystemCallFilter)
	sort -u "$set"
	rm -f "$set"
}
