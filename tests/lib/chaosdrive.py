#!/usr/bin/python3
"""The driver of tests/integration/concurrent.sh: a mail client on each
server changing mail while a `interimap --watch` (or --notify) run
synchronises them, and afterwards the check of where that must end.

    chaosdrive.py init --local EP --remote EP --seps L,R --seed N
                       --model FILE MAILBOX...
    chaosdrive.py drive --local EP --remote EP --seps L,R --seed N
                        --seconds S (--pid PRIV | --pidfile F) --model FILE
                        [--model-in F] MAILBOX...
    chaosdrive.py check --local EP --remote EP --seps L,R --model FILE
                        --db DATABASE [--log LOG] [--crashed] MAILBOX...

EP is a server's endpoint as imapctl.py takes it (a tunnel or a login
file).  MAILBOX names use "/"; L and R are the servers' delimiters.

init: creates each MAILBOX on both servers and appends 3 messages to
each, on a random side (the model starts with them).

drive: for S seconds, one operation after another, each on a random side
and mailbox, a pause of 0 to 40 ms between them (drawn from N, so the
sequence of choices is the seed's; how it interleaves with the run's
passes is not):
  - 40%: APPEND of 1 to 3 new messages, each with its own Message-ID and
    random flags; the side it is appended on is its home;
  - 40%: UID STORE FLAGS (a replacement) on a message of that side: one of
    those whose home it is, or one of the few (one in eight) that both
    sides change: flag conflicts, resolved as the union;
  - 12%: UID EXPUNGE of a message of that side (any, but those both sides
    change);
  - 6%: SIGHUP to PRIV, a pass at once, in the middle of everything
    (with --pidfile, to the process whose PID the file holds then, if
    any: the run that is up, where runs are killed and started again);
  - 2%: CREATE of a new mailbox New/sSEEDnN on that side (3 at most in
    a drive): the run must create it on the other side, and it is one
    of the mailboxes the operations choose from after; an operation on
    the side it was not created on is skipped until it is there.
The mailboxes created go to FILE.boxes (JSON: name and home), which
check reads; --model-in's are continued.
The model goes to FILE (JSON): per Message-ID, its mailbox, home, whether
both sides change it, the flags its home gave it last, whether it was
expunged, and what the driver did to it (for the report).  --model-in
continues the model of an earlier drive.

check: what both servers and the database hold must be what the model
says, whatever the timing was:
  - every mailbox, those the drives created too, is on both sides and
    holds, on each side, exactly the messages appended and not
    expunged, each once (by Message-ID);
  - each message has the same flags on both sides, and a message that
    only its home changed has the flags its home gave it last;
  - the database's mapping pairs, in each mailbox, exactly the two UIDs
    of each message;
  - each "Conflicting flag update" warning of the run's LOG is about a
    message both sides changed (those are never expunged: their UIDs
    still name them).
With --crashed (runs were killed in the middle of their work), the last
two hold only as far as a killed run allows: a STORE of ours whose
database commit the kill prevented looks like a user's change on the
next run, and meets a later change of the message's home as a conflict
(the union); so the flags must be the same on both sides, and conflicts
may be about any message.  And an expunged message may be back on both
sides in one case (recopied()): a copy its run was killed before it
could record, expunged before the next run.
Prints one line per difference, with what the driver did to the
messages it names; exit 1 if there was any, 0 otherwise.
"""

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapctl  # noqa: E402

FLAGS = ('\\Seen', '\\Flagged', '\\Answered', '\\Draft', '$Label1',
         '$Label2', 'Project')
MSGID = re.compile(rb'^Message-ID: <([^>]*)>', re.M | re.I)
MIDS = re.compile(r'\b[ci]\d+\.[^ ]*@chaos')
CONFLICT = re.compile(r'WARNING: Conflicting flag update in (.*) for local '
                      r'UID (\d+) \(.*\) and remote UID (\d+) \(')


