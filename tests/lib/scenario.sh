# shellcheck shell=bash
# Variables set here are read by the scenario files:
# shellcheck disable=SC2034
#
# Differential scenarios: the reference and ours, each in its own world.
#
#	source "$SRCDIR/tests/lib/common.sh"
#	source "$SRCDIR/tests/lib/scenario.sh"
#	scen_setup
#	scen_layout local=tunnel:/ remote=imaps:/
#	scen_begin "new mail both sides"
#	scen_config sync <<'EOF'
#	database = @WORLD@/sync.db
#	[local]
#	@server local@
#	[remote]
#	@server remote@
#	EOF
#	scen_apply local <<'EOF'
#	add INBOX m1 \Seen
#	EOF
#	scen_run sync
#	...
#	t_done
#
# A world is a set of servers, one per role (a role is a name such as
# "local" or "remote" that the configs refer to).  World A is driven by
# the reference (/usr/bin/interimap), world B by ours ($INTERIMAP), or by
# the reference too when INTERIMAP_SCENARIO_SELFTEST=1: that mode proves
# the scenarios themselves (every one must pass).  Both worlds start
# identical (same mailboxes, same bytes, flags and INTERNALDATE, same
# operations in the same order, hence the same UIDs) and every change is
# applied to both.  After each run, scen_run compares the two worlds:
#
#  1. the exit status class (0 / non-zero);
#  2. the log lines of interest (Added, Removed, Updated flags, Created
#     mailbox, Subscribe, WARNING, ERROR, ... and which traffic summaries
#     were printed), normalised: sorted (the reference's mailbox order is
#     hash order), Added/Removed/Updated lines expanded to one line per
#     UID (so that batching may differ), the world's directory replaced by
#     @WORLD@, UIDVALIDITY values in messages replaced by UV, traffic
#     numbers dropped;
#  3. the end state: on every server the mailbox list with subscriptions
#     and, per selectable mailbox, every message's sha256, flags and
#     INTERNALDATE; for every config's database its user_version and its
#     mailboxes / local / remote / mapping rows by mailbox name (idx is
#     hash-order dependent), with UIDVALIDITY shown as "=srv" or "!=srv"
#     against the server, UIDNEXT as "srv", "srv-N" or "srv+N", and
#     HIGHESTMODSEQ as "<=srv" or ">srv" (a lower value only costs a
#     useless SELECT; storing more than the server has would lose
#     changes); plus, per database mailbox, whether both servers hold
#     exactly the same messages and subscription ("insync").
#
# Documented, intentional differences (REFERENCE-BEHAVIOUR §9) are
# declared before a run with scen_ref_only REGEX: world A's normalised log
# must have a line matching REGEX (the reference has the quirk), world B's
# must not (ours fixes it) -- or must, in self-test mode, which proves the
# pattern matches what the reference really prints; matching lines are then
# left out of the comparison.
#
# API:
#   scen_setup                    after t_setup: world dirs, self-test mode
#   scen_layout ROLE=KIND[:SEP[:VAR]] ...
#                                 KIND tunnel (pre-authenticated Dovecot),
#                                 imaps (network Dovecot over IMAPS) or
#                                 cyrus (Cyrus IMAP over IMAPS; every imaps
#                                 is cyrus in the @cyrus variants, where
#                                 $INTERIMAP_TEST_REMOTE is cyrus), SEP its
#                                 hierarchy delimiter (default /; Cyrus: /
#                                 or .), VAR the name of a variable holding
#                                 extra dovecot.conf text (imapd.conf text
#                                 for cyrus) for that server (else
#                                 $DOVECOT_EXTRA_CONF / $CYRUS_EXTRA_CONF);
#                                 servers are started once and reused by
#                                 later scenarios whose layout gives the
#                                 role the same server (a Cyrus is
#                                 restarted empty by scen_begin)
#   scen_begin NAME               wipe every mail store and database, forget
#                                 configs; NAME labels every check
#   scen_config NAME <<EOF        write the config NAME in both worlds from
#                                 a template: @WORLD@ is the world's
#                                 directory, "@server ROLE@" on a line of its
#                                 own the type/command/host/... lines of the
#                                 world's server of that role
#   scen_apply ROLE <<EOF         the same operations on both worlds' server
#                                 ROLE, one connection each; lines:
#                                   add MAILBOX MSG [FLAG...]
#                                   store MAILBOX SET +|-|= [FLAG...]
#                                   expunge MAILBOX SET
#                                   create|delete|subscribe|unsubscribe MBOX
#                                   recreate MAILBOX   (new UIDVALIDITY)
#                                   rename OLD NEW
#                                 (shell words; SET is a UID set whose items
#                                 may be @MSG, the UID of that message)
#   scen_msg MSG [SIZE|8bit]      make message MSG ($T/msgs/MSG.eml, CRLF,
#                                 Message-ID <MSG@scenario.example>, and
#                                 its INTERNALDATE in MSG.date); `add`
#                                 makes a small one itself if missing
#   scen_ref_only REGEX           documented difference, for the next run
#   scen_ours_only REGEX          the other way round, for the next run: a
#                                 fix that makes ours print more (world B's
#                                 log must match REGEX, world A's not; in
#                                 self-test mode neither)
#   scen_state_differs            for the next run only: the end states are
#                                 not compared (a fix that changes them);
#                                 check ours with scen_expect_state_ours
#   scen_run CONF [ARGS...]       run both worlds with --config=CONF, compare
#   scen_expect_rc ok|fail        the reference's exit class in the last run
#   scen_expect_log REGEX WHAT    a line of the reference's normalised log
#   scen_expect_nolog REGEX WHAT  no such line
#   scen_expect_state REGEX WHAT  a line of world A's end state
#   scen_expect_state_ours REGEX WHAT
#                                 a line of world B's end state (skipped in
#                                 self-test mode, where B is the reference)
#   scen_expect_synced WHAT [CONF]
#                                 every mailbox of the databases (of CONF)
#                                 is "insync yes" in world A
#   scen_expect_quiet CONF        one more run of both: nothing to do
#   scen_cyrus_parents CONF MAILBOX...
#                                 cyrus variant only: one more run, which
#                                 copies to local the parents Cyrus made
#                                 mailboxes of their own (see the function)
#
# With Cyrus ($T_REMOTE, the @cyrus variants), the reference's warning
# "Couldn't create mailbox X: NO Mailbox already exists" counts as
# "Created mailbox X" in both worlds' logs (see _scen_cyrus_norm).
#
# Files of the last run: $T/A/log, $T/A/state, $T/A/run.err (same for B).

