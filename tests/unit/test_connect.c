/*
 * priv/connect.c and priv/proxy.c: the tunnel command classifier (checked
 * against Perl itself), tunnels, TCP, the proxy URI grammar, the SOCKS5
 * targets, and what priv does with a proxy: connect, and send nor read
 * anything (the exchange is the net's: tests/unit/test_socks5.c).
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "log.h"
#include "conf.h"
#include "connect.h"
#include "proxy.h"

#define GREET	"* OK IMAP ready\r\n"

static char	 tmpdir[256];

/* ------------------------------------------------------------------ */
/* Log capture */

static char	 lastlog[4096];
static int	 nlogs;

static void
capture(int level, const char *name, const char *mailbox, const char *text)
{
	(void)mailbox;
	if (level == LOG_LVL_DEBUG)
		return;
	(void)snprintf(lastlog, sizeof(lastlog), "%s%s%s", name,
	    *name != '\0' ? ": " : "", text);
	nlogs++;
}

static void
log_reset(void)
{
	lastlog[0] = '\0';
	nlogs = 0;
}

/* ------------------------------------------------------------------ */
/* Hand-made config sections */

struct sec {
	struct conf_section	s;
	struct conf_kv		kv[16];
};

/* key, value, ..., NULL */
static void
sec_init(struct sec *sec, ...)
{
	va_list		 ap;
	const char	*k, *v;

	memset(sec, 0, sizeof(*sec));
	sec->s.kv = sec->kv;
	va_start(ap, sec);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		sec->kv[sec->s.nkv].key = strdup(k);
		sec->kv[sec->s.nkv].value = strdup(v);
		sec->s.nkv++;
	}
	va_end(ap);
}

static void
sec_free(struct sec *sec)
{
	size_t	i;

	for (i = 0; i < sec->s.nkv; i++) {
		free(sec->kv[i].key);
		free(sec->kv[i].value);
	}
}

/* ------------------------------------------------------------------ */
/* I/O helpers */

/* Reads until EOF, size-1 bytes or timeout; NUL-terminates. */
static size_t
read_all(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd	pfd;
	size_t		len = 0;
	ssize_t		n;

	while (len + 1 < size) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			break;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* Reads one line (up to '\n', kept). */
static void
read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd	pfd;
	size_t		len = 0;

	while (len + 1 < size) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) <= 0 ||
		    read(fd, buf + len, 1) != 1)
			break;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = '\0';
}

static int
process_gone(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD &&
	    kill(pid, 0) == -1 && errno == ESRCH;
}

/* Waits (up to 5 s) until process pid runs the program comm. */
static void
wait_comm(pid_t pid, const char *comm)
{
	struct timespec	 ts = { 0, 10 * 1000000 };
	char		 path[64], buf[64];
	FILE		*fp;
	int		 i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	for (i = 0; i < 500; i++) {
		buf[0] = '\0';
		if ((fp = fopen(path, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), fp) == NULL)
				buf[0] = '\0';
			fclose(fp);
		}
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, comm) == 0)
			return;
		nanosleep(&ts, NULL);
	}
}

/* ------------------------------------------------------------------ */
/* The command classifier, against a table and against Perl */

struct cmd_case {
	const char	*cmd;
	int		 shell;
	const char	*want;	/* argv joined with '|', or sh -c string */
	int		 dup;	/* 2>&1 done by us */
};

static const struct cmd_case cmd_cases[] = {
	{ "xcat", 0, "xcat", 0 },
	{ "  xcat  ", 0, "xcat", 0 },
	{ "\txcmd", 0, "xcmd", 0 },
	{ "xcmd exec imap", 0, "xcmd|exec|imap", 0 },
	{ "xssh -q -o BatchMode=yes host imapd", 0,
	    "xssh|-q|-o|BatchMode=yes|host|imapd", 0 },
	{ "xa\tb\fc\rd", 0, "xa|b|c|d", 0 },
	{ "xa\vb", 0, "xa|b", 0 },
	{ "xcmd a=b", 0, "xcmd|a=b", 0 },
	{ "xcmd #c %s @x !y ,.:+-^", 0, "xcmd|#c|%s|@x|!y|,.:+-^", 0 },
	{ "/nonexistent/x X=1 y", 0, "/nonexistent/x|X=1|y", 0 },
	{ "xcmd a\xc3\xa9", 0, "xcmd|a\xc3\xa9", 0 },
	{ "execxcat", 0, "execxcat", 0 },
	{ "exec", 0, "exec", 0 },
	{ ".xscript", 0, ".xscript", 0 },
	{ "xcmd\n", 0, "xcmd", 0 },
	{ "xcmd 2>&1", 0, "xcmd", 1 },
	{ "xcmd a 2>&1  ", 0, "xcmd|a", 1 },
	{ "xcmd 2>&1\n", 0, "xcmd", 1 },
	{ "xcmd\t2>&1", 0, "xcmd", 1 },
	/* to the shell */
	{ "xecho $HOME", 1, NULL, 0 },
	{ "xa | xb", 1, NULL, 0 },
	{ "xa;xb", 1, NULL, 0 },
	{ "FOO=bar xcmd", 1, NULL, 0 },
	{ "_X1=1 xcmd", 1, NULL, 0 },
	{ "=x", 1, NULL, 0 },
	{ "exec xcat", 1, NULL, 0 },
	{ "exec\txcat", 1, NULL, 0 },
	{ ". xscript", 1, NULL, 0 },
	{ "  . xscript", 1, ". xscript", 0 },
	{ "xcmd\nx", 1, NULL, 0 },
	{ "xcmd\n\n", 1, NULL, 0 },
	{ "xcmd 2>&1x", 1, NULL, 0 },
	{ "xcmd 2>&1 x", 1, NULL, 0 },
	{ "xcmd 2>&1 2>&1", 1, NULL, 0 },
	{ "xcmd2>&1", 1, NULL, 0 },
	{ "2>&1", 1, NULL, 0 },
	{ "  2>&1", 1, "2>&1", 0 },
	{ "xcmd ~/x", 1, NULL, 0 },
	{ "xcmd -o 'x y'", 1, NULL, 0 },
	{ "xcmd \\x", 1, NULL, 0 },
	{ "xa?b", 1, NULL, 0 },
	{ "xa*b", 1, NULL, 0 },
	{ "[xa]", 1, NULL, 0 },
	{ "{xa}", 1, NULL, 0 },
	{ "x(a)", 1, NULL, 0 },
	{ "xa<b", 1, NULL, 0 },
	{ "xa>b", 1, NULL, 0 },
	{ "xa`b`", 1, NULL, 0 },
	{ "xa&b", 1, NULL, 0 },
	{ "xa\"b\"", 1, NULL, 0 },
};

