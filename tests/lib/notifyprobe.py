#!/usr/bin/python3
"""
What Dovecot 2.3 does with NOTIFY (RFC 5465), checked against a real
server: the facts tests/lib/NOTIFY-NOTES.md reports and interimap's
notify mode relies on.  Used by tests/integration/probe_notify.sh.

    notifyprobe.py ENDPOINT

ENDPOINT is a pre-authenticated tunnel command (common.sh's tunnel.sh).
Every line received is kept with its arrival time; the checks print TAP
lines ("ok - ..." / "not ok - ...") and, after a failure, the session's
recent lines.  Exit status 0 whatever the results (the shell test counts).

Timing margins are wide: Dovecot sends a pushed event 0.5 s after the
change (NOTIFY_DELAY_MSECS); "pushed" below means within PUSHED seconds,
"not pushed" means nothing within QUIET seconds, which stays well clear
of Dovecot's 30 s fallback timer (mailbox_idle_check_interval) because
every negative check starts right after a fresh NOTIFY SET.
"""

import re
import subprocess
import sys
import threading
import time

PUSHED = 3.0
QUIET = 3.0
EV = '(MessageNew MessageExpunge FlagChange)'
PERSONAL = ('(personal (MessageNew MessageExpunge FlagChange MailboxName '
            'SubscriptionChange))')
WITH_SELECTED = 'NOTIFY SET (SELECTED %s) %s' % (EV, PERSONAL)
T0 = time.monotonic()