SCEN_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# One run should take seconds; a hung one must not eat the file's budget.
T_TIMEOUT=${SCEN_TIMEOUT:-90}

# --------------------------------------------------------------------------
# The Python side: world state, log normalisation, store operations.  It
# reuses imapctl.py (tests/lib) for the IMAP conversation.

SCEN_PY=$(cat <<'PYEOF'
import concurrent.futures
import hashlib
import os
import re
import shlex
import sqlite3
import sys

sys.path.insert(0, os.environ['SCEN_LIBDIR'])
import imapctl                                  # noqa: E402


def sq(name):
    return imapctl.quote(name)


def listing(c):
    untagged, _ = c.command(b'LIST "" "*"')
    listed = imapctl.parse_list(untagged, b'LIST')
    subs = imapctl.subscriptions(c)
    return listed, subs


def delimiter(c):
    untagged, _ = c.command(b'LIST "" ""')
    for r in untagged:
        _, p = imapctl.untagged_data(r, b'LIST')
        if p is not None:
            p.value()
            d = p.value()
            return d if d is not None else b''
    return b''


def status(c, name):
    untagged, _ = c.command(b'STATUS ' + sq(name) +
                            b' (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)')
    for r in untagged:
        _, p = imapctl.untagged_data(r, b'STATUS')
        if p is None:
            continue
        p.value()
        lst = p.value()
        return dict((lst[k].decode().upper(), int(lst[k + 1]))
                    for k in range(0, len(lst) - 1, 2))
    raise imapctl.ImapError('no STATUS for %r' % name)


def dump(c, name, uidflags):
    """The messages' lines; uidflags gets each UID's flags as ours keeps
    them (sorted, space-separated)."""
    if imapctl.select(c, name) == 0:
        return []
    lines = []
    for d in imapctl.fetch_all(c, b'UID FLAGS INTERNALDATE BODY.PEEK[]'):
        body = d.get(b'BODY[]') or b''
        flags = sorted(f.decode('latin-1') for f in d.get(b'FLAGS', [])
                       if f.upper() != b'\\RECENT')
        uidflags[int(d[b'UID'])] = ' '.join(flags)
        lines.append('%s %s %s' % (hashlib.sha256(body).hexdigest(),
                                   ','.join(flags) if flags else '-',
                                   imapctl.internaldate(d[b'INTERNALDATE'])))
    return sorted(lines)


def show(b):
    return b.decode('latin-1')


class Server:
    """Everything a comparison needs from one server, one connection."""

    def __init__(self, tunnel):
        c = imapctl.Conn(tunnel)
        try:
            self.delim = delimiter(c)
            listed, subs = listing(c)
            self.mailboxes = {}         # name -> state string
            self.selectable = {}        # name -> (dump, status)
            self.uidflags = {}          # name -> {uid: flags}
            self.subscribed = set(subs)
            for name in set(listed) | set(subs):
                attrs = listed[name][0] if name in listed else []
                st = []
                if name in subs:
                    st.append('subscribed')
                if name not in listed or '\\nonexistent' in attrs:
                    st.append('nonexistent')
                elif '\\noselect' in attrs:
                    st.append('noselect')
                self.mailboxes[name] = ','.join(st) or '-'
                if name in listed and '\\noselect' not in attrs and \
                        '\\nonexistent' not in attrs:
                    self.uidflags[name] = {}
                    self.selectable[name] = (dump(c, name,
                                                  self.uidflags[name]),
                                             status(c, name))
        finally:
            c.close()

    def text(self, role):
        out = []
        for name in sorted(self.mailboxes):
            out.append('%s: mailbox %s %s' % (role, show(name),
                                              self.mailboxes[name]))
        for name in sorted(self.selectable):
            d = self.selectable[name][0]
            out.append('%s: %s: %d message(s)' % (role, show(name), len(d)))
            out.extend('%s: %s: %s' % (role, show(name), ln) for ln in d)
        return out


def read_ini(path):
    sec = {'': {}}
    cur = ''
    with open(path, 'rb') as fh:
        for raw in fh.read().decode('latin-1').splitlines():
            ln = raw.strip()
            if not ln or ln[0] in '#;':
                continue
            m = re.match(r'^\[\s*(.*?)\s*\]$', ln)
            if m:
                cur = m.group(1)
                sec.setdefault(cur, {})
                continue
            k, _, v = ln.partition('=')
            sec[cur][k.strip()] = v.strip()
    return sec


def rel(db, srv):
    if db == srv:
        return 'srv'
    return 'srv%+d' % (db - srv)


def db_text(name, conf, servers, registry):
    """The database of config NAME, normalised against its servers."""
    ini = read_ini(conf)
    out = []
    side = {}
    plain = {}
    for s in ('local', 'remote'):
        sect = dict(ini.get(''))
        sect.update(ini.get(s, {}))
        # World B's network servers hide CONDSTORE in the plain variants
        # (scen_layout): ours keeps their flags, and MODSEQs are its own.
        plain[s] = os.environ.get('INTERIMAP_TEST_METHOD') == 'plain' and \
            '/B/' in conf and sect.get('type', 'imaps') != 'tunnel'
        role = None
        for r, (tunnel, port) in registry.items():
            if sect.get('type') == 'tunnel' and sect.get('command') == tunnel:
                role = r
            elif sect.get('type', 'imaps') != 'tunnel' and \
                    sect.get('port') == port:
                role = r
        if role is None:
            raise SystemExit('scenario: %s: no server for [%s]' % (conf, s))
        side[s] = (servers[role], sect.get('list-reference', '').encode())
    db = ini[''].get('database')
    p = 'db %s' % name
    if not db or not os.path.isabs(db):
        raise SystemExit('scenario: %s: database must be absolute' % conf)
    if not os.path.exists(db):
        return ['%s: absent' % p]
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    try:
        out.append('%s: user_version %d' %
                   (p, con.execute('PRAGMA user_version').fetchone()[0]))
        names = {}
        for idx, mbx, sub in con.execute(
                'SELECT idx, mailbox, subscribed FROM mailboxes'):
            mbx = bytes(mbx) if not isinstance(mbx, str) else mbx.encode()
            names[idx] = mbx
            out.append('%s: mailbox %s subscribed=%s' %
                       (p, show(mbx.replace(b'\0', b'\\0')), sub))

        def nm(idx):
            if idx in names:
                return show(names[idx].replace(b'\0', b'\\0'))
            return '?idx'

        def server_name(s, mbx):
            srv, ref = side[s]
            return ref + mbx.replace(b'\0', srv.delim)

        for s in ('local', 'remote'):
            srv = side[s][0]
            for idx, uv, un, hms in con.execute(
                    'SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM ' +
                    s):
                hms &= (1 << 64) - 1
                n = server_name(s, names.get(idx, b''))
                if n not in srv.selectable:
                    out.append('%s: %s %s (no such mailbox) uidnext=%d' %
                               (p, s, nm(idx), un))
                    continue
                st = srv.selectable[n][1]
                if uv != st['UIDVALIDITY']:
                    # Another mailbox of that name (recreated): its
                    # UIDNEXT and HIGHESTMODSEQ say nothing of the row's.
                    out.append('%s: %s %s uidvalidity!=srv' %
                               (p, s, nm(idx)))
                    continue
                out.append('%s: %s %s uidvalidity=srv uidnext=%s hms%s' % (
                    p, s, nm(idx), rel(un, st['UIDNEXT']),
                    '<=srv' if plain[s] or hms <= st['HIGHESTMODSEQ']
                    else '>srv'))
        kept = {}
        if any(plain.values()):
            if con.execute("SELECT COUNT(*) FROM sqlite_master WHERE "
                           "name = 'flagstate'").fetchone()[0]:
                for idx, sd, uid, fl in con.execute(
                        'SELECT idx, side, UID, flags FROM flagstate'):
                    kept[(idx, sd, uid)] = fl
        for idx, l, r in con.execute(
                'SELECT idx, lUID, rUID FROM mapping'):
            out.append('%s: map %s %d %d' % (p, nm(idx), l, r))
            # After a sync, what ours kept of a plain server's message
            # is what it has (a line only where not: A has none).
            for sd, s, uid in ((0, 'local', l), (1, 'remote', r)):
                if not plain[s]:
                    continue
                srv = side[s][0]
                have = srv.uidflags.get(server_name(s, names.get(idx, b'')),
                                        {}).get(uid)
                if have is not None and kept.get((idx, sd, uid)) != have:
                    out.append('%s: flagstate %s %s UID %d: kept %r, '
                               'server has %r' % (p, nm(idx), s, uid,
                                                  kept.get((idx, sd, uid)),
                                                  have))
        for idx in names:
            why = []
            ln = server_name('local', names[idx])
            rn = server_name('remote', names[idx])
            lsrv, rsrv = side['local'][0], side['remote'][0]
            if ln not in lsrv.selectable:
                why.append('local missing')
            if rn not in rsrv.selectable:
                why.append('remote missing')
            if not why and lsrv.selectable[ln][0] != \
                    rsrv.selectable[rn][0]:
                why.append('messages differ')
            ls = ln in lsrv.subscribed
            rs = rn in rsrv.subscribed
            dbs = con.execute('SELECT subscribed FROM mailboxes WHERE '
                              'idx = ?', (idx,)).fetchone()[0]
            if ls != rs or bool(dbs) != ls:
                why.append('subscriptions local=%d remote=%d db=%d' %
                           (ls, rs, dbs))
            out.append('%s: insync %s %s' %
                       (p, nm(idx), 'yes' if not why else
                        'NO (' + ', '.join(why) + ')'))
    finally:
        con.close()
    return out


def world_state(spec):
    """The state lines of one world: spec = {'servers': [(role, tunnel,
    port)], 'confs': [(name, path)]}."""
    registry = {}
    servers = {}
    for role, tunnel, port in spec['servers']:
        registry[role] = (tunnel, port)
        servers[role] = Server(tunnel)
    out = []
    for role in sorted(servers):
        out.extend(servers[role].text(role))
    for name, conf in spec['confs']:
        out.extend(db_text(name, conf, servers, registry))
    return sorted(out)


def read_spec(f):
    """world DIR / server ROLE TUNNEL PORT / conf NAME PATH lines."""
    worlds = []
    for ln in f.read().splitlines():
        w = ln.split(' ')
        if w[0] == 'world':
            worlds.append({'dir': w[1], 'servers': [], 'confs': []})
        elif w[0] == 'server':
            worlds[-1]['servers'].append((w[1], w[2], w[3]))
        elif w[0] == 'conf':
            worlds[-1]['confs'].append((w[1], w[2]))
    return worlds


def post_world(spec):
    """After a run, in the world's DIR: run.all -> log (+ log.other),
    the servers and databases -> state (errors in state.err)."""
    d = spec['dir']
    keep, other = normlog(os.path.join(d, 'run.all'), d)
    with open(os.path.join(d, 'log'), 'w', encoding='latin-1') as fh:
        fh.write(''.join(ln + '\n' for ln in keep))
    with open(os.path.join(d, 'log.other'), 'w', encoding='latin-1') as fh:
        fh.write(''.join(ln + '\n' for ln in other))
    try:
        lines = world_state(spec)
        err = ''
    except Exception as e:          # reported, and the state left empty
        lines = []
        err = '%s: %s\n' % (type(e).__name__, e)
    with open(os.path.join(d, 'state'), 'w', encoding='latin-1') as fh:
        fh.write(''.join(ln + '\n' for ln in lines))
    with open(os.path.join(d, 'state.err'), 'w') as fh:
        fh.write(err)
    return not err


def cmd_post(args):
    """post, the worlds' spec on stdin: both worlds at once."""
    worlds = read_spec(sys.stdin)
    with concurrent.futures.ThreadPoolExecutor(len(worlds)) as ex:
        ok = list(ex.map(post_world, worlds))
    return 0 if all(ok) else 1


UIDSET = r'(\d+(?::\d+)?(?:,\d+(?::\d+)?)*)'


def expand(s):
    out = []
    for item in s.split(','):
        a, _, b = item.partition(':')
        a = int(a)
        b = int(b) if b else a
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


INTEREST = re.compile(
    r"Added |Removed |Updated flags|Couldn't |Created mailbox|"
    r"Deleted mailbox|Renamed mailbox|Subscribe to|Unsubscribe to|"
    r"WARNING|ERROR|PANIC|Resuming interrupted|Creating new schema|"
    r"Upgrading database|IMAP traffic|\): UID \d+ from <")


def normline(ln, world):
    ln = ln.replace(world, '@WORLD@')
    m = re.match(r'^(.*): IMAP traffic \(bytes\): ', ln)
    if m:
        return [m.group(1) + ': IMAP traffic (bytes): ...']
    m = re.match(r'^(.*): Added (\d+) UID\(s\) (to \S+ )?' + UIDSET +
                 r' (<-|->) ' + UIDSET + r'$', ln)
    if m:
        a, b = expand(m.group(4)), expand(m.group(6))
        if len(a) == len(b) == int(m.group(2)):
            return ['%s: Added %sUID %d %s %d' %
                    (m.group(1), m.group(3) or '', x, m.group(5), y)
                    for x, y in zip(a, b)]
    m = re.match(r'^(.*): Removed (\d+) UID\(s\) ' + UIDSET + r'$', ln)
    if m and len(expand(m.group(3))) == int(m.group(2)):
        return ['%s: Removed UID %d' % (m.group(1), u)
                for u in expand(m.group(3))]
    m = re.match(r'^(.*): Updated flags \((.*)\) for UID ' + UIDSET + r'$',
                 ln)
    if m:
        return ['%s: Updated flags (%s) for UID %d' %
                (m.group(1), m.group(2), u) for u in expand(m.group(3))]
    ln = re.sub(r'UIDVALIDITY changed! \(\d+ != \d+\)',
                'UIDVALIDITY changed! (UV != UV)', ln)
    return [ln]


def normlog(path, world):
    """The interesting lines of a run's output, normalised and sorted;
    and the other ones."""
    keep = []
    other = []
    with open(path, 'rb') as fh:
        for raw in fh.read().decode('latin-1').splitlines():
            if INTEREST.search(raw):
                keep.extend(normline(raw, world))
            elif raw.strip():
                other.append(raw)
    return sorted(keep), other


def find_uid(c, msg):
    untagged, _ = c.command(b'UID SEARCH HEADER Message-ID ' +
                            sq('<%s@scenario.example>' % msg))
    uids = []
    for r in untagged:
        m = re.match(rb'\* SEARCH((?: \d+)*)', r)
        if m:
            uids.extend(int(x) for x in m.group(1).split())
    if len(uids) != 1:
        raise imapctl.ImapError('message %s: %d UIDs %r' %
                                (msg, len(uids), uids))
    return str(uids[0])


def resolve(c, mailbox, uidset):
    imapctl.select(c, mailbox, readonly=False)
    return ','.join(find_uid(c, x[1:]) if x.startswith('@') else x
                    for x in uidset.split(','))


def words(ln):
    """Shell-like words, but a backslash is an ordinary character
    (flags are \\Seen, not escapes)."""
    lex = shlex.shlex(ln, posix=True)
    lex.whitespace_split = True
    lex.escape = ''
    lex.commenters = ''
    return list(lex)


def apply_ops(tunnel, msgdir, ops):
    """Run the operations on one server; an error message or None."""
    c = imapctl.Conn(tunnel)
    op = None
    try:
        for op in ops:
            if not op or op[0].startswith('#'):
                continue
            k = op[0]
            if k == 'add':
                mailbox, msg, flags = op[1], op[2], op[3:]
                with open(os.path.join(msgdir, msg + '.eml'), 'rb') as fh:
                    data = fh.read()
                with open(os.path.join(msgdir, msg + '.date')) as fh:
                    date = fh.read().strip()
                imapctl.create(c, mailbox)
                cmd = b'APPEND ' + sq(mailbox)
                if flags:
                    cmd += b' ' + imapctl.flag_list(flags)
                cmd += b' ' + sq(date)
                c.command(cmd, literal=data)
            elif k == 'store':
                mailbox, uids, how, flags = op[1], op[2], op[3], op[4:]
                item = {'+': b'+FLAGS.SILENT', '-': b'-FLAGS.SILENT',
                        '=': b'FLAGS.SILENT'}[how]
                uids = resolve(c, mailbox, uids)
                c.command(b'UID STORE ' + uids.encode() + b' ' + item +
                          b' ' + imapctl.flag_list(flags))
            elif k == 'expunge':
                uids = resolve(c, op[1], op[2]).encode()
                c.command(b'UID STORE ' + uids +
                          b' +FLAGS.SILENT (\\Deleted)')
                c.command(b'UID EXPUNGE ' + uids)
            elif k == 'create':
                imapctl.create(c, op[1])
            elif k in ('delete', 'subscribe', 'unsubscribe'):
                c.command(k.upper().encode() + b' ' + sq(op[1]))
            elif k == 'recreate':
                before = status(c, op[1])['UIDVALIDITY']
                c.command(b'DELETE ' + sq(op[1]))
                imapctl.create(c, op[1])
                if status(c, op[1])['UIDVALIDITY'] == before:
                    raise imapctl.ImapError('UIDVALIDITY did not change')
            elif k == 'rename':
                c.command(b'RENAME ' + sq(op[1]) + b' ' + sq(op[2]))
            else:
                raise imapctl.ImapError('unknown operation %r' % k)
    except (imapctl.Refused, imapctl.ImapError, OSError, KeyError,
            IndexError) as e:
        c.close()
        return '%r: %s' % (op, e)
    c.close()
    return None


def cmd_apply(args):
    """apply MSGDIR TUNNEL...: the operations on stdin, on every server
    at once."""
    msgdir, tunnels = args[0], args[1:]
    ops = [words(ln) for ln in sys.stdin.read().splitlines()]
    for op in ops:
        if op and op[0] == 'add' and len(op) > 2 and not \
                os.path.exists(os.path.join(msgdir, op[2] + '.eml')):
            cmd_msg([msgdir, op[2]])
    with concurrent.futures.ThreadPoolExecutor(len(tunnels)) as ex:
        errs = list(ex.map(lambda t: apply_ops(t, msgdir, ops), tunnels))
    rc = 0
    for t, e in zip(tunnels, errs):
        if e is not None:
            print('scenario: apply on %s: %s' % (t, e), file=sys.stderr)
            rc = 1
    return rc


def cmd_msg(args):
    """msg DIR ID [SIZE|8bit]: a message with CRLF line ends, and the
    INTERNALDATE it is appended with (in UTC, as the servers show it)."""
    d, msg = args[0], args[1]
    kind = args[2] if len(args) > 2 else ''
    h = int(hashlib.sha256(msg.encode()).hexdigest(), 16)
    months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug',
              'Sep', 'Oct', 'Nov', 'Dec']
    day, mon, hh, mm, ss = (1 + h % 28, months[(h >> 8) % 12],
                            (h >> 16) % 24, (h >> 24) % 60, (h >> 32) % 60)
    date = '%02d-%s-2023 %02d:%02d:%02d +0000' % (day, mon, hh, mm, ss)
    head = ('From: Sender %s <sender@example.org>\r\n'
            'To: Rcpt <rcpt@example.net>\r\n'
            'Subject: scenario message %s\r\n'
            'Date: %d %s 2023 %02d:%02d:%02d +0000\r\n'
            'Message-ID: <%s@scenario.example>\r\n' %
            (msg, msg, day, mon, hh, mm, ss, msg)).encode()
    if kind == '8bit':
        # Raw 8-bit bytes in a header too (RFC 6532 style), and every
        # byte value from 0x80 up in the body.
        head += ('X-Scenario: R\u00e9sum\u00e9 \u2014 na\u00efve '
                 '\u65e5\u672c\r\n').encode('utf-8')
        head += (b'MIME-Version: 1.0\r\n'
                 b'Content-Type: text/plain; charset=utf-8\r\n'
                 b'Content-Transfer-Encoding: 8bit\r\n\r\n')
        body = ('Fran\u00e7ais, \u20ac, \u65e5\u672c\u8a9e, '
                '\U0001f600 in UTF-8.\r\n').encode('utf-8')
        body += b'Latin-1 bytes: \xe9\xe8\xff\xa0 and C1: \x85\x9f.\r\n'
        body += bytes(range(0x80, 0x100)) + b'\r\n'
    elif kind:
        # SIZE bytes of text that does not compress much (COMPRESS=DEFLATE
        # is on): lines of hex digits from a hash chain.
        size = int(kind)
        head += b'\r\n'
        n = max(1, (size - len(head)) // 66)
        seed = hashlib.sha256(msg.encode()).digest()
        parts = []
        for i in range(n):
            seed = hashlib.sha256(seed).digest()
            parts.append(seed.hex().encode() + b'\r\n')
        body = b''.join(parts)
    else:
        head += b'\r\n'
        body = ('Body of message %s.\r\n' % msg).encode()
    with open(os.path.join(d, msg + '.eml'), 'wb') as fh:
        fh.write(head + body)
    with open(os.path.join(d, msg + '.date'), 'w') as fh:
        fh.write(date + '\n')


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'post':
        return cmd_post(args)
    if cmd == 'apply':
        return cmd_apply(args)
    if cmd == 'msg':
        return cmd_msg(args)
    raise SystemExit('scenario: unknown command %s' % cmd)


sys.exit(main() or 0)
PYEOF
)