static void
join_argv(char *const *argv, char *buf, size_t size)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			(void)strlcat(buf, "|", size);
		(void)strlcat(buf, argv[i], size);
	}
}

/* Decodes one strace -xx string ("\x61\x62") at *pp into out. */
static int
strace_str(const char **pp, char *out, size_t size)
{
	const char	*p = *pp;
	size_t		 n = 0;
	unsigned int	 c;

	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		if (p[0] != '\\' || p[1] != 'x' ||
		    sscanf(p + 2, "%2x", &c) != 1 || n + 1 >= size)
			return -1;
		out[n++] = (char)c;
		p += 4;
	}
	out[n] = '\0';
	*pp = p + 1;
	return 0;
}

/*
 * Runs `perl -e 'exec $ARGV[0]' -- cmd` under strace and reports what
 * Perl did: the first execve after its own (path and argv joined with
 * '|'), and whether it did dup2(1, 2) first.
 */
static int
perl_exec(const char *cmd, char *path, char *argv, size_t size, int *dup)
{
	char	 out[512], line[8192], arg[4096];
	FILE	*fp;
	pid_t	 pid;
	int	 status, nexec = 0, fd, found = -1, first;

	(void)snprintf(out, sizeof(out), "%s/strace.out", tmpdir);
	if ((pid = fork()) == 0) {
		if (chdir(tmpdir) == -1)
			_exit(126);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("strace", "strace", "-qq", "-xx", "-s", "65536",
		    "-e", "trace=execve,dup2,dup3", "-e", "signal=none",
		    "-o", out, "perl", "-e", "exec $ARGV[0]", "--", cmd,
		    (char *)NULL);
		_exit(127);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return -1;
	if ((fp = fopen(out, "r")) == NULL)
		return -1;
	*dup = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *p = line;

		if (strncmp(line, "dup2(1, 2)", 10) == 0 ||
		    strncmp(line, "dup3(1, 2,", 10) == 0)
			*dup = 1;
		if (strncmp(line, "execve(", 7) != 0 || ++nexec != 2)
			continue;
		p += 7;
		if (strace_str(&p, path, size) == -1 ||
		    strncmp(p, ", [", 3) != 0)
			break;
		p += 3;
		argv[0] = '\0';
		first = 1;
		while (*p == '"') {
			if (strace_str(&p, arg, sizeof(arg)) == -1)
				break;
			if (!first)
				(void)strlcat(argv, "|", size);
			(void)strlcat(argv, arg, size);
			first = 0;
			if (strncmp(p, ", ", 2) == 0)
				p += 2;
		}
		found = 0;
		break;
	}
	fclose(fp);
	return found;
}

static void
test_cmd_classifier(void)
{
	struct connect_cmd	 c;
	char			 got[4096], path[1024], pargv[4096];
	char			 want[4096];
	size_t			 i;
	int			 rv, dup = -1;

	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *tc = &cmd_cases[i];

		rv = connect_cmd_parse(tc->cmd, &c);
		IS_INT(rv, 0, tc->cmd);
		IS_INT(c.use_shell, tc->shell, "use_shell");
		IS_INT(c.stderr_to_stdout, tc->dup, "stderr_to_stdout");
		if (c.use_shell)
			(void)strlcpy(got, c.shell_cmd, sizeof(got));
		else
			join_argv(c.argv, got, sizeof(got));
		(void)strlcpy(want, tc->want != NULL ? tc->want : tc->cmd,
		    sizeof(want));
		IS_STR(got, want, "command split/shell string");

		/* And Perl agrees. */
		rv = perl_exec(tc->cmd, path, pargv, sizeof(pargv), &dup);
		OK(rv == 0, "perl exec traced: %s", tc->cmd);
		if (rv == 0 && c.use_shell) {
			(void)snprintf(want, sizeof(want), "sh|-c|%s",
			    c.shell_cmd);
			IS_STR(path, "/bin/sh", "perl ran the shell");
			IS_STR(pargv, want, "perl's sh -c argument");
		} else if (rv == 0) {
			OK(strcmp(path, "/bin/sh") != 0,
			    "perl did not use the shell: %s", path);
			IS_STR(pargv, got, "perl's argv");
		}
		IS_INT(dup, tc->dup, "perl's dup2(1, 2)");
		connect_cmd_free(&c);
	}

	IS_INT(connect_cmd_parse("", &c), -1, "empty command");
	connect_cmd_free(&c);
	IS_INT(connect_cmd_parse(" \t ", &c), -1, "blank command");
	connect_cmd_free(&c);
}

/* ------------------------------------------------------------------ */
/* IP literals */

static void
test_hostip(void)
{
	static const struct {
		const char	*host;
		int		 rv, af;
		const char	*bare, *log;
	} cases[] = {
		{ "127.0.0.1", 1, AF_INET, "127.0.0.1", NULL },
		{ "[127.0.0.1]", 1, AF_INET, "127.0.0.1", NULL },
		{ "::1", 1, AF_INET6, "::1", NULL },
		{ "[::1]", 1, AF_INET6, "::1", NULL },
		{ "[2001:db8::1]", 1, AF_INET6, "2001:db8::1", NULL },
		{ "[::ffff:1.2.3.4]", 1, AF_INET6, "::ffff:1.2.3.4", NULL },
		{ "localhost", 0, AF_UNSPEC, "localhost", NULL },
		{ "imap.example.org", 0, AF_UNSPEC, "imap.example.org", NULL },
		{ "01.2.3.4", 0, AF_UNSPEC, "01.2.3.4", NULL },
		{ "1.2.3", 0, AF_UNSPEC, "1.2.3", NULL },
		{ "[::1]x", 0, AF_UNSPEC, "[::1]x", NULL },
		{ "[localhost]", -1, 0, NULL,
		    "local: ERROR: Invalid IP literal: localhost" },
		{ "[]", -1, 0, NULL, "local: ERROR: Invalid IP literal: " },
		{ "[01.2.3.4]", -1, 0, NULL,
		    "local: ERROR: Invalid IP literal: 01.2.3.4" },
		{ "[1.2.3.256]", -1, 0, NULL,
		    "local: ERROR: Invalid IP literal: 1.2.3.256" },
		{ "[fe80::1%lo]", -1, 0, NULL,
		    "local: ERROR: Invalid IP literal: fe80::1%lo" },
		{ "[[::1]]", -1, 0, NULL,
		    "local: ERROR: Invalid IP literal: [::1]" },
	};
	unsigned char	 addr[16];
	char		*bare;
	size_t		 i;
	int		 rv, af;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_reset();
		af = -1;
		rv = connect_hostip(cases[i].host, &bare, &af, addr, "local");
		IS_INT(rv, cases[i].rv, cases[i].host);
		if (cases[i].rv >= 0) {
			IS_INT(af, cases[i].af, "family");
			IS_STR(bare, cases[i].bare, "bare host");
			IS_INT(nlogs, 0, "nothing logged");
		} else {
			OK(bare == NULL, "no bare host on error");
			IS_STR(lastlog, cases[i].log, "error message");
		}
		free(bare);
	}
}

