/*
 * proctrack: run a command and account for every process of its tree,
 * one by one, at the moment each ends.
 *
 *	proctrack -o OUTFILE [-e EXE] -- command [arg ...]
 *
 * The tree is followed with ptrace(2), stopping only at fork, exec and
 * exit events (never at system calls), so the cost is a few
 * microseconds per process.  At each process's exit stop its
 * /proc/PID files are still whole, and we read:
 *
 *	proc pid=P ppid=Q exe=PATH title=ARGV0 user_ms=U sys_ms=S
 *	    cpu_ns=N hwm_kb=H
 *
 * cpu_ns is the exact run time of its threads (schedstat); user_ms and
 * sys_ms the kernel's split of it, in clock ticks; hwm_kb the peak
 * resident set size (VmHWM) of the process image it ended with.  Then,
 * when the command itself ends:
 *
 *	root pid=P status=S wall_ns=W tree_user_us=U tree_sys_us=S
 *	    tree_maxrss_kb=M
 *
 * status is the exit code, or 128 + signal; the tree_* fields come from
 * wait4(2) (every descendant its parent reaped) and cross-check the sum.
 * Processes still running STRAGGLE_SECS after the command ended are
 * listed as "straggler pid=P exe=PATH" and killed with proctrack (it
 * traces them with PTRACE_O_EXITKILL).  When proctrack itself is told to
 * end (SIGTERM from timeout(1), SIGINT, SIGHUP), it first records every
 * process still running as it is at that moment ("proc ... alive=1"),
 * then "root ... status=128+SIG killed=1", and the tree dies with it.
 * The exit status of proctrack is the command's.
 *
 * Memory at one instant: every SAMPLE_MS while the tree runs, the
 * client's processes (those whose executable is EXE; without -e, the
 * one the command's own process runs after its first exec) are read
 * together from /proc/PID/smaps_rollup, and the largest sums over all
 * the samples end the output:
 *
 *	mem pss_peak_kb=P rss_peak_sum_kb=R samples=N interval_ms=I
 *
 * P is the proportional set size (each shared page divided among the
 * processes that map it, so pages the client's processes share are
 * counted once between them), R the plain resident sizes added up.
 * Both are lower bounds of the true peaks: a peak shorter than the
 * interval may fall between two samples.
 * Reading smaps_rollup walks the process's page tables: about 0.1 ms
 * of proctrack's CPU per client process and sample here, 2-3 % of one
 * CPU for four small processes (which process is the client's is
 * decided once per exec).
 *
 * Why not /usr/bin/time: it gives one sum for the whole tree, Dovecot
 * included when the client runs a tunnel, and the largest RSS of any one
 * process, not each process's.  Why not a cgroup: the v2 hierarchy is
 * not delegated here, and the v1 memory controller belongs to whoever
 * runs this machine.
 */

#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXPIDS		4096
#define STRAGGLE_SECS	10
#define SAMPLE_MS	20

static volatile sig_atomic_t ticked;
static volatile sig_atomic_t killed;
static int	 expired;
static char	 client[PATH_MAX];
static long	 pss_peak, rss_peak;
static int	 nsamples;
static FILE	*out;
static pid_t	 seen[MAXPIDS];
/* What each seen pid is, for the samples, until its next exec. */
static enum { K_UNKNOWN, K_CLIENT, K_OTHER } kind[MAXPIDS];
static int	 nseen;

static void
pt_die(const char *what)
{
	fprintf(stderr, "proctrack: %s: %s\n", what, strerror(errno));
	exit(125);
}

static uint64_t
pt_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
pt_seen(pid_t pid)
{
	int i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == pid)
			return 1;
	return 0;
}

static void
pt_mark(pid_t pid)
{
	if (!pt_seen(pid) && nseen < MAXPIDS) {
		kind[nseen] = K_UNKNOWN;
		seen[nseen++] = pid;
	}
}

/* A pid may come back: its next owner starts with its own SIGSTOP. */
static void
pt_unmark(pid_t pid)
{
	int i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == pid) {
			seen[i] = seen[--nseen];
			kind[i] = kind[nseen];
			return;
		}
}

static ssize_t
pt_readfile(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Sum of the run times of the process's threads still alive (all of
 * them, at the leader's exit stop, for a single-threaded process). */
static unsigned long long
pt_cpu_ns(pid_t pid)
{
	char path[320], buf[256];
	unsigned long long sum = 0;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
		    (int)pid, de->d_name);
		if (pt_readfile(path, buf, sizeof(buf)) > 0)
			sum += strtoull(buf, NULL, 10);
	}
	closedir(dir);
	return sum;
}

/* The number of the first line "NAME N..." of buf (a /proc file), or -1. */
static long
pt_field(const char *buf, const char *name)
{
	const char *p = buf;
	size_t len = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, len) == 0)
			return strtol(p + len, NULL, 10);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