class Side:
    def __init__(self, name, endpoint, sep):
        self.name = name
        self.sep = sep
        self.c = imapctl.Conn(endpoint)

    def mbox(self, name):
        return name.replace('/', self.sep).encode()

    def select(self, name):
        self.c.command(b'SELECT ' + imapctl.quote(self.mbox(name)))

    def view(self, name):
        """{Message-ID: (uid, flags)} of the mailbox, and the Message-IDs
        found more than once; the mailbox is selected after."""
        self.select(name)
        untagged, _ = self.c.command(
            b'UID FETCH 1:* (UID FLAGS BODY.PEEK[])', check=False)
        out = {}
        dups = []
        for resp in untagged:
            _, p = imapctl.untagged_data(resp, b'FETCH')
            if p is None:
                continue
            lst = p.value()
            d = {}
            for k in range(0, len(lst) - 1, 2):
                d[lst[k].upper()] = lst[k + 1]
            if b'BODY[]' not in d or b'UID' not in d:
                continue            # an unsolicited flag change
            m = MSGID.search(d[b'BODY[]'] or b'')
            mid = m.group(1).decode() if m else '?uid%s' % d[b'UID']
            flags = sorted(f.decode() for f in d.get(b'FLAGS') or []
                           if f.upper() != b'\\RECENT')
            if mid in out:
                dups.append(mid)
            out[mid] = (int(d[b'UID']), flags)
        return out, dups


def message(mid, side, mbox, n):
    return ('From: chaos <chaos@example.org>\r\n'
            'To: %s@example.org\r\n'
            'Subject: %s\r\n'
            'Message-ID: <%s>\r\n'
            '\r\n'
            'Written on the %s side in %s, operation %d.\r\n' %
            (side, mid, mid, side, mbox, n)).encode()


def note(m, side, op, uid, flags=None):
    """What the driver did to a message, for the check's report."""
    m['ops'].append('%.3f %s %s UID %d%s' % (
        time.time() % 1000, side.name, op, uid,
        '' if flags is None else ' (%s)' % ' '.join(flags)))


def new_message(rng, model, side, mb, mid, n, boxes=None):
    """APPENDs a new message; False (and nothing in the model) where mb
    is a mailbox of boxes not yet on that side."""
    flags = sorted(rng.sample(FLAGS, rng.randrange(3)))
    shared = rng.random() < 0.125
    _, r = side.c.command(b'APPEND ' + imapctl.quote(side.mbox(mb)) +
                          b' (' + ' '.join(flags).encode() + b')',
                          literal=message(mid, side.name, mb, n),
                          check=False)
    if r.split(b' ', 2)[1].upper() != b'OK':
        if boxes and mb in boxes and b'[TRYCREATE]' in r:
            return False
        raise imapctl.Refused('APPEND %s: %s' %
                              (mb, r.decode('latin-1').rstrip()))
    model[mid] = {'mailbox': mb, 'home': side.name, 'shared': shared,
                  'flags': flags, 'expunged': False, 'ops': []}
    m = re.search(rb'\[APPENDUID \d+ (\d+)\]', r)
    note(model[mid], side, 'append', int(m.group(1)) if m else 0, flags)
    return True


def load_boxes(model_path):
    """{name: home} of the mailboxes a drive created (MODEL.boxes)."""
    try:
        with open(model_path + '.boxes', encoding='utf-8') as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}


def open_sides(a):
    return {'local': Side('local', a.local, a.seps[0]),
            'remote': Side('remote', a.remote, a.seps[1])}


def save(a, model, sides, boxes=None):
    with open(a.model, 'w', encoding='utf-8') as fh:
        json.dump(model, fh, indent=0, sort_keys=True)
    with open(a.model + '.boxes', 'w', encoding='utf-8') as fh:
        json.dump(boxes or {}, fh, indent=0, sort_keys=True)
    for s in sides.values():
        s.c.close()


def init(a):
    rng = random.Random(a.seed)
    sides = open_sides(a)
    model = {}
    for mb in a.mailboxes:
        for s in sides.values():
            imapctl.create(s.c, s.mbox(mb))
        for i in range(3):
            side = sides[rng.choice(('local', 'remote'))]
            new_message(rng, model, side, mb,
                        'i%d.%s.%d@chaos' % (a.seed, mb.replace('/', '.'), i),
                        0)
    save(a, model, sides)


def hup(a):
    """SIGHUP to the run; False if there was none to send it to."""
    pid = a.pid
    if a.pidfile:
        try:
            with open(a.pidfile, encoding='ascii') as fh:
                pid = int(fh.read().strip())
        except (OSError, ValueError):
            return False
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return False
    return True