/* ------------------------------------------------------------------ */
/* Proxy URIs (expectations checked against the reference's grammar) */

static void
test_uri(void)
{
	static const struct {
		const char	*uri;
		int		 rv;
		const char	*scheme;
		int		 resolve, auth;
		const char	*user, *pass, *host, *port;
	} cases[] = {
		{ "socks5://127.0.0.1", 0, "socks5", 0, 0, NULL, NULL,
		    "127.0.0.1", "1080" },
		{ "socks5h://proxy:9050", 0, "socks5h", 1, 0, NULL, NULL,
		    "proxy", "9050" },
		{ "socks5://[::1]:1080", 0, "socks5", 0, 0, NULL, NULL,
		    "[::1]", "1080" },
		{ "socks5://[::1]", 0, "socks5", 0, 0, NULL, NULL,
		    "[::1]", "1080" },
		{ "socks5://[1.2.3.4]:1", 0, "socks5", 0, 0, NULL, NULL,
		    "[1.2.3.4]", "1" },
		{ "socks5://user:pass@host", 0, "socks5", 0, 1, "user", "pass",
		    "host", "1080" },
		{ "socks5://user:p@ss@host:1", 0, "socks5", 0, 1, "user",
		    "p@ss", "host", "1" },
		{ "socks5://p@ss:w@h:1", 0, "socks5", 0, 1, "p@ss", "w", "h",
		    "1" },
		{ "socks5://user@host", 0, "socks5", 0, 1, "user", "",
		    "host", "1080" },
		{ "socks5://@host", 0, "socks5", 0, 1, "", "", "host", "1080" },
		{ "socks5://:p@h", 0, "socks5", 0, 1, "", "p", "h", "1080" },
		{ "socks5://u:p:q@host", 0, "socks5", 0, 1, "u", "p:q", "host",
		    "1080" },
		{ "socks5://host:socks", 0, "socks5", 0, 0, NULL, NULL, "host",
		    "socks" },
		{ "socks5://u:p@[::1]:99", 0, "socks5", 0, 1, "u", "p",
		    "[::1]", "99" },
		{ "socks5://a@b@[::1]", 0, "socks5", 0, 1, "a@b", "",
		    "[::1]", "1080" },
		{ "socks5://u:p@h@", 0, "socks5", 0, 1, "u", "p", "h@",
		    "1080" },
		{ "socks5h://user:pa:ss@[2001:db8::1]:1080", 0, "socks5h", 1, 1,
		    "user", "pa:ss", "[2001:db8::1]", "1080" },
		{ "socks5://host/path", 0, "socks5", 0, 0, NULL, NULL,
		    "host/path", "1080" },
		{ "socks5://[]", 0, "socks5", 0, 0, NULL, NULL, "[]", "1080" },
		{ "socks5://h]:1", 0, "socks5", 0, 0, NULL, NULL, "h]", "1" },
		{ "socks5://[a]b", 0, "socks5", 0, 0, NULL, NULL, "[a]b",
		    "1080" },
		/* a C1 control byte cannot be in the userinfo */
		{ "socks5://a\x85@h", 0, "socks5", 0, 0, NULL, NULL,
		    "a\x85@h", "1080" },
		{ "SOCKS5://host", SOCKS5_URI_UNSUPPORTED, "SOCKS5", 0, 0,
		    NULL, NULL, NULL, NULL },
		{ "http://host", SOCKS5_URI_UNSUPPORTED, "http", 0, 0,
		    NULL, NULL, NULL, NULL },
		{ "socks4://u:p@host:1080", SOCKS5_URI_UNSUPPORTED, "socks4",
		    0, 0, NULL, NULL, NULL, NULL },
		{ "socks5:/host", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks5://", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "://host", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks-5://host", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks5://host:", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks5://host:12:34", SOCKS5_URI_INVALID, NULL, 0, 0, NULL,
		    NULL, NULL, NULL },
		{ "socks5://host:-1", SOCKS5_URI_INVALID, NULL, 0, 0, NULL,
		    NULL, NULL, NULL },
		{ "socks5://h:1080/", SOCKS5_URI_INVALID, NULL, 0, 0, NULL,
		    NULL, NULL, NULL },
		{ "socks5://[::1", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks5://::1", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
		{ "socks5://u@[::1]x", SOCKS5_URI_INVALID, NULL, 0, 0, NULL,
		    NULL, NULL, NULL },
		{ "socks5://u\x01:p@host", SOCKS5_URI_INVALID, NULL, 0, 0,
		    NULL, NULL, NULL, NULL },
		{ "socks5://u:p@", SOCKS5_URI_INVALID, NULL, 0, 0, NULL, NULL,
		    NULL, NULL },
	};
	struct socks5_uri	u;
	size_t			i;
	int			rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rv = socks5_uri_parse(cases[i].uri, &u);
		IS_INT(rv, cases[i].rv, cases[i].uri);
		if (cases[i].scheme != NULL)
			IS_STR(u.scheme, cases[i].scheme, "scheme");
		else
			OK(u.scheme == NULL, "no scheme");
		if (rv == SOCKS5_URI_OK) {
			IS_INT(u.remote_resolve, cases[i].resolve, "socks5h");
			IS_INT(u.has_auth, cases[i].auth, "userinfo");
			if (cases[i].auth) {
				IS_STR(u.user, cases[i].user, "user");
				IS_STR(u.pass, cases[i].pass, "password");
			} else
				OK(u.user == NULL && u.pass == NULL,
				    "no credentials");
			IS_STR(u.host, cases[i].host, "host");
			IS_STR(u.port, cases[i].port, "port");
		} else
			OK(u.host == NULL && u.user == NULL && u.pass == NULL,
			    "nothing else filled");
		socks5_uri_free(&u);
	}
}

