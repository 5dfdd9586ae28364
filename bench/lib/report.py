#!/usr/bin/python3
"""
Numbers of the benchmark.

    report.py row PTFILE ERRFILE CLIENT_EXE RELAYLOG LINES0 RCPU0 RCPU1
            [SRV_CPU_MS CPUS]
        One run's TSV fields (see FIELDS) from proctrack's output, the
        client's stderr (its "IMAP traffic" lines) and the relay's log;
        with SRV_CPU_MS (the remote server's CPU during the run, may be
        empty) and CPUS (the machine's), those of FIELDS_ALL.
    report.py header
        The header line of a TSV of FIELDS_ALL rows (bench/run.sh's).
    report.py table TSV [TITLE]
        The Markdown report of a whole benchmark: medians per case and
        the ratios reference / ours (and mbsync / ours where it ran).
    report.py compact TSV...
        One short table for README: per workload and RTT, the median
        wall times of the reference, ours and mbsync, and the ratio; the
        rows of several TSVs (a default run and a scale run) together.
        Reads the .notes file beside each TSV (relay bulk rate, sizes,
        least traffic of the equal-date case) when there is one.
    report.py memory TSV COUNT BIG_MIB
        The Markdown report of bench/memory.sh.

A process belongs to the client when the executable it ended with is the
client's (our binary, or the Perl interpreter for the reference); the
others are the tunnel's (sh, setpriv, doveadm, Dovecot's imap), reported
apart as "tunnel CPU".
"""

import re
import statistics
import sys

FIELDS = ['rc', 'wall_ms', 'cpu_ms', 'user_ms', 'sys_ms', 'nproc',
          'rss_sum_kb', 'rss_max_kb', 'srv_cpu_ms', 'tree_cpu_ms',
          'local_recv', 'local_sent', 'remote_recv', 'remote_sent',
          'wire_up', 'wire_down', 'relay_cpu_ms', 'procs']
# bench/run.sh's rows add, before 'procs': the peaks of the client's
# memory at one instant (proctrack's samples: PSS and RSS summed over its
# processes), the remote server's CPU during the run, and the number of
# CPUs of the machine.  bench/memory.sh's rows are FIELDS.
EXTRA = ['pss_peak_kb', 'rss_peak_sum_kb', 'srv_remote_cpu_ms', 'cpus']
FIELDS_ALL = FIELDS[:-1] + EXTRA + FIELDS[-1:]
KEYS = ['storage', 'rtt', 'case', 'impl', 'rep']
HEADER = KEYS + FIELDS_ALL + ['verified']

UNITS = {'': 1, 'K': 1024, 'M': 1 << 20, 'G': 1 << 30}
TRAFFIC = re.compile(
    r'^(local|remote)\S*: IMAP traffic \(bytes\): recv ([0-9.]+)([KMG]?)'
    r'(?: \(compr\. [^)]*\))? sent ([0-9.]+)([KMG]?)')


def kv(line):
    out = {}
    for tok in line.split()[1:]:
        k, _, v = tok.partition('=')
        out[k] = v
    return out