_scen_py()
{
	SCEN_LIBDIR=$SCEN_LIBDIR /usr/bin/python3 -c "$SCEN_PY" "$@"
}

# The building blocks, for tests that keep their own servers (alternate.sh):
#   scen_ops TUNNEL... <<EOF     the operations of scen_apply on the
#                                servers behind these tunnel scripts
#   scen_read_world DIR ROLE=TUNNEL=PORT... -- CONF=PATH...
#                                DIR/run.all -> DIR/log (normalised) and
#                                the servers' and databases' state ->
#                                DIR/state, as scen_run does for A and B
scen_ops()
{
	_scen_py apply "$T/msgs" "$@"
}

scen_read_world()
{
	local dir=$1 a role tunnel port

	shift
	{
		echo "world $dir"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			IFS='=' read -r role tunnel port <<<"$1"
			echo "server $role $tunnel $port"
			shift
		done
		[ $# -gt 0 ] && shift
		for a in "$@"; do
			echo "conf ${a%%=*} ${a#*=}"
		done
	} | _scen_py post
}

# --------------------------------------------------------------------------
# Worlds and servers

scen_setup()
{
	SCEN_SELFTEST=${INTERIMAP_SCENARIO_SELFTEST:-0}
	[ "$SCEN_SELFTEST" = 1 ] || SCEN_SELFTEST=0
	if [ "$SCEN_SELFTEST" = 1 ]; then
		t_log "self-test: world B runs the reference too"
	else
		t_log "world B runs ours: ${INTERIMAP:-}"
	fi
	mkdir -p "$T/A" "$T/B" "$T/msgs" || exit 1
	SCEN_NSRV=0
	# What world B's servers hide (scen_layout): 0 nothing, 1 QRESYNC and
	# the three fallbacks' capabilities, 2 QRESYNC, CONDSTORE and
	# ESEARCH, 3 those and the three fallbacks' (_scen_lacks checks it).
	SCEN_HIDES=0
	SCEN_LACKS_SEEN=0
	t_on_done _scen_lacks_seen
	SCEN_ROLES=()
	declare -gA SCEN_SPEC=() SCEN_SRV=() SCEN_KIND=()
	SCEN_NAME=
	SCEN_B_TIMEOUT=$T_TIMEOUT
	SCEN_REF_ONLY=()
	SCEN_OURS_ONLY=()
	SCEN_STATE_DIFFERS=0
}

# scen_layout ROLE=KIND[:SEP[:VAR]] ...
scen_layout()
{
	local arg role kind sep spec w name var extra
	local base=${DOVECOT_EXTRA_CONF:-} DOVECOT_EXTRA_CONF
	local cbase=${CYRUS_EXTRA_CONF:-} CYRUS_EXTRA_CONF

	SCEN_ROLES=()
	for arg in "$@"; do
		role=${arg%%=*}
		IFS=: read -r kind sep var <<<"${arg#*=}"
		: "${sep:=/}"
		if [ "$kind" = imaps ] && [ "$T_REMOTE" = cyrus ]; then
			if [ -n "$var" ]; then
				t_fail "scen_layout: $arg: no Cyrus for Dovecot settings"
				t_done
			fi
			kind=cyrus
		fi
		DOVECOT_EXTRA_CONF=$base
		CYRUS_EXTRA_CONF=$cbase
		if [ -n "$var" ] && [ "$kind" = cyrus ]; then
			CYRUS_EXTRA_CONF=${!var}
		elif [ -n "$var" ]; then
			DOVECOT_EXTRA_CONF=${!var}
		fi
		extra=$DOVECOT_EXTRA_CONF
		[ "$kind" = cyrus ] && extra=$CYRUS_EXTRA_CONF
		spec="$kind:$sep:$(printf '%s' "$extra" |
		    sha256sum | cut -c1-16)"
		SCEN_ROLES+=("$role")
		if [ "${SCEN_SPEC[$role]:-}" = "$spec" ]; then
			continue
		fi
		SCEN_NSRV=$((SCEN_NSRV + 1))
		for w in A B; do
			name=${role}_${SCEN_NSRV}$w
			# Ours syncs the network servers without QRESYNC,
			# and without LIST-EXTENDED, LIST-STATUS and UIDPLUS
			# either (LIST, LSUB, a STATUS per mailbox, and a UID
			# FETCH after the APPENDs), Dovecot and Cyrus alike.
			# A Cyrus that lacks QRESYNC only (Gmail's kind) is
			# crash_resume_cyrus@condstore's and notify's.
			if [ "$T_METHOD" = condstore ] && [ "$w" = B ] &&
			    [ "$kind" != tunnel ]; then
				if [ "$kind" = cyrus ]; then
					CYRUS_EXTRA_CONF=$extra$'\n'$(hide_caps \
					    cyrus QRESYNC LIST-EXTENDED \
					    LIST-STATUS UIDPLUS)
				else
					DOVECOT_EXTRA_CONF=$extra$'\n'$(hide_caps \
					    dovecot-server QRESYNC LIST-EXTENDED \
					    LIST-STATUS UIDPLUS)
				fi
				SCEN_HIDES=1
			fi
			# Plain IMAP4rev1: Dovecot as Exchange offers it
			# (no QRESYNC, CONDSTORE or ESEARCH: the UID list in
			# pieces; UIDPLUS and LIST-STATUS kept), Cyrus as
			# bare as DavMail (no LIST-EXTENDED, LIST-STATUS or
			# UIDPLUS either).
			if [ "$T_METHOD" = plain ] && [ "$w" = B ] &&
			    [ "$kind" != tunnel ]; then
				if [ "$kind" = cyrus ]; then
					CYRUS_EXTRA_CONF=$extra$'\n'$(hide_caps \
					    cyrus QRESYNC CONDSTORE ESEARCH \
					    LIST-EXTENDED LIST-STATUS UIDPLUS)
					SCEN_HIDES=3
				else
					DOVECOT_EXTRA_CONF=$extra$'\n'$(hide_caps \
					    dovecot-server QRESYNC CONDSTORE \
					    ESEARCH)
					SCEN_HIDES=2
				fi
			fi
			case $kind in
			tunnel)
				dovecot_tunnel "$name" "$sep" >/dev/null || {
					t_fail "scen_layout: dovecot_tunnel $name"
					t_done
				}
				;;
			imaps)
				dovecot_server "$name" "$sep" || {
					t_fail "scen_layout: dovecot_server $name"
					t_done
				}
				;;
			cyrus)
				cyrus_server "$name" "$sep" || {
					t_fail "scen_layout: cyrus_server $name"
					t_done
				}
				;;
			*)
				t_fail "scen_layout: bad kind '$kind'"
				t_done
				;;
			esac
			SCEN_SRV[$role$w]=$name
		done
		SCEN_SPEC[$role]=$spec
		SCEN_KIND[$role]=$kind
	done
}

