#!/usr/bin/python3
"""
Test-side tool of the scale tests (tests/lib/scale.sh): fills, thins,
dumps and cross-checks whole mail stores in one connection per store,
through a server's tunnel.sh, as tests/lib/imapctl.py does for single
commands (it builds on imapctl: same parser, same dump format as
mail_dump).

    scalectl.py TUNNEL gen <SPEC
        SPEC: one line per run of messages,
            MAILBOX<TAB>TAG<TAB>FIRST<TAB>LAST[<TAB>STEP]
        appends messages number FIRST, FIRST+STEP, ... <= LAST of series
        TAG (created mailbox if needed), MULTIAPPEND with LITERAL+ in
        batches.  Message (TAG, N) is always the same bytes, flags and
        INTERNALDATE, whichever store or mailbox it goes to; INTERNALDATEs
        differ between numbers of one series.
    scalectl.py TUNNEL thin MAILBOX KEEP SEED
        expunges messages chosen at random (random.Random(SEED)) so that
        KEEP of them stay, their UIDs scattered.
    scalectl.py TUNNEL mkboxes <NAMES       creates (and subscribes) each
    scalectl.py TUNNEL dumpall [SEP]
        every selectable mailbox, sorted by name (its delimiter shown as
        SEP), "== NAME" then the mail_dump lines of its messages.
    scalectl.py TUNNEL poke <EDITS
        EDITS: one line per change to the K-th message (by UID, from 1)
        of a mailbox, MAILBOX<TAB>store<TAB>K<TAB>+|-|=<TAB>FLAG...
        or MAILBOX<TAB>expunge<TAB>K.
    scalectl.py merge3 BASE LOCAL REMOTE
        what both stores must hold once synced, from dumpall files (SEP
        "/"): BASE as the last sync left them (may be empty), LOCAL and
        REMOTE as they are now.  A message of BASE stays if it is on
        both sides, with the flags of the side that changed them (the
        union if both did); a message not in BASE (new) is on both
        sides.  Mailboxes: those of either side.  Messages are told
        apart by their SHA-256 (the tests make no two alike).
    scalectl.py dbcheck DB LOCAL_TUNNEL REMOTE_TUNNEL [MODE [OUTPREFIX]]
        the database against both stores (see dbcheck()); prints what is
        wrong, one line each, and a summary; status 1 if anything is.
        With OUTPREFIX, also the dumpall of each store (delimiter "/")
        in OUTPREFIX.local and OUTPREFIX.remote.

Everything is generated without quadratic byte-string building: a batch
is a list of parts joined once.
"""

import hashlib
import os
import random
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapctl  # noqa: E402

MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep',
          'Oct', 'Nov', 'Dec']
DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
BATCH_MSGS = 500
BATCH_BYTES = 4 << 20
# 2020-01-01 00:00:00 UTC; numbers are 61 s apart.
EPOCH = 1577836800


def message(tag, n):
    """(bytes, flags, internaldate) of message N of series TAG."""
    t = EPOCH + n * 61 + (sum(tag.encode()) % 59)
    tm = time.gmtime(t)
    internal = '%02d-%s-%04d %02d:%02d:%02d +0000' % (
        tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour,
        tm.tm_min, tm.tm_sec)
    hdate = '%s, %d %s %04d %02d:%02d:%02d +0000' % (
        DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
        tm.tm_hour, tm.tm_min, tm.tm_sec)
    body = ('From: Scale Sender <s%d@example.org>\r\n'
            'To: Scale User <user@example.net>\r\n'
            'Subject: %s message %d\r\n'
            'Date: %s\r\n'
            'Message-ID: <%s.%d@scale.example.org>\r\n'
            '\r\n'
            'Message %d of series %s.\r\n'
            '%s\r\n' % (n % 97, tag, n, hdate, tag, n, n, tag,
                        'abcdefghij' * (4 + n % 17))).encode()
    flags = []
    if n % 3 == 0:
        flags.append('\\Seen')
    if n % 11 == 0:
        flags.append('\\Flagged')
    if n % 29 == 0:
        flags.append('$Scale')
    return body, flags, internal


def command(c, parts):
    """Send one command made of PARTS (joined once); wait for its end."""
    c.tagn += 1
    tag = b'c%d' % c.tagn
    c.proc.stdin.write(b''.join([tag, b' '] + parts + [b'\r\n']))
    c.proc.stdin.flush()
    untagged = []
    while True:
        r = c.response()
        if r.startswith(tag + b' '):
            if r.split(b' ', 2)[1].upper() != b'OK':
                raise imapctl.Refused(r.decode('latin-1').rstrip())
            return untagged
        untagged.append(r)


