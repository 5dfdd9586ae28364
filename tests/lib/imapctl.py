#!/usr/bin/python3
"""
Test-side IMAP client for tests/lib/common.sh.

It talks to a server through an endpoint, so that tests can fill and
inspect mail stores without going through the client under test:
either an executable tunnel command giving a pre-authenticated session
(the tunnel.sh that common.sh writes for every Dovecot), or a login file
(common.sh writes imapctl.login for a Cyrus server) whose lines are
"host H", "port P", "user U", "pass W": a plain TCP connection and LOGIN.
It is deliberately independent of interimap: its own tiny parser, plain
commands, no pipelining.  TUNNEL below is either kind of endpoint.

    imapctl.py TUNNEL add MAILBOX FILE [FLAG...]      (env IMAPCTL_DATE)
    imapctl.py TUNNEL addmany MAILBOX FILE...
    imapctl.py TUNNEL dump MAILBOX
    imapctl.py TUNNEL uids MAILBOX
    imapctl.py TUNNEL status MAILBOX
    imapctl.py TUNNEL list [SEP]
    imapctl.py TUNNEL create|delete|subscribe|unsubscribe MAILBOX
    imapctl.py TUNNEL rename OLD NEW
    imapctl.py TUNNEL store MAILBOX UIDSET OP FLAG...   (OP: + - =)
    imapctl.py TUNNEL expunge MAILBOX UIDSET
    imapctl.py TUNNEL raw COMMAND...     (status 1 if any was not OK;
                                          a bare LF is sent as CRLF, so a
                                          COMMAND may hold {N+} literals)

Exit status 0 on success, 1 when the server refused a command, 2 on usage
or protocol errors.
"""

import hashlib
import os
import re
import socket
import subprocess
import sys


class ImapError(Exception):
    pass


class Refused(Exception):
    pass


def quote(name):
    """An IMAP quoted string (mailbox names are 7-bit: modified UTF-7)."""
    if isinstance(name, str):
        name = name.encode('utf-8')
    if b'\r' in name or b'\n' in name:
        return b'{%d+}\r\n' % len(name) + name
    return b'"' + name.replace(b'\\', b'\\\\').replace(b'"', b'\\"') + b'"'


class Parser:
    """Parse one response (literals inline, as on the wire)."""

    def __init__(self, buf):
        self.buf = buf
        self.i = 0

    def eof(self):
        return self.i >= len(self.buf)

    def space(self):
        while self.i < len(self.buf) and self.buf[self.i] == 0x20:
            self.i += 1

    def value(self):
        self.space()
        b = self.buf
        if self.i >= len(b):
            raise ImapError('unexpected end of response')
        c = b[self.i:self.i + 1]
        if c == b'(':
            self.i += 1
            out = []
            while True:
                self.space()
                if self.i >= len(b):
                    raise ImapError('unterminated list')
                if b[self.i:self.i + 1] == b')':
                    self.i += 1
                    return out
                out.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while True:
                if self.i >= len(b):
                    raise ImapError('unterminated quoted string')
                ch = b[self.i]
                self.i += 1
                if ch == 0x5c:
                    out.append(b[self.i])
                    self.i += 1
                elif ch == 0x22:
                    return bytes(out)
                else:
                    out.append(ch)
        if c == b'{':
            m = re.compile(rb'\{(\d+)\+?\}\r\n').match(b, self.i)
            if not m:
                raise ImapError('bad literal')
            n = int(m.group(1))
            self.i = m.end() + n
            return b[m.end():self.i]
        # atom, possibly with a [section] that may hold spaces
        start = self.i
        depth = 0
        while self.i < len(b):
            ch = b[self.i:self.i + 1]
            if ch == b'[':
                depth += 1
            elif ch == b']':
                depth -= 1
            elif depth == 0 and ch in (b' ', b'(', b')'):
                break
            self.i += 1
        atom = b[start:self.i]
        if atom.upper() == b'NIL':
            return None
        return atom


