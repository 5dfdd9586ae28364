#!/bin/bash
#
# The system templates' command lines, run as systemd would run them,
# against two network Dovecot servers: interimap-account-once@alice (the
# first synchronisation, which makes the database), then
# interimap-account@alice (see WATCH below).  Everything comes from the
# installed unit files (tests/lib/unit.sh), nothing is restated here.
#
# What systemd would do, done here (no running systemd needed):
#   - the user: DynamicUser=yes, a UID of the dynamic range that no one
#     has (or User=), no supplementary group;
#   - the directories: StateDirectory= (mode StateDirectoryMode=, owned
#     by the user, chowned again on each start), LoadCredential= (a copy
#     of the configuration, mode 0400, in $CREDENTIALS_DIRECTORY);
#     WorkingDirectory=, UMask=;
#   - the environment: `env -i`, then what systemd sets (PATH, USER,
#     LOGNAME, HOME, SHELL, INVOCATION_ID, NOTIFY_SOCKET, WATCHDOG_USEC
#     from WatchdogSec=, WATCHDOG_PID, STATE_DIRECTORY,
#     CREDENTIALS_DIRECTORY) and Environment=; the specifiers %i %I %d
#     %S %n %% of ExecStart=, Environment= and WorkingDirectory=;
#   - privileges: NoNewPrivileges=, CapabilityBoundingSet=,
#     AmbientCapabilities= (setpriv);
#   - the file system: ProtectSystem=strict (every mount read-only but
#     /dev, /proc, /sys, and the state directory read-write),
#     ProtectHome=yes, PrivateTmp=yes (a mount namespace);
#   - Type=, NotifyAccess=main: READY=1 and STOPPING=1 from the main
#     process, through a socket bound here (tests/lib/notify_listen.py).
#
# What is checked, not enforced: every system call the run makes (strace,
# from interimap's exec on, its children included) is one
# SystemCallFilter= lets through, every socket family one
# RestrictAddressFamilies= allows.  The other settings (the Protect*=
# of the kernel, RestrictNamespaces=, MemoryDenyWriteExecute=...) are
# systemd's alone: listed below, so that a new key in the unit must be
# placed in one list or the other.
#
# The test's own additions: the paths systemd would use under /etc,
# /var/lib and /run are under $T/sys; the processes carry the test's
# marker variable (INTERIMAP_TEST_SCRATCH) for the clean-up.

# 1 runs interimap-account@'s command line as it is, until the first
# STATUS=idle, then stops it with SIGTERM as `systemctl stop` would; 0
# (for debugging the unit alone) runs it without its --watch.
WATCH=1

source "$SRCDIR/tests/lib/common.sh"
source "$SRCDIR/tests/lib/unit.sh"
t_setup

# `cmake --install` needs the build tree: the binary's, by hand.
: "${BUILDDIR:=$(dirname "$INTERIMAP")}"

INSTANCE=alice
DYN_UID_MIN=61184	# systemd's range for dynamic users
DYN_UID_MAX=65519
SD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin

# [Service] keys this test applies, checks, or leaves to systemd.
EMULATED=" Type NotifyAccess ExecStart WatchdogSec DynamicUser User
    LoadCredential StateDirectory StateDirectoryMode Environment
    WorkingDirectory UMask NoNewPrivileges CapabilityBoundingSet
    AmbientCapabilities ProtectSystem ProtectHome PrivateTmp "
CHECKED=" SystemCallFilter RestrictAddressFamilies "
SYSTEMD_ONLY=" TimeoutStartSec Restart RestartSec RestartPreventExitStatus
    RestrictSUIDSGID PrivateUsers PrivateDevices DevicePolicy PrivateMounts
    ProtectProc ProcSubset ProtectKernelTunables ProtectKernelModules
    ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname
    PrivateIPC RemoveIPC KeyringMode SystemCallArchitectures
    SystemCallErrorNumber RestrictNamespaces RestrictRealtime
    LockPersonality MemoryDenyWriteExecute "

