#!/usr/bin/python3
"""
Benchmark-side IMAP tool: fills, changes and dumps whole mail stores in
one connection through a server's tunnel.sh (tests/lib/common.sh writes
one for every server).  It builds on tests/lib/imapctl.py (same parser,
same dump format as mail_dump) and adds what a benchmark needs: fast
bulk filling (MULTIAPPEND with LITERAL+, hundreds of messages per
command) and whole-store dumps.

    benchctl.py TUNNEL fill NMAILBOXES NMESSAGES TOTAL_BYTES [SEED]
    benchctl.py TUNNEL change remote|local SEED
    benchctl.py TUNNEL many MAILBOX COUNT [SEED]
    benchctl.py TUNNEL big MAILBOX BYTES [SEED]
    benchctl.py TUNNEL samedate SIDE SEED MAILBOX COUNT BIGBYTES
                                        (COUNT messages and one of BIGBYTES,
                                         all with the same INTERNALDATE;
                                         prints the bytes appended)
    benchctl.py TUNNEL dumpall          (mailbox list, then mail_dump lines
                                         of every mailbox, "== NAME" before)
    benchctl.py TUNNEL dumpcommon       (dumpall reduced to what mbsync 1.4
                                         keeps: names without subscription
                                         states, system flags only, bodies
                                         hashed without an X-TUID header)
    benchctl.py TUNNEL state            (per mailbox: MESSAGES UIDNEXT
                                         UIDVALIDITY HIGHESTMODSEQ)
    benchctl.py - names NMAILBOXES      (the mailbox names fill uses)

Everything generated is a function of the arguments and SEED: two runs
give byte-identical stores.
"""

import base64
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'tests', 'lib'))
import imapctl  # noqa: E402

MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep',
          'Oct', 'Nov', 'Dec']
DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

# A batch of MULTIAPPEND: at most this many messages or bytes.
BATCH_MSGS = 500
BATCH_BYTES = 8 << 20


def mailbox_names(n):
    """INBOX, a few usual folders, a small hierarchy, then lists."""
    base = ['INBOX', 'Sent', 'Drafts', 'Archive'] + \
        ['Archive/%d' % y for y in range(2019, 2024)] + \
        ['Projects', 'Projects/alpha', 'Projects/beta']
    names = base[:n]
    i = 1
    while len(names) < n:
        names.append('List-%02d' % i)
        i += 1
    return names


