#!/usr/bin/python3
"""
Measure the delay relay (bench/relay.c) so that the benchmark can show it
is not what it measures.

    relaycheck.py RELAY_BINARY DELAY_MS...

For each one-way delay D (ms) it starts a relay in front of a local
echo/bulk server and prints one Markdown table row:

    | D | rtt direct (ms) | rtt via relay (ms) | MiB/s direct | MiB/s relay |

The round trip is the median of many 1-byte ping-pongs; the throughput
is one bulk transfer of 256 MiB from server to client (the direction of a
first sync), read in 1 MiB pieces.
"""

import socket
import statistics
import subprocess
import sys
import threading
import time

BULK = 256 << 20


def server(lsock):
    """Per connection: first byte 'p' = echo 1-byte pings, 'b' = bulk."""
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve_one, args=(c,), daemon=True).start()


def serve_one(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    kind = c.recv(1)
    if kind == b'p':
        c.sendall(b'p')
        while True:
            b = c.recv(1)
            if not b:
                break
            c.sendall(b)
    elif kind == b'b':
        block = b'x' * (1 << 20)
        for _ in range(BULK // len(block)):
            c.sendall(block)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
    c.close()


def connect(port):
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rtt(port, n):
    s = connect(port)
    s.sendall(b'p')
    s.recv(1)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b'.')
        if s.recv(1) != b'.':
            raise SystemExit('relaycheck: ping lost')
        times.append(time.perf_counter() - t)
    s.close()
    return statistics.median(times) * 1000


def bulk(port):
    s = connect(port)
    t = time.perf_counter()
    s.sendall(b'b')
    buf = bytearray(1 << 20)
    got = 0
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        got += n
    el = time.perf_counter() - t
    s.close()
    if got != BULK:
        raise SystemExit('relaycheck: bulk got %d of %d bytes' % (got, BULK))
    return BULK / el / (1 << 20)


def main():
    relay = sys.argv[1]
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    threading.Thread(target=server, args=(lsock,), daemon=True).start()
    direct_rtt = rtt(port, 2000)
    direct_bw = bulk(port)
    for d in sys.argv[2:]:
        p = subprocess.Popen([relay, '-d', str(int(float(d) * 1000)),
                              '-s', '/dev/null', '0', str(port)],
                             stdout=subprocess.PIPE)
        line = p.stdout.readline().split()
        rport = int(line[1])
        n = 2000 if float(d) == 0 else 50
        relay_rtt = rtt(rport, n)
        relay_bw = bulk(rport)
        p.terminate()
        p.wait()
        print('| %s | %.3f | %.3f | %.0f | %.0f |' % (
            d, direct_rtt, relay_rtt, direct_bw, relay_bw))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