def row(ptfile, errfile, exe, rlog, lines0, rcpu0, rcpu1, *extra):
    procs, root, mem = [], {}, {}
    try:
        with open(ptfile) as f:
            for line in f:
                if line.startswith('proc '):
                    procs.append(kv(line))
                elif line.startswith('root '):
                    root = kv(line)
                elif line.startswith('mem '):
                    mem = kv(line)
    except OSError:
        pass
    client = [p for p in procs if p.get('exe') == exe]
    server = [p for p in procs if p.get('exe') != exe]
    cpu = sum(int(p['cpu_ns']) for p in client) / 1e6
    user = sum(int(p['user_ms']) for p in client)
    sys_ = sum(int(p['sys_ms']) for p in client)
    hwm = [int(p['hwm_kb']) for p in client]
    srv = sum(int(p['cpu_ns']) for p in server) / 1e6
    tree = (int(root.get('tree_user_us', 0)) +
            int(root.get('tree_sys_us', 0))) / 1000
    traffic = {'local': (0, 0), 'remote': (0, 0)}
    try:
        with open(errfile, errors='replace') as f:
            for line in f:
                m = TRAFFIC.match(line)
                if m:
                    traffic[m.group(1)] = (
                        int(float(m.group(2)) * UNITS[m.group(3)]),
                        int(float(m.group(4)) * UNITS[m.group(5)]))
    except OSError:
        pass
    up = down = 0
    try:
        with open(rlog) as f:
            for i, line in enumerate(f):
                if i < int(lines0):
                    continue
                t = line.split()
                if len(t) >= 6 and t[0] == 'conn':
                    up += int(t[3])
                    down += int(t[5])
    except OSError:
        pass
    detail = ';'.join('%s:%s:%d' % (p.get('title', '-'), p['hwm_kb'],
                                    int(p['cpu_ns']) // 1000000)
                      for p in client) or '-'
    vals = [root.get('status', '125'), '%.1f' % (int(root.get(
        'wall_ns', 0)) / 1e6), '%.1f' % cpu, str(user), str(sys_),
        str(len(client)), str(sum(hwm)), str(max(hwm) if hwm else 0),
        '%.1f' % srv, '%.1f' % tree, str(traffic['local'][0]),
        str(traffic['local'][1]), str(traffic['remote'][0]),
        str(traffic['remote'][1]), str(up), str(down),
        str(int(rcpu1) - int(rcpu0))]
    if extra:
        srv_cpu, cpus = extra
        # No sample of the client at all: unknown, not zero.
        sampled = int(mem.get('samples', 0)) > 0
        vals += [mem['pss_peak_kb'] if sampled else '',
                 mem['rss_peak_sum_kb'] if sampled else '', srv_cpu, cpus]
    vals.append(detail)
    print('\t'.join(vals))


def load(tsv):
    rows = []
    with open(tsv) as f:
        head = f.readline().rstrip('\n').split('\t')
        for line in f:
            t = line.rstrip('\n').split('\t')
            if len(t) != len(head):
                continue
            rows.append(dict(zip(head, t)))
    return rows


def med(vals):
    return statistics.median(vals) if vals else None


def fmt(v, scale=1.0, digits=2):
    if v is None:
        return 'n/a'
    return '%.*f' % (digits, v / scale)


def ratio(ref, ours):
    if ref is None or ours is None or ours == 0:
        return 'n/a'
    return '%.2f' % (ref / ours)


CASE_NAMES = {'first': '(1) first sync', 'nochange': '(2) no change',
              'incremental': '(3) incremental',
              'samedate': '(4) equal dates',
              'boxes-first': 'boxes: first sync',
              'boxes-nochange': 'boxes: no change',
              'many-first': 'many: first sync',
              'big-first': 'big: first sync'}
CASE_ORDER = ['first', 'nochange', 'incremental', 'samedate', 'boxes-first',
              'boxes-nochange', 'many-first', 'big-first']


def notes_of(tsv):
    """{('relay_bulk', rtt): MiB/s, ('samedate_bytes', rtt): [bytes],
    ('size', workload): text} from the .notes file beside tsv."""
    out = {}
    try:
        with open(re.sub(r'\.tsv$', '', tsv) + '.notes') as f:
            for line in f:
                t = line.rstrip('\n').split('\t')
                if len(t) < 3:
                    continue
                if t[0] == 'relay_bulk':
                    out[(t[0], float(t[1]))] = float(t[2])
                elif t[0] == 'samedate_bytes' and len(t) >= 4:
                    out.setdefault((t[0], float(t[1])), []).append(
                        int(t[3]))
                elif t[0] == 'size':
                    out[(t[0], t[1])] = t[2]
    except (OSError, ValueError):
        pass
    return out


def groups(rows):
    keys = []
    for r in rows:
        k = (r['case'], r['storage'], r['rtt'])
        if k not in keys:
            keys.append(k)
    keys.sort(key=lambda k: (CASE_ORDER.index(k[0])
                             if k[0] in CASE_ORDER else 9,
                             k[1] != 'tmpfs', float(k[2])))
    return keys


def pick(rows, key, impl):
    return [r for r in rows if (r['case'], r['storage'], r['rtt']) == key
            and r['impl'] == impl]


def stat(rs, field, f=float):
    """The median of field over the verified runs; None when no run has
    it (a TSV older than the field, or not measured)."""
    good = [f(r[field]) for r in rs if r['verified'] == 'ok'
            and r.get(field, '') != '']
    return med(good)


def total_cpu(r):
    """CPU of every party to the run, in ms: the client, the local
    Dovecot (the tunnel's processes), the remote Dovecot and the relay;
    None without the remote server's figure."""
    if r.get('srv_remote_cpu_ms', '') == '':
        return None
    return sum(float(r[k]) for k in ('cpu_ms', 'srv_cpu_ms',
                                     'srv_remote_cpu_ms', 'relay_cpu_ms'))


def cpu_floor(r):
    """The least wall time (ms) of the run on this machine if all that
    CPU could be spread over every CPU at once."""
    t = total_cpu(r)
    if t is None or r.get('cpus', '') in ('', '0'):
        return None
    return t / int(r['cpus'])


def wall_per_floor(r):
    f = cpu_floor(r)
    return float(r['wall_ms']) / f if f else None


def mstat(rs, fn):
    return med([v for v in (fn(r) for r in rs if r['verified'] == 'ok')
                if v is not None])


def traffic(r):
    return sum(int(r[k]) for k in ('local_recv', 'local_sent',
                                   'remote_recv', 'remote_sent'))


def table(tsv, title):
    rows = load(tsv)
    out = []
    bad = [r for r in rows if r['verified'] != 'ok']
    name = {'tmpfs': 'tmpfs', 'disk': 'disk'}
    out.append('Medians over the verified runs; **x = reference / ours** '
               '(above 1: ours is faster, lighter or terser).')
    out.append('')
    out.append('| case | store | RTT ms | runs | wall ref s | wall ours s '
               '| x | client CPU ref s | ours s | x | peak RSS ref MiB '
               '| ours MiB | x | IMAP traffic ref MiB | ours MiB | x |')
    out.append('|' + '---|' * 16)
    for key in groups(rows):
        ref, ours = pick(rows, key, 'ref'), pick(rows, key, 'ours')
        ok = '%d/%d' % (sum(r['verified'] == 'ok' for r in ref),
                        sum(r['verified'] == 'ok' for r in ours))
        w = (stat(ref, 'wall_ms'), stat(ours, 'wall_ms'))
        c = (stat(ref, 'cpu_ms'), stat(ours, 'cpu_ms'))
        m = (stat(ref, 'rss_sum_kb'), stat(ours, 'rss_sum_kb'))
        tr = (med([traffic(r) for r in ref if r['verified'] == 'ok']),
              med([traffic(r) for r in ours if r['verified'] == 'ok']))
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                   '| %s | %s | %s | %s | %s |' % (
                       CASE_NAMES.get(key[0], key[0]), name.get(key[1],
                                                                key[1]),
                       key[2], ok, fmt(w[0], 1000), fmt(w[1], 1000),
                       ratio(*w), fmt(c[0], 1000), fmt(c[1], 1000),
                       ratio(*c), fmt(m[0], 1024, 1), fmt(m[1], 1024, 1),
                       ratio(*m), fmt(tr[0], 1 << 20, 3),
                       fmt(tr[1], 1 << 20, 3), ratio(*tr)))
    out.append('')
    out.append('Details (medians; "ref | ours"): wall time range over the '
               'runs, client CPU split user/sys (clock ticks), client '
               'processes, largest single process, CPU of the local '
               'tunnel\'s processes (Dovecot, not the client\'s), bytes on '
               'the wire to the remote (TLS, compressed; counted by the '
               'relay), CPU of the relay itself.')
    out.append('')
    out.append('| case | store | RTT | wall min-max s | user/sys s | procs '
               '| largest MiB | tunnel CPU s | wire MiB up/down | relay '
               'CPU s |')
    out.append('|' + '---|' * 10)
    for key in groups(rows):
        cells = {}
        for impl in ('ref', 'ours'):
            rs = [r for r in pick(rows, key, impl) if r['verified'] == 'ok']
            if not rs:
                cells[impl] = ['n/a'] * 7
                continue
            walls = [float(r['wall_ms']) for r in rs]
            cells[impl] = [
                '%.2f-%.2f' % (min(walls) / 1000, max(walls) / 1000),
                '%s/%s' % (fmt(stat(rs, 'user_ms'), 1000),
                           fmt(stat(rs, 'sys_ms'), 1000)),
                '%d' % stat(rs, 'nproc'),
                fmt(stat(rs, 'rss_max_kb'), 1024, 1),
                fmt(stat(rs, 'srv_cpu_ms'), 1000),
                '%s/%s' % (fmt(stat(rs, 'wire_up'), 1 << 20, 3),
                           fmt(stat(rs, 'wire_down'), 1 << 20, 3)),
                fmt(stat(rs, 'relay_cpu_ms'), 1000)]
        out.append('| %s | %s | %s | %s |' % (
            CASE_NAMES.get(key[0], key[0]), key[1], key[2],
            ' | '.join('%s \\| %s' % (a, b)
                       for a, b in zip(cells['ref'], cells['ours']))))
    out += memory_table(rows) + cpu_table(rows)
    notes = notes_of(tsv)
    least = [(k[1], med(v)) for k, v in sorted(notes.items())
             if k[0] == 'samedate_bytes']
    if least:
        out.append('')
        out.append('(4) equal dates: the least IMAP traffic that case '
                   'needs (every new body read once and written once) is '
                   + ', '.join('%s MiB at %g ms' % (fmt(b, 1 << 20, 3), r)
                               for r, b in least) + '.')
    mb = [k for k in groups(rows) if pick(rows, k, 'mbsync')]
    if mb:
        out.append('')
        out.append('### mbsync, first syncs')
        out.append('')
        out.append('**x = mbsync / ours** (above 1: ours is faster or '
                   'lighter). mbsync (isync 1.4) keeps neither keywords '
                   'nor subscriptions and adds an `X-TUID` header to every '
                   'message it copies: its runs are verified on what it '
                   'keeps (mailbox names, message bodies without that '
                   'header, system flags, INTERNALDATEs with '
                   '`CopyArrivalDate yes`), and must leave the remote as '
                   'it was. It reports no IMAP traffic: compare the bytes on '
                   'the wire (it uses COMPRESS=DEFLATE too).')
        out.append('')
        out.append('| case | store | RTT ms | runs | wall mbsync s | ours s '
                   '| x | client CPU mbsync s | ours s | x | peak RSS '
                   'mbsync MiB | ours MiB | x | wire down mbsync MiB '
                   '| ours MiB |')
        out.append('|' + '---|' * 15)
        for key in mb:
            m, ours = pick(rows, key, 'mbsync'), pick(rows, key, 'ours')
            ok = '%d/%d' % (sum(r['verified'] == 'ok' for r in m),
                            sum(r['verified'] == 'ok' for r in ours))
            w = (stat(m, 'wall_ms'), stat(ours, 'wall_ms'))
            c = (stat(m, 'cpu_ms'), stat(ours, 'cpu_ms'))
            rs = (stat(m, 'rss_sum_kb'), stat(ours, 'rss_sum_kb'))
            out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                       '| %s | %s | %s | %s | %s |' % (
                           CASE_NAMES.get(key[0], key[0]), key[1], key[2],
                           ok, fmt(w[0], 1000), fmt(w[1], 1000), ratio(*w),
                           fmt(c[0], 1000), fmt(c[1], 1000), ratio(*c),
                           fmt(rs[0], 1024, 1), fmt(rs[1], 1024, 1),
                           ratio(*rs), fmt(stat(m, 'wire_down'), 1 << 20, 2),
                           fmt(stat(ours, 'wire_down'), 1 << 20, 2)))
    if bad:
        out.append('')
        out.append('**Runs that failed verification (left out above):**')
        out.append('')
        for r in bad:
            out.append('- %s %s %s ms, %s, repetition %s: exit %s, %s' % (
                r['case'], r['storage'], r['rtt'], r['impl'], r['rep'],
                r['rc'], r['verified']))
    text = '\n'.join(out) + '\n'
    if title:
        text = '%s\n\n%s' % (title, text)
    sys.stdout.write(text)