/* The PSS and RSS of the client's processes at this instant. */
static void
pt_sample(void)
{
	char path[64], buf[4096], exe[PATH_MAX];
	long pss = 0, rss = 0, v;
	int i, n = 0;
	ssize_t len;

	if (client[0] == '\0')
		return;
	for (i = 0; i < nseen; i++) {
		if (kind[i] == K_UNKNOWN) {
			snprintf(path, sizeof(path), "/proc/%d/exe",
			    (int)seen[i]);
			if ((len = readlink(path, exe, sizeof(exe) - 1)) == -1)
				continue;
			exe[len] = '\0';
			kind[i] = strcmp(exe, client) == 0 ? K_CLIENT :
			    K_OTHER;
			/* A thread shares its process's memory: once. */
			snprintf(path, sizeof(path), "/proc/%d/status",
			    (int)seen[i]);
			if (kind[i] == K_CLIENT &&
			    pt_readfile(path, buf, sizeof(buf)) > 0 &&
			    pt_field(buf, "Tgid:") != seen[i])
				kind[i] = K_OTHER;
		}
		if (kind[i] != K_CLIENT)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup",
		    (int)seen[i]);
		if (pt_readfile(path, buf, sizeof(buf)) <= 0)
			continue;
		if ((v = pt_field(buf, "Pss:")) >= 0)
			pss += v;
		if ((v = pt_field(buf, "Rss:")) >= 0)
			rss += v;
		n++;
	}
	if (n == 0)
		return;
	nsamples++;
	if (pss > pss_peak)
		pss_peak = pss;
	if (rss > rss_peak)
		rss_peak = rss;
}

static void
pt_record(pid_t pid, int alive)
{
	char path[64], buf[4096], exe[PATH_MAX], title[128];
	unsigned long utime = 0, stime = 0;
	long hwm = -1, tgid = pid, tick, v;
	int ppid = 0, i;
	char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (pt_readfile(path, buf, sizeof(buf)) > 0) {
		if ((v = pt_field(buf, "Tgid:")) != -1)
			tgid = v;
		hwm = pt_field(buf, "VmHWM:");
	}
	/* A thread of a process: the leader's record covers it. */
	if (tgid != pid)
		return;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pt_readfile(path, buf, sizeof(buf)) > 0 &&
	    (p = strrchr(buf, ')')) != NULL) {
		/* Fields after "comm)": state ppid ... utime(14) stime(15). */
		p += 2;
		for (i = 3; i <= 15 && p != NULL; i++) {
			if (i == 4)
				ppid = atoi(p);
			else if (i == 14)
				utime = strtoul(p, NULL, 10);
			else if (i == 15)
				stime = strtoul(p, NULL, 10);
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		}
	}

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) == -1)
		n = 0;
	exe[n] = '\0';

	/* argv[0] as the process shows it (our children retitle it). */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (pt_readfile(path, buf, sizeof(buf)) <= 0)
		buf[0] = '\0';
	(void)snprintf(title, sizeof(title), "%s", buf);
	for (p = title; *p != '\0'; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n')
			*p = '_';

	tick = sysconf(_SC_CLK_TCK);
	if (tick <= 0)
		tick = 100;
	fprintf(out, "proc pid=%d ppid=%d exe=%s title=%s user_ms=%lu "
	    "sys_ms=%lu cpu_ns=%llu hwm_kb=%ld%s\n", (int)pid, ppid,
	    exe[0] != '\0' ? exe : "-", title[0] != '\0' ? title : "-",
	    utime * 1000 / (unsigned long)tick,
	    stime * 1000 / (unsigned long)tick, pt_cpu_ns(pid), hwm,
	    alive ? " alive=1" : "");
}

static void
pt_ontick(int sig)
{
	(void)sig;
	ticked = 1;
}

static void
pt_onterm(int sig)
{
	killed = sig;
}