def read_login(path):
    """The settings of a login file: {'host': ..., 'port': ...}."""
    conf = {}
    with open(path, encoding='utf-8') as fh:
        for ln in fh.read().splitlines():
            k, _, v = ln.partition(' ')
            conf[k] = v
    for k in ('host', 'port', 'user', 'pass'):
        if k not in conf:
            raise ImapError('%s: no "%s" line' % (path, k))
    return conf


class Conn:
    def __init__(self, endpoint):
        self.tagn = 0
        self.proc = self.sock = None
        if os.access(endpoint, os.X_OK):
            self.proc = subprocess.Popen([endpoint], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
            self.rfile, self.wfile = self.proc.stdout, self.proc.stdin
            greeting = self.response()
            if not greeting.startswith(b'* PREAUTH'):
                raise ImapError('expected PREAUTH greeting, got %r' %
                                greeting)
            return
        conf = read_login(endpoint)
        # A server that stops answering fails the helper, not the test's
        # whole time budget.
        self.sock = socket.create_connection((conf['host'],
                                              int(conf['port'])), timeout=60)
        self.rfile = self.sock.makefile('rb')
        self.wfile = self.sock.makefile('wb')
        greeting = self.response()
        if not greeting.startswith(b'* OK'):
            raise ImapError('expected OK greeting, got %r' % greeting)
        self.command(b'LOGIN ' + quote(conf['user']) + b' ' +
                     quote(conf['pass']))

    def close(self):
        try:
            self.command(b'LOGOUT')
        except (ImapError, Refused, OSError):
            pass
        self.wfile.close()
        self.rfile.close()
        if self.proc is not None:
            self.proc.wait()
        else:
            self.sock.close()

    def response(self):
        """One whole response, literals included."""
        out = bytearray()
        while True:
            line = self.rfile.readline()
            if not line:
                raise ImapError('connection closed by server')
            out += line
            m = re.search(rb'\{(\d+)\}\r\n$', line)
            if not m:
                break
            n = int(m.group(1))
            data = self.rfile.read(n)
            if len(data) != n:
                raise ImapError('short literal')
            out += data
        return bytes(out)

    def command(self, cmd, literal=None, check=True):
        """Send a command (literal appended as LITERAL+); return the
        untagged responses; raise Refused on NO/BAD when check."""
        self.tagn += 1
        tag = b'c%d' % self.tagn
        line = tag + b' ' + cmd
        if literal is not None:
            line += b' {%d+}\r\n' % len(literal) + literal
        self.wfile.write(line + b'\r\n')
        self.wfile.flush()
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b' '):
                status = r[len(tag) + 1:].split(b' ', 1)[0].upper()
                if check and status != b'OK':
                    raise Refused('%s -> %s' % (
                        cmd[:200].decode('latin-1'),
                        r.decode('latin-1').rstrip()))
                return untagged, r
            untagged.append(r)


def untagged_data(resp, keyword):
    """For '* N KEYWORD (...)' or '* KEYWORD ...', a parser after it."""
    p = Parser(resp.rstrip(b'\r\n'))
    p.value()                   # '*'
    first = p.value()
    if first is not None and first.isdigit():
        second = p.value()
        if second is None or second.upper() != keyword:
            return None, None
        return int(first), p
    if first is None or first.upper() != keyword:
        return None, None
    return None, p


def select(c, mailbox, readonly=True):
    untagged, _ = c.command((b'EXAMINE ' if readonly else b'SELECT ') +
                            quote(mailbox))
    exists = 0
    for r in untagged:
        m = re.match(rb'\* (\d+) EXISTS', r)
        if m:
            exists = int(m.group(1))
    return exists