/* What a message may show of a proxy URI: never its userinfo. */
static void
test_uri_redact(void)
{
	static const struct {
		const char	*uri, *want;
	} cases[] = {
		{ "socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080" },
		{ "socks5://u:pw@h:1", "socks5://********@h:1" },
		{ "socks5h://u:p@ss@h", "socks5h://********@h" },
		{ "socks5://u:p@h@", "socks5://********@" },
		{ "socks5://@h", "socks5://********@h" },
		{ "u:pw@h", "********@h" },
		{ "socks5:/u:pw@h", "********@h" },
		{ "", "" },
	};
	char	*r;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = socks5_uri_redact(cases[i].uri);
		IS_STR(r, cases[i].want, cases[i].uri);
		free(r);
	}
}

/* ------------------------------------------------------------------ */
/* SOCKS5 targets */

static void
test_target(void)
{
	struct socks5_target	t;
	char			long_name[300];
	int			rv;

	log_reset();
	rv = socks5_target(&t, "127.0.0.1", "143", 0, "local");
	IS_INT(rv, 0, "target 127.0.0.1");
	IS_INT(t.atyp, SOCKS5_ATYP_IPV4, "IPv4");
	OK(t.addrlen == 4 && memcmp(t.addr, "\x7f\0\0\x01", 4) == 0,
	    "IPv4 bytes");
	IS_INT(t.port, 143, "port");

	rv = socks5_target(&t, "[::1]", "993", 1, "local");
	IS_INT(rv, 0, "target [::1] (socks5h: still an address)");
	IS_INT(t.atyp, SOCKS5_ATYP_IPV6, "IPv6");
	OK(t.addrlen == 16 && t.addr[15] == 1 && t.addr[0] == 0,
	    "IPv6 bytes");
	IS_INT(t.port, 993, "port");

	rv = socks5_target(&t, "imap.example.org", "imap", 1, "local");
	IS_INT(rv, 0, "socks5h name");
	IS_INT(t.atyp, SOCKS5_ATYP_DOMAIN, "domain");
	OK(t.addrlen == 16 && memcmp(t.addr, "imap.example.org", 16) == 0,
	    "name sent as is");
	IS_INT(t.port, 143, "service name imap");

	rv = socks5_target(&t, "localhost", "imaps", 0, "local");
	IS_INT(rv, 0, "socks5 resolves locally");
	OK(t.atyp == SOCKS5_ATYP_IPV4 || t.atyp == SOCKS5_ATYP_IPV6,
	    "localhost sent as an address");
	IS_INT(t.port, 993, "service name imaps");
	IS_INT(nlogs, 0, "nothing logged");

	rv = socks5_target(&t, "h", "nosuchsvc", 1, "local");
	IS_INT(rv, -1, "unknown service");
	IS_STR(lastlog, "local: ERROR: Can't getservbyname nosuchsvc",
	    "message");
	rv = socks5_target(&t, "h", "70000", 1, "local");
	IS_INT(rv, -1, "port out of range");
	IS_STR(lastlog, "local: ERROR: Invalid port number 70000", "message");
	rv = socks5_target(&t, "[foo]", "143", 1, "remote");
	IS_INT(rv, -1, "bad literal");
	IS_STR(lastlog, "remote: ERROR: Invalid IP literal: foo", "message");
	rv = socks5_target(&t, "a..b", "143", 0, "remote");
	IS_INT(rv, -1, "unresolvable, socks5");
	IS_STR(lastlog, "remote: ERROR: getaddrinfo(a..b): Name or service "
	    "not known", "message");
	rv = socks5_target(&t, "a..b", "143", 1, "remote");
	IS_INT(rv, 0, "socks5h does not resolve");

	memset(long_name, 'a', 255);
	long_name[255] = '\0';
	rv = socks5_target(&t, long_name, "1", 1, "local");
	IS_INT(rv, 0, "255-byte name fits");
	IS_INT(t.addrlen, 255, "length");
	long_name[255] = 'a';
	long_name[256] = '\0';
	rv = socks5_target(&t, long_name, "1", 1, "local");
	IS_INT(rv, -1, "256-byte name");
	IS_STR(lastlog, "local: SOCKSv5 ERROR: Host name too long", "message");
}

/* ------------------------------------------------------------------ */
/* Tunnels */

/* Runs a tunnel; the test process's stderr goes to errfile meanwhile. */
static int
tunnel(struct connect_result *res, const char *command, const char *nulls,
    const char *errfile)
{
	struct sec	sec;
	int		rv, saved = -1, fd;

	if (nulls != NULL)
		sec_init(&sec, "type", "tunnel", "command", command,
		    "null-stderr", nulls, NULL);
	else
		sec_init(&sec, "type", "tunnel", "command", command, NULL);
	if (errfile != NULL) {
		saved = dup(2);
		fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
	}
	rv = connect_peer(&sec.s, 0, "local", res);
	if (saved != -1) {
		dup2(saved, 2);
		close(saved);
	}
	sec_free(&sec);
	return rv;
}

static void
slurp_file(const char *path, char *buf, size_t size)
{
	int	fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return;
	read_all(fd, buf, size, 1000);
	close(fd);
}