static void
usage(void)
{
	fprintf(stderr, "usage: proctrack -o outfile [-e exe] -- command "
	    "[arg ...]\n");
	exit(125);
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	struct itimerval it;
	struct rusage ru;
	char path[64], exe[PATH_MAX];
	uint64_t t0, t1 = 0, deadline = 0;
	ssize_t n;
	pid_t root, pid;
	int ch, st, sig, ev, rc = 125, rootdone = 0, i;
	long opts;

	while ((ch = getopt(argc, argv, "e:o:")) != -1) {
		switch (ch) {
		case 'e':
			if (strlen(optarg) >= sizeof(client))
				usage();
			memcpy(client, optarg, strlen(optarg) + 1);
			break;
		case 'o':
			if ((out = fopen(optarg, "w")) == NULL)
				pt_die(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (out == NULL || argc < 1)
		usage();

	t0 = pt_now();
	if ((root = fork()) == -1)
		pt_die("fork");
	if (root == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1)
			pt_die("PTRACE_TRACEME");
		/* Wait for the options before doing anything. */
		raise(SIGSTOP);
		execvp(argv[0], argv);
		fprintf(stderr, "proctrack: %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (waitpid(root, &st, 0) == -1 || !WIFSTOPPED(st))
		pt_die("waitpid (start)");
	/* No SA_RESTART: a signal interrupts wait4() below. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pt_onterm;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	/* The memory samples; the same clock ends the stragglers' time. */
	sa.sa_handler = pt_ontick;
	(void)sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = SAMPLE_MS * 1000;
	it.it_value = it.it_interval;
	if (setitimer(ITIMER_REAL, &it, NULL) == -1)
		pt_die("setitimer");
	opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
	    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
	    PTRACE_O_EXITKILL;
	if (ptrace(PTRACE_SETOPTIONS, root, NULL, (void *)opts) == -1)
		pt_die("PTRACE_SETOPTIONS");
	pt_mark(root);
	t0 = pt_now();
	if (ptrace(PTRACE_CONT, root, NULL, NULL) == -1)
		pt_die("PTRACE_CONT");

	for (;;) {
		if (ticked) {
			ticked = 0;
			pt_sample();
			if (rootdone && pt_now() >= deadline)
				expired = 1;
		}
		if (expired || killed)
			break;
		memset(&ru, 0, sizeof(ru));
		pid = wait4(-1, &st, __WALL, &ru);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			pt_die("wait4");
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			pt_unmark(pid);
			if (pid == root) {
				t1 = pt_now();
				rc = WIFEXITED(st) ? WEXITSTATUS(st) :
				    128 + WTERMSIG(st);
				rootdone = 1;
				/* Whatever outlives it gets a while. */
				deadline = t1 + STRAGGLE_SECS * 1000000000ULL;
				fprintf(out, "root pid=%d status=%d "
				    "wall_ns=%llu tree_user_us=%llu "
				    "tree_sys_us=%llu tree_maxrss_kb=%ld\n",
				    (int)root, rc,
				    (unsigned long long)(t1 - t0),
				    (unsigned long long)ru.ru_utime.tv_sec *
				    1000000 + (unsigned long long)
				    ru.ru_utime.tv_usec,
				    (unsigned long long)ru.ru_stime.tv_sec *
				    1000000 + (unsigned long long)
				    ru.ru_stime.tv_usec, ru.ru_maxrss);
				fflush(out);
			}
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		ev = (st >> 16) & 0xff;
		if (ev == PTRACE_EVENT_EXIT) {
			pt_record(pid, 0);
			sig = 0;
		} else if (ev == PTRACE_EVENT_FORK ||
		    ev == PTRACE_EVENT_VFORK || ev == PTRACE_EVENT_CLONE) {
			sig = 0;
		} else if (ev == PTRACE_EVENT_EXEC) {
			for (i = 0; i < nseen; i++)
				if (seen[i] == pid)
					kind[i] = K_UNKNOWN;
			/* Without -e: what the command itself runs. */
			if (pid == root && client[0] == '\0') {
				snprintf(path, sizeof(path), "/proc/%d/exe",
				    (int)pid);
				if ((n = readlink(path, exe,
				    sizeof(exe) - 1)) > 0) {
					exe[n] = '\0';
					memcpy(client, exe, (size_t)n + 1);
				}
			}
			sig = 0;
		} else if (sig == SIGSTOP && !pt_seen(pid)) {
			/* The stop a new tracee starts with. */
			sig = 0;
		} else if (sig == SIGTRAP) {
			sig = 0;
		}
		pt_mark(pid);
		/* Anything else is a real signal: deliver it. */
		(void)ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	if (killed) {
		/* What each process has used and held so far. */
		for (i = 0; i < nseen; i++)
			pt_record(seen[i], 1);
		if (!rootdone) {
			rc = 128 + killed;
			fprintf(out, "root pid=%d status=%d wall_ns=%llu "
			    "killed=1\n", (int)root, rc,
			    (unsigned long long)(pt_now() - t0));
			rootdone = 1;
		}
	}
	if (!rootdone)
		fprintf(out, "root pid=%d status=125 lost\n", (int)root);
	for (i = 0; expired && !killed && i < nseen; i++) {
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)seen[i]);
		if ((n = readlink(path, exe, sizeof(exe) - 1)) == -1)
			n = 0;
		exe[n] = '\0';
		fprintf(out, "straggler pid=%d exe=%s\n", (int)seen[i],
		    n > 0 ? exe : "-");
	}
	fprintf(out, "mem pss_peak_kb=%ld rss_peak_sum_kb=%ld samples=%d "
	    "interval_ms=%d\n", pss_peak, rss_peak, nsamples, SAMPLE_MS);
	fclose(out);
	return rc;
}
