#!/usr/bin/env python3
"""
bench/notify.sh's driver: the reaction time of a running --notify.

    notifylat.py LOCAL_ENDPOINT REMOTE_ENDPOINT N CAP OUT

Makes N changes, one at a time, alternating sides and mailboxes (a new
message in INBOX, a new message in Lists, a flag change on an existing
message), each on one server, and measures how long until the other
server's copy of that mailbox shows it: its HIGHESTMODSEQ grows (an
APPEND or a STORE by the synchroniser both raise it).  The other side is
polled with STATUS every 10 ms over one connection; a change not seen
within CAP seconds counts as CAP and is marked "missed".  One line per
change to OUT (tab-separated: n, side, mailbox, kind, seconds, seen).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'tests', 'lib'))
import imapctl                                  # noqa: E402


def hms(c, mailbox):
    untagged, _ = c.command(b'STATUS ' + imapctl.quote(mailbox) +
                            b' (HIGHESTMODSEQ MESSAGES)')
    for r in untagged:
        n, p = imapctl.untagged_data(r, b'STATUS')
        if p is None:
            continue
        p.value()
        lst = p.value()
        d = {lst[k].upper(): lst[k + 1] for k in range(0, len(lst) - 1, 2)}
        return int(d[b'HIGHESTMODSEQ'])
    raise imapctl.ImapError('no STATUS for %r' % mailbox)


def main():
    lend, rend, n, cap, out = sys.argv[1:6]
    n, cap = int(n), float(cap)
    conns = {'local': imapctl.Conn(lend), 'remote': imapctl.Conn(rend)}
    for c in conns.values():
        c.command(b'ENABLE CONDSTORE', check=False)
    kinds = ['new', 'new', 'flag']
    with open(out, 'w') as f:
        for i in range(n):
            side = ('local', 'remote')[i % 2]
            other = 'remote' if side == 'local' else 'local'
            mbx = (b'INBOX', b'Lists')[(i // 2) % 2]
            kind = kinds[i % 3]
            src, dst = conns[side], conns[other]
            before = hms(dst, mbx)
            t0 = time.monotonic()
            if kind == 'new':
                body = (b'From: bench@example.org\r\nSubject: n%d\r\n'
                        b'Message-ID: <n%d.%d@bench>\r\n\r\nbody %d\r\n' %
                        (i, i, os.getpid(), i))
                src.command(b'APPEND ' + imapctl.quote(mbx), literal=body)
            else:
                src.command(b'SELECT ' + imapctl.quote(mbx))
                src.command(b'UID STORE 1 FLAGS (\\Seen $N%d)' % i)
                src.command(b'UNSELECT')
            seen = False
            while time.monotonic() - t0 < cap:
                if hms(dst, mbx) > before:
                    seen = True
                    break
                time.sleep(0.01)
            dt = time.monotonic() - t0 if seen else cap
            f.write('%d\t%s\t%s\t%s\t%.3f\t%s\n' % (
                i + 1, side, mbx.decode(), kind, dt,
                'yes' if seen else 'missed'))
            f.flush()
            # Let the run settle: the next change is another event.
            time.sleep(0.5)
    for c in conns.values():
        c.close()


if __name__ == '__main__':
    main()