class Corpus:
    """Text that compresses like mail: lines of words from a vocabulary."""

    def __init__(self, rng):
        letters = 'etaoinshrdlcumwfgypbvkjxqz'
        weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2,
                   1, 1, 1, 1, 1, 1, 1]
        vocab = []
        for _ in range(3000):
            k = max(1, int(rng.expovariate(1 / 5.0)))
            vocab.append(''.join(rng.choices(letters, weights, k=k)))
        words = rng.choices(vocab, k=300000)
        lines, cur = [], []
        width = 0
        for w in words:
            if width + len(w) + 1 > 72:
                lines.append(' '.join(cur))
                cur, width = [], 0
                if rng.random() < 0.08:
                    lines.append('')
            cur.append(w)
            width += len(w) + 1
        self.text = ('\r\n'.join(lines) + '\r\n').encode()
        self.starts = [m.end() for m in re.finditer(rb'\r\n', self.text)]

    def take(self, rng, n):
        """About n bytes of whole lines."""
        n = min(n, len(self.text) // 2)
        i = rng.choice(self.starts[:len(self.starts) // 2])
        j = self.text.find(b'\r\n', i + n)
        return self.text[i:j + 2] if j >= 0 else self.text[i:]


def date_parts(rng):
    t = 1672531200 + rng.randrange(365 * 86400)    # during 2023, UTC
    tm = time.gmtime(t)
    internal = '%02d-%s-%04d %02d:%02d:%02d +0000' % (
        tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour,
        tm.tm_min, tm.tm_sec)
    header = '%s, %d %s %04d %02d:%02d:%02d +0000' % (
        DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
        tm.tm_hour, tm.tm_min, tm.tm_sec)
    return internal, header


def make_message(rng, corpus, size, ident):
    internal, hdate = date_parts(rng)
    head = ('From: Sender %d <sender%d@example.org>\r\n'
            'To: Bench User <user@example.net>\r\n'
            'Subject: benchmark message %s\r\n'
            'Date: %s\r\n'
            'Message-ID: <%s@bench.example.org>\r\n'
            'MIME-Version: 1.0\r\n' % (
                rng.randrange(500), rng.randrange(500), ident, hdate, ident))
    if size <= 32768:
        msg = (head + 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
               ).encode() + corpus.take(rng, max(64, size - len(head)))
    else:
        # A large message: some text and a binary attachment (base64).
        text = corpus.take(rng, 2000)
        raw = rng.randbytes(max(1024, (size - len(head) - 2500) * 3 // 4))
        b64 = base64.encodebytes(raw).replace(b'\n', b'\r\n')
        msg = (head + 'Content-Type: multipart/mixed; boundary="b-%s"\r\n'
               '\r\n--b-%s\r\n'
               'Content-Type: text/plain; charset=us-ascii\r\n\r\n' % (
                   ident, ident)).encode() + text + (
            '--b-%s\r\nContent-Type: application/octet-stream\r\n'
            'Content-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="f%s.bin"\r\n\r\n' % (
                ident, ident)).encode() + b64 + ('--b-%s--\r\n' % ident
                                                 ).encode()
    flags = []
    r = rng.random()
    if r < 0.6:
        flags.append('\\Seen')
    if rng.random() < 0.1:
        flags.append('\\Answered')
    if rng.random() < 0.05:
        flags.append('\\Flagged')
    if rng.random() < 0.03:
        flags.append('$Label1')
    return msg, flags, internal


def multiappend(c, mailbox, msgs):
    """Append [(bytes, flags, internaldate)] in batches, LITERAL+."""
    i = 0
    while i < len(msgs):
        parts = [b'APPEND ' + imapctl.quote(mailbox)]
        size = 0
        n = 0
        while i < len(msgs) and n < BATCH_MSGS and size < BATCH_BYTES:
            data, flags, date = msgs[i]
            parts.append(b' (' + ' '.join(flags).encode() + b') "' +
                         date.encode() + b'" {%d+}\r\n' % len(data))
            parts.append(data)
            size += len(data)
            n += 1
            i += 1
        c.tagn += 1
        tag = b'c%d' % c.tagn
        c.proc.stdin.write(tag + b' ' + b''.join(parts) + b'\r\n')
        c.proc.stdin.flush()
        while True:
            r = c.response()
            if r.startswith(tag + b' '):
                if r.split(b' ', 2)[1].upper() != b'OK':
                    raise imapctl.Refused('APPEND %s: %s' % (
                        mailbox, r.decode('latin-1').rstrip()))
                break


def create(c, mailbox):
    imapctl.create(c, mailbox)
    c.command(b'SUBSCRIBE ' + imapctl.quote(mailbox))


def sizes(rng, n, mean):
    """n sizes with a long tail (log-normal), averaging mean bytes."""
    w = [rng.lognormvariate(0, 1.0) for _ in range(n)]
    k = mean / (sum(w) / n)
    return [max(300, min(400000, int(x * k))) for x in w]


def do_fill(c, nbox, nmsg, total, seed):
    rng = random.Random(seed)
    corpus = Corpus(random.Random(seed + 1))
    per = sizes(rng, nbox * nmsg, total / max(1, nbox * nmsg))
    k = 0
    for bi, name in enumerate(mailbox_names(nbox)):
        create(c, name)
        msgs = []
        for mi in range(nmsg):
            msgs.append(make_message(rng, corpus, per[k],
                                     '%d.%d.%d' % (seed, bi, mi)))
            k += 1
        multiappend(c, name, msgs)


def uids_of(c, mailbox):
    imapctl.select(c, mailbox, readonly=False)
    return sorted(int(d[b'UID']) for d in imapctl.fetch_all(c, b'UID'))


def do_change(c, side, seed):
    """The incremental case: on the remote, one new message in each of 5
    mailboxes and flag changes on 25 messages in 5 others; on the
    local, flag changes on 25 messages in yet 5 others."""
    rng = random.Random(seed * 7919 + (1 if side == 'remote' else 2))
    corpus = Corpus(random.Random(seed + 1))
    # Mailbox list sorted as the server has it: indexes are stable.
    names = sorted(n.decode() for n in imapctl.parse_list(
        c.command(b'LIST "" "*"')[0], b'LIST'))
    if len(names) < 15:
        raise imapctl.ImapError('change needs 15 mailboxes, found %d' %
                                len(names))
    kw = '$Bench%d' % seed
    if side == 'remote':
        for name in names[10:15]:
            multiappend(c, name, [make_message(
                rng, corpus, 4000, 'new.%d.%s' % (seed, name))])
        flagged = names[0:5]
    else:
        flagged = names[5:10]
    for name in flagged:
        uids = uids_of(c, name)
        pick = rng.sample(uids, min(5, len(uids)))
        for j, u in enumerate(pick):
            c.command(b'UID STORE %d +FLAGS.SILENT (%s)' % (u, kw.encode()))
            if j % 2 == 0:
                c.command(b'UID STORE %d -FLAGS.SILENT (\\Seen)' % u)
            else:
                c.command(b'UID STORE %d +FLAGS.SILENT (\\Flagged)' % u)
        c.command(b'UNSELECT')


def do_many(c, mailbox, count, seed):
    """count small messages (about 600 bytes) in one mailbox."""
    rng = random.Random(seed)
    create(c, mailbox)
    batch = []
    for i in range(count):
        internal, hdate = date_parts(rng)
        body = ('From: s%d@example.org\r\nTo: user@example.net\r\n'
                'Subject: small %d\r\nDate: %s\r\n'
                'Message-ID: <%d.%d.many@bench.example.org>\r\n\r\n'
                'Message %d of %d.\r\n%s\r\n' % (
                    i % 97, i, hdate, seed, i, i, count,
                    'x' * (200 + i % 300))).encode()
        batch.append((body, ['\\Seen'] if i % 3 else [], internal))
        if len(batch) == 2000:
            multiappend(c, mailbox, batch)
            batch = []
    if batch:
        multiappend(c, mailbox, batch)


def do_big(c, mailbox, size, seed):
    """One message of about size bytes: a text part and an attachment."""
    rng = random.Random(seed)
    corpus = Corpus(random.Random(seed + 1))
    create(c, mailbox)
    multiappend(c, mailbox, [make_message(rng, corpus, size, 'big.%d' %
                                          seed)])


# The fixed date an import tool gives every message it appends.
SAME_DATE = '01-Jan-2020 00:00:00 +0000'


def do_samedate(c, side, seed, mailbox, count, big):
    """The equal-date case: on one side, count new messages of a few KiB
    and one of big bytes in mailbox, all with the INTERNALDATE SAME_DATE
    (their contents differ from the other side's: no copies to adopt).
    Prints the bytes appended."""
    rng = random.Random(seed * 104729 + (1 if side == 'remote' else 2))
    corpus = Corpus(random.Random(seed + 1))
    msgs = []
    for i in range(count + 1):
        size = big if i == count else 2000 + rng.randrange(6000)
        data, flags, _ = make_message(rng, corpus, size, 'same.%d.%s.%d' % (
            seed, side, i))
        msgs.append((data, flags, SAME_DATE))
    multiappend(c, mailbox, msgs)
    print(sum(len(m[0]) for m in msgs))


TUID = re.compile(rb'^X-TUID: [^\r\n]*\r?\n', re.M)


def strip_tuid(body):
    """The message without the X-TUID header mbsync adds to its copies."""
    end = body.find(b'\r\n\r\n')
    head = body[:end + 2] if end >= 0 else body
    return TUID.sub(b'', head, count=1) + body[len(head):]


def list_names(c):
    return sorted(imapctl.parse_list(c.command(b'LIST "" "*"')[0], b'LIST'))


def do_dumpall(c, common=False):
    out = sys.stdout
    if common:
        names = list_names(c)
        out.write(''.join('%s\n' % n.decode('latin-1') for n in names))
    else:
        imapctl.do_list(c, None)
    out.flush()
    listed = imapctl.parse_list(c.command(b'LIST "" "*"')[0], b'LIST')
    for name in sorted(listed):
        attrs = listed[name][0]
        if '\\noselect' in attrs or '\\nonexistent' in attrs:
            continue
        out.write('== %s\n' % name.decode('latin-1'))
        if imapctl.select(c, name) == 0:
            continue
        lines = []
        for d in imapctl.fetch_all(c, b'FLAGS INTERNALDATE BODY.PEEK[]'):
            body = d.get(b'BODY[]') or b''
            flags = sorted(f.decode('latin-1') for f in d.get(b'FLAGS', [])
                           if f.upper() != b'\\RECENT' and
                           (not common or f.startswith(b'\\')))
            if common:
                body = strip_tuid(body)
            lines.append('%s %s %s' % (
                imapctl.hashlib.sha256(body).hexdigest(),
                ','.join(flags) if flags else '-',
                d[b'INTERNALDATE'].decode('latin-1')))
        lines.sort()
        out.write('\n'.join(lines) + '\n')
    out.flush()


def do_state(c):
    for name in list_names(c):
        untagged, r = c.command(
            b'STATUS ' + imapctl.quote(name) +
            b' (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)', check=False)
        vals = ''
        for u in untagged:
            _, p = imapctl.untagged_data(u, b'STATUS')
            if p is None:
                continue
            p.value()
            lst = p.value()
            vals = ' '.join(lst[k].decode() + ' ' + lst[k + 1].decode()
                            for k in range(0, len(lst) - 1, 2))
        print('%s %s' % (name.decode('latin-1'), vals or '-'))


def main(argv):
    if len(argv) >= 4 and argv[2] == 'names':
        print('\n'.join(mailbox_names(int(argv[3]))))
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tunnel, op, args = argv[1], argv[2], argv[3:]
    c = imapctl.Conn(tunnel)
    try:
        if op == 'fill':
            do_fill(c, int(args[0]), int(args[1]), int(args[2]),
                    int(args[3]) if len(args) > 3 else 1)
        elif op == 'change':
            do_change(c, args[0], int(args[1]))
        elif op == 'many':
            do_many(c, args[0], int(args[1]),
                    int(args[2]) if len(args) > 2 else 1)
        elif op == 'big':
            do_big(c, args[0], int(args[1]),
                   int(args[2]) if len(args) > 2 else 1)
        elif op == 'samedate':
            do_samedate(c, args[0], int(args[1]), args[2], int(args[3]),
                        int(args[4]))
        elif op == 'dumpall':
            do_dumpall(c)
        elif op == 'dumpcommon':
            do_dumpall(c, common=True)
        elif op == 'state':
            do_state(c)
        else:
            print('benchctl: unknown operation %s' % op, file=sys.stderr)
            return 2
    except (imapctl.Refused, imapctl.ImapError) as e:
        print('benchctl: %s' % e, file=sys.stderr)
        return 1
    c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