def memory_table(rows):
    """Peak memory at one instant: ours' processes together (PSS) against
    the reference's one process (VmHWM)."""
    if not any(r.get('pss_peak_kb', '') for r in rows):
        return []
    out = ['', '### Memory at one instant', '',
           'proctrack samples the client\'s processes every 20 ms and keeps '
           'the largest sum at one instant: of their **PSS** (a page '
           'shared by several processes counted once between them) and of '
           'their RSS. **x = reference\'s peak RSS (VmHWM) / ours\' peak '
           'PSS together** (the target: 2 or more). The sum of VmHWM '
           'counts shared pages once per process and each process at its '
           'own peak: an upper bound.', '',
           '| case | store | RTT ms | ref peak RSS MiB | ref peak PSS MiB '
           '| ours peak PSS together MiB | x | ours peak RSS together MiB '
           '| ours VmHWM sum MiB |',
           '|' + '---|' * 9]
    for key in groups(rows):
        ref, ours = pick(rows, key, 'ref'), pick(rows, key, 'ours')
        r_rss = stat(ref, 'rss_sum_kb')
        o_pss = stat(ours, 'pss_peak_kb')
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            CASE_NAMES.get(key[0], key[0]), key[1], key[2],
            fmt(r_rss, 1024, 1), fmt(stat(ref, 'pss_peak_kb'), 1024, 1),
            fmt(o_pss, 1024, 1), ratio(r_rss, o_pss),
            fmt(stat(ours, 'rss_peak_sum_kb'), 1024, 1),
            fmt(stat(ours, 'rss_sum_kb'), 1024, 1)))
    return out