_scen_port()
{
	local role=$1 w=$2

	if [ "${SCEN_KIND[$role]}" = tunnel ]; then
		echo -
	else
		server_var "${SCEN_SRV[$role$w]}" IMAPS_PORT
	fi
}

# The imapctl.py endpoint of ROLE's server in world W (a Dovecot's
# tunnel.sh, a Cyrus's imapctl.login).
_scen_tunnel()
{
	if [ "${SCEN_KIND[$1]}" = cyrus ]; then
		echo "$T/${SCEN_SRV[$1$2]}/imapctl.login"
	else
		echo "$T/${SCEN_SRV[$1$2]}/tunnel.sh"
	fi
}

# The config lines that reach the server of ROLE in world W.
_scen_server_lines()
{
	local role=$1 w=$2 name

	name=${SCEN_SRV[$role$w]:-}
	if [ -z "$name" ]; then
		echo "scen_config: no server for role '$role'" >&2
		return 1
	fi
	if [ "${SCEN_KIND[$role]}" = tunnel ]; then
		echo "type = tunnel"
		echo "command = $(_scen_tunnel "$role" "$w")"
	else
		imaps_lines "$name"
	fi
}

# Wait until no IMAP process of this test's servers is still running (a
# client that just closed its connection leaves one finishing its work).
_scen_quiesce()
{
	local i pid base masters busy name

	masters=
	for name in "${SCEN_SRV[@]}"; do
		[ -f "$T/$name/base_dir" ] || continue
		base=$(cat "$T/$name/base_dir")
		masters+=" $(cat "$base/master.pid" 2>/dev/null)"
	done
	for ((i = 0; i < 100; i++)); do
		busy=
		for pid in $masters; do
			if pgrep -P "$pid" -x imap >/dev/null; then
				busy=1
			fi
		done
		if [ -z "$busy" ]; then
			for pid in $(pgrep -x imap); do
				grep -qzxF -- "INTERIMAP_TEST_SCRATCH=$T" \
				    "/proc/$pid/environ" 2>/dev/null &&
				    _t_alive "$pid" && busy=1
			done
		fi
		[ -z "$busy" ] && return 0
		sleep 0.05
	done
	t_log "scenario: IMAP processes still running after 5s"
}