def drive(a):
    rng = random.Random(a.seed)
    sides = open_sides(a)
    model = {}
    boxes = {}
    if a.model_in:
        with open(a.model_in, encoding='utf-8') as fh:
            model = json.load(fh)
        boxes = load_boxes(a.model_in)
    counts = {'append': 0, 'store': 0, 'expunge': 0, 'hup': 0, 'create': 0,
              'skipped': 0}
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        time.sleep(rng.random() * 0.04)
        side = sides[rng.choice(('local', 'remote'))]
        mb = rng.choice(list(a.mailboxes) + sorted(boxes))
        r = rng.random()
        if r < 0.06:
            if hup(a):
                counts['hup'] += 1
            continue
        if r < 0.08:
            if counts['create'] < 3:
                name = 'New/s%dn%d' % (a.seed, n)
                imapctl.create(side.c, side.mbox(name))
                boxes[name] = side.name
                counts['create'] += 1
            continue
        if r < 0.48:
            for i in range(rng.choice((1, 1, 1, 2, 3))):
                if new_message(rng, model, side, mb,
                               'c%d.%d.%d@chaos' % (a.seed, n, i), n,
                               boxes):
                    counts['append'] += 1
                else:
                    counts['skipped'] += 1
                    break
            continue
        try:
            view, _ = side.view(mb)
        except imapctl.Refused:
            if mb not in boxes:
                raise
            counts['skipped'] += 1
            continue
        ours = [mid for mid in view if mid in model]
        if r < 0.88:
            cand = [mid for mid in ours if model[mid]['shared'] or
                    model[mid]['home'] == side.name]
            if not cand:
                continue
            mid = rng.choice(sorted(cand))
            flags = sorted(rng.sample(FLAGS, rng.randrange(4)))
            side.c.command(b'UID STORE %d FLAGS.SILENT (%s)' %
                           (view[mid][0], ' '.join(flags).encode()))
            note(model[mid], side, 'store', view[mid][0], flags)
            if model[mid]['home'] == side.name:
                model[mid]['flags'] = flags
            counts['store'] += 1
            continue
        cand = [mid for mid in ours if not model[mid]['shared']]
        if not cand:
            continue
        mid = rng.choice(sorted(cand))
        uid = view[mid][0]
        side.c.command(b'UID STORE %d +FLAGS.SILENT (\\Deleted)' % uid)
        _, resp = side.c.command(b'UID EXPUNGE %d' % uid, check=False)
        if resp.split(b' ', 2)[1].upper() != b'OK':
            side.c.command(b'EXPUNGE')
        model[mid]['expunged'] = True
        note(model[mid], side, 'expunge', uid)
        counts['expunge'] += 1
    save(a, model, sides, boxes)
    print('# %d operations: %s' % (n, ', '.join(
        '%d %s' % (v, k) for k, v in sorted(counts.items()))))


def db_pairs(path):
    """{mailbox with "/": set of (lUID, rUID)} from the database."""
    db = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    out = {}
    for name, l, r in db.execute(
            'SELECT m.mailbox, p.lUID, p.rUID FROM mapping p '
            'JOIN mailboxes m ON m.idx = p.idx'):
        if isinstance(name, bytes):
            name = name.decode()
        out.setdefault(name.replace('\0', '/'), set()).add((l, r))
    db.close()
    return out


def recopied(m, views, mid):
    """Whether an expunged message that is back on both sides came back
    the one way a killed run allows: its home still has it under the UID
    it was appended with, and it was expunged on the other side only,
    under another UID than the one it has there now.  That is a copy our
    APPEND made, which its run was killed before it could record (its
    APPEND's answer not in yet), and which the other side's client
    expunged before the next run: that run sees the home's message with
    no copy, and copies it again."""
    home = m['home']
    other = 'remote' if home == 'local' else 'local'
    if mid not in views[home] or mid not in views[other]:
        return False
    ops = [op.split() for op in m['ops']]
    app = [int(op[4]) for op in ops if op[2] == 'append' and op[1] == home]
    exp = [(op[1], int(op[4])) for op in ops if op[2] == 'expunge']
    return (app == [views[home][mid][0]] and len(exp) == 1 and
            exp[0][0] == other and exp[0][1] != views[other][mid][0])


