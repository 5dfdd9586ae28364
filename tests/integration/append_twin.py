#!/usr/bin/env python3
"""A tunnel between interimap and a real IMAP tunnel (argv[1]) that, at
the first APPEND to MAILBOX (argv[2]), first appends the same message,
with the same date, itself, on a connection of its own: another client
adding a message like ours while our APPEND runs (net_uidplus.sh).
Everything else passes through unchanged.  Needs LITERAL+ (the message
follows its command line at once)."""
import re
import subprocess
import sys
import threading


def pump(src, dst):
    while True:
        data = src.read1(65536)
        if not data:
            break
        dst.write(data)
        dst.flush()
    dst.close()


def twin(tunnel, mailbox, date, body):
    """APPEND body to mailbox with date on a session of its own."""
    p = subprocess.Popen([tunnel], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    p.stdout.readline()                      # PREAUTH greeting
    p.stdin.write(b'T1 APPEND "%s" "%s" {%d+}\r\n' %
                  (mailbox, date, len(body)) + body + b'\r\n')
    p.stdin.write(b'T2 LOGOUT\r\n')
    p.stdin.flush()
    for ln in p.stdout:
        if ln.startswith(b'T1 ') and not ln.startswith(b'T1 OK'):
            sys.stderr.write('append_twin: %r\n' % ln)
            sys.exit(1)
        if ln.startswith(b'T2 '):
            break
    p.stdin.close()
    p.wait()


def main():
    tunnel, mailbox = sys.argv[1], sys.argv[2].encode()
    srv = subprocess.Popen([tunnel], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    cin, cout = sys.stdin.buffer, sys.stdout.buffer
    t = threading.Thread(target=pump, args=(srv.stdout, cout), daemon=True)
    t.start()
    done = False
    pat = re.compile(rb'^\S+ APPEND "?' + re.escape(mailbox) +
                     rb'"? .*?"([^"]+)" \{(\d+)\+\}\r\n$')
    while True:
        ln = cin.readline()
        if not ln:
            break
        m = None if done else pat.match(ln)
        if m:
            body = cin.read(int(m.group(2)))
            twin(tunnel, mailbox, m.group(1), body)
            done = True
            srv.stdin.write(ln + body)
        else:
            srv.stdin.write(ln)
        srv.stdin.flush()
    srv.stdin.close()
    srv.wait()
    t.join(5)


main()