# scen_begin NAME: a fresh scenario on the current layout.
scen_begin()
{
	local role w dir

	SCEN_NAME=$1
	SCEN_RUN=0
	SCEN_REF_ONLY=()
	SCEN_OURS_ONLY=()
	SCEN_STATE_DIFFERS=0
	SCEN_CONFS=()
	t_log "==== scenario: $SCEN_NAME"
	_scen_quiesce
	for role in "${SCEN_ROLES[@]}"; do
		for w in A B; do
			if [ "${SCEN_KIND[$role]}" = cyrus ]; then
				# Cyrus subscribes the INBOX it creates at
				# the first login; a new Dovecot has no
				# subscription: start from the same state.
				if ! cyrus_reset "${SCEN_SRV[$role$w]}" ||
				    ! scen_ops "$(_scen_tunnel "$role" "$w")" \
				    <<<'unsubscribe INBOX'; then
					t_fail "scen_begin: cyrus_reset"
					t_done
				fi
				continue
			fi
			dir=$T/${SCEN_SRV[$role$w]}
			find "$dir/home/" -mindepth 1 -delete
		done
	done
	for w in A B; do
		rm -rf "${T:?}/$w"
		mkdir -p "$T/$w"
	done
}

# scen_config NAME <<EOF (template on stdin)
scen_config()
{
	local name=$1 w tmpl line role

	tmpl=$(cat)
	for w in A B; do
		while IFS= read -r line; do
			if [[ $line =~ ^@server\ ([A-Za-z0-9_]+)@$ ]]; then
				role=${BASH_REMATCH[1]}
				_scen_server_lines "$role" "$w" || return 1
			else
				printf '%s\n' "${line//@WORLD@/$T/$w}"
			fi
		done <<<"$tmpl" | write_config "$T/$w/$name.conf"
	done
	SCEN_CONFS+=("$name")
}