def fetch_all(c, items):
    """Return [{item: value}] for every message of the selected mailbox."""
    untagged, _ = c.command(b'UID FETCH 1:* (' + items + b')')
    out = []
    for r in untagged:
        n, p = untagged_data(r, b'FETCH')
        if p is None:
            continue
        lst = p.value()
        d = {}
        for k in range(0, len(lst) - 1, 2):
            d[lst[k].upper()] = lst[k + 1]
        out.append(d)
    return out


def create(c, mailbox):
    """CREATE unless the mailbox exists (Cyrus refuses an existing one
    with a plain NO, without [ALREADYEXISTS])."""
    _, r = c.command(b'CREATE ' + quote(mailbox), check=False)
    status = r.split(b' ', 2)[1].upper()
    if status == b'OK' or b'[ALREADYEXISTS]' in r:
        return
    untagged, _ = c.command(b'LIST "" ' + quote(mailbox))
    attrs = parse_list(untagged, b'LIST').get(
        mailbox.encode('utf-8') if isinstance(mailbox, str) else mailbox)
    if attrs is not None and '\\noselect' not in attrs[0] and \
            '\\nonexistent' not in attrs[0]:
        return
    raise Refused('CREATE %s: %s' % (mailbox, r.decode('latin-1').rstrip()))


def flag_list(flags):
    return b'(' + b' '.join(f.encode() for f in flags) + b')'


def do_add(c, mailbox, files, flags):
    create(c, mailbox)
    date = os.environ.get('IMAPCTL_DATE')
    for f in files:
        with open(f, 'rb') as fh:
            data = fh.read()
        # IMAP wants CRLF: turn bare LFs into CRLF, leave CRLF alone.
        data = re.sub(rb'(?<!\r)\n', b'\r\n', data)
        cmd = b'APPEND ' + quote(mailbox)
        if flags:
            cmd += b' ' + flag_list(flags)
        if date:
            cmd += b' ' + quote(date)
        c.command(cmd, literal=data)


def internaldate(value):
    """INTERNALDATE with a two-digit day: Dovecot sends "03-Dec-2023 ...",
    Cyrus " 3-Dec-2023 ..." (both date-day-fixed, RFC 3501)."""
    d = value.decode('latin-1')
    return '0' + d[1:] if d.startswith(' ') else d


def do_dump(c, mailbox):
    if select(c, mailbox) == 0:
        return
    lines = []
    for d in fetch_all(c, b'FLAGS INTERNALDATE BODY.PEEK[]'):
        body = d.get(b'BODY[]') or b''
        flags = sorted(f.decode('latin-1') for f in d.get(b'FLAGS', [])
                       if f.upper() != b'\\RECENT')
        lines.append('%s %s %s' % (hashlib.sha256(body).hexdigest(),
                                   ','.join(flags) if flags else '-',
                                   internaldate(d[b'INTERNALDATE'])))
    for ln in sorted(lines):
        print(ln)


def do_uids(c, mailbox):
    if select(c, mailbox) == 0:
        return
    for u in sorted(int(d[b'UID']) for d in fetch_all(c, b'UID')):
        print(u)


def do_status(c, mailbox):
    untagged, _ = c.command(b'STATUS ' + quote(mailbox) +
                            b' (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)')
    for r in untagged:
        _, p = untagged_data(r, b'STATUS')
        if p is None:
            continue
        p.value()
        lst = p.value()
        print(' '.join(lst[k].decode() + ' ' + lst[k + 1].decode()
                       for k in range(0, len(lst) - 1, 2)))


def parse_list(untagged, keyword):
    """{name: (attributes, delimiter)} from LIST or LSUB responses."""
    out = {}
    for r in untagged:
        _, p = untagged_data(r, keyword)
        if p is None:
            continue
        attrs = [a.decode('latin-1').lower() for a in p.value()]
        delim = p.value()
        name = p.value()
        out[name] = (attrs, delim)
    return out


