#!/usr/bin/python3
"""A service manager's end of sd_notify(3), for the tests.

    notify_listen.py ADDRESS OUTFILE

Binds an AF_UNIX datagram socket to ADDRESS (a path, or "@name" for an
abstract one), as systemd does for $NOTIFY_SOCKET: anyone may send to it
(a path socket is mode 0777), and SO_PASSCRED gives each datagram its
sender's PID.  Each datagram is
appended to OUTFILE as one line, "PID<TAB>KEY=VALUE|KEY=VALUE..." (its
newlines shown as "|"), and flushed at once.  OUTFILE exists, empty, as
soon as the socket is bound.  Runs until SIGTERM.
"""

import os
import signal
import socket
import struct
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    address, outfile = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    if address.startswith("@"):
        sock.bind("\0" + address[1:])
    else:
        sock.bind(address)
        os.chmod(address, 0o777)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ucred = struct.calcsize("iII")
    with open(outfile + ".tmp", "w") as out:
        os.rename(outfile + ".tmp", outfile)
        while True:
            data, ancdata, _, _ = sock.recvmsg(65536,
                                               socket.CMSG_SPACE(ucred))
            pid = -1
            for level, kind, cdata in ancdata:
                if (level == socket.SOL_SOCKET and
                        kind == socket.SCM_CREDENTIALS):
                    pid = struct.unpack("iII", cdata[:ucred])[0]
            text = data.decode("utf-8", "replace").replace("\n", "|")
            out.write("%d\t%s\n" % (pid, text))
            out.flush()


if __name__ == "__main__":
    sys.exit(main())