# scen_msg MSG [SIZE|8bit]
scen_msg()
{
	_scen_py msg "$T/msgs" "$@" || t_fail "scen_msg $*"
}

# scen_apply ROLE <<EOF (operations on stdin)
scen_apply()
{
	local role=$1

	# Both worlds at once, and both even if one fails: they must not
	# drift apart.
	if ! _scen_py apply "$T/msgs" "$(_scen_tunnel "$role" A)" \
	    "$(_scen_tunnel "$role" B)"; then
		t_fail "$SCEN_NAME: scen_apply $role"
		return 1
	fi
}

# scen_ref_only REGEX: see the header.
scen_ref_only()
{
	SCEN_REF_ONLY+=("$1")
}

# scen_ours_only REGEX, scen_state_differs: see the header.
scen_ours_only()
{
	SCEN_OURS_ONLY+=("$1")
}

scen_state_differs()
{
	SCEN_STATE_DIFFERS=1
}

# The description of both worlds for `_scen_py post`.
_scen_spec()
{
	local w role conf

	for w in A B; do
		echo "world $T/$w"
		for role in "${SCEN_ROLES[@]}"; do
			echo "server $role $(_scen_tunnel "$role" "$w")" \
			    "$(_scen_port "$role" "$w")"
		done
		for conf in "${SCEN_CONFS[@]}"; do
			echo "conf $conf $T/$w/$conf.conf"
		done
	done
}

