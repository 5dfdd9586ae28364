#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_priv_msg and fuzz_engine_msg
(tests/fuzz/corpus/<name>/): a handful of valid messages per decoder,
as their targets read them (a selector byte, then the payload in the
IPC layout: u32/u64 little-endian, a string or data as u32 length then
the bytes, NULL as length 0xffffffff).  The constants come from the
ipc/ headers.  Run it again after a layout changes:

	python3 tests/fuzz/seeds.py
"""
import os
import re
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def defines(*headers):
    d = {}
    for h in headers:
        with open(os.path.join(TOP, "ipc", h)) as f:
            for m in re.finditer(r"^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)",
                                 f.read(), re.M):
                d[m.group(1)] = int(m.group(2), 0)
    return d


D = defines("catalogue.h", "proc.h", "imap_proto.h", "db_proto.h")


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def data(b):
    if b is None:
        return u32(0xffffffff)
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def write(target, seeds):
    d = os.path.join(TOP, "tests", "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, sel, payload in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([sel]) + payload)


def priv_msg():
    v = D["IPC_CATALOGUE_VERSION"]
    write("priv_msg", [
        ("ready", 0, u32(v)),
        ("ready-twice", 0x80, u32(v)),
        ("ready-stale", 0, u32(v + 1)),
        ("done-0", 1, u32(0)),
        ("done-255", 1, u32(255)),
        ("done-256", 1, u32(256)),
        ("status-syncing", 2, u32(D["ENGINE_ST_SYNCING"]) + u32(0) +
         u64(0)),
        ("status-idle", 2, u32(D["ENGINE_ST_IDLE"]) + u32(12) +
         u64(1700000000)),
        ("status-reconnect", 2, u32(D["ENGINE_ST_RECONNECT"]) + u32(3) +
         u64(1700000000)),
        ("progress", 3, u32(2) + u32(5) + u64(120) + u64(1 << 20) +
         u64(400)),
        ("progress-over", 3, u32(0) + u32(0) + u64(0) + u64(0) + u64(0)),
        ("progress-huge", 3, u32(0) + u32(0xffffffff) + u64(1) +
         u64(1 << 62) + u64((1 << 64) - 1)),
        ("lanes-4", 4, u32(4)),
        ("lanes-8", 0x84, u32(8)),
        ("lanes-9", 0x84, u32(9)),
    ])


def engine_msg():
    def done(status, code, cdata, text):
        return u32(status) + u32(code) + data(cdata) + data(text)

    def row(idx, name, has):
        b = u64(idx) + data(name) + u32(1) + u32(has)
        for s in range(2):
            b += u32(1700000000 + s) + u32(10 + s) + u64(500 + s)
        return b

    write("engine_msg", [
        ("done-ok", 0, done(D["IMAP_DONE_OK"], 0, "", "Completed")),
        ("done-uidvalidity", 0, done(D["IMAP_DONE_OK"],
         D["IMAP_CODE_UIDVALIDITY"], "1700000000", "Ok")),
        ("done-hms", 0, done(D["IMAP_DONE_OK"],
         D["IMAP_CODE_HIGHESTMODSEQ"], "18446744073709551615", "Ok")),
        ("done-appenduid", 0, done(D["IMAP_DONE_OK"],
         D["IMAP_CODE_APPENDUID"], "1700000000 4:6,9", "Append done")),
        ("done-no", 0, done(D["IMAP_DONE_NO"], D["IMAP_CODE_TRYCREATE"],
         "", "Mailbox doesn't exist")),
        ("code-uidnext", 1, u32(D["IMAP_CODE_UIDNEXT"]) + u64(42) +
         data(None)),
        ("code-closed", 1, u32(D["IMAP_CODE_CLOSED"]) + u64(0) + data("")),
        ("vanished", 2, u32(0) + data("3,5:7")),
        ("vanished-earlier", 2, u32(1) + data("1:100")),
        ("list-inbox", 3, u32(0x1) + u32(ord("/")) + data("INBOX")),
        ("list-nil", 3, u32(0) + u32(D["IMAP_DELIM_NIL"]) +
         data("Archive")),
        ("status", 4, data("INBOX") + u32(D["IMAP_ST_UIDVALIDITY"] |
         D["IMAP_ST_UIDNEXT"] | D["IMAP_ST_HIGHESTMODSEQ"]) +
         u32(1700000000) + u32(12) + u64(77) + u32(11)),
        ("result-ok", 5, u32(D["DB_RESULT_OK"]) + u64(7) + data(None)),
        ("result-error", 5, u32(D["DB_RESULT_ERROR"]) + u64(0) +
         data("database is locked")),
        ("mailbox-row", 6, row(1, "INBOX", 1)),
        ("mailbox-row-nested", 6, row(3, b"a\0b\0c", 0)),
        ("map-rows", 7, u64(1) + u32(3) + u32(1) + u32(11) + u32(2) +
         u32(12) + u32(4) + u32(14)),
        ("map-rows-none", 7, u64(2) + u32(0)),
    ])


def main():
    priv_msg()
    engine_msg()
    return 0


if __name__ == "__main__":
    sys.exit(main())