static void
test_tunnel(void)
{
	struct connect_result	 res;
	struct sec		 sec;
	struct timespec		 t0, t1;
	char			 buf[8192], errfile[300], path[300];
	char			 pathenv[4096], want[256];
	const char		*oldpath;
	int			 rv, status, fl, leak, fd, p[2];
	long			 ms;
	pid_t			 mid, tpid;

	(void)snprintf(errfile, sizeof(errfile), "%s/stderr", tmpdir);

	/* Missing command. */
	log_reset();
	sec_init(&sec, "type", "tunnel", NULL);
	rv = connect_peer(&sec.s, 0, "remote", &res);
	sec_free(&sec);
	IS_INT(rv, -1, "no command");
	IS_STR(lastlog, "remote: ERROR: Missing tunnel command", "message");
	OK(res.fd == -1 && res.pid == -1 && res.host == NULL, "res cleared");

	/* An echo through cat; the stream's properties. */
	rv = tunnel(&res, "cat", NULL, NULL);
	IS_INT(rv, 0, "cat tunnel");
	IS_INT(res.kind, CONNECT_TUNNEL, "kind");
	OK(res.pid > 0 && res.host == NULL, "pid, no host");
	fl = fcntl(res.fd, F_GETFD);
	OK(fl != -1 && (fl & FD_CLOEXEC), "close-on-exec");
	fl = fcntl(res.fd, F_GETFL);
	OK(fl != -1 && !(fl & O_NONBLOCK), "blocking");
	IS_INT(write(res.fd, "a001 NOOP\r\n", 11), 11, "write");
	read_line(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, "a001 NOOP\r\n", "echoed");
	close(res.fd);
	status = connect_tunnel_reap(res.pid);
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "cat exits on EOF (status %#x)", status);
	OK(process_gone(res.pid), "no zombie");
	IS_INT(connect_tunnel_reap(res.pid), -1, "second reap: not ours");
	IS_INT(connect_tunnel_reap(-1), -1, "reap -1");

	/* A shell pipeline. */
	rv = tunnel(&res, "printf '* PREAUTH %s\\r\\n' tunnel | cat", NULL,
	    NULL);
	IS_INT(rv, 0, "pipeline tunnel");
	read_line(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, "* PREAUTH tunnel\r\n", "through sh -c");
	close(res.fd);
	connect_tunnel_reap(res.pid);

	/* Exec failure: a clear message on stderr, 127, EOF. */
	rv = tunnel(&res, "/nonexistent/imapd --x", NULL, errfile);
	IS_INT(rv, 0, "spawned");
	IS_INT(read_all(res.fd, buf, sizeof(buf), 5000), 0, "EOF");
	close(res.fd);
	status = connect_tunnel_reap(res.pid);
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 127,
	    "exit 127 (status %#x)", status);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "tunnel: can't exec /nonexistent/imapd: No such file or "
	    "directory\n", "exec failure message");

	/* The message survives null-stderr. */
	rv = tunnel(&res, "/nonexistent/imapd", "YES", errfile);
	IS_INT(read_all(res.fd, buf, sizeof(buf), 5000), 0, "EOF");
	close(res.fd);
	connect_tunnel_reap(res.pid);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "tunnel: can't exec /nonexistent/imapd: No such file or "
	    "directory\n", "exec failure message with null-stderr");

	/* null-stderr, and --debug overriding it. */
	rv = tunnel(&res, "echo err >&2; echo out", "yes", errfile);
	read_all(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, "out\n", "stdout to the socket");
	close(res.fd);
	connect_tunnel_reap(res.pid);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "", "null-stderr = yes: stderr discarded");
	rv = tunnel(&res, "echo err >&2; echo out", "NO", errfile);
	read_all(res.fd, buf, sizeof(buf), 5000);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "err\n", "null-stderr = NO: stderr kept");
	log_set_debug(1);
	rv = tunnel(&res, "echo err >&2; echo out", "YES", errfile);
	read_all(res.fd, buf, sizeof(buf), 5000);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	log_set_debug(0);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "err\n", "null-stderr ignored with --debug");

	/* A final 2>&1 without a shell: stderr into the socket. */
	rv = tunnel(&res, "ls /nonexistent-dir 2>&1", "YES", errfile);
	read_all(res.fd, buf, sizeof(buf), 5000);
	OK(strstr(buf, "/nonexistent-dir") != NULL, "2>&1: %s", buf);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	slurp_file(errfile, buf, sizeof(buf));
	IS_STR(buf, "", "nothing on our stderr");

	/* Signals: SIGINT ignored and blocked, nothing else. */
	rv = tunnel(&res, "grep ^Sig /proc/self/status", NULL, NULL);
	IS_INT(rv, 0, "grep run directly");
	read_all(res.fd, buf, sizeof(buf), 5000);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	OK(strstr(buf, "SigBlk:\t0000000000000002\n") != NULL,
	    "SIGINT blocked, only: %s", buf);
	OK(strstr(buf, "SigIgn:\t0000000000000002\n") != NULL,
	    "SIGINT ignored, only: %s", buf);

	/* Descriptors: only 0, 1, 2 (and ls's own directory). */
	leak = open("/dev/null", O_RDONLY);	/* not close-on-exec */
	rv = tunnel(&res, "ls /proc/self/fd", NULL, NULL);
	read_all(res.fd, buf, sizeof(buf), 5000);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	close(leak);
	IS_STR(buf, "0\n1\n2\n3\n", "no descriptor leaks into the tunnel");

	/* Environment: PATH kept, IFS/CDPATH/ENV/BASH_ENV dropped. */
	setenv("IFS", "x", 1);
	setenv("CDPATH", "/tmp", 1);
	setenv("ENV", "/nonexistent/env", 1);
	setenv("BASH_ENV", "/nonexistent/bash_env", 1);
	setenv("INTERIMAP_TEST_KEEP", "kept", 1);
	rv = tunnel(&res, "env", NULL, NULL);
	read_all(res.fd, buf, sizeof(buf), 5000);
	close(res.fd);
	connect_tunnel_reap(res.pid);
	OK(strstr(buf, "\nIFS=") == NULL && strncmp(buf, "IFS=", 4) != 0,
	    "IFS dropped");
	OK(strstr(buf, "CDPATH=") == NULL, "CDPATH dropped");
	OK(strstr(buf, "\nENV=") == NULL && strncmp(buf, "ENV=", 4) != 0,
	    "ENV dropped");
	OK(strstr(buf, "BASH_ENV=") == NULL, "BASH_ENV dropped");
	OK(strstr(buf, "INTERIMAP_TEST_KEEP=kept\n") != NULL, "others kept");
	(void)snprintf(want, sizeof(want), "PATH=%.200s\n", getenv("PATH"));
	OK(strstr(buf, want) != NULL, "PATH kept");
	unsetenv("IFS");
	unsetenv("CDPATH");
	unsetenv("ENV");
	unsetenv("BASH_ENV");

	/* A bare command name found through the caller's PATH. */
	(void)snprintf(path, sizeof(path), "%s/bin", tmpdir);
	mkdir(path, 0700);
	(void)snprintf(path, sizeof(path), "%s/bin/interimap-test-imapd",
	    tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	dprintf(fd, "#!/bin/sh\necho \"* PREAUTH $# $1\"\n");
	close(fd);
	/* No #! line: ENOEXEC, run by the shell. */
	(void)snprintf(path, sizeof(path), "%s/bin/interimap-test-noexec",
	    tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	dprintf(fd, "echo \"* PREAUTH noexec $1\"\n");
	close(fd);
	oldpath = getenv("PATH");
	(void)snprintf(pathenv, sizeof(pathenv), "%s/bin:%s", tmpdir,
	    oldpath != NULL ? oldpath : "/usr/bin:/bin");
	oldpath = oldpath != NULL ? strdup(oldpath) : NULL;
	setenv("PATH", pathenv, 1);
	rv = tunnel(&res, "interimap-test-imapd  arg1", NULL, NULL);
	read_line(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, "* PREAUTH 1 arg1\n", "found in PATH, argv split");
	close(res.fd);
	connect_tunnel_reap(res.pid);
	rv = tunnel(&res, "interimap-test-noexec x", NULL, NULL);
	read_line(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, "* PREAUTH noexec x\n", "script without #!");
	close(res.fd);
	connect_tunnel_reap(res.pid);
	if (oldpath != NULL) {
		setenv("PATH", oldpath, 1);
		free((char *)oldpath);
	}

	/* Reaping: SIGTERM a tunnel that ignores EOF. */
	rv = tunnel(&res, "sleep 30", NULL, NULL);
	close(res.fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	status = connect_tunnel_reap(res.pid);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	    "SIGTERM (status %#x)", status);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	OK(ms >= CONNECT_REAP_EOF_MS - 100 &&
	    ms < CONNECT_REAP_EOF_MS + 1000,
	    "after the EOF wait only (%ld ms)", ms);
	OK(process_gone(res.pid), "no zombie");

	/* ... and SIGKILL one that ignores SIGTERM too. */
	rv = tunnel(&res, "trap '' TERM; exec sleep 30", NULL, NULL);
	usleep(200 * 1000);	/* let the trap be set */
	close(res.fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	status = connect_tunnel_reap(res.pid);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "SIGKILL after the grace period (status %#x)", status);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	OK(ms >= CONNECT_REAP_EOF_MS + CONNECT_REAP_GRACE_MS - 100 &&
	    ms < CONNECT_REAP_EOF_MS + CONNECT_REAP_GRACE_MS + 1500,
	    "EOF wait and grace period respected (%ld ms)", ms);
	OK(process_gone(res.pid), "no zombie");

	/*
	 * PR_SET_PDEATHSIG: a middle process spawns the tunnel and is
	 * SIGKILLed; the tunnel is then re-parented to us (subreaper) and
	 * must have died of SIGTERM.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe(p) == -1) {
		OK(0, "pipe");
		return;
	}
	if ((mid = fork()) == 0) {
		close(p[0]);
		if (tunnel(&res, "sleep 30", NULL, NULL) == -1)
			_exit(1);
		tpid = res.pid;
		(void)!write(p[1], &tpid, sizeof(tpid));
		pause();
		_exit(0);
	}
	close(p[1]);
	tpid = -1;
	IS_INT(read(p[0], &tpid, sizeof(tpid)), sizeof(tpid), "tunnel pid");
	close(p[0]);
	/*
	 * Not before the tunnel has exec'd: a parent gone before the death
	 * signal is armed is caught by the getppid() check instead (exit
	 * 127), which is right but not what this checks.
	 */
	if (tpid > 0)
		wait_comm(tpid, "sleep");
	kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	status = 0;
	if (tpid > 0) {
		struct timespec ts = { 0, 10 * 1000000 };
		int i;

		for (i = 0; i < 500; i++) {
			if (waitpid(tpid, &status, WNOHANG) == tpid)
				break;
			nanosleep(&ts, NULL);
		}
		OK(i < 500, "tunnel gone after its parent was SIGKILLed");
		OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
		    "by PR_SET_PDEATHSIG's SIGTERM (status %#x)", status);
		if (i == 500) {
			kill(tpid, SIGKILL);
			waitpid(tpid, NULL, 0);
		}
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* ------------------------------------------------------------------ */
/* TCP */

static int
listener(int af, int backlog, char *port, size_t portlen)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			s, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if ((s = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) == -1 ||
	    listen(s, backlog) == -1 ||
	    getsockname(s, (struct sockaddr *)&ss, &len) == -1) {
		close(s);
		return -1;
	}
	(void)snprintf(port, portlen, "%u", ntohs(af == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port));
	return s;
}

static int
getopt_int(int fd, int level, int opt)
{
	socklen_t	len;
	int		v = -1;

	len = sizeof(v);
	if (getsockopt(fd, level, opt, &v, &len) == -1)
		return -1;
	return v;
}

static volatile sig_atomic_t	 alarms, abort_now;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int
abort_asked(void)
{
	return abort_now && alarms > 0;
}

/*
 * Connects to the black hole at port with SIGALRM every 100 ms: with
 * stop set, a signal ends the attempt (EINTR, not transient) long before
 * its 30 s timeout; without, the attempt goes on through the signals
 * until its timeout (700 ms here).
 */
static void
abort_case(const char *port, int stop)
{
	struct connect_result	 res;
	struct sigaction	 sa, old;
	struct itimerval	 it;
	struct sec		 sec;
	char			 want[256];
	int			 rv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: poll sees EINTR */
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, &old);
	alarms = 0;
	abort_now = stop;
	if (!stop)
		connect_set_timeout(700);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 100000;
	it.it_interval.tv_usec = 100000;
	(void)setitimer(ITIMER_REAL, &it, NULL);
	log_reset();
	sec_init(&sec, "type", "imap", "host", "127.0.0.1", "port", port,
	    NULL);
	rv = connect_peer(&sec.s, 0, "local", &res);
	sec_free(&sec);
	memset(&it, 0, sizeof(it));
	(void)setitimer(ITIMER_REAL, &it, NULL);
	(void)sigaction(SIGALRM, &old, NULL);
	IS_INT(rv, -1, stop ? "aborted" : "not aborted: timed out");
	(void)snprintf(want, sizeof(want),
	    "local: ERROR: Can't connect to 127.0.0.1:%s: %s", port,
	    stop ? "Interrupted system call" : "Connection timed out");
	IS_STR(lastlog, want, "message");
	if (!stop)
		OK(alarms >= 2, "went on through %d signals", (int)alarms);
	IS_INT(res.transient, !stop, "transient unless aborted");
	connect_set_timeout(30000);
}