class Session:
    """One IMAP session through the tunnel; a thread reads every line."""

    def __init__(self, name, endpoint):
        self.name = name
        self.proc = subprocess.Popen([endpoint], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        self.lines = []
        self.cond = threading.Condition()
        self.ntag = 0
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()
        if self.wait(r'^\* PREAUTH', 10) is None:
            raise RuntimeError('%s: no greeting' % name)

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait(self, regex, timeout, start=0):
        """The first line from index START matching REGEX, or None."""
        rx = re.compile(regex)
        end = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                for i in range(i, len(self.lines)):
                    if rx.search(self.lines[i][1]):
                        return self.lines[i]
                i = len(self.lines)
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self.cond.wait(left)

    def since(self, start):
        with self.cond:
            return [line for _, line in self.lines[start:]]

    def cmd(self, text, literal=None):
        """Send a command; return (tagged line, lines since it was sent)."""
        self.ntag += 1
        tag = '%s%d' % (self.name, self.ntag)
        start = self.mark()
        data = ('%s %s' % (tag, text)).encode()
        if literal is not None:
            data += b' {%d+}\r\n' % len(literal) + literal
        self.proc.stdin.write(data + b'\r\n')
        r = self.wait(r'^%s (OK|NO|BAD)' % tag, 30, start)
        if r is None:
            raise RuntimeError('%s: no answer to %s' % (self.name, text))
        return r[1], self.since(start)

    def close(self):
        try:
            self.cmd('LOGOUT')
        except (OSError, RuntimeError):
            pass
        self.proc.stdin.close()
        self.proc.wait(5)


MESSAGE = b'From: a@example.org\r\nSubject: probe\r\n\r\nprobe\r\n'
failed = [False]


def check(ok, what, session=None):
    print('%s - %s' % ('ok' if ok else 'not ok', what))
    if not ok:
        failed[0] = True
        if session is not None:
            for line in session.since(max(0, session.mark() - 15)):
                print('#   %s' % line[:200])
    sys.stdout.flush()


def pushed(w, change, regex, what):
    """CHANGE (a callable) then REGEX on W within PUSHED seconds."""
    start = w.mark()
    t = time.monotonic()
    change()
    r = w.wait(regex, PUSHED, start)
    check(r is not None, '%s (%s)' % (
        what, 'after %.2f s' % (r[0] - t) if r else 'nothing'), w)


def not_pushed(w, change, regex, what):
    start = w.mark()
    change()
    r = w.wait(regex, QUIET, start)
    check(r is None, what, w)


def main(endpoint):
    ch = Session('C', endpoint)
    ch.cmd('CREATE other')
    for box in ('INBOX', 'other', 'other'):
        ch.cmd('APPEND %s' % box, MESSAGE)

    def append(box):
        return lambda: ch.cmd('APPEND %s' % box, MESSAGE)

    def simple(text):
        return lambda: ch.cmd(text)

    w = Session('W', endpoint)
    w.cmd('ENABLE QRESYNC')

    # 1. One NOTIFY SET, nothing selected: every kind of change is pushed.
    w.cmd(WITH_SELECTED)
    pushed(w, append('INBOX'), r'^\* STATUS INBOX \(MESSAGES \d+ UIDNEXT',
           'INBOX: new message pushed as STATUS')
    pushed(w, append('other'), r'^\* STATUS other \(MESSAGES \d+ UIDNEXT',
           'other mailbox: new message pushed as STATUS')

    def flag_other():
        ch.cmd('SELECT other')
        ch.cmd('UID STORE 1 +FLAGS.SILENT ($Probe)')
        ch.cmd('UNSELECT')
    pushed(w, flag_other, r'^\* STATUS other \(HIGHESTMODSEQ \d+\)$',
           'keyword change: STATUS with HIGHESTMODSEQ alone')
    pushed(w, simple('CREATE newbox'), r'^\* LIST \([^)]*\) "/" newbox$',
           'CREATE pushed as LIST')
    pushed(w, simple('RENAME newbox newbox2'),
           r'^\* LIST \([^)]*\) "/" newbox2 \("OLDNAME" \(newbox\)\)$',
           'RENAME pushed as LIST with OLDNAME')
    pushed(w, simple('DELETE newbox2'),
           r'^\* LIST \(\\NonExistent\) "/" newbox2$',
           'DELETE pushed as LIST (\\NonExistent)')

    # 2. A second NOTIFY SET replacing the first: nothing is pushed any
    # more (until the 30 s timer); the next command brings it.
    w.cmd(WITH_SELECTED)
    not_pushed(w, append('other'), r'^\* STATUS other',
               'after a replacing NOTIFY SET: not pushed')
    _, got = w.cmd('NOOP')
    check(any(l.startswith('* STATUS other') for l in got),
          'after a replacing NOTIFY SET: the STATUS comes with NOOP', w)
    # NOTIFY NONE first, then NOTIFY SET: pushed again.
    w.cmd('NOTIFY NONE')
    w.cmd(WITH_SELECTED)
    pushed(w, append('other'), r'^\* STATUS other',
           'NOTIFY NONE then NOTIFY SET: pushed again')

    # 3. INBOX selected with the SELECTED group and left alone for more
    # than a second: once unselected, INBOX changes are no longer pushed
    # (other mailboxes still are); NOTIFY NONE + NOTIFY SET repairs it.
    w.cmd('SELECT INBOX')
    time.sleep(1.5)
    w.cmd('NOOP')
    w.cmd('UNSELECT')
    not_pushed(w, append('INBOX'), r'^\* STATUS INBOX',
               'after INBOX was selected and idle: INBOX not pushed')
    pushed(w, append('other'), r'^\* STATUS other',
           'after INBOX was selected and idle: other still pushed')
    w.cmd('NOTIFY NONE')
    w.cmd(WITH_SELECTED)
    pushed(w, append('INBOX'), r'^\* STATUS INBOX',
           'NOTIFY NONE then NOTIFY SET: INBOX pushed again')

    # 4. A change made right after the client's last command in the
    # selected mailbox is neither pushed nor reported after UNSELECT;
    # STATUS after UNSELECT shows it.
    _, got = w.cmd('SELECT other')
    exists = int([re.match(r'\* (\d+) EXISTS', l).group(1)
                  for l in got if re.match(r'\* \d+ EXISTS', l)][0])
    not_pushed(w, append('other'), r'^\* (\d+ EXISTS|STATUS other)',
               'selected mailbox, change within 1 s of the last command: '
               'not pushed')
    w.cmd('UNSELECT')
    r = w.wait(r'^\* STATUS other', QUIET, w.mark())
    check(r is None, 'nor reported after UNSELECT', w)
    _, got = w.cmd('STATUS other (MESSAGES)')
    check(any(l == '* STATUS other (MESSAGES %d)' % (exists + 1)
              for l in got), 'STATUS after UNSELECT shows it', w)

    # 5. NOTIFY without the SELECTED group: the FETCH answering the
    # client's own UID STORE is suppressed (tagged OK [HIGHESTMODSEQ]).
    w.cmd('NOTIFY NONE')
    w.cmd('NOTIFY SET ' + PERSONAL)
    w.cmd('SELECT other')
    tagged, got = w.cmd('UID STORE 1 +FLAGS (\\Flagged)')
    check(not any(re.match(r'\* \d+ FETCH', l) for l in got) and
          '[HIGHESTMODSEQ ' in tagged,
          'no SELECTED group: UID STORE answered without FETCH', w)
    w.cmd('UNSELECT')

    # 6. More than 100 mailbox names in one group.
    names = ' '.join('m%d' % i for i in range(101))
    tagged, _ = w.cmd('NOTIFY SET (MAILBOXES (%s) %s)' % (names, EV))
    check('NO [NOTIFICATIONOVERFLOW]' in tagged,
          '101 names: tagged NO [NOTIFICATIONOVERFLOW]', w)
    names = ' '.join('m%d' % i for i in range(100))
    tagged, _ = w.cmd('NOTIFY SET (MAILBOXES (%s) %s)' % (names, EV))
    check(' OK ' in tagged, '100 names: OK', w)

    w.close()
    ch.close()


if __name__ == '__main__':
    main(sys.argv[1])