# _scen_exec W TIMEOUT PROGRAM ARGS...: one run, in the background;
# $T/W/rc holds the exit status once it is over.
_scen_exec()
{
	local w=$1 tmo=$2

	shift 2
	rm -f "$T/$w/rc"
	(
		timeout -k 5 "$tmo" "$@" </dev/null >"$T/$w/run.out" \
		    2>"$T/$w/run.err"
		echo $? >"$T/$w/rc"
	) &
}

# The lines of $T/W/log matching REGEX.
_scen_grep()
{
	grep -E -- "$2" "$T/$1/log" || true
}

# With capabilities hidden from ours (scen_layout), the first run of B
# that says what its server lacks names all four, so that a server that
# kept advertising one (hide_caps not taking) cannot pass unnoticed; at
# t_done, that some run said it.
_scen_lacks()
{
	local cap

	[ "$SCEN_HIDES" != 0 ] && [ "$SCEN_LACKS_SEEN" = 0 ] &&
	    [ "$SCEN_SELFTEST" = 0 ] || return 0
	grep -q 'Server lacks QRESYNC' "$T/B/run.all" || return 0
	SCEN_LACKS_SEEN=1
	if [ "$SCEN_HIDES" -ge 2 ]; then
		t_expect_eq "$(grep -c 'Server lacks QRESYNC and CONDSTORE: syncing with plain' "$T/B/run.all")" 1 \
		    "$SCEN_NAME: ours says once that it syncs with plain IMAP4rev1"
	fi
	if [ "$SCEN_HIDES" = 2 ]; then
		t_expect_eq "$(grep -c 'Server lacks' "$T/B/run.all")" 1 \
		    "$SCEN_NAME: and lacks nothing else"
		return 0
	fi
	for cap in LIST-EXTENDED LIST-STATUS UIDPLUS; do
		t_expect_eq "$(grep -c "Server lacks $cap:" "$T/B/run.all")" 1 \
		    "$SCEN_NAME: ours says once that the server lacks $cap"
	done
}

_scen_lacks_seen()
{
	[ "$SCEN_HIDES" != 0 ] && [ "$SCEN_SELFTEST" = 0 ] || return 0
	t_expect_eq "$SCEN_LACKS_SEEN" 1 \
	    "a run of ours said that the server lacks QRESYNC"
}

# scen_run CONF [ARGS...]
scen_run()
{
	local conf=$1 what cls_a cls_b re hits w pids=()

	shift
	SCEN_RUN=$((SCEN_RUN + 1))
	what="$SCEN_NAME: run $SCEN_RUN ($conf${*:+ $*})"

	# Both worlds at once: they share nothing.
	_scen_exec A "$T_TIMEOUT" "$REF_INTERIMAP" --config="$T/A/$conf.conf" "$@"
	pids+=($!)
	if [ "$SCEN_SELFTEST" = 1 ]; then
		_scen_exec B "$T_TIMEOUT" "$REF_INTERIMAP" \
		    --config="$T/B/$conf.conf" "$@"
		pids+=($!)
	elif [ -n "${INTERIMAP:-}" ] && [ -x "$INTERIMAP" ]; then
		_scen_exec B "$SCEN_B_TIMEOUT" "$INTERIMAP" \
		    --config="$T/B/$conf.conf" "$@"
		pids+=($!)
	else
		t_fail "$what: \$INTERIMAP ('${INTERIMAP:-}') is not executable"
		: >"$T/B/run.out"
		: >"$T/B/run.err"
		echo 127 >"$T/B/rc"
	fi
	wait "${pids[@]}"
	SCEN_RC_A=$(cat "$T/A/rc" 2>/dev/null || echo 255)
	SCEN_RC_B=$(cat "$T/B/rc" 2>/dev/null || echo 255)
	# After one timeout of ours, do not let every later run wait as long.
	if [ "$SCEN_SELFTEST" = 0 ] &&
	    { [ "$SCEN_RC_B" -eq 124 ] || [ "$SCEN_RC_B" -eq 137 ]; }; then
		t_log "B timed out: later runs of B get 15s"
		SCEN_B_TIMEOUT=15
	fi
	for w in A B; do
		cat "$T/$w/run.out" "$T/$w/run.err" >"$T/$w/run.all"
	done
	_scen_lacks
	_scen_quiesce

	# Logs and states of both worlds, in one go.
	if ! _scen_spec | _scen_py post; then
		t_fail "$what: reading the worlds: $(cat "$T/A/state.err" \
		    "$T/B/state.err")"
	fi
	for w in A B; do
		if [ -s "$T/$w/log.other" ]; then
			t_log "world $w, other lines:"
			sed 's/^/#   /' "$T/$w/log.other"
		fi
	done
	_scen_cyrus_norm

	cls_a=ok
	[ "$SCEN_RC_A" -eq 0 ] || cls_a=fail
	cls_b=ok
	[ "$SCEN_RC_B" -eq 0 ] || cls_b=fail
	t_expect_eq "$cls_b" "$cls_a" \
	    "$what: exit status class (A $SCEN_RC_A, B $SCEN_RC_B)"

	# Documented differences, then the comparison of what is left.
	for re in "${SCEN_REF_ONLY[@]}"; do
		hits=$(_scen_grep A "$re")
		if [ -n "$hits" ]; then
			t_pass "$what: the reference prints /$re/"
		else
			t_fail "$what: the reference does not print /$re/"
		fi
		hits=$(_scen_grep B "$re")
		if [ "$SCEN_SELFTEST" = 1 ]; then
			if [ -n "$hits" ]; then
				t_pass "$what: (self-test) B prints /$re/ too"
			else
				t_fail "$what: (self-test) B does not print /$re/"
			fi
		else
			t_expect_eq "$hits" "" "$what: ours does not print /$re/"
		fi
		for w in A B; do
			grep -v -E -- "$re" "$T/$w/log" >"$T/$w/log.tmp"
			mv "$T/$w/log.tmp" "$T/$w/log"
		done
	done
	SCEN_REF_ONLY=()
	for re in "${SCEN_OURS_ONLY[@]}"; do
		t_expect_eq "$(_scen_grep A "$re")" "" \
		    "$what: the reference does not print /$re/"
		hits=$(_scen_grep B "$re")
		if [ "$SCEN_SELFTEST" = 1 ]; then
			t_expect_eq "$hits" "" \
			    "$what: (self-test) B does not print /$re/ either"
		elif [ -n "$hits" ]; then
			t_pass "$what: ours prints /$re/"
		else
			t_fail "$what: ours does not print /$re/"
		fi
		for w in A B; do
			grep -v -E -- "$re" "$T/$w/log" >"$T/$w/log.tmp"
			mv "$T/$w/log.tmp" "$T/$w/log"
		done
	done
	SCEN_OURS_ONLY=()
	t_expect_eq "$(cat "$T/B/log")" "$(cat "$T/A/log")" "$what: log lines"
	if [ "$SCEN_STATE_DIFFERS" = 1 ]; then
		t_log "$what: end states not compared (scen_state_differs)"
	else
		t_expect_eq "$(cat "$T/B/state")" "$(cat "$T/A/state")" \
		    "$what: end state (servers and databases)"
	fi
	SCEN_STATE_DIFFERS=0
}