def subscriptions(c):
    """{name: (attributes, delimiter)} of the subscribed names, those of
    no mailbox included (LIST-EXTENDED: Cyrus's LSUB leaves them out)."""
    untagged, _ = c.command(b'LIST (SUBSCRIBED) "" "*"')
    return dict((k, v) for k, v in parse_list(untagged, b'LIST').items()
                if '\\subscribed' in v[0])


def do_list(c, sep):
    untagged, _ = c.command(b'LIST "" "*"')
    listed = parse_list(untagged, b'LIST')
    subscribed = subscriptions(c)
    lines = []
    for name in set(listed) | set(subscribed):
        attrs, delim = listed.get(name) or subscribed[name]
        state = []
        if name in subscribed:
            state.append('subscribed')
        if name not in listed or '\\nonexistent' in attrs:
            state.append('nonexistent')
        elif '\\noselect' in attrs:
            state.append('noselect')
        shown = name.decode('latin-1')
        if sep is not None and delim is not None:
            shown = shown.replace(delim.decode('latin-1'), sep)
        lines.append('%s\t%s' % (shown, ','.join(state) or '-'))
    for ln in sorted(lines):
        print(ln)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tunnel, op, args = argv[1], argv[2], argv[3:]
    need = {'add': 2, 'addmany': 1, 'dump': 1, 'uids': 1, 'status': 1,
            'list': 0, 'create': 1, 'delete': 1, 'subscribe': 1,
            'unsubscribe': 1, 'rename': 2, 'store': 4, 'expunge': 2,
            'raw': 1}
    if op not in need or len(args) < need[op]:
        print('imapctl: bad usage: %s %s' % (op, ' '.join(args)),
              file=sys.stderr)
        return 2
    try:
        c = Conn(tunnel)
    except (ImapError, Refused, OSError) as e:
        print('imapctl: %s: %s' % (tunnel, e), file=sys.stderr)
        return 2
    try:
        if op == 'add':
            do_add(c, args[0], [args[1]], args[2:])
        elif op == 'addmany':
            do_add(c, args[0], args[1:], [])
        elif op == 'dump':
            do_dump(c, args[0])
        elif op == 'uids':
            do_uids(c, args[0])
        elif op == 'status':
            do_status(c, args[0])
        elif op == 'list':
            do_list(c, args[0] if args else None)
        elif op == 'create':
            create(c, args[0])
        elif op in ('delete', 'subscribe', 'unsubscribe'):
            c.command(op.upper().encode() + b' ' + quote(args[0]))
        elif op == 'rename':
            c.command(b'RENAME ' + quote(args[0]) + b' ' + quote(args[1]))
        elif op == 'store':
            mailbox, uids, how, flags = args[0], args[1], args[2], args[3:]
            item = {'+': b'+FLAGS.SILENT', '-': b'-FLAGS.SILENT',
                    '=': b'FLAGS.SILENT'}.get(how)
            if item is None:
                raise ImapError('store: OP must be +, - or =')
            select(c, mailbox, readonly=False)
            c.command(b'UID STORE ' + uids.encode() + b' ' + item + b' ' +
                      flag_list(flags))
        elif op == 'expunge':
            select(c, args[0], readonly=False)
            c.command(b'UID STORE ' + args[1].encode() +
                      b' +FLAGS.SILENT (\\Deleted)')
            c.command(b'UID EXPUNGE ' + args[1].encode())
        elif op == 'raw':
            refused = False
            for cmd in args:
                cmd = re.sub(rb'(?<!\r)\n', b'\r\n', cmd.encode('utf-8'))
                untagged, r = c.command(cmd, check=False)
                for u in untagged + [r]:
                    sys.stdout.buffer.write(u)
                if r.split(b' ', 2)[1].upper() != b'OK':
                    refused = True
            sys.stdout.flush()
            if refused:
                c.close()
                return 1
    except Refused as e:
        print('imapctl: refused: %s' % e, file=sys.stderr)
        c.close()
        return 1
    except ImapError as e:
        print('imapctl: %s' % e, file=sys.stderr)
        return 2
    c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