def cpu_table(rows):
    """Where a run's time goes: the CPU of every party against the wall
    time, and the least wall time that CPU allows on this machine."""
    if not any(r.get('srv_remote_cpu_ms', '') for r in rows):
        return []
    cpus = sorted({r['cpus'] for r in rows if r.get('cpus', '')})
    out = ['', '### CPU of all parties', '',
           'Medians, in seconds: the client; the local Dovecot (the '
           'tunnel\'s processes, a child of the client); the remote '
           'Dovecot (its master and every process under it, from just '
           'before the client starts until its last session of the run '
           'has ended); the relay. **floor** = their total / the number '
           'of CPUs (%s here): the least wall time any client could get '
           'when everything is CPU-bound; wall / floor near 1 means the '
           'machine\'s CPUs were the limit, well above 1 that something '
           'else was (round trips, waiting, one CPU busy while the other '
           'idles).' % '/'.join(cpus), '',
           '| case | store | RTT ms | impl | wall | client CPU | local '
           'Dovecot | remote Dovecot | relay | total CPU | floor '
           '| wall / floor |',
           '|' + '---|' * 12]
    for key in groups(rows):
        for impl in ('ref', 'ours', 'mbsync'):
            rs = pick(rows, key, impl)
            if not any(r['verified'] == 'ok' for r in rs):
                continue
            wall = stat(rs, 'wall_ms')
            floor = mstat(rs, cpu_floor)
            out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                       '| %s | %s |' % (
                           CASE_NAMES.get(key[0], key[0]), key[1], key[2],
                           impl, fmt(wall, 1000), fmt(stat(rs, 'cpu_ms'),
                                                      1000),
                           fmt(stat(rs, 'srv_cpu_ms'), 1000),
                           fmt(stat(rs, 'srv_remote_cpu_ms'), 1000),
                           fmt(stat(rs, 'relay_cpu_ms'), 1000),
                           fmt(mstat(rs, total_cpu), 1000),
                           fmt(floor, 1000),
                           fmt(mstat(rs, wall_per_floor), 1, 1)))
    return out


