#!/usr/bin/env python3
"""Connections a test can cut or stall (priv_signals.sh, priv_reconnect.sh).

  relay_ctl.py tcp PORT TARGET_PORT DIR
      Listens on 127.0.0.1:PORT and relays every connection to
      127.0.0.1:TARGET_PORT.  Each accepted connection adds a line to
      DIR/accepted; SIGUSR1 cuts every open connection (both sockets
      closed, as a dropped link would be); SIGTERM ends the relay.
      DIR/listening appears once it listens.

  relay_ctl.py gate LIMIT DIR COMMAND [ARG...]
      A tunnel command in front of another one: runs COMMAND with pipes
      on its stdin and stdout and relays ours to them, until LIMIT bytes
      have gone to COMMAND.  Then DIR/paused appears and nothing moves
      either way until DIR/open exists: the server looks stalled in the
      middle of whatever was being sent.  (A gate opened before LIMIT is
      reached never closes.)

  relay_ctl.py cut UP DOWN DIR COMMAND [ARG...]
      A tunnel command in front of another one that drops the link once
      UP bytes have gone to COMMAND (UP > 0) or DOWN bytes have come from
      it (DOWN > 0): exactly that many are relayed, then COMMAND is
      killed and we exit, as a connection cut in the middle of an APPEND's
      literal or a FETCH's body.  DIR/cut then holds "up N down M"; while
      it exists, later runs are COMMAND itself (the link is back).

  relay_ctl.py overflow DIR COMMAND [ARG...]
      A tunnel command in front of another one that, once the server
      has answered OK to the client's NOTIFY SET, sends the client
      "* OK [NOTIFICATIONOVERFLOW] ..." as if the server had dropped
      events (RFC 5465 5.8).  DIR/overflow then exists; while it does,
      later runs are COMMAND itself.
"""

import os
import selectors
import signal
import socket
import subprocess
import sys
import time

CHUNK = 65536


def touch(path, text=""):
    with open(path, "a") as f:
        f.write(text)


def tcp(port, target, d):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    lsock.setblocking(False)
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    cut = [False]

    def on_usr1(signum, frame):
        cut[0] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, "listen")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    peer = {}
    touch(os.path.join(d, "listening"))

    def close_pair(s):
        o = peer.pop(s, None)
        for x in (s, o):
            if x is None:
                continue
            peer.pop(x, None)
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()

    while True:
        for key, _ in sel.select():
            what = key.data
            if what == "listen":
                try:
                    c, _ = lsock.accept()
                except BlockingIOError:
                    continue
                try:
                    s = socket.create_connection(("127.0.0.1", target))
                except OSError:
                    c.close()
                    continue
                peer[c] = s
                peer[s] = c
                sel.register(c, selectors.EVENT_READ, "conn")
                sel.register(s, selectors.EVENT_READ, "conn")
                touch(os.path.join(d, "accepted"), "conn\n")
            elif what == "wake":
                try:
                    wake_r.recv(64)
                except BlockingIOError:
                    pass
            else:
                s = key.fileobj
                if s not in peer:
                    continue
                try:
                    data = s.recv(CHUNK)
                except OSError:
                    data = b""
                if not data:
                    close_pair(s)
                    continue
                try:
                    peer[s].sendall(data)
                except OSError:
                    close_pair(s)
        if cut[0]:
            cut[0] = False
            for s in list(peer):
                if s in peer:
                    # RST rather than FIN: a link that died, not a
                    # server that said goodbye.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    close_pair(s)
            touch(os.path.join(d, "cuts"), "cut\n")


