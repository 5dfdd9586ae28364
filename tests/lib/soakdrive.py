#!/usr/bin/python3
"""The driver of tests/integration/soak.sh: many SIGHUP-driven watch cycles
of one --watch --debug run, changes on both sides at every cycle.

    soakdrive.py --local ENDPOINT --remote ENDPOINT --pid PRIV --log FILE
                 --cycles N [--every K] [--flag-every F] [--bound SECONDS]
                 --samples FILE --flags FILE --changes FILE [--db DATABASE]

ENDPOINT is a server's tunnel.sh (pre-authenticated IMAP on stdin/stdout,
tests/lib/common.sh) or its imapctl.login (LOGIN over TCP): one connection
per server, held for the whole run (imapctl.py's way of reaching a server,
without a process per command).  PRIV is the pid of the running
`interimap --watch=... --debug`, FILE its stderr, where priv logs
"engine: idle, ..." each time a pass ends.

A cycle: APPEND one new message to local INBOX and one to remote INBOX
(each its own Subject and Message-ID), every F cycles a flag changed on an
older message of one side (the sides alternate), then SIGHUP to PRIV, then
wait until FILE holds one more "engine: idle," line than before (at most
--bound seconds: a cycle that never ends fails the run; nothing else is
timed).

Samples (--samples FILE), after the initial pass (cycle 0) and every K
cycles, one line per process: "CYCLE ROLE PID RSS_KB FDS", ROLE one of
priv, engine, net(local), net(remote) (priv's children found by their
titles "interimap: ROLE"); FILE.fds: "CYCLE ROLE FD TARGET", each
descriptor of each sample; with --db DATABASE, FILE.db: "CYCLE KB", the
database's size at each sample (priv's SQLite page cache grows with it).

--flags FILE: the flags the driver's 2N messages must end with on both
servers, as "COUNT FLAGS" lines (FLAGS sorted and joined by ",", "-" for
none: mail_dump's field), sorted by FLAGS.  --changes FILE: how many flag
changes were made (each a STORE that changed the message's flags).

Progress and the per-cycle times (for the log, not asserted) on stdout as
"# ..." lines.  Exit 0 when every cycle ended; 1 (with the reason on
stdout) when one did not within the bound, the run ended, a child was
replaced, or a server refused a command.
"""

import argparse
import collections
import imaplib
import os
import re
import signal
import sys
import time

ROLES = ('priv', 'engine', 'net(local)', 'net(remote)')
IDLE = b'engine: idle,'
# The flags the driver sets and clears.
FLAGS = ('\\Seen', '\\Flagged', '\\Answered')


class Failed(Exception):
    pass


def connect(endpoint):
    """One IMAP connection, authenticated, INBOX selected read-write."""
    if os.access(endpoint, os.X_OK):
        m = imaplib.IMAP4_stream(endpoint)
        if m.state != 'AUTH':
            raise Failed('%s: no PREAUTH greeting' % endpoint)
    else:
        conf = {}
        with open(endpoint, encoding='utf-8') as fh:
            for ln in fh.read().splitlines():
                k, _, v = ln.partition(' ')
                conf[k] = v
        m = imaplib.IMAP4(conf['host'], int(conf['port']), timeout=60)
        m.login(conf['user'], conf['pass'])
    check(m.select('INBOX'), 'SELECT INBOX')
    return m


def check(res, what):
    typ, data = res
    if typ != 'OK':
        raise Failed('%s: %s %r' % (what, typ, data))
    return data