def compact(tsvs):
    """The README table: one row per workload and RTT."""
    rows, notes = [], {}
    for tsv in tsvs:
        rows += load(tsv)
        notes.update(notes_of(tsv))
    size = {'base': notes.get(('size', 'base'),
                              '20 mailboxes x 150 messages'),
            'boxes': notes.get(('size', 'boxes'),
                               '1000 mailboxes x 9 messages'),
            'many': notes.get(('size', 'many'), '100000 messages'),
            'big': notes.get(('size', 'big'), '50 MiB')}
    label = {'first': 'first sync, %s' % size['base'],
             'nochange': 'no change, %s' % size['base'],
             'incremental': 'incremental, %s' % size['base'],
             'samedate': 'new on both sides, equal dates',
             'boxes-first': 'first sync, %s' % size['boxes'],
             'boxes-nochange': 'no change, %s' % size['boxes'],
             'many-first': 'first sync, one mailbox of %s' % size['many'],
             'big-first': 'first sync, one message of %s' % size['big']}
    have_mb = any(r['impl'] == 'mbsync' for r in rows)
    out = ['| workload | store | RTT ms | reference s | ours s | x |' +
           (' mbsync s |' if have_mb else '') + ' notes |',
           '|' + '---|' * (7 + have_mb)]
    for key in groups(rows):
        ref, ours = pick(rows, key, 'ref'), pick(rows, key, 'ours')
        mb = pick(rows, key, 'mbsync')
        w = (stat(ref, 'wall_ms'), stat(ours, 'wall_ms'))
        note = []
        if key[0] == 'samedate':
            tr = (med([traffic(r) for r in ref if r['verified'] == 'ok']),
                  med([traffic(r) for r in ours if r['verified'] == 'ok']))
            least = med(notes.get(('samedate_bytes', float(key[2])), []))
            note.append('IMAP traffic %s / %s MiB%s' % (
                fmt(tr[0], 1 << 20, 1), fmt(tr[1], 1 << 20, 1),
                ' (least %s)' % fmt(least, 1 << 20, 1) if least else ''))
        if key[0] == 'big-first':
            bulk = notes.get(('relay_bulk', float(key[2])))
            wire = stat(ours, 'wire_down')
            if bulk and wire and w[1]:
                t = wire / (bulk * (1 << 20))
                note.append('wire time %.2f s (%.0f MiB at the relay\'s '
                            '%.0f MiB/s): ours takes %.1fx' % (t, wire / (1 << 20), bulk,
                                            w[1] / 1000 / t))
        nok = (sum(r['verified'] == 'ok' for r in ref),
               sum(r['verified'] == 'ok' for r in ours))
        if nok[0] != len(ref) or nok[1] != len(ours):
            note.append('verified %d/%d, %d/%d' % (nok[0], len(ref), nok[1],
                                                   len(ours)))
        cells = [label.get(key[0], key[0]), key[1], key[2],
                 fmt(w[0], 1000), fmt(w[1], 1000), ratio(*w)]
        if have_mb:
            mw = stat(mb, 'wall_ms')
            cells.append('%s (%sx)' % (fmt(mw, 1000), ratio(mw, w[1]))
                         if mw is not None else '')
        cells.append('; '.join(note))
        out.append('| ' + ' | '.join(cells) + ' |')
    out.append('')
    out.append('Medians of the verified runs; x = reference / ours' +
               ('; mbsync s (mbsync / ours) where it ran.' if have_mb
                else '.'))
    sys.stdout.write('\n'.join(out) + '\n')