def multiappend(c, mailbox, msgs):
    """Append [(bytes, flags, internaldate)] in batches (LITERAL+)."""
    i = 0
    while i < len(msgs):
        parts = [b'APPEND ', imapctl.quote(mailbox)]
        size = n = 0
        while i < len(msgs) and n < BATCH_MSGS and size < BATCH_BYTES:
            data, flags, date = msgs[i]
            parts.append(b' (' + ' '.join(flags).encode() + b') "' +
                         date.encode() + b'" {%d+}\r\n' % len(data))
            parts.append(data)
            size += len(data)
            n += 1
            i += 1
        command(c, parts)


def do_gen(c, spec):
    created = set()
    for line in spec:
        line = line.rstrip('\n')
        if not line or line.startswith('#'):
            continue
        f = line.split('\t')
        if len(f) < 4:
            raise imapctl.ImapError('gen: bad spec line %r' % line)
        mailbox, tag, first, last = f[0], f[1], int(f[2]), int(f[3])
        step = int(f[4]) if len(f) > 4 else 1
        if mailbox not in created:
            imapctl.create(c, mailbox)
            created.add(mailbox)
        multiappend(c, mailbox,
                    [message(tag, n) for n in range(first, last + 1, step)])


def uid_sets(uids, maxlen=4000):
    """Short UID sets covering UIDS (sorted), each at most ~maxlen."""
    out, cur, clen = [], [], 0
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        r = str(uids[i]) if i == j else '%d:%d' % (uids[i], uids[j])
        if clen + len(r) + 1 > maxlen and cur:
            out.append(','.join(cur))
            cur, clen = [], 0
        cur.append(r)
        clen += len(r) + 1
        i = j + 1
    if cur:
        out.append(','.join(cur))
    return out


def do_thin(c, mailbox, keep, seed):
    rng = random.Random(seed)
    imapctl.select(c, mailbox, readonly=False)
    uids = sorted(int(d[b'UID']) for d in imapctl.fetch_all(c, b'UID'))
    if keep > len(uids):
        raise imapctl.ImapError('thin: %d messages, cannot keep %d' % (
            len(uids), keep))
    drop = sorted(rng.sample(uids, len(uids) - keep))
    for s in uid_sets(drop):
        command(c, [b'UID STORE ', s.encode(),
                    b' +FLAGS.SILENT (\\Deleted)'])
        command(c, [b'UID EXPUNGE ', s.encode()])


def do_mkboxes(c, names):
    for name in names:
        name = name.rstrip('\n')
        if not name:
            continue
        imapctl.create(c, name)
        command(c, [b'SUBSCRIBE ', imapctl.quote(name)])


def do_poke(c, edits):
    by_box = {}
    for line in edits:
        line = line.rstrip('\n')
        if not line:
            continue
        f = line.split('\t')
        by_box.setdefault(f[0], []).append(f[1:])
    for mailbox, todo in by_box.items():
        imapctl.select(c, mailbox, readonly=False)
        uids = sorted(int(d[b'UID']) for d in imapctl.fetch_all(c, b'UID'))
        gone = []
        for f in todo:
            uid = b'%d' % uids[int(f[1]) - 1]
            if f[0] == 'store':
                item = {'+': b'+FLAGS.SILENT', '-': b'-FLAGS.SILENT',
                        '=': b'FLAGS.SILENT'}[f[2]]
                command(c, [b'UID STORE ', uid, b' ', item, b' (',
                            ' '.join(f[3:]).encode(), b')'])
            elif f[0] == 'expunge':
                command(c, [b'UID STORE ', uid,
                            b' +FLAGS.SILENT (\\Deleted)'])
                gone.append(uid)
            else:
                raise imapctl.ImapError('poke: bad edit %r' % f)
        if gone:
            command(c, [b'UID EXPUNGE ', b','.join(gone)])
        command(c, [b'UNSELECT'])


def read_dump(path):
    """{mailbox: {sha: (flags, date)}} of a dumpall file."""
    out = {}
    cur = None
    with open(path) as fh:
        for line in fh:
            line = line.rstrip('\n')
            if line.startswith('== '):
                cur = out.setdefault(line[3:], {})
            elif line:
                sha, flags, date = line.split(' ', 2)
                cur[sha] = (flags, date)
    return out