static void
test_tcp(void)
{
	struct connect_result	 res;
	struct sec		 sec;
	struct timeval		 tv;
	socklen_t		 len;
	char			 port[16], buf[256], want[256];
	int			 l, a, rv, fl, i, fill[8];

	/* IPv4 literal. */
	l = listener(AF_INET, 8, port, sizeof(port));
	OK(l != -1, "IPv4 listener");
	sec_init(&sec, "type", "imap", "host", "127.0.0.1", "port", port,
	    NULL);
	rv = connect_peer(&sec.s, 0, "local", &res);
	sec_free(&sec);
	IS_INT(rv, 0, "connect 127.0.0.1");
	IS_INT(res.kind, CONNECT_TCP, "kind");
	IS_INT(res.pid, -1, "no pid");
	IS_STR(res.host, "127.0.0.1", "TLS host");
	IS_INT(res.is_ip_literal, 1, "literal");
	fl = fcntl(res.fd, F_GETFD);
	OK(fl != -1 && (fl & FD_CLOEXEC), "close-on-exec");
	fl = fcntl(res.fd, F_GETFL);
	OK(fl != -1 && !(fl & O_NONBLOCK), "blocking");
	IS_INT(getopt_int(res.fd, SOL_SOCKET, SO_KEEPALIVE), 0,
	    "no keepalive without --watch");
	len = sizeof(tv);
	memset(&tv, 0xff, sizeof(tv));
	OK(getsockopt(res.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 &&
	    tv.tv_sec == 0 && tv.tv_usec == 0, "no SO_RCVTIMEO");
	len = sizeof(tv);
	memset(&tv, 0xff, sizeof(tv));
	OK(getsockopt(res.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 &&
	    tv.tv_sec == 0 && tv.tv_usec == 0, "no SO_SNDTIMEO");
	a = accept(l, NULL, NULL);
	IS_INT(write(a, GREET, strlen(GREET)), strlen(GREET), "greet");
	read_line(res.fd, buf, sizeof(buf), 5000);
	IS_STR(buf, GREET, "greeting through the socket");
	close(a);
	close(res.fd);
	connect_result_free(&res);

	/* A host name, a service name, --watch keepalives. */
	sec_init(&sec, "type", "imaps", "host", "localhost", "port", port,
	    NULL);
	rv = connect_peer(&sec.s, 1, "local", &res);
	sec_free(&sec);
	IS_INT(rv, 0, "connect localhost");
	IS_STR(res.host, "localhost", "TLS host is the name");
	IS_INT(res.is_ip_literal, 0, "not a literal");
	IS_INT(getopt_int(res.fd, SOL_SOCKET, SO_KEEPALIVE), 1,
	    "SO_KEEPALIVE");
	IS_INT(getopt_int(res.fd, IPPROTO_TCP, TCP_KEEPIDLE), 60,
	    "TCP_KEEPIDLE");
	IS_INT(getopt_int(res.fd, IPPROTO_TCP, TCP_KEEPINTVL),
	    CONNECT_KEEPINTVL, "TCP_KEEPINTVL");
	IS_INT(getopt_int(res.fd, IPPROTO_TCP, TCP_KEEPCNT),
	    CONNECT_KEEPCNT, "TCP_KEEPCNT");
	close(res.fd);
	connect_result_free(&res);
	a = accept(l, NULL, NULL);
	close(a);
	close(l);

	/* Refused: the port is closed now. */
	log_reset();
	sec_init(&sec, "type", "imap", "host", "127.0.0.1", "port", port,
	    NULL);
	rv = connect_peer(&sec.s, 0, "local", &res);
	sec_free(&sec);
	IS_INT(rv, -1, "refused");
	(void)snprintf(want, sizeof(want),
	    "local: ERROR: Can't connect to 127.0.0.1:%s: Connection refused",
	    port);
	IS_STR(lastlog, want, "message");
	OK(res.fd == -1 && res.host == NULL, "res cleared");
	IS_INT(res.transient, 1, "refused: transient");

	/* IPv6, bracketed. */
	l = listener(AF_INET6, 8, port, sizeof(port));
	OK(l != -1, "IPv6 listener");
	sec_init(&sec, "type", "imap", "host", "[::1]", "port", port, NULL);
	rv = connect_peer(&sec.s, 0, "remote", &res);
	sec_free(&sec);
	IS_INT(rv, 0, "connect [::1]");
	IS_STR(res.host, "::1", "TLS host without brackets");
	IS_INT(res.is_ip_literal, 1, "literal");
	close(res.fd);
	connect_result_free(&res);
	close(l);
	log_reset();
	sec_init(&sec, "type", "imap", "host", "[::1]", "port", port, NULL);
	rv = connect_peer(&sec.s, 0, "remote", &res);
	sec_free(&sec);
	(void)snprintf(want, sizeof(want),
	    "remote: ERROR: Can't connect to [::1]:%s: Connection refused",
	    port);
	IS_STR(lastlog, want, "message keeps the brackets");

	/* Configuration errors. */
	log_reset();
	sec_init(&sec, "type", "imap", "host", "[imap.example.org]", "port",
	    "143", NULL);
	IS_INT(connect_peer(&sec.s, 0, "local", &res), -1, "[name]");
	sec_free(&sec);
	IS_STR(lastlog, "local: ERROR: Invalid IP literal: imap.example.org",
	    "message");
	IS_INT(res.transient, 0, "[name]: not transient");
	sec_init(&sec, "type", "imap", "host", "a..b", "port", "143", NULL);
	IS_INT(connect_peer(&sec.s, 0, "local", &res), -1, "bad name");
	sec_free(&sec);
	IS_STR(lastlog, "local: ERROR: getaddrinfo(a..b): Name or service "
	    "not known", "message");
	IS_INT(res.transient, 0, "unknown name: not transient");
	sec_init(&sec, "type", "imap", "host", "[127.0.0.1]", "port",
	    "nosuchsvc", NULL);
	IS_INT(connect_peer(&sec.s, 0, "local", &res), -1, "bad service");
	sec_free(&sec);
	IS_STR(lastlog, "local: ERROR: getaddrinfo(127.0.0.1): Servname not "
	    "supported for ai_socktype", "message names the bare host");
	sec_init(&sec, "type", "imaps", "port", "993", NULL);
	IS_INT(connect_peer(&sec.s, 0, "local", &res), -1, "no host");
	sec_free(&sec);
	IS_STR(lastlog, "local: ERROR: Missing option host", "message");
	IS_INT(res.transient, 0, "no host: not transient");

	/*
	 * A black hole: a listener whose accept queue is full drops SYNs,
	 * so connect() hangs until our timeout.
	 */
	l = listener(AF_INET, 0, port, sizeof(port));
	for (i = 0; i < 8; i++) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)atoi(port));
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(100 * 1000);
	connect_set_timeout(500);
	log_reset();
	sec_init(&sec, "type", "imap", "host", "127.0.0.1", "port", port,
	    NULL);
	{
		struct timespec t0, t1;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rv = connect_peer(&sec.s, 0, "local", &res);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000;
		IS_INT(rv, -1, "black hole");
		OK(ms >= 400 && ms < 3000, "timed out after %ld ms", ms);
	}
	sec_free(&sec);
	(void)snprintf(want, sizeof(want),
	    "local: ERROR: Can't connect to 127.0.0.1:%s: Connection timed "
	    "out", port);
	IS_STR(lastlog, want, "message");
	IS_INT(res.transient, 1, "timed out: transient");

	/*
	 * A signal that asks to stop ends the wait at once (priv's SIGTERM
	 * during a reconnection); one that does not, does not.
	 */
	connect_set_timeout(30000);
	connect_set_abort(abort_asked);
	abort_case(port, 0);
	abort_case(port, 1);
	connect_set_abort(NULL);
	connect_set_timeout(0);
	for (i = 0; i < 8; i++)
		close(fill[i]);
	close(l);
}