def procs_of(r):
    """[(title, hwm_kb, cpu_ms)] sorted by title, numbered when repeated
    (so that the same process is found again in another run)."""
    out = []
    for p in r['procs'].split(';'):
        t = p.rsplit(':', 2)
        if len(t) == 3:
            title = t[0].replace('_', ' ')
            # The main process keeps its argv[0]: a path.
            if title.startswith('/'):
                title = '%s (main)' % title.rsplit('/', 1)[1]
            out.append((title, int(t[1]), int(t[2])))
    out.sort()
    seen = {}
    named = []
    for title, hwm, cpu in out:
        seen[title] = seen.get(title, 0) + 1
        if seen[title] > 1:
            title = '%s #%d' % (title, seen[title])
        named.append((title, hwm, cpu))
    return named


def memory(tsv, count, big_mib):
    rows = load(tsv)
    count = int(count)
    big = int(big_mib) << 20
    out = []
    out.append('Peak RSS (VmHWM) of each client process; **growth** is '
               'the difference with the same process in the baseline run '
               '(one small message), also shown per message for *many* '
               'and as a share of the message for *big*.  For scale, the '
               'UID mapping itself is %d pairs of 32-bit UIDs: %.2f MiB.'
               % (count, count * 8 / (1 << 20)))
    out.append('')
    out.append('| case | impl | verified | wall s | CPU s | process '
               '| peak MiB | growth MiB | growth per input |')
    out.append('|' + '---|' * 9)
    base = {}
    for r in rows:
        if r['case'] == 'baseline':
            for title, hwm, _ in procs_of(r):
                base[(r['impl'], title)] = hwm
    for r in rows:
        if not procs_of(r):
            out.append('| %s | %s | **FAILED: %s** | %.1f | - | (no process '
                       'recorded) | - | - | - |' % (
                           r['case'], r['impl'], r['verified'],
                           float(r['wall_ms']) / 1000))
            continue
        for i, (title, hwm, cpu) in enumerate(procs_of(r)):
            b = base.get((r['impl'], title))
            grow = per = 'n/a'
            if b is not None:
                g = (hwm - b) * 1024
                grow = '%.1f' % (g / (1 << 20))
                if r['case'].startswith('many'):
                    per = '%.0f B/message' % (g / count)
                elif r['case'] == 'big':
                    per = '%.1f %% of the message' % (100.0 * g / big)
                else:
                    per = '-'
            first = i == 0
            verdict = r['verified']
            if verdict != 'ok':
                verdict = '**FAILED: %s** (peaks up to the failure)' % verdict
            out.append('| %s | %s | %s | %s | %s | %s | %.1f | %s | %s |' % (
                r['case'] if first else '', r['impl'] if first else '',
                verdict if first else '',
                '%.1f' % (float(r['wall_ms']) / 1000) if first else '',
                '%.1f' % (float(r['cpu_ms']) / 1000) if first else '',
                title, hwm / 1024, grow, per))
    sys.stdout.write('\n'.join(out) + '\n')


def main(argv):
    if len(argv) in (9, 11) and argv[1] == 'row':
        row(*argv[2:])
    elif len(argv) == 2 and argv[1] == 'header':
        print('\t'.join(HEADER))
    elif len(argv) >= 3 and argv[1] == 'table':
        table(argv[2], argv[3] if len(argv) > 3 else '')
    elif len(argv) >= 3 and argv[1] == 'compact':
        compact(argv[2:])
    elif len(argv) >= 5 and argv[1] == 'memory':
        memory(argv[2], argv[3], argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
