#!/usr/bin/python3
"""
What a [HIGHESTMODSEQ] response code from Dovecot covers, checked against
a real server while another client changes the mailbox: the fact the
engine's state rests on (netc_state.c, netc_code()).  Used by
tests/integration/probe_hms.sh.

    hmsprobe.py ENDPOINT ROUNDS

ENDPOINT is a pre-authenticated tunnel command (common.sh's tunnel.sh).
Session W (the writer) replaces the flags of UID 1 over and over, a
pause of 0 to 3 ms between its commands, and records the MODSEQ of each
change.  Session R (the reader), CONDSTORE and QRESYNC enabled, runs
ROUNDS rounds of one kind of command at a time and keeps, for UID 1, the
highest MODSEQ any answer has reported to it.  After each answer that
carries a code, it waits for the writer's answers to come in (5 ms),
then asks: is one of the writer's changes at or below the code, and
above what was reported?  Then the code covered a change that was never
reported with it ("uncovered").

Kinds:
  select   SELECT of another mailbox, then SELECT INBOX (QRESYNC) from
           the last code: the engine takes this code as reported;
  append   APPEND to INBOX, selected;
  noop     NOOP, INBOX selected;
  store    UID STORE of UID 2, INBOX selected.
For the last three, the engine takes a code as the live value only
(stop 26 and this probe found them uncovered now and then).

Prints one line per kind: "KIND: ROUNDS rounds, N with a code, U
uncovered, W changes by the writer"; exit status 0 whatever the counts
(the shell test judges).
"""

import random
import re
import subprocess
import sys
import threading
import time

MSG = b'From: probe@example.org\r\nSubject: hms\r\n\r\nbody\r\n'


class Session:
    def __init__(self, endpoint):
        self.p = subprocess.Popen([endpoint], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, bufsize=0)
        self.p.stdout.readline()
        self.n = 0

    def cmd(self, line, literal=None):
        self.n += 1
        tag = b'P%d' % self.n
        if literal is None:
            self.p.stdin.write(tag + b' ' + line + b'\r\n')
        else:
            self.p.stdin.write(tag + b' ' + line + b' {%d+}\r\n'
                               % len(literal) + literal + b'\r\n')
        out = []
        while True:
            ln = self.p.stdout.readline()
            if not ln:
                raise SystemExit('hmsprobe: the server went away')
            out.append(ln)
            if ln.startswith(tag + b' '):
                if not ln.startswith(tag + b' OK'):
                    raise SystemExit('hmsprobe: %r' % ln)
                return out

    def close(self):
        try:
            self.cmd(b'LOGOUT')
        except (SystemExit, BrokenPipeError):
            pass
        self.p.wait()


def uid1_modseq(lines):
    best = 0
    for ln in lines:
        if not ln.startswith(b'* ') or b' FETCH ' not in ln:
            continue
        if re.search(rb'\bUID 1\b', ln) is None and \
                not ln.startswith(b'* 1 FETCH'):
            continue
        m = re.search(rb'MODSEQ \((\d+)\)', ln)
        if m:
            best = max(best, int(m.group(1)))
    return best


def codes(lines):
    return [int(v) for ln in lines
            for v in re.findall(rb'\[HIGHESTMODSEQ (\d+)\]', ln)]


def probe(endpoint, kind, rounds):
    w = Session(endpoint)
    r = Session(endpoint)
    for s in (w, r):
        s.cmd(b'ENABLE QRESYNC')
    changes = []
    stop = threading.Event()

    def writer():
        w.cmd(b'SELECT INBOX')
        i = 0
        while not stop.is_set():
            i += 1
            for ln in w.cmd(b'UID STORE 1 FLAGS (w%d)' % (i % 7)):
                m = re.search(rb'MODSEQ \((\d+)\)', ln)
                if m and ln.startswith(b'* 1 FETCH'):
                    changes.append(int(m.group(1)))
            time.sleep(random.random() * 0.003)

    out = r.cmd(b'SELECT INBOX (CONDSTORE)')
    uv = int(re.search(rb'UIDVALIDITY (\d+)', b''.join(out)).group(1))
    last = max(codes(out))
    seen = 0
    with_code = uncovered = 0
    th = threading.Thread(target=writer)
    th.start()
    try:
        for i in range(rounds):
            if kind == 'select':
                time.sleep(random.random() * 0.004)
                r.cmd(b'SELECT other')
                out = r.cmd(b'SELECT INBOX (QRESYNC (%d %d))' % (uv, last))
            elif kind == 'append':
                out = r.cmd(b'APPEND INBOX', MSG)
            elif kind == 'noop':
                time.sleep(random.random() * 0.004)
                out = r.cmd(b'NOOP')
            else:
                out = r.cmd(b'UID STORE 2 FLAGS (r%d)' % (i % 5))
            seen = max(seen, uid1_modseq(out))
            cs = codes(out)
            if not cs:
                continue
            with_code += 1
            last = max(last, cs[-1])
            time.sleep(0.005)
            below = [m for m in list(changes) if m <= cs[-1]]
            if below and max(below) > seen:
                uncovered += 1
    finally:
        stop.set()
        th.join()
    w.close()
    r.close()
    print('%s: %d rounds, %d with a code, %d uncovered, %d changes by '
          'the writer' % (kind, rounds, with_code, uncovered, len(changes)))
    sys.stdout.flush()


def main():
    endpoint, rounds = sys.argv[1], int(sys.argv[2])
    s = Session(endpoint)
    s.cmd(b'ENABLE QRESYNC')
    s.cmd(b'CREATE other')
    for _ in range(3):
        s.cmd(b'APPEND INBOX', MSG)
    s.close()
    for kind in ('select', 'append', 'noop', 'store'):
        probe(endpoint, kind, rounds)


if __name__ == '__main__':
    main()
