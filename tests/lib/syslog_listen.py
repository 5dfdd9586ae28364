#!/usr/bin/python3
"""
A local syslog receiver for the tests: binds a unix datagram socket (what
/dev/log is) at PATH and appends each datagram it gets to OUT, one a
line, until it is killed.  The socket exists once the script has written
"ready" to its standard output.

    syslog_listen.py PATH OUT
"""

import os
import socket
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: syslog_listen.py PATH OUT\n')
        return 2
    path, out = argv[1], argv[2]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, 'ab', buffering=0) as f:
        sys.stdout.write('ready\n')
        sys.stdout.flush()
        while True:
            d = s.recv(65536)
            # A datagram is one line: newlines in it would be a bug.
            f.write(d.replace(b'\n', b'\\n') + b'\n')


if __name__ == '__main__':
    sys.exit(main(sys.argv))