def check_mailbox(mb, model, sides, pairs, log, bad, crashed):
    """Appends to bad what is wrong with mb; returns (messages in sync
    checked, conflicts)."""
    want = sorted(mid for mid, m in model.items()
                  if m['mailbox'] == mb and not m['expunged'])
    views = {}
    back = []
    for name, s in sorted(sides.items()):
        try:
            view, dups = s.view(mb)
        except imapctl.Refused as e:
            bad.append('%s(%s): no such mailbox (%s)' % (name, mb, e))
            return 0, 0
        views[name] = view
        for mid in dups:
            bad.append('%s(%s): %s more than once' % (name, mb, mid))
        have = sorted(mid for mid in view if mid in model)
        for mid in sorted(set(want) - set(have)):
            bad.append('%s(%s): %s missing (home %s)' %
                       (name, mb, mid, model[mid]['home']))
        for mid in sorted(set(have) - set(want)):
            if model[mid]['expunged']:
                back.append((name, mid))
                continue
            bad.append('%s(%s): %s there (UID %d), but of mailbox %s' % (
                name, mb, mid, view[mid][0], model[mid]['mailbox']))
    lv, rv = views['local'], views['remote']
    for name, mid in back:
        if crashed and recopied(model[mid], views, mid):
            if name == 'local':
                print('# %s: %s copied again: its copy was expunged before '
                      'a killed run could record it' % (mb, mid))
            continue
        bad.append('%s(%s): %s there (UID %d), but expunged (home %s)' % (
            name, mb, mid, views[name][mid][0], model[mid]['home']))
    total = 0
    for mid in want:
        if mid not in lv or mid not in rv:
            continue
        total += 1
        if lv[mid][1] != rv[mid][1]:
            bad.append('%s: %s flags differ: local UID %d %s, remote '
                       'UID %d %s' % (mb, mid, lv[mid][0],
                                      ' '.join(lv[mid][1]) or '-',
                                      rv[mid][0],
                                      ' '.join(rv[mid][1]) or '-'))
        elif (not crashed and not model[mid]['shared'] and
              lv[mid][1] != model[mid]['flags']):
            bad.append('%s: %s flags %s (local UID %d, remote UID %d), '
                       'its home (%s) set %s last' %
                       (mb, mid, ' '.join(lv[mid][1]) or '-', lv[mid][0],
                        rv[mid][0], model[mid]['home'],
                        ' '.join(model[mid]['flags']) or '-'))
    expect = set((lv[mid][0], rv[mid][0]) for mid in lv if mid in rv)
    have = pairs.get(mb, set())
    for p in sorted(expect - have):
        bad.append('database(%s): no mapping (%d,%d)' % ((mb,) + p))
    for p in sorted(have - expect):
        bad.append('database(%s): mapping (%d,%d) pairs no message found '
                   'on both sides' % ((mb,) + p))
    conflicts = 0
    for ln in log:
        m = CONFLICT.search(ln)
        if not m or m.group(1) != mb:
            continue
        conflicts += 1
        if crashed:
            continue
        l, r = int(m.group(2)), int(m.group(3))
        lm = [mid for mid in lv if lv[mid][0] == l]
        rm = [mid for mid in rv if rv[mid][0] == r]
        if not lm or lm != rm or not model.get(lm[0], {}).get('shared'):
            bad.append('%s: a conflict on local UID %d (%s), remote UID %d '
                       '(%s), not a message both sides changed' %
                       (mb, l, lm[0] if lm else 'gone', r,
                        rm[0] if rm else 'gone'))
    return total, conflicts


def check(a):
    with open(a.model, encoding='utf-8') as fh:
        model = json.load(fh)
    sides = open_sides(a)
    pairs = db_pairs(a.db)
    log = []
    if a.log:
        with open(a.log, encoding='latin-1') as fh:
            log = [ln for ln in fh if 'WARNING: Conflicting' in ln]
    bad = []
    total = conflicts = 0
    for mb in list(a.mailboxes) + sorted(load_boxes(a.model)):
        t, c = check_mailbox(mb, model, sides, pairs, log, bad, a.crashed)
        total += t
        conflicts += c
    for s in sides.values():
        s.c.close()
    for b in bad:
        print(b)
        for mid in sorted(set(MIDS.findall(b))):
            for op in model.get(mid, {}).get('ops', []):
                print('    %s: %s' % (mid, op))
    print('# %d messages in sync checked, %d expunged ones gone, %d flag '
          'conflicts, %d difference(s)' % (
              total, sum(1 for m in model.values() if m['expunged']),
              conflicts, len(bad)))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=('init', 'drive', 'check'))
    ap.add_argument('--local', required=True)
    ap.add_argument('--remote', required=True)
    ap.add_argument('--seps', required=True, type=lambda s: s.split(','))
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=10)
    ap.add_argument('--pid', type=int)
    ap.add_argument('--pidfile')
    ap.add_argument('--model', required=True)
    ap.add_argument('--model-in')
    ap.add_argument('--db')
    ap.add_argument('--log')
    ap.add_argument('--crashed', action='store_true')
    ap.add_argument('mailboxes', nargs='+')
    a = ap.parse_args()
    if a.mode == 'init':
        init(a)
        return 0
    if a.mode == 'drive':
        if (a.pid is None) == (a.pidfile is None):
            ap.error('drive needs --pid or --pidfile')
        drive(a)
        return 0
    if a.db is None:
        ap.error('check needs --db')
    return check(a)


if __name__ == '__main__':
    sys.exit(main())