# With a Cyrus role: Cyrus creates the missing parents of a mailbox it
# creates (tests/lib/CYRUS-NOTES.md), and the reference creates mailboxes
# in hash order, so that its own CREATE of such a parent may come after
# the child's and fail ("NO Mailbox already exists", no [ALREADYEXISTS]),
# which it reports as a warning, depending on the order; ours creates
# parents first.  The outcome is the same, and so is the end state:
# such a warning counts as the creation, in both worlds (and is shown).
_scen_cyrus_norm()
{
	local w re role cyrus=

	for role in "${SCEN_ROLES[@]}"; do
		[ "${SCEN_KIND[$role]}" = cyrus ] && cyrus=1
	done
	[ -n "$cyrus" ] || return 0
	re="^([a-z]+): WARNING: Couldn't create mailbox (.*): NO Mailbox already exists\$"
	for w in A B; do
		grep -qE -- "$re" "$T/$w/log" || continue
		t_log "world $w: Cyrus made the parent first:" \
		    "$(grep -E -- "$re" "$T/$w/log" | paste -sd'|' -)"
		sed -E "s/$re/\\1: Created mailbox \\2/" "$T/$w/log" |
		    LC_ALL=C sort >"$T/$w/log.tmp"
		mv "$T/$w/log.tmp" "$T/$w/log"
	done
}

# scen_cyrus_parents CONF MAILBOX...: in the cyrus variant only, one more
# run of CONF, which must copy to local every MAILBOX (local names): the
# parents that Cyrus made mailboxes of their own (Dovecot does not) when
# the last run created children there.  Then the scenario goes on from the
# same state as with Dovecot.
scen_cyrus_parents()
{
	local conf=$1 m

	shift
	[ "$T_REMOTE" = cyrus ] || return 0
	scen_run "$conf"
	scen_expect_rc ok
	for m in "$@"; do
		scen_expect_log "^local: Created mailbox $(_scen_re "$m")\$" \
		    "Cyrus's parent mailbox $m copied to local"
	done
}

# A mailbox name as a literal in an ERE.
_scen_re()
{
	# shellcheck disable=SC2016
	printf '%s' "$1" | sed 's/[][\\.*^$()+?{}|]/\\&/g'
}

scen_expect_rc()
{
	local cls=ok

	[ "$SCEN_RC_A" -eq 0 ] || cls=fail
	t_expect_eq "$cls" "$1" "$SCEN_NAME: run $SCEN_RUN: the reference's exit class"
}

# Line-based: REGEX (grep -E) must match one line of the file.
_scen_expect_line()
{
	local file=$1 re=$2 what=$3

	if grep -qE -- "$re" "$file"; then
		t_pass "$what"
		return 0
	fi
	t_fail "$what"
	echo "#   regex: $re"
	sed 's/^/#   line:  /' "$file" | head -n 60
	return 1
}

scen_expect_log()
{
	_scen_expect_line "$T/A/log" "$1" \
	    "$SCEN_NAME: run $SCEN_RUN: reference log: $2"
}

scen_expect_nolog()
{
	t_expect_eq "$(_scen_grep A "$1")" "" \
	    "$SCEN_NAME: run $SCEN_RUN: reference log: $2"
}

scen_expect_state()
{
	_scen_expect_line "$T/A/state" "$1" \
	    "$SCEN_NAME: run $SCEN_RUN: state: $2"
}

scen_expect_state_ours()
{
	if [ "$SCEN_SELFTEST" = 1 ]; then
		t_log "(self-test) skipped: state of ours: $2"
		return 0
	fi
	_scen_expect_line "$T/B/state" "$1" \
	    "$SCEN_NAME: run $SCEN_RUN: state of ours: $2"
}

scen_expect_synced()
{
	local what=$1 conf=${2:-[^:]*} lines bad

	lines=$(grep -E "^db $conf: insync " "$T/A/state" || true)
	bad=$(printf '%s\n' "$lines" | grep -v ' yes$' || true)
	[ -n "$lines" ] || bad="no mailbox in the database(s)"
	t_expect_eq "$bad" "" "$SCEN_NAME: run $SCEN_RUN: in sync: $what"
}

# One more run with nothing to do: exit 0, no change reported, same state.
scen_expect_quiet()
{
	scen_run "$@"
	scen_expect_rc ok
	scen_expect_nolog 'Added|Removed|Updated|Created|Subscribe|WARNING|ERROR' \
	    "nothing to do"
}
