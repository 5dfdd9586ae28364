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

import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapctl  # noqa: E402

MSG = b'From: probe@example.org\r\nSubject: hms\r\n\r\nbody\r\n'


def cmd(c, line, literal=None):
    """Every response line of the command, the tagged one last."""
    untagged, tagged = c.command(line, literal)
    return untagged + [tagged]


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
    w = imapctl.Conn(endpoint)
    r = imapctl.Conn(endpoint)
    for c in (w, r):
        c.command(b'ENABLE QRESYNC')
    changes = []
    stop = threading.Event()

    def writer():
        w.command(b'SELECT INBOX')
        i = 0
        while not stop.is_set():
            i += 1
            for ln in cmd(w, b'UID STORE 1 FLAGS (w%d)' % (i % 7)):
                m = re.search(rb'MODSEQ \((\d+)\)', ln)
                if m and ln.startswith(b'* 1 FETCH'):
                    changes.append(int(m.group(1)))
            time.sleep(random.random() * 0.003)

    out = cmd(r, b'SELECT INBOX (CONDSTORE)')
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
                r.command(b'SELECT other')
                out = cmd(r, b'SELECT INBOX (QRESYNC (%d %d))' % (uv, last))
            elif kind == 'append':
                out = cmd(r, b'APPEND INBOX', MSG)
            elif kind == 'noop':
                time.sleep(random.random() * 0.004)
                out = cmd(r, b'NOOP')
            else:
                out = cmd(r, b'UID STORE 2 FLAGS (r%d)' % (i % 5))
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
    c = imapctl.Conn(endpoint)
    c.command(b'ENABLE QRESYNC')
    c.command(b'CREATE other')
    for _ in range(3):
        c.command(b'APPEND INBOX', MSG)
    c.close()
    for kind in ('select', 'append', 'noop', 'store'):
        probe(endpoint, kind, rounds)


if __name__ == '__main__':
    main()