def do_merge3(base, local, remote):
    b, l, r = read_dump(base), read_dump(local), read_dump(remote)
    out = []
    for name in sorted(set(l) | set(r)):
        bm, lm, rm = b.get(name, {}), l.get(name, {}), r.get(name, {})
        lines = []
        for sha in set(lm) | set(rm):
            if sha in bm:
                if sha not in lm or sha not in rm:
                    continue
                bf, lf, rf = bm[sha][0], lm[sha][0], rm[sha][0]
                if lf == bf:
                    flags = rf
                elif rf == bf or rf == lf:
                    flags = lf
                else:
                    u = sorted((set(lf.split(',')) | set(rf.split(',')))
                               - {'-'})
                    flags = ','.join(u) if u else '-'
                date = lm[sha][1]
            else:
                flags, date = (lm.get(sha) or rm.get(sha))
            lines.append('%s %s %s' % (sha, flags, date))
        out.append('== ' + name)
        out.extend(sorted(lines))
    sys.stdout.write('\n'.join(out) + '\n')


def listing(c):
    """{name: (attrs, delim)} of LIST "" "*"."""
    return imapctl.parse_list(command(c, [b'LIST "" "*"']), b'LIST')


def selectable(listed):
    return sorted(n for n, (a, _) in listed.items()
                  if '\\noselect' not in a and '\\nonexistent' not in a)


def messages(c, name):
    """{uid: (sha256, flags, internaldate)} of mailbox NAME."""
    out = {}
    if imapctl.select(c, name) == 0:
        return out
    for d in imapctl.fetch_all(c, b'UID FLAGS INTERNALDATE BODY.PEEK[]'):
        body = d.get(b'BODY[]') or b''
        flags = sorted(f.decode('latin-1') for f in d.get(b'FLAGS', [])
                       if f.upper() != b'\\RECENT')
        out[int(d[b'UID'])] = (hashlib.sha256(body).hexdigest(),
                               ','.join(flags) if flags else '-',
                               d[b'INTERNALDATE'].decode('latin-1'))
    return out


def do_dumpall(c, sep):
    listed = listing(c)
    w = []
    for name in selectable(listed):
        delim = listed[name][1]
        shown = name.decode('latin-1')
        if sep is not None and delim is not None:
            shown = shown.replace(delim.decode('latin-1'), sep)
        lines = sorted('%s %s %s' % v for v in messages(c, name).values())
        w.append((shown, lines))
    out = []
    for shown, lines in sorted(w):
        out.append('== ' + shown)
        out.extend(lines)
    sys.stdout.write('\n'.join(out) + '\n')


def status(c, name):
    untagged = command(c, [b'STATUS ', imapctl.quote(name),
                           b' (UIDNEXT UIDVALIDITY HIGHESTMODSEQ)'])
    for r in untagged:
        _, p = imapctl.untagged_data(r, b'STATUS')
        if p is None:
            continue
        p.value()
        lst = p.value()
        return {lst[k].decode().upper(): int(lst[k + 1])
                for k in range(0, len(lst) - 1, 2)}
    raise imapctl.ImapError('no STATUS for %r' % name)