/* ------------------------------------------------------------------ */
/* connect_peer() with a proxy: a fake one (a forked server) */

/*
 * Accepts one client and reads until EOF: exits 0 if priv sent nothing
 * at all (the SOCKS5 exchange is the net child's), 3 if it did.  It
 * answers nothing either, so priv has nothing to parse.
 */
static void
fake_proxy(int l)
{
	char	buf[600];
	int	c;

	if ((c = accept(l, NULL, NULL)) == -1)
		_exit(1);
	_exit(read_all(c, buf, sizeof(buf), 5000) == 0 ? 0 : 3);
}

static int	 last_transient;

static void
proxy_case(const char *proxyfmt, const char *host, int watch,
    const struct socks5_target *want, const char *user, const char *pass,
    const char *log)
{
	struct connect_result	 res;
	struct sec		 sec;
	char			 port[16], proxy[256], buf[256];
	pid_t			 pid;
	int			 l, rv, status;

	l = listener(AF_INET, 8, port, sizeof(port));
	(void)snprintf(proxy, sizeof(proxy), proxyfmt, port);
	if ((pid = fork()) == 0)
		fake_proxy(l);
	close(l);
	log_reset();
	sec_init(&sec, "type", "imaps", "host", host, "port", "993",
	    "proxy", proxy, NULL);
	rv = connect_peer(&sec.s, watch, "remote", &res);
	sec_free(&sec);
	last_transient = res.transient;
	if (want == NULL) {
		IS_INT(rv, -1, proxy);
		(void)snprintf(buf, sizeof(buf), log, port);
		IS_STR(lastlog, buf, "message");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	IS_INT(rv, 0, proxy);
	IS_INT(res.proxied, 1, "through the proxy");
	OK(res.socks_target.atyp == want->atyp &&
	    res.socks_target.addrlen == want->addrlen &&
	    memcmp(res.socks_target.addr, want->addr, want->addrlen) == 0 &&
	    res.socks_target.port == 993, "%s: the target for the net", proxy);
	if (user == NULL)
		OK(res.socks_user == NULL && res.socks_pass == NULL,
		    "no credentials for the net");
	else {
		IS_STR(res.socks_user, user, "the proxy user for the net");
		IS_STR(res.socks_pass, pass, "the proxy password for the net");
	}
	IS_STR(res.host, host[0] == '[' ? "::1" : host,
	    "TLS host is the target's");
	if (watch)
		IS_INT(getopt_int(res.fd, SOL_SOCKET, SO_KEEPALIVE), 1,
		    "keepalive on the proxied stream");
	close(res.fd);
	connect_result_free(&res);
	OK(res.socks_user == NULL && res.socks_pass == NULL &&
	    !res.proxied, "connect_result_free() clears the proxy's part");
	waitpid(pid, &status, 0);
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "priv sent the proxy nothing (status %#x)", status);
}