def append(m, side, n):
    """APPEND message n of side; its UID (APPENDUID, UIDPLUS)."""
    name = 'soak-%s-%d' % (side, n)
    msg = ('From: soak <soak@example.org>\r\n'
           'To: %s <%s@example.org>\r\n'
           'Subject: %s\r\n'
           'Message-ID: <%s@soak.example.org>\r\n'
           '\r\n'
           'Cycle %d, written on the %s side.\r\n' %
           (side, side, name, name, n, side)).encode()
    data = check(m.append('INBOX', None, None, msg), 'APPEND %s' % name)
    # Whatever the selected INBOX reported (EXISTS, RECENT, FETCH) is of
    # no use here: do not let it pile up.
    m.untagged_responses.clear()
    r = re.search(rb'\[APPENDUID \d+ (\d+)\]', data[-1] or b'')
    if not r:
        raise Failed('APPEND %s: no APPENDUID in %r' % (name, data))
    return int(r.group(1))


def store(m, uid, op, flag):
    check(m.uid('STORE', str(uid), op + 'FLAGS.SILENT', '(%s)' % flag),
          'UID STORE %d %sFLAGS %s' % (uid, op, flag))
    m.untagged_responses.clear()


def children(ppid):
    """{title: pid} of the processes whose parent is ppid."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d, 'rb') as fh:
                stat = fh.read()
            # The fields after "(comm)": state, ppid, ...
            rest = stat[stat.rindex(b')') + 2:].split()
            if int(rest[1]) != ppid:
                continue
            with open('/proc/%s/cmdline' % d, 'rb') as fh:
                title = fh.read().split(b'\0')[0].decode('latin-1')
        except (OSError, ValueError, IndexError):
            continue
        out[title] = int(d)
    return out


def rss_kb(pid):
    with open('/proc/%d/status' % pid, encoding='latin-1') as fh:
        for ln in fh:
            if ln.startswith('VmRSS:'):
                return int(ln.split()[1])
    raise Failed('process %d: no VmRSS' % pid)


def fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


class Soak:
    def __init__(self, args):
        self.a = args
        self.log = open(args.log, 'rb')
        self.partial = b''
        self.idles = 0
        self.pids = None
        self.samples = open(args.samples, 'w', encoding='utf-8')
        self.fdlist = open(args.samples + '.fds', 'w', encoding='utf-8')
        if args.db:
            self.dbsizes = open(args.samples + '.db', 'w', encoding='utf-8')

    def read_idles(self):
        """Counts the "engine: idle," lines FILE holds now."""
        data = self.log.read()
        if data:
            lines = (self.partial + data).split(b'\n')
            self.partial = lines.pop()
            self.idles += sum(1 for ln in lines if ln.startswith(IDLE))
        return self.idles

    def alive(self):
        try:
            os.kill(self.a.pid, 0)
        except OSError:
            return False
        # A zombie (the run has ended, not yet reaped) is not running.
        try:
            with open('/proc/%d/stat' % self.a.pid, 'rb') as fh:
                stat = fh.read()
            return stat[stat.rindex(b')') + 2:][:1] != b'Z'
        except OSError:
            return False

    def wait_idles(self, want, what):
        deadline = time.monotonic() + self.a.bound
        while self.read_idles() < want:
            if not self.alive():
                self.read_idles()
                if self.idles >= want:
                    break
                raise Failed('%s: the --watch run has ended' % what)
            if time.monotonic() > deadline:
                raise Failed('%s: no "engine: idle," after %g s (%d such '
                             'lines, %d wanted)' %
                             (what, self.a.bound, self.idles, want))
            time.sleep(0.002)

    def sample(self, cycle):
        kids = children(self.a.pid)
        pids = {'priv': self.a.pid}
        for role in ROLES[1:]:
            pid = kids.get('interimap: ' + role)
            if pid is None:
                raise Failed('cycle %d: no child "interimap: %s" (%r)' %
                             (cycle, role, kids))
            pids[role] = pid
        if self.pids is not None and pids != self.pids:
            raise Failed('cycle %d: children replaced: %r, before %r' %
                         (cycle, pids, self.pids))
        self.pids = pids
        for role in ROLES:
            pid = pids[role]
            self.samples.write('%d %s %d %d %d\n' %
                               (cycle, role, pid, rss_kb(pid), fds(pid)))
            # What each descriptor is, to tell which one came or went.
            for fd in sorted(os.listdir('/proc/%d/fd' % pid), key=int):
                try:
                    what = os.readlink('/proc/%d/fd/%s' % (pid, fd))
                except OSError:
                    what = '?'
                self.fdlist.write('%d %s %s %s\n' % (cycle, role, fd, what))
        if self.a.db:
            self.dbsizes.write('%d %d\n' %
                               (cycle, os.stat(self.a.db).st_size // 1024))
            self.dbsizes.flush()
        self.samples.flush()
        self.fdlist.flush()

    def run(self):
        a = self.a
        # The initial pass (started by the run itself) is over.
        self.wait_idles(1, 'the initial pass')
        conns = {'L': connect(a.local), 'R': connect(a.remote)}
        self.sample(0)
        uids = {'L': [], 'R': []}   # UID of each cycle's message, per side
        flags = {'L': [], 'R': []}  # its flags (a set), same index
        times = []
        nflag = 0
        t0 = time.monotonic()
        for n in range(1, a.cycles + 1):
            c0 = time.monotonic()
            for side in ('L', 'R'):
                uids[side].append(append(conns[side], side, n))
                flags[side].append(set())
            if n % a.flag_every == 0 and n > 4:
                side = 'LR'[nflag % 2]
                # A message of this side's from some cycles back (synced
                # since), and a real change: a flag it has not, or every
                # third time (or when it has them all) one it has.
                k = (n - 4 - (nflag * 7) % (n - 4)) - 1
                have = flags[side][k]
                if have and (nflag % 3 == 2 or len(have) == len(FLAGS)):
                    op, flag = '-', sorted(have)[0]
                    have.discard(flag)
                else:
                    op = '+'
                    flag = [f for f in FLAGS[nflag % len(FLAGS):] +
                            FLAGS[:nflag % len(FLAGS)] if f not in have][0]
                    have.add(flag)
                store(conns[side], uids[side][k], op, flag)
                nflag += 1
            want = self.idles + 1
            os.kill(a.pid, signal.SIGHUP)
            self.wait_idles(want, 'cycle %d' % n)
            times.append(time.monotonic() - c0)
            if n % a.every == 0 or n == a.cycles:
                self.sample(n)
                print('# cycle %d: %.1f s so far' %
                      (n, time.monotonic() - t0), flush=True)
        for m in conns.values():
            try:
                m.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        times.sort()
        print('# %d cycles in %.1f s; a cycle (two APPENDs, SIGHUP, the '
              'pass): median %.0f ms, 99th percentile %.0f ms, max %.0f ms; '
              '%d flag changes' %
              (a.cycles, time.monotonic() - t0,
               1000 * times[len(times) // 2],
               1000 * times[min(len(times) - 1, len(times) * 99 // 100)],
               1000 * times[-1], nflag), flush=True)
        with open(a.changes, 'w', encoding='utf-8') as fh:
            fh.write('%d\n' % nflag)
        hist = collections.Counter(
            ','.join(sorted(f)) if f else '-'
            for side in ('L', 'R') for f in flags[side])
        with open(a.flags, 'w', encoding='utf-8') as fh:
            for k in sorted(hist):
                fh.write('%d %s\n' % (hist[k], k))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--local', required=True)
    p.add_argument('--remote', required=True)
    p.add_argument('--pid', type=int, required=True)
    p.add_argument('--log', required=True)
    p.add_argument('--cycles', type=int, required=True)
    p.add_argument('--every', type=int, default=100)
    p.add_argument('--flag-every', type=int, default=5)
    p.add_argument('--bound', type=float, default=60)
    p.add_argument('--samples', required=True)
    p.add_argument('--flags', required=True)
    p.add_argument('--changes', required=True)
    p.add_argument('--db')
    a = p.parse_args()
    try:
        Soak(a).run()
    except (Failed, imaplib.IMAP4.error, OSError) as e:
        print('soakdrive: %s' % e, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