def dbcheck(db, ltun, rtun, mode, outprefix=None):
    """The database against both stores, after a run that completed:

    - every selectable mailbox of either store has a `mailboxes` row, and
      every row names a mailbox that exists on both sides (its NULs the
      side's delimiter), with `local` and `remote` rows whose UIDVALIDITY
      is the server's and whose UIDNEXT and HIGHESTMODSEQ are not past
      the server's;
    - `mapping` maps every message of each side exactly once (as many
      rows as messages on each side), each lUID and rUID exists, the two
      are the same message (same SHA-256, same INTERNALDATE) and no
      mapped UID is at or past the stored UIDNEXT (that would be an
      interrupted sync left for the next run);
    - with MODE "exact", the stored UIDNEXTs are the servers' (nothing
      happened on a server after the run).

    With OUTPREFIX, the dumpall of each store (delimiter shown as "/")
    goes to OUTPREFIX.local and OUTPREFIX.remote: the stores are read
    once for both.
    """
    problems = []
    boxes = {}
    state = {'local': {}, 'remote': {}}
    mapping = {}
    nmap = 0
    try:
        con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
        for idx, name, sub in con.execute(
                'SELECT idx, mailbox, subscribed FROM mailboxes'):
            boxes[idx] = bytes(name)
        for side in state:
            for idx, uv, un, hm in con.execute(
                    'SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ '
                    'FROM %s' % side):
                state[side][idx] = (uv, un, hm & 0xffffffffffffffff)
        for idx, lu, ru in con.execute(
                'SELECT idx, lUID, rUID FROM mapping'):
            mapping.setdefault(idx, []).append((lu, ru))
            nmap += 1
        con.close()
    except sqlite3.Error as e:
        problems.append('database %s: %s' % (db, e))
    known = set(boxes.values())

    # Each store as {internal name: (status, {uid: message})}.
    nmsgs = 0
    store = {}
    for side, tun in (('local', ltun), ('remote', rtun)):
        c = imapctl.Conn(tun)
        listed = listing(c)
        names = selectable(listed)
        delim = None
        for n in names:
            if n.upper() != b'INBOX' and listed[n][1] is not None:
                delim = listed[n][1]
                break
        if delim is None:
            delim = b'/'
        store[side] = {}
        for n in names:
            iname = n.replace(delim, b'\0')
            store[side][iname] = (status(c, n), messages(c, n))
            nmsgs += len(store[side][iname][1])
            if iname not in known:
                problems.append('%s: mailbox %r has no database row' % (
                    side, n.decode('latin-1')))
        c.close()
        if outprefix is not None:
            out = []
            for iname in sorted(store[side],
                                key=lambda x: x.replace(b'\0', b'/')):
                out.append('== ' + iname.replace(b'\0', b'/').decode(
                    'latin-1'))
                out.extend(sorted('%s %s %s' % v
                                  for v in store[side][iname][1].values()))
            with open('%s.%s' % (outprefix, side), 'w') as fh:
                fh.write('\n'.join(out) + '\n')

    for idx in sorted(boxes):
        iname = boxes[idx]
        pretty = iname.replace(b'\0', b'/').decode('latin-1')
        msgs = {}
        for side in ('local', 'remote'):
            if iname not in store[side]:
                problems.append('%s: mailbox %s (idx %d) missing' % (
                    side, pretty, idx))
                continue
            if idx not in state[side]:
                problems.append('%s: mailbox %s (idx %d): no row in table '
                                '%s' % (side, pretty, idx, side))
                continue
            st, msgs[side] = store[side][iname]
            uv, un, hm = state[side][idx]
            if uv != st['UIDVALIDITY']:
                problems.append('%s: %s: UIDVALIDITY %d in the database, '
                                '%d on the server' % (side, pretty, uv,
                                                      st['UIDVALIDITY']))
            if un > st['UIDNEXT'] or (mode == 'exact' and
                                      un != st['UIDNEXT']):
                problems.append('%s: %s: UIDNEXT %d in the database, %d '
                                'on the server' % (side, pretty, un,
                                                   st['UIDNEXT']))
            if hm > st['HIGHESTMODSEQ']:
                problems.append('%s: %s: HIGHESTMODSEQ %d in the database, '
                                '%d on the server' % (side, pretty, hm,
                                                      st['HIGHESTMODSEQ']))
        if len(msgs) != 2:
            continue
        pairs = mapping.get(idx, [])
        for side in ('local', 'remote'):
            if len(pairs) != len(msgs[side]):
                problems.append('%s: %s: %d messages, %d mapping rows' % (
                    side, pretty, len(msgs[side]), len(pairs)))
        bad = 0
        lnext = state['local'][idx][1]
        rnext = state['remote'][idx][1]
        for lu, ru in pairs:
            lm = msgs['local'].get(lu)
            rm = msgs['remote'].get(ru)
            why = None
            if lm is None or rm is None:
                why = 'no such message on %s' % (
                    'local' if lm is None else 'remote')
            elif lm[0] != rm[0] or lm[2] != rm[2]:
                why = 'different messages'
            elif lu >= lnext or ru >= rnext:
                why = 'UID at or past the stored UIDNEXT'
            if why is not None:
                bad += 1
                if bad <= 5:
                    problems.append('%s: mapping (%d,%d): %s' % (
                        pretty, lu, ru, why))
        if bad > 5:
            problems.append('%s: ... %d bad mapping rows in all' % (
                pretty, bad))
    for p in problems:
        print('dbcheck: ' + p)
    print('dbcheck: %d mailboxes, %d mapping rows, %d messages (both '
          'sides), %d problem(s)' % (len(boxes), nmap, nmsgs,
                                     len(problems)))
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == 'dbcheck':
        return dbcheck(argv[2], argv[3], argv[4],
                       argv[5] if len(argv) > 5 else 'loose',
                       argv[6] if len(argv) > 6 else None)
    if len(argv) == 5 and argv[1] == 'merge3':
        do_merge3(argv[2], argv[3], argv[4])
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tunnel, op, args = argv[1], argv[2], argv[3:]
    c = imapctl.Conn(tunnel)
    try:
        if op == 'gen':
            do_gen(c, sys.stdin)
        elif op == 'thin':
            do_thin(c, args[0], int(args[1]), int(args[2]))
        elif op == 'poke':
            do_poke(c, sys.stdin)
        elif op == 'mkboxes':
            do_mkboxes(c, sys.stdin)
        elif op == 'dumpall':
            do_dumpall(c, args[0] if args else None)
        else:
            print('scalectl: unknown operation %s' % op, file=sys.stderr)
            return 2
    except (imapctl.Refused, imapctl.ImapError) as e:
        print('scalectl: %s' % e, file=sys.stderr)
        return 1
    c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