# The service's user must reach the binary, the credential and the
# notification socket, which PrivateTmp= and ProtectHome= must not hide:
# under $T if they can, else under /run.
BASE=$T
case $T/ in
/tmp/*|/var/tmp/*|/home/*|/root/*|/run/user/*)	BASE= ;;
esac
if [ -n "$BASE" ] && ! setpriv --reuid=65534 --regid=65534 --clear-groups \
    test -x "$BASE"; then
	BASE=
fi
if [ -z "$BASE" ]; then
	BASE=$(mktemp -d /run/interimap-test.XXXXXX) || exit 1
	chmod 755 "$BASE"
	echo "rmdir $BASE" >>"$T/.cleanup"
fi
ROOT=$BASE/root		# DESTDIR of `cmake --install`
SYS=$BASE/sys		# the emulated system's /etc, /var/lib, /run

if ! DESTDIR=$ROOT cmake --install "$BUILDDIR" >"$T/install.log" 2>&1; then
	t_fail "cmake --install with DESTDIR"
	sed 's/^/#   /' "$T/install.log"
	t_done
fi
ONCE_FILE=$(find "$ROOT" -name 'interimap-account-once@.service' -type f)
WATCH_FILE=$(find "$ROOT" -name 'interimap-account@.service' -type f)
[ -f "$ONCE_FILE" ] && [ -f "$WATCH_FILE" ] ||
    { t_fail "the system templates are installed"; t_done; }

# ---- the servers and the account ------------------------------------------

dovecot_server local || { t_fail "dovecot_server local"; t_done; }
dovecot_server remote || { t_fail "dovecot_server remote"; t_done; }
mkdir -p "$SYS/etc/interimap"
# Where an operator keeps them: readable by the service's user.
install -m 0644 "$DOVECOT_LOCAL_CERT" "$SYS/etc/interimap/local.pem"
install -m 0644 "$DOVECOT_REMOTE_CERT" "$SYS/etc/interimap/remote.pem"
write_config "$SYS/etc/interimap/$INSTANCE" <<EOF
[local]
type = imaps
host = localhost
port = $DOVECOT_LOCAL_IMAPS_PORT
username = $DOVECOT_LOCAL_USER
password = $DOVECOT_LOCAL_PASS
SSL_CAfile = $SYS/etc/interimap/local.pem

[remote]
type = imaps
host = localhost
port = $DOVECOT_REMOTE_IMAPS_PORT
username = $DOVECOT_REMOTE_USER
password = $DOVECOT_REMOTE_PASS
SSL_CAfile = $SYS/etc/interimap/remote.pem
EOF
t_expect_eq "$(stat -c '%U %a' "$SYS/etc/interimap/$INSTANCE")" "root 600" \
    "the configuration is root's alone"

printf 'From: a@example.net\nSubject: one\n\nbody one\n' >"$T/m1.eml"
printf 'From: b@example.net\nSubject: two\n\nbody two\n' >"$T/m2.eml"
printf 'From: c@example.net\nSubject: three\n\nbody three\n' >"$T/m3.eml"

# ---- running a unit as systemd would -----------------------------------------

# expand UNIT STRING: the specifiers systemd would expand.
expand()
{
	local unit=$1 s=$2 out= c

	while [ -n "$s" ]; do
		c=${s:0:1}
		s=${s:1}
		if [ "$c" != % ]; then
			out+=$c
			continue
		fi
		c=${s:0:1}
		s=${s:1}
		case $c in
		i|I)	out+=$INSTANCE ;;
		n)	out+=$unit ;;
		d)	out+=$SYS/run/credentials/$unit ;;
		S)	out+=$SYS/var/lib ;;
		%)	out+=% ;;
		*)	echo "expand: specifier %$c not emulated" >&2
			return 1 ;;
		esac
	done
	printf '%s\n' "$out"
}

# A UID of the dynamic range that no user and no process has.
dynamic_uid()
{
	local uid

	for ((uid = DYN_UID_MIN; uid <= DYN_UID_MAX; uid++)); do
		getent passwd "$uid" >/dev/null && continue
		getent group "$uid" >/dev/null && continue
		pgrep -U "$uid" >/dev/null && continue
		grep -qx "$uid" "$T/.uids" 2>/dev/null && continue
		echo "$uid" >>"$T/.uids"
		echo "$uid"
		return 0
	done
	return 1
}

# The names of the system calls (what=calls), or the socket families
# (what=families), that interimap and its children made in strace's log
# $1: those of the main process from its exec of $2 on, and those of every
# process it forked after that, and theirs.
traced()
{
	awk -v bin="$2" -v what="$3" '
	{
		pid = $1
		rest = $0
		sub(/^[0-9]+ +/, "", rest)
	}
	NR == FNR {
		if (index(rest, "execve(\"" bin "\"") == 1 && rest ~ / = 0$/)
			execline[pid] = FNR
		if ((rest ~ /^(clone3?|v?fork)\(/ ||
		    rest ~ /^<\.\.\. (clone3?|v?fork) resumed>/) &&
		    match(rest, / = [0-9]+$/)) {
			child = substr(rest, RSTART + 3)
			parent[child] = pid
			forkline[child] = FNR
		}
		next
	}
	FNR == 1 {
		for (p in parent) {
			for (q = p; ; q = parent[q]) {
				if (parent[q] in execline) {
					if (forkline[q] > execline[parent[q]])
						on[p] = 1
					break
				}
				if (!(parent[q] in parent))
					break
			}
		}
	}
	pid in execline { if (FNR <= execline[pid]) next }
	!(pid in execline) && !(pid in on) { next }
	what == "calls" && match(rest, /^[a-z0-9_]+\(/) {
		print substr(rest, 1, RLENGTH - 1)
	}
	what == "families" && match(rest, /^socket(pair)?\(AF_[A-Z0-9]+/) {
		s = substr(rest, 1, RLENGTH)
		sub(/^[^(]*\(/, "", s)
		print s
	}' "$1" "$1" | sort -u
}

# run_unit FILE ARGS_FILTER: runs the instance $INSTANCE of the template
# FILE; RUN_RC, RUN_UID, RUN_STATE (the state directory), RUN_MAIN (the
# main PID, from its READY=1), $T/NAME.{out,err,trace,notify.log}.
# ARGS_FILTER "nowatch" drops --watch from ExecStart.
run_unit()
{
	local file=$1 filter=$2 template unit name key type uid user
	local exec_start bin words w args=() env=() cred id src dir mode
	local wd umask setpriv=() state= states=() n

	template=$(basename "$file")
	unit=${template/@./@$INSTANCE.}
	name=${unit%.service}
	RUN_RC=
	RUN_MAIN=

	for key in $(unit_keys "$file" Service); do
		case "$EMULATED$CHECKED$SYSTEMD_ONLY" in
		*[[:space:]]$key[[:space:]]*) ;;
		*)	t_fail "$template: [Service] $key: neither emulated," \
			    "checked nor listed as systemd's alone"
			return 1 ;;
		esac
	done
	type=$(unit_value "$file" Service Type)
	t_expect_eq "$(unit_value "$file" Service NotifyAccess)" main \
	    "$template: NotifyAccess=main"

	# The user.
	if [ "$(unit_value "$file" Service DynamicUser)" = yes ]; then
		uid=$(dynamic_uid) || { t_fail "no free dynamic UID"; return 1; }
		user=$name
	else
		user=$(unit_value "$file" Service User)
		uid=$(id -u "$user") || { t_fail "no user $user"; return 1; }
	fi
	RUN_UID=$uid

	# The directories, made and chowned as systemd would at each start.
	mode=$(unit_value "$file" Service StateDirectoryMode)
	for w in $(unit_values "$file" Service StateDirectory); do
		dir=$SYS/var/lib/$(expand "$unit" "$w") || return 1
		mkdir -p "$dir"
		chown -R "$uid:$uid" "$dir"
		chmod "${mode:-0755}" "$dir"
		states+=("$dir")
	done
	state=${states[0]:-}
	RUN_STATE=$state
	rm -rf "$SYS/run/credentials/$unit"
	mkdir -p "$SYS/run/credentials/$unit"
	while IFS= read -r cred; do
		[ -n "$cred" ] || continue
		id=${cred%%:*}
		src=$SYS$(expand "$unit" "${cred#*:}") || return 1
		install -m 0400 -o "$uid" -g "$uid" "$src" \
		    "$SYS/run/credentials/$unit/$id" || return 1
	done < <(unit_values "$file" Service LoadCredential)
	chown "$uid:$uid" "$SYS/run/credentials/$unit"
	chmod 0500 "$SYS/run/credentials/$unit"
	wd=$(expand "$unit" "$(unit_value "$file" Service WorkingDirectory)")
	umask=$(unit_value "$file" Service UMask)

	# The privileges.
	setpriv=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
	[ "$(unit_value "$file" Service NoNewPrivileges)" = yes ] &&
	    setpriv+=(--no-new-privs)
	if [ -n "$(unit_value "$file" Service CapabilityBoundingSet)" ] ||
	    [ -n "$(unit_value "$file" Service AmbientCapabilities)" ]; then
		t_fail "$template: only empty capability sets are emulated"
		return 1
	fi
	setpriv+=(--bounding-set=-all --inh-caps=-all --ambient-caps=-all)

	# The environment.
	env=(PATH="$SD_PATH" USER="$user" LOGNAME="$user" HOME=/
	    SHELL=/usr/sbin/nologin INVOCATION_ID="$(od -An -N16 -tx1 \
	    /dev/urandom | tr -d ' \n')"
	    NOTIFY_SOCKET="$BASE/$name.notify"
	    CREDENTIALS_DIRECTORY="$SYS/run/credentials/$unit"
	    INTERIMAP_TEST_SCRATCH="$T")
	[ -n "$state" ] && env+=(STATE_DIRECTORY="$state")
	w=$(unit_value "$file" Service WatchdogSec)
	[ -n "$w" ] && env+=(WATCHDOG_USEC="$(unit_seconds "$w")")
	while IFS= read -r words; do
		if [[ $words == *[\"\']* ]]; then
			t_fail "$template: quoted Environment= not emulated"
			return 1
		fi
		for w in $words; do
			env+=("$(expand "$unit" "$w")") || return 1
		done
	done < <(unit_values "$file" Service Environment)

	# The command line.
	exec_start=$(unit_value "$file" Service ExecStart)
	for w in $exec_start; do
		w=$(expand "$unit" "$w") || return 1
		[ "$filter" = nowatch ] && [[ $w == --watch* ]] && continue
		args+=("$w")
	done
	bin=${args[0]}
	args[0]=$ROOT$bin

	# The mount namespace, then the process (exec'ed, so WATCHDOG_PID
	# is its PID).
	[ "$(unit_value "$file" Service ProtectSystem)" = strict ] &&
	    [ "$(unit_value "$file" Service ProtectHome)" = yes ] &&
	    [ "$(unit_value "$file" Service PrivateTmp)" = yes ] || {
		t_fail "$template: ProtectSystem=strict, ProtectHome=yes and" \
		    "PrivateTmp=yes are what is emulated"
		return 1
	}
	{
		echo 'set -e'
		echo '# ProtectSystem=strict'
		echo 'findmnt -rn -o TARGET,OPTIONS | while read -r mp opts; do'
		echo '	case $mp in /dev|/dev/*|/proc|/proc/*|/sys|/sys/*) continue ;; esac'
		echo '	case ,$opts, in *,ro,*) continue ;; esac'
		echo '	mount -o remount,bind,ro "$mp"'
		echo 'done'
		echo '# ProtectHome=yes'
		echo 'for d in /home /root /run/user; do'
		echo '	[ -d "$d" ] && mount -t tmpfs -o ro,mode=000 tmpfs "$d"'
		echo 'done'
		echo '# PrivateTmp=yes'
		echo 'mount -t tmpfs -o mode=1777 tmpfs /tmp'
		echo 'mount -t tmpfs -o mode=1777 tmpfs /var/tmp'
		echo '# the state directories, read-write'
		for dir in "${states[@]}"; do
			printf 'mount --bind %q %q\n' "$dir" "$dir"
			printf 'mount -o remount,bind,rw %q\n' "$dir"
		done
		printf 'cd %q\n' "${wd:-/}"
		printf 'umask %q\n' "${umask:-0022}"
		printf 'exec'
		printf ' %q' "${setpriv[@]}" -- env -i "${env[@]}"
		printf ' WATCHDOG_PID=$$'
		printf ' %q' "${args[@]}"
		echo
	} >"$T/$name.exec.sh"

	rm -f "$T/$name.notify.log"
	python3 "$SRCDIR/tests/lib/notify_listen.py" "$BASE/$name.notify" \
	    "$T/$name.notify.log" 2>"$T/$name.listen.err" &
	LISTEN_PID=$!
	t_track_pid "$LISTEN_PID"
	for ((n = 0; n < 200; n++)); do
		[ -e "$T/$name.notify.log" ] && break
		sleep 0.05
	done

	strace -f -qq -s 4096 -o "$T/$name.trace" -- unshare --mount \
	    --propagation private -- bash "$T/$name.exec.sh" </dev/null \
	    >"$T/$name.out" 2>"$T/$name.err" &
	RUN_PID=$!
	t_track_pid "$RUN_PID"
	if [ "$type" = notify ] && [ "$filter" != nowatch ]; then
		# Until the first pass is over, then `systemctl stop`.
		for ((n = 0; n < 1200; n++)); do
			grep -q '	.*STATUS=idle' "$T/$name.notify.log" && break
			kill -0 "$RUN_PID" 2>/dev/null || break
			sleep 0.1
		done
		RUN_MAIN=$(awk -F'\t' '/READY=1/ { print $1; exit }' \
		    "$T/$name.notify.log")
		[ -n "$RUN_MAIN" ] && kill -TERM "$RUN_MAIN"
	fi
	wait "$RUN_PID"
	RUN_RC=$?
	kill "$LISTEN_PID" 2>/dev/null
	wait "$LISTEN_PID" 2>/dev/null
	RUN_MAIN=$(awk -F'\t' '/READY=1/ { print $1; exit }' \
	    "$T/$name.notify.log")
	RUN_NAME=$name
	RUN_BIN=$ROOT$bin
	RUN_FILE=$file
}

# check_run WHAT: what every run must show.
check_run()
{
	local what=$1 log=$T/$RUN_NAME.notify.log calls allowed

	t_expect_eq "$RUN_RC" 0 "$what: exit 0"
	t_expect_eq "$(cut -f2- "$log" | tr '|' '\n' |
	    grep -xE '(READY|STOPPING)=1')" "READY=1
STOPPING=1" "$what: READY=1, then STOPPING=1"
	t_expect_eq "$(cut -f1 "$log" | sort -u)" "$RUN_MAIN" \
	    "$what: every notification from the main process"
	t_expect_match "$RUN_MAIN" '^[0-9]+$' "$what: the main process is known"
	t_expect_eq "$(stat -c '%u %a' "$RUN_STATE")" "$RUN_UID 700" \
	    "$what: the state directory is the user's alone"
	t_expect_eq "$(grep -c 'readable by others' "$T/$RUN_NAME.err")" 0 \
	    "$what: the credential is not readable by others"

	calls=$(traced "$T/$RUN_NAME.trace" "$RUN_BIN" calls)
	t_expect_match "$calls" $'(^|\n)sendmsg\n' \
	    "$what: the system calls are found in the trace"
	allowed=$(syscall_filter_set "$RUN_FILE")
	t_expect_eq "$(comm -23 <(printf '%s\n' "$calls") \
	    <(printf '%s\n' "$allowed") | tr '\n' ' ')" "" \
	    "$what: every system call is one SystemCallFilter= allows"
	t_expect_eq "$(traced "$T/$RUN_NAME.trace" "$RUN_BIN" families |
	    comm -23 - <(unit_value "$RUN_FILE" Service \
	    RestrictAddressFamilies | tr ' ' '\n' | sort -u) | tr '\n' ' ')" \
	    "" "$what: every socket family is one RestrictAddressFamilies= allows"
	# Not root, so no chroot and no UID to drop to (the trade-off of
	# DynamicUser=, see systemd/interimap-account@.service.in).
	t_expect_eq "$(grep -cxE 'chroot|setresuid|setgroups' <<<"$calls")" 0 \
	    "$what: the children stay the service's user, in its root"
}

# ---- the first run: interimap-account-once@ --------------------------------

mail_add local INBOX "$T/m1.eml"
mail_add remote INBOX "$T/m2.eml"
run_unit "$ONCE_FILE" as-is
check_run "interimap-account-once@$INSTANCE"
db=$(find "$SYS" "$ROOT" "$HOME" "$XDG_DATA_HOME" -name '*.db' | sort)
t_expect_eq "$db" "$RUN_STATE/interimap/localhost.db" \
    "the database is in the StateDirectory, and nowhere else"
t_expect_eq "$(stat -c '%u %a' "$db")" "$RUN_UID 600" \
    "the database is the user's alone (UMask=)"
t_expect_eq "$(mail_dump local INBOX | wc -l)" 2 "local: both messages"
t_expect_eq "$(mail_dump remote INBOX)" "$(mail_dump local INBOX)" \
    "remote: the same messages"
ONCE_STATE=$RUN_STATE

# ---- then the service: interimap-account@ -----------------------------------

mail_add remote INBOX "$T/m3.eml"
if [ "$WATCH" = 1 ]; then
	run_unit "$WATCH_FILE" as-is
else
	run_unit "$WATCH_FILE" nowatch
fi
check_run "interimap-account@$INSTANCE"
t_expect_eq "$RUN_STATE" "$ONCE_STATE" "both templates share the state"
t_expect_eq "$(find "$SYS" "$ROOT" -name '*.db' | sort)" "$db" \
    "still the one database"
t_expect_eq "$(mail_dump local INBOX | wc -l)" 3 "local: the new message"
t_expect_eq "$(mail_dump remote INBOX)" "$(mail_dump local INBOX)" \
    "remote: the same messages again"

t_expect_eq "$(ours_pids)" "" "nothing left running"
t_done