def gate(limit, d, cmd):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    to_cmd = p.stdin.fileno()
    from_cmd = p.stdout.fileno()
    os.set_blocking(0, False)
    os.set_blocking(from_cmd, False)
    sent = 0
    inputs = {0: to_cmd, from_cmd: 1}
    opened = os.path.join(d, "open")
    while inputs:
        if sent >= limit and not os.path.exists(opened):
            if not os.path.exists(os.path.join(d, "paused")):
                touch(os.path.join(d, "paused"))
            time.sleep(0.05)
            continue
        sel = selectors.DefaultSelector()
        for fd in inputs:
            sel.register(fd, selectors.EVENT_READ)
        for key, _ in sel.select(0.2):
            fd = key.fileobj
            n = CHUNK
            if fd == 0 and not os.path.exists(opened):
                n = max(1, min(CHUNK, limit - sent))
            try:
                data = os.read(fd, n)
            except BlockingIOError:
                continue
            if not data:
                out = inputs.pop(fd)
                if out == to_cmd:
                    p.stdin.close()
                else:
                    return
                continue
            os.set_blocking(inputs[fd], True)
            _write_all(inputs[fd], data)
            if fd == 0:
                sent += len(data)
        sel.close()


def cut(up_limit, down_limit, d, cmd):
    marker = os.path.join(d, "cut")
    if os.path.exists(marker):
        os.execvp(cmd[0], cmd)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    to_cmd = p.stdin.fileno()
    from_cmd = p.stdout.fileno()
    count = {0: 0, from_cmd: 0}
    limit = {0: up_limit, from_cmd: down_limit}
    out = {0: to_cmd, from_cmd: 1}
    sel = selectors.DefaultSelector()
    for fd in out:
        sel.register(fd, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            fd = key.fileobj
            n = CHUNK
            if limit[fd] > 0:
                n = max(1, min(CHUNK, limit[fd] - count[fd]))
            data = os.read(fd, n)
            if not data:
                p.kill()
                return
            _write_all(out[fd], data)
            count[fd] += len(data)
            if limit[fd] > 0 and count[fd] >= limit[fd]:
                touch(marker, "up %d down %d\n" % (count[0],
                                                   count[from_cmd]))
                p.kill()
                p.wait()
                os._exit(0)


def overflow(d, cmd):
    marker = os.path.join(d, "overflow")
    if os.path.exists(marker):
        os.execvp(cmd[0], cmd)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    to_cmd = p.stdin.fileno()
    from_cmd = p.stdout.fileno()
    out = {0: to_cmd, from_cmd: 1}
    sel = selectors.DefaultSelector()
    for fd in out:
        sel.register(fd, selectors.EVENT_READ)
    up = b""            # the client's lines, for NOTIFY SET's tag
    down = b""          # the server's, for that tag's OK
    tag = None
    done = False
    while True:
        for key, _ in sel.select():
            fd = key.fileobj
            data = os.read(fd, CHUNK)
            if not data:
                p.kill()
                return
            if done:
                _write_all(out[fd], data)
                continue
            if fd == 0:
                _write_all(out[fd], data)
                up += data
                while b"\r\n" in up:
                    line, up = up.split(b"\r\n", 1)
                    w = line.split(b" ", 3)
                    if len(w) >= 3 and w[1].upper() == b"NOTIFY" and \
                            w[2].upper() == b"SET":
                        tag = w[0]
                continue
            down += data
            # Whole lines only: the overflow goes between two of them.
            cut = down.rfind(b"\r\n")
            if cut < 0:
                continue
            lines, down = down[:cut + 2], down[cut + 2:]
            _write_all(1, lines)
            if tag is not None and any(
                    x.startswith(tag + b" OK")
                    for x in lines.split(b"\r\n")):
                _write_all(1, b"* OK [NOTIFICATIONOVERFLOW] events "
                           b"dropped (relay_ctl.py)\r\n")
                touch(marker)
                done = True
                if down:
                    _write_all(1, down)
                    down = b""


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "tcp":
        tcp(int(a[1]), int(a[2]), a[3])
    elif len(a) >= 4 and a[0] == "gate":
        gate(int(a[1]), a[2], a[3:])
    elif len(a) >= 3 and a[0] == "overflow":
        overflow(a[1], a[2:])
    elif len(a) >= 5 and a[0] == "cut":
        cut(int(a[1]), int(a[2]), a[3], a[4:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