static void
test_proxy(void)
{
	struct socks5_target	 dom, v4, v6;

	(void)socks5_target(&dom, "imap.example.org", "993", 1, "remote");
	(void)socks5_target(&v4, "127.0.0.1", "993", 0, "remote");
	(void)socks5_target(&v6, "[::1]", "993", 0, "remote");
	proxy_case("socks5h://127.0.0.1:%s", "imap.example.org", 0, &dom,
	    NULL, NULL, NULL);
	proxy_case("socks5://u:pw@127.0.0.1:%s", "127.0.0.1", 1, &v4, "u",
	    "pw", NULL);
	proxy_case("socks5://[127.0.0.1]:%s", "[::1]", 0, &v6, NULL, NULL,
	    NULL);
	proxy_case("socks5h://@127.0.0.1:%s", "imap.example.org", 0, &dom,
	    "", "", NULL);
	proxy_case("http://127.0.0.1:%s", "h", 0, NULL, NULL, NULL,
	    "remote: ERROR: Unsupported proxy protocol http");
	proxy_case("socks5://127.0.0.1:%s:x", "h", 0, NULL, NULL, NULL,
	    "remote: ERROR: Invalid proxy URI socks5://127.0.0.1:%s:x");
	/* The message names the proxy, never its password. */
	proxy_case("socks5://u:secretPW@127.0.0.1:%s:x", "h", 0, NULL, NULL,
	    NULL, "remote: ERROR: Invalid proxy URI socks5://********@"
	    "127.0.0.1:%s:x");
	proxy_case("socks5h://[localhost]:%s", "h", 0, NULL, NULL, NULL,
	    "remote: ERROR: Invalid IP literal: localhost");
	IS_INT(last_transient, 0, "bad proxy URI: not transient");
	proxy_case("socks5h://127.0.0.1:%s", "[h]", 0, NULL, NULL, NULL,
	    "remote: ERROR: Invalid IP literal: h");
}

int
main(void)
{
	char	tmpl[] = "/tmp/test_connect.XXXXXX";

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	(void)strlcpy(tmpdir, tmpl, sizeof(tmpdir));
	log_set_sink(capture);

	test_cmd_classifier();
	test_hostip();
	test_uri();
	test_uri_redact();
	test_target();
	test_tunnel();
	test_tcp();
	test_proxy();

	{
		char cmd[300];

		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		(void)!system(cmd);
	}
	return tap_done();
}
