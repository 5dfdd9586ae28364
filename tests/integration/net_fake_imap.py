#!/usr/bin/python3
"""
A scripted IMAP server for the net child's tests (net_hostile.sh,
net_fault.sh, net_protocol.sh): well-behaved enough to get a session
established, then misbehaving (or merely unusual) the way the scenario
says.

    net_fake_imap.py SCENARIO                   serve stdin/stdout (tunnel)
    net_fake_imap.py --tcp PORTFILE [--cert DIR] SCENARIO
                                                listen on 127.0.0.1, write
                                                the port to PORTFILE, serve
                                                one connection (IMAPS with
                                                --cert: DIR/cert.pem,
                                                DIR/key.pem; --tls12, for
                                                the scram_plus* scenarios:
                                                TLS 1.2 at most)

What the client sent is appended to $FAKE_IMAP_LOG (if set), one line per
command line ("C: ..."), and notes ("#: ...").
"""

import base64
import ctypes
import hashlib
import hmac
import os
import re
import socket
import ssl
import struct
import sys
import time

CAPS = ("IMAP4rev1 LITERAL+ ENABLE QRESYNC CONDSTORE LIST-EXTENDED "
        "LIST-STATUS UIDPLUS MULTIAPPEND UNSELECT IDLE")
USER, PASSWORD = b"user", b'pa"ss w\\rd'
# How LOGIN must send it: a quoted string, escaped.
LOGIN_ARGS = b'user "pa\\"ss w\\\\rd"'



class Closed(Exception):
    pass


class Conn:
    def __init__(self, recv, send, sock=None):
        self.recv, self.sendall, self.sock = recv, send, sock
        self.buf = b""
        self.log = open(os.environ["FAKE_IMAP_LOG"], "ab") \
            if os.environ.get("FAKE_IMAP_LOG") else None

    def note(self, what):
        if self.log:
            self.log.write(b"#: " + what.encode() + b"\n")
            self.log.flush()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sendall(data)
        except (OSError, ssl.SSLError):
            raise Closed()

    def _fill(self):
        try:
            chunk = self.recv(65536)
        except (OSError, ssl.SSLError):
            chunk = b""
        if not chunk:
            raise Closed()
        self.buf += chunk

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def command(self, sync_reply=None):
        """One command with its literals: (tag, NAME, whole bytes)."""
        whole = b""
        while True:
            ln = self.line()
            m = re.search(rb"\{(\d+)(\+?)\}\r\n$", ln)
            whole += ln
            if not m:
                break
            if not m.group(2):
                if sync_reply is not None:
                    r = sync_reply(whole)
                    if r is not None:
                        self.send(r)
                        whole += b"<REFUSED>"
                        break
                self.send(b"+ Ready for literal data\r\n")
            whole += self.exact(int(m.group(1)))
        if self.log:
            shown = re.sub(rb"\{(\d+)\+?\}\r\n", rb"{\1}", whole[:300])
            self.log.write(b"C: " + shown.rstrip(b"\r\n") + b"\n")
            self.log.flush()
        parts = whole.split(b" ", 2)
        tag = parts[0].decode(errors="replace")
        name = parts[1].rstrip(b"\r\n").upper().decode(errors="replace") \
            if len(parts) > 1 else ""
        if name == "UID" and len(parts) > 2:
            name += " " + parts[2].split(b" ", 1)[0].decode().upper()
        return tag, name, whole

    def until_eof(self):
        try:
            while True:
                self._fill()
                self.buf = b""
        except Closed:
            pass


MSG = b"From: fake@example.org\r\nSubject: fake\r\n\r\nhello\r\n"


def standard(c, tag, name, whole, caps=CAPS):
    """The well-behaved answer to a command."""
    if name == "CAPABILITY":
        c.send("* CAPABILITY %s\r\n%s OK done\r\n" % (caps, tag))
    elif name == "ENABLE":
        what = whole.split(b" ")[2].strip().decode(errors="replace")
        c.send("* ENABLED %s\r\n%s OK enabled\r\n" % (what, tag))
    elif name == "LIST":
        c.send('* LIST (\\HasNoChildren) "/" INBOX\r\n'
               '* STATUS INBOX (UIDNEXT 2 UIDVALIDITY 42 '
               'HIGHESTMODSEQ 7)\r\n%s OK listed\r\n' % tag)
    elif name == "STATUS":
        if b"gone" in whole:
            c.send("%s NO [NONEXISTENT] no such mailbox\r\n" % tag)
        else:
            c.send('* STATUS INBOX (UIDNEXT 2 UIDVALIDITY 42 '
                   'HIGHESTMODSEQ 7)\r\n%s OK status\r\n' % tag)
    elif name in ("SELECT", "EXAMINE"):
        c.send("* 1 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
               "* OK [UIDNEXT 2] x\r\n* OK [HIGHESTMODSEQ 7] x\r\n"
               "%s OK [READ-WRITE] selected\r\n" % tag)
    elif name == "UID FETCH":
        c.send(fetch_answer(tag))
    elif name == "APPEND":
        c.send("%s OK [APPENDUID 42 2] appended\r\n" % tag)
    elif name == "LOGOUT":
        c.send("* BYE bye\r\n%s OK logged out\r\n" % tag)
        raise Closed()
    elif name in ("NOOP", "UNSELECT", "CREATE", "DELETE", "SUBSCRIBE"):
        c.send("%s OK done\r\n" % tag)
    else:
        c.send("%s BAD unknown command\r\n" % tag)


def serve(c, greeting="* PREAUTH [CAPABILITY %s] fake ready\r\n" % CAPS,
          special=None, caps=CAPS, sync_reply=None):
    """Greeting, then commands; special(c, tag, name, whole) may take one
    over (return True)."""
    c.send(greeting)
    while True:
        tag, name, whole = c.command(sync_reply)
        if b"<REFUSED>" in whole:
            continue
        if special and special(c, tag, name, whole):
            continue
        standard(c, tag, name, whole, caps)


def check_login(c, tag, name, whole):
    """LOGIN or AUTHENTICATE PLAIN with the expected credentials."""
    if name == "LOGIN":
        ok = whole.split(b" ", 2)[2].rstrip(b"\r\n") == LOGIN_ARGS
        c.note("LOGIN " + ("credentials ok" if ok else "BAD credentials"))
    elif name == "AUTHENTICATE":
        m = re.match(rb"\S+ AUTHENTICATE PLAIN ?(\S*)\r\n", whole)
        b64 = m.group(1) if m else b""
        if not b64:
            c.send(b"+ \r\n")
            b64 = c.line().strip()
        try:
            ok = base64.b64decode(b64) == b"\0" + USER + b"\0" + PASSWORD
        except ValueError:
            ok = False
        c.note("PLAIN " + ("credentials ok" if ok else "BAD credentials"))
    else:
        return False
    c.send("%s %s\r\n" % (tag, "OK [CAPABILITY %s] in" % CAPS if ok else
                          "NO [AUTHENTICATIONFAILED] wrong"))
    return True


def scram_server(how):
    """AUTHENTICATE SCRAM-SHA-256 played by a server that does not know
    the password: it accepts any proof, then either sends a signature of
    its own making (how == "badsig") or says OK with none ("nosig")."""
    def special(c, tag, name, whole):
        if name != "AUTHENTICATE":
            return False
        m = re.match(rb"\S+ AUTHENTICATE SCRAM-SHA-256 ?(\S*)\r\n", whole)
        ir = m.group(1) if m else b""
        if not ir:
            c.send(b"+ \r\n")
            ir = c.line().strip()
        first = base64.b64decode(ir)
        c.note("SCRAM client-first " + first.decode(errors="replace"))
        cnonce = re.search(rb",r=([^,]+)", first).group(1)
        sfirst = (b"r=" + cnonce + b"fakeservernonce,s=" +
                  base64.b64encode(b"saltsaltsalt") + b",i=4096")
        c.send(b"+ " + base64.b64encode(sfirst) + b"\r\n")
        final = base64.b64decode(c.line().strip())
        c.note("SCRAM client-final " + re.sub(
            rb",p=.*", b",p=<proof>", final).decode(errors="replace"))
        if how == "badsig":
            c.send(b"+ " + base64.b64encode(
                b"v=" + base64.b64encode(b"\0" * 32)) + b"\r\n")
            c.note("SCRAM after the signature: %r" % c.line())
        c.send("%s OK [CAPABILITY %s] in\r\n" % (tag, CAPS))
        return True
    return special


def on_list(reply, then=None):
    """A scenario that answers LIST with reply (then: 'close', 'hold')."""
    def special(c, tag, name, whole):
        if name != "LIST":
            return False
        c.send(reply.replace("TAG", tag) if isinstance(reply, str)
               else reply.replace(b"TAG", tag.encode()))
        if then == "close":
            raise Closed()
        if then == "hold":
            c.until_eof()
            raise Closed()
        return True
    return special


def sc_pipeline(c):
    """Answers nothing until three commands are in: a client that waits
    for each answer before the next command would hang here."""
    c.send("* PREAUTH [CAPABILITY %s] fake\r\n" % CAPS)
    while True:
        tag, name, whole = c.command()
        if name == "LIST":
            break
        standard(c, tag, name, whole)
    pending = [(tag, name, whole)]
    while len(pending) < 3:
        pending.append(c.command())
    c.note("3 commands received before any answer")
    for p in pending:
        standard(c, *p)
    serve_rest(c)


def sc_reorder(c):
    """Two commands answered in the reverse order."""
    c.send("* PREAUTH [CAPABILITY %s] fake\r\n" % CAPS)
    while True:
        tag, name, whole = c.command()
        if name == "NOOP":
            break
        standard(c, tag, name, whole)
    second = c.command()
    c.send("%s OK second first\r\n" % second[0])
    c.send("%s OK first last\r\n" % tag)
    serve_rest(c)


def tls_exporter(sock):
    """RFC 9266's tls-exporter of a Python TLS socket, from OpenSSL itself
    (Python's ssl module exports no keying material): the SSL pointer is
    read from the _ssl object (PyObject_HEAD, the socket, then SSL *), and
    checked against what Python itself knows (the version) before use.
    None if that fails."""
    try:
        lib = ctypes.CDLL("libssl.so.3")
        obj = sock._sslobj
        ssl_p = ctypes.c_void_p.from_address(
            id(obj) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
        lib.SSL_version.argtypes = [ctypes.c_void_p]
        version = {0x303: "TLSv1.2", 0x304: "TLSv1.3"}.get(
            lib.SSL_version(ssl_p))
        if version != sock.version():
            return None
        f = lib.SSL_export_keying_material
        f.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                      ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                      ctypes.c_size_t, ctypes.c_int]
        out = ctypes.create_string_buffer(32)
        label = b"EXPORTER-Channel-Binding"
        if f(ssl_p, out, 32, label, len(label), None, 0, 0) != 1:
            return None
        return out.raw
    except (OSError, AttributeError):
        return None


def channel_binding(sock, certdir, name):
    """What the client must have bound to: this server's view of the TLS
    session (RFC 5929, RFC 9266)."""
    if name == "tls-unique":
        return sock.get_channel_binding("tls-unique")
    if name == "tls-server-end-point":
        # make_cert's certificate is signed with ecdsa-with-SHA256.
        with open(certdir + "/cert.pem") as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        return hashlib.sha256(der).digest()
    if name == "tls-exporter":
        return tls_exporter(sock)
    return None


def scram_plus_server(sock, certdir, how):
    """AUTHENTICATE SCRAM-SHA-256[-PLUS] played by a server that knows the
    password and checks the channel binding against its own TLS session;
    how == "relay": as a server behind a relay (another TLS session: its
    binding is not the client's), which must refuse the binding."""
    def special(c, tag, name, whole):
        if name != "AUTHENTICATE":
            return False
        m = re.match(rb"\S+ AUTHENTICATE (SCRAM-SHA-256(?:-PLUS)?) ?(\S*)\r\n",
                     whole)
        if not m:
            c.send("%s NO unknown mechanism\r\n" % tag)
            return True
        mech, ir = m.group(1).decode(), m.group(2)
        if not ir:
            c.send(b"+ \r\n")
            ir = c.line().strip()
        first = base64.b64decode(ir).decode()
        gs2, bare = re.match(r"((?:n|y|p=[^,]+),[^,]*,)(.*)", first).groups()
        c.note("SCRAM %s gs2 %s" % (mech, gs2))
        if mech.endswith("-PLUS") != gs2.startswith("p="):
            c.send("%s NO the GS2 flag does not fit %s\r\n" % (tag, mech))
            return True
        cnonce = re.search(r"r=([^,]+)", bare).group(1)
        salt, it = b"saltsaltsalt", 4096
        sfirst = "r=%sfakeservernonce,s=%s,i=%d" % (
            cnonce, base64.b64encode(salt).decode(), it)
        c.send(b"+ " + base64.b64encode(sfirst.encode()) + b"\r\n")
        final = base64.b64decode(c.line().strip()).decode()
        cbind = base64.b64decode(re.match(r"c=([^,]*),", final).group(1))
        if not cbind.startswith(gs2.encode()):
            c.send("%s NO c= does not repeat the GS2 header\r\n" % tag)
            return True
        data = cbind[len(gs2):]
        if gs2.startswith("p="):
            cbname = gs2[2:].split(",")[0]
            want = channel_binding(sock, certdir, cbname)
            if want is None:
                c.note("SCRAM binding %s: cannot compute it" % cbname)
            if how == "relay":
                want = os.urandom(len(data))
            c.note("SCRAM binding %s %d bytes: %s" % (
                cbname, len(data), "match" if data == want else "MISMATCH"))
            if data != want:
                c.send("%s NO [AUTHENTICATIONFAILED] channel bindings "
                       "don't match\r\n" % tag)
                return True
        elif data:
            c.send("%s NO binding data without p=\r\n" % tag)
            return True
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, it)
        ckey = hmac.new(salted, b"Client Key", "sha256").digest()
        without, proof = re.match(r"(.*),p=([^,]*)$", final).groups()
        auth = ("%s,%s,%s" % (bare, sfirst, without)).encode()
        csig = hmac.new(hashlib.sha256(ckey).digest(), auth,
                        "sha256").digest()
        if bytes(a ^ b for a, b in zip(ckey, csig)) != \
                base64.b64decode(proof):
            c.note("SCRAM proof wrong")
            c.send("%s NO [AUTHENTICATIONFAILED] wrong\r\n" % tag)
            return True
        c.note("SCRAM proof ok")
        skey = hmac.new(salted, b"Server Key", "sha256").digest()
        v = base64.b64encode(hmac.new(skey, auth, "sha256").digest())
        c.send(b"+ " + base64.b64encode(b"v=" + v) + b"\r\n")
        c.line()
        c.send("%s OK [CAPABILITY %s] in\r\n" % (tag, CAPS))
        return True
    return special


def sc_scram_plus(c, certdir, how, tls12):
    """IMAPS: TLS at once, then the SCRAM server above; "noplus" offers
    SCRAM-SHA-256 alone."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir + "/cert.pem", certdir + "/key.pem")
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    s = ctx.wrap_socket(c.sock, server_side=True)
    t = Conn(s.recv, s.sendall, s)
    t.log = c.log
    t.note("TLS " + s.version())
    mechs = "AUTH=SCRAM-SHA-256" if how == "noplus" else \
        "AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256"
    serve(t, "* OK [CAPABILITY IMAP4rev1 %s SASL-IR] hi\r\n" % mechs,
          scram_plus_server(s, certdir, how))


def sc_tls_relay(c, certdir, tls12):
    """A man in the middle with a certificate the client trusts: TLS with
    the client (DIR's certificate), another TLS session with the real
    server ($FAKE_RELAY_PORT on 127.0.0.1), the bytes relayed as they
    are.  Channel binding is what tells the server."""
    import select
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir + "/cert.pem", certdir + "/key.pem")
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    a = ctx.wrap_socket(c.sock, server_side=True)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    if tls12:
        cctx.maximum_version = ssl.TLSVersion.TLSv1_2
    b = cctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", int(os.environ["FAKE_RELAY_PORT"]))))
    c.note("relay: %s with the client, %s with the server" % (
        a.version(), b.version()))
    peer = {a: b, b: a}
    while True:
        for s in [x for x in (a, b) if x.pending()] or \
                select.select([a, b], [], [], 60)[0]:
            data = s.recv(65536)
            if not data:
                return
            peer[s].sendall(data)


def serve_rest(c):
    while True:
        standard(c, *c.command())


def sc_starttls_inject(c, certdir):
    """STARTTLS, with bytes injected after the OK, then TLS."""
    c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] hi\r\n")
    while True:
        tag, name, whole = c.command()
        if name == "STARTTLS":
            c.send("%s OK begin TLS\r\n* OK [ALERT] injected\r\n" % tag)
            break
        standard(c, tag, name, whole)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir + "/cert.pem", certdir + "/key.pem")
    # Whatever the client may have sent after STARTTLS is TLS.
    s = ctx.wrap_socket(c.sock, server_side=True)
    t = Conn(s.recv, s.sendall, s)
    t.log = c.log
    try:
        while True:
            tag, name, whole = t.command()
            if check_login(t, tag, name, whole):
                continue
            standard(t, tag, name, whole)
    finally:
        pass


def write_all(data):
    while data:
        n = os.write(1, data)
        data = data[n:]


def sc_huge_body(c):
    """A FETCH body claimed to be 100 TB, then the end of the stream."""
    def special(c, tag, name, whole):
        if name != "UID FETCH":
            return False
        c.send(b"* 1 FETCH (UID 1 BODY[] {109951162777600}\r\n" +
               b"x" * 4096)
        raise Closed()
    serve(c, special=special)


def sc_close_after_greeting(c):
    c.send("* PREAUTH [CAPABILITY %s] hi\r\n" % CAPS)
    raise Closed()


def fetch_answer(tag):
    """The well-behaved answer to UID FETCH, as bytes."""
    return (b'* 1 FETCH (UID 1 MODSEQ (7) FLAGS (\\Seen) BODY[] {%d}'
            b'\r\n%s)\r\n%s OK fetched\r\n' % (len(MSG), MSG, tag.encode()))


def sc_silent_login(c):
    """Greets, then never answers LOGIN (reads on until the end)."""
    def special(c, tag, name, whole):
        if name != "LOGIN":
            return False
        c.note("LOGIN received")
        c.until_eof()
        raise Closed()
    serve(c, "* OK [CAPABILITY IMAP4rev1] hi\r\n", special)


def sc_stall_fetch(c):
    """Answers UID FETCH halfway, then goes silent (a hung server: the
    connection stays up, what we send is read and ignored)."""
    def special(c, tag, name, whole):
        if name != "UID FETCH":
            return False
        data = fetch_answer(tag)
        c.send(data[:len(data) // 2])
        c.note("FETCH answered halfway")
        c.until_eof()
        raise Closed()
    serve(c, special=special)


def sc_slow_fetch(c):
    """Answers UID FETCH a few bytes at a time, with pauses well below the
    client's timeouts but adding up to more than them."""
    def special(c, tag, name, whole):
        if name != "UID FETCH":
            return False
        data = fetch_answer(tag)
        step = max(1, len(data) // 12)
        for i in range(0, len(data), step):
            if i > 0:
                time.sleep(float(os.environ.get("FAKE_IMAP_PAUSE", "0.5")))
            if i + step >= len(data):
                # Before the last piece: once it has the answer, the
                # client logs out and goes without waiting for us.
                c.note("FETCH answered slowly")
            c.send(data[i:i + step])
        return True
    serve(c, special=special)


def sc_reset_mid(c):
    """Half a LIST answer, then a TCP reset (SO_LINGER 0), as a server
    that crashed or a middlebox that dropped the connection."""
    def special(c, tag, name, whole):
        if name != "LIST":
            return False
        c.send('* LIST () "/" INBOX\r\n')
        c.note("reset")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.sock.close()
        raise Closed()
    serve(c, special=special)


BIG = 4 * 1024 * 1024


def sc_big_fetch(c):
    """UID FETCH answered with one message of BIG bytes (a copy's
    source)."""
    def special(c, tag, name, whole):
        if name != "UID FETCH":
            return False
        body = (b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n") * \
            (BIG // 96)
        c.send(b"* 1 FETCH (UID 1 MODSEQ (7) FLAGS () BODY[] {%d}\r\n"
               % len(body) + body + b")\r\n%s OK fetched\r\n"
               % tag.encode())
        return True
    serve(c, special=special)


def sc_bye_mid_append(c):
    """Takes the start of an APPEND's literal, says BYE and goes with the
    rest unread (a reset on TCP): a server shut down in the middle of a
    big command.  No LITERAL+, so the literal waits for our "+"."""
    def sync_reply(whole):
        if b" APPEND " not in whole:
            return None
        # The BYE out at once, not held back (Nagle) and lost with the
        # reset.
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.send(b"+ Ready for literal data\r\n")
        c.exact(65536)
        c.note("APPEND begun")
        c.send(b"* BYE Server shutting down.\r\n")
        raise Closed()
    caps = CAPS.replace("LITERAL+ ", "")
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, caps=caps,
          sync_reply=sync_reply)


def sc_not_enabled(c):
    """ENABLE answered OK without the untagged ENABLED."""
    def special(c, tag, name, whole):
        if name != "ENABLE":
            return False
        c.send("%s OK nothing enabled\r\n" % tag)
        return True
    serve(c, special=special)


# A CONDSTORE server without QRESYNC (net_condstore.sh): INBOX holds UIDs
# 1, 3 and 5 (UIDNEXT 7: 2, 4 and 6 were expunged); UID 5 changed flags
# since MODSEQ 7; at the NOOP, message 2 (UID 3) is expunged and message
# 1 (UID 1) flagged by someone else: "* n" responses without UID.
CS_CAPS = CAPS.replace("QRESYNC ", "") + " ESEARCH"


def sc_condstore(c, caps=CS_CAPS, search=None, expunge=2, fetch_seq=1,
                 exists=3, changed="* 3 FETCH (UID 5 FLAGS (\\Seen) "
                 "MODSEQ (9))\r\n", closed=False, noop=None):
    selected = []

    def special(c, tag, name, whole):
        if name == "UNSELECT":
            selected.clear()
            return False
        if name in ("SELECT", "EXAMINE"):
            # Dovecot says [CLOSED] without QRESYNC too, first; others
            # not at all, or after other data ("late").
            if closed == "late" and selected:
                c.send("* FLAGS (\\Seen)\r\n")
            if closed and selected:
                c.send("* OK [CLOSED] previous mailbox closed\r\n")
            selected.append(1)
            c.send("* %d EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
                   "* OK [UIDNEXT 7] x\r\n* OK [HIGHESTMODSEQ 9] x\r\n"
                   "%s OK [READ-WRITE] selected\r\n" % (exists, tag))
        elif name == "UID SEARCH":
            if search is not None:
                c.send(search.replace("@TAG@", tag))
            elif b"RETURN (ALL)" in whole:
                c.send('* ESEARCH (TAG "%s") UID ALL 1,3,5\r\n'
                       '%s OK searched\r\n' % (tag, tag))
            else:
                c.send("* SEARCH 5 1 3\r\n%s OK searched\r\n" % tag)
        elif name == "UID FETCH" and b"CHANGEDSINCE" in whole:
            c.send("%s%s OK fetched\r\n" % (changed, tag))
        elif name == "NOOP" and noop is not None:
            c.send("%s%s OK noop\r\n" % (noop, tag))
        elif name == "NOOP":
            c.send("* %d EXPUNGE\r\n* %d FETCH (FLAGS (\\Flagged) "
                   "MODSEQ (10))\r\n%s OK noop\r\n" %
                   (expunge, fetch_seq, tag))
        elif name == "IDLE":
            c.send("+ idling\r\n")
            c.note("IDLE ended by %r" % c.line())
            c.send("%s OK idled\r\n" % tag)
        else:
            return False
        return True
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, special, caps)


def sc_condstore_late(c, esearch=True, tell=True, gone=(3,), added=(7,),
                      told_first=False):
    """Cyrus IMAP's way (net_condstore: a UID list that does not match
    the session): INBOX holds UIDs 1, 3, 5 and 6 when selected (UIDNEXT
    7), but another session has just expunged the UIDs gone and appended
    those added, which UID SEARCH already leaves out and lists; the
    EXPUNGE and EXISTS come at the end of the UID FETCH that follows.
    With the second UID SEARCH's answer, someone else's flag change of
    message 3.  Without ESEARCH, the same with SEARCH; without tell, the
    EXPUNGE and EXISTS never come.  told_first (nothing gone or added):
    Dovecot's way with an APPEND pipelined behind the SEARCH, UID 7's
    EXISTS before a list that lacks it."""
    session = [1, 3, 5, 6]
    truth = [u for u in session if u not in gone] + list(added)
    searches = []

    def special(c, tag, name, whole):
        if name in ("SELECT", "EXAMINE"):
            c.send("* %d EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
                   "* OK [UIDNEXT 7] x\r\n* OK [HIGHESTMODSEQ 9] x\r\n"
                   "%s OK [READ-WRITE] selected\r\n" % (len(session), tag))
        elif name == "UID SEARCH":
            searches.append(1)
            if told_first and len(searches) == 1:
                c.send("* %d EXISTS\r\n" % (len(session) + 1))
            c.send('%s\r\n%s%s OK searched\r\n'
                   % ('* ESEARCH (TAG "%s") UID ALL %s' %
                      (tag, ",".join(str(u) for u in truth)) if esearch
                      else "* SEARCH " + " ".join(str(u) for u in truth),
                      "* 3 FETCH (FLAGS (\\Flagged) MODSEQ (10))\r\n"
                      if len(searches) == 2 else "", tag))
        elif name == "UID FETCH" and b"CHANGEDSINCE" in whole:
            c.send("* %d FETCH (UID 5 FLAGS (\\Seen) MODSEQ (9))\r\n"
                   % (session.index(5) + 1))
            if session != truth and tell:
                for u in gone:
                    c.send("* %d EXPUNGE\r\n" % (session.index(u) + 1))
                    session.remove(u)
                if added:
                    c.send("* %d EXISTS\r\n" % len(truth))
                session[:] = truth
            c.send("%s OK fetched\r\n" % tag)
        elif name == "NOOP":
            c.send("%s OK noop\r\n" % tag)
        else:
            return False
        return True
    caps = CS_CAPS if esearch else CS_CAPS.replace(" ESEARCH", "")
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, special, caps)


def sc_condstore_big(c, uidnext=True):
    """CONDSTORE without ESEARCH, UIDs spread over 120,000 (net_condstore:
    the UID list in pieces); message 1 is expunged before the second
    piece is answered; at each NOOP message 2 goes and message 1 is
    flagged."""
    uids = [5, 50000, 50001, 99999, 120000]
    pieces = []

    def special(c, tag, name, whole):
        if name in ("SELECT", "EXAMINE"):
            c.send("* %d EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n%s"
                   "* OK [HIGHESTMODSEQ 9] x\r\n"
                   "%s OK [READ-WRITE] selected\r\n" %
                   (len(uids), "* OK [UIDNEXT 120001] x\r\n"
                    if uidnext else "", tag))
        elif name == "UID SEARCH":
            m = re.search(rb"UID (\d+):(\d+|\*)", whole)
            lo = int(m.group(1))
            hi = uids[-1] if m.group(2) == b"*" else int(m.group(2))
            lo, hi = min(lo, hi), max(lo, hi)
            pieces.append(lo)
            if len(pieces) == 2:
                del uids[0]
                c.send("* 1 EXPUNGE\r\n")
            found = [u for u in uids if lo <= u <= hi]
            c.send("* SEARCH%s\r\n%s OK searched\r\n" %
                   ("".join(" %d" % u for u in found), tag))
        elif name == "UID FETCH" and b"CHANGEDSINCE" in whole:
            c.send("%s OK fetched\r\n" % tag)
        elif name == "NOOP":
            del uids[1]
            c.send("* 2 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Flagged) "
                   "MODSEQ (10))\r\n%s OK noop\r\n" % tag)
        else:
            return False
        return True
    caps = CAPS.replace("QRESYNC ", "")
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, special, caps)


def sc_no_liststatus(c):
    """No LIST-STATUS: STATUS commands (net_protocol.sh); a \\Noselect
    mailbox and one whose STATUS is refused."""
    def special(c, tag, name, whole):
        if name != "LIST":
            return False
        c.send('* LIST (\\HasNoChildren) "/" INBOX\r\n'
               '* LIST (\\Noselect \\HasChildren) "/" dir\r\n'
               '* LIST (\\HasNoChildren) "/" "dir/gone"\r\n'
               '%s OK listed\r\n' % tag)
        return True
    caps = CAPS.replace("LIST-STATUS ", "")
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, special, caps)


def sc_huge_exists(c):
    """A mailbox of one message that claims 4,000,000,000 (net_hostile:
    the engine reserves no room on its word)."""
    def special(c, tag, name, whole):
        if name == "UID FETCH":
            body = b" BODY[] {%d}\r\n%s" % (len(MSG), MSG) \
                if b"BODY" in whole else b""
            c.send(b'* 1 FETCH (UID 1 MODSEQ (7) FLAGS (\\Seen) '
                   b'INTERNALDATE "01-Jan-2020 00:00:00 +0000"%s)\r\n'
                   b'%s OK fetched\r\n' % (body, tag.encode()))
            return True
        if name not in ("SELECT", "EXAMINE"):
            return False
        c.send("* 4000000000 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
               "* OK [UIDNEXT 2] x\r\n* OK [HIGHESTMODSEQ 7] x\r\n"
               "%s OK [READ-WRITE] selected\r\n" % tag)
        return True
    serve(c, special=special)


def sc_no_uidplus(c, others=(), bye=False):
    """No UIDPLUS (net_uidplus.sh): APPEND answers without APPENDUID;
    UID FETCH n:* (UID RFC822.SIZE INTERNALDATE) lists what was appended
    since the SELECT (UIDNEXT 7), each in another time zone than sent,
    after OTHERS, another client's messages as (size, date), which take
    the first UIDs."""
    appended = []

    def special(c, tag, name, whole):
        if name in ("SELECT", "EXAMINE"):
            c.send("* 2 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n"
                   "* OK [UIDNEXT 7] x\r\n* OK [HIGHESTMODSEQ 7] x\r\n"
                   "%s OK [READ-WRITE] selected\r\n" % tag)
        elif name == "APPEND":
            for m in re.finditer(rb'"(\d+-\w+-\d+ \d+):(\d+:\d+) '
                                 rb'\+0000" \{(\d+)\+?\}', whole):
                hour = int(m.group(1).split(b" ")[1])
                day = m.group(1).split(b" ")[0].decode()
                appended.append((int(m.group(3)), "%s %02d:%s +0100" % (
                    day, hour + 1, m.group(2).decode())))
            c.send("* %d EXISTS\r\n%s OK appended\r\n" %
                   (2 + len(others) + len(appended), tag))
        elif name == "UID FETCH" and b"RFC822.SIZE INTERNALDATE)" in whole:
            if bye:
                c.send("* BYE going away\r\n")
                raise Closed()
            out = ""
            for i, (size, date) in enumerate(list(others) + appended):
                out += ('* %d FETCH (UID %d RFC822.SIZE %d INTERNALDATE '
                        '"%s")\r\n' % (3 + i, 7 + i, size, date))
            c.send("%s%s OK fetched\r\n" % (out, tag))
        else:
            return False
        return True
    caps = CAPS.replace("UIDPLUS ", "")
    serve(c, "* PREAUTH [CAPABILITY %s] hi\r\n" % caps, special, caps)


SCENARIOS = {
    # ---- well-behaved variants ----
    "ok": lambda c: serve(c),
    "big_fetch": sc_big_fetch,
    "preauth_nocaps": lambda c: serve(c, "* PREAUTH fake, no capabilities"
                                      "\r\n"),
    "plain_cont": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", check_login),
    "plain_saslir": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n",
        check_login),
    # Only LOGIN offered.
    "login_quoted": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1] hi\r\n", check_login,
        caps=CAPS.replace("LITERAL+ ", "")),
    "logindisabled": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] hi\r\n",
        check_login),
    "scram_badsig": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256 SASL-IR] hi\r\n",
        scram_server("badsig")),
    "scram_badsig_plus": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS "
        "AUTH=SCRAM-SHA-256 SASL-IR] hi\r\n", scram_server("badsig")),
    "scram_nosig": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256] hi\r\n",
        scram_server("nosig")),
    "no_auth_mech": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] hi\r\n", check_login),
    "no_starttls": lambda c: serve(
        c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", check_login),
    "preauth": lambda c: serve(c),
    "no_enable": lambda c: serve(
        c, "* PREAUTH [CAPABILITY %s] hi\r\n" % CAPS.replace("ENABLE ", "")),
    "no_liststatus": sc_no_liststatus,
    "huge_exists": sc_huge_exists,
    "no_uidplus": sc_no_uidplus,
    "no_uidplus_other": lambda c: sc_no_uidplus(
        c, [(99, "01-Jan-2020 01:00:00 +0100")]),
    "no_uidplus_bye": lambda c: sc_no_uidplus(c, bye=True),
    "no_uidplus_alike": lambda c: sc_no_uidplus(
        c, [(18, "01-Jan-2020 00:00:00 +0000")]),
    "not_imap4": lambda c: serve(c, "* PREAUTH [CAPABILITY IMAP2] hi\r\n"),
    "not_enabled": sc_not_enabled,
    "no_qresync_condstore": lambda c: serve(
        c, "* PREAUTH [CAPABILITY %s] hi\r\n" %
        CAPS.replace("QRESYNC ", "").replace("CONDSTORE ", "")),
    # ---- CONDSTORE without QRESYNC (net_condstore.sh) ----
    "condstore": sc_condstore,
    "condstore_search": lambda c: sc_condstore(
        c, caps=CS_CAPS.replace(" ESEARCH", "")),
    "condstore_closed": lambda c: sc_condstore(c, closed=True),
    "condstore_big": sc_condstore_big,
    "condstore_late": sc_condstore_late,
    "condstore_late_search": lambda c: sc_condstore_late(c, False),
    "condstore_late_expunge": lambda c: sc_condstore_late(c, added=()),
    "condstore_late_append": lambda c: sc_condstore_late(c, gone=()),
    "condstore_never_told": lambda c: sc_condstore_late(c, tell=False),
    "condstore_told_first": lambda c: sc_condstore_late(
        c, gone=(), added=(), told_first=True),
    "condstore_big_nouidnext": lambda c: sc_condstore_big(c, False),
    "condstore_closed_late": lambda c: sc_condstore(c, closed="late"),
    "condstore_noenable": lambda c: sc_condstore(
        c, caps=CS_CAPS.replace("ENABLE ", "")),
    "condstore_bad_expunge": lambda c: sc_condstore(c, expunge=4),
    "condstore_bad_fetch": lambda c: sc_condstore(c, fetch_seq=9),
    "condstore_too_many": lambda c: sc_condstore(
        c, search='* ESEARCH (TAG "@TAG@") UID ALL 1:100\r\n@TAG@ OK s\r\n',
        noop=""),
    "condstore_no_result": lambda c: sc_condstore(
        c, search="@TAG@ OK searched, but where?\r\n"),
    # A flag change by sequence number before the UID list: fetched again.
    "condstore_lost_flags": lambda c: sc_condstore(
        c, search='* 1 FETCH (FLAGS (\\Flagged) MODSEQ (8))\r\n'
        '* ESEARCH (TAG "@TAG@") UID ALL 1,3,5\r\n@TAG@ OK s\r\n'),
    "condstore_disorder": lambda c: sc_condstore(
        c, changed="* 2 FETCH (UID 9 FLAGS () MODSEQ (9))\r\n"),
    # Synchronising literals refused: the rest of the command is dropped.
    "sync_reject": lambda c: serve(
        c, "* PREAUTH [CAPABILITY %s] hi\r\n" % CAPS.replace("LITERAL+ ",
                                                              ""),
        sync_reply=lambda w: (w.split(b" ")[0] +
                              b" NO [TRYCREATE] no such mailbox\r\n")
        if b" APPEND nosuch " in w else None),
    "pipeline": sc_pipeline,
    "reorder": sc_reorder,
    "alert": lambda c: serve(c, special=on_list(
        '* OK [ALERT] the server says hello\r\nTAG OK listed\r\n')),
    "childinfo": lambda c: serve(c, special=on_list(
        '* LIST (\\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))\r\n'
        '* LIST (\\Subscribed \\NonExistent) "/" bar ("OLDNAME" ("baz"))'
        '\r\nTAG OK listed\r\n')),
    # ---- hostile ----
    "garbage_greeting": lambda c: (c.send(b"\x16\x03\x01 garbage \xff\r\n"),
                                   c.until_eof()),
    "no_crlf": lambda c: (c.send(b"* PREAUTH hi\n"), c.until_eof()),
    "nul_byte": lambda c: (c.send(b"* PREAUTH h\x00i\r\n"), c.until_eof()),
    "silence": lambda c: c.until_eof(),
    "bye_greeting": lambda c: c.send("* BYE Too many connections\r\n"),
    "endless_line": lambda c: (c.send(b"* OK " + b"a" * (3 << 20)),
                               c.until_eof()),
    "huge_literal": lambda c: serve(c, special=on_list(
        '* LIST () "/" {109951162777600}\r\nabc', "hold")),
    "huge_body": sc_huge_body,
    "malformed_list": lambda c: serve(c, special=on_list(
        '* LIST (\\Noselect "/" foo\r\nTAG OK listed\r\n', "hold")),
    "malformed_status": lambda c: serve(c, special=on_list(
        '* STATUS INBOX (UIDNEXT x)\r\nTAG OK listed\r\n', "hold")),
    "malformed_fetch": lambda c: serve(c, special=on_list(
        '* 1 FETCH (UID 1 FLAGS (\\Seen)\r\nTAG OK listed\r\n', "hold")),
    "disconnect_mid": lambda c: serve(c, special=on_list(
        '* LIST () "/" {10}\r\nabc', "close")),
    "wrong_tag": lambda c: serve(c, special=on_list(
        'ZZ9999 OK listed\r\n', "hold")),
    "bye_mid": lambda c: serve(c, special=on_list(
        '* BYE server shutting down\r\n', "close")),
    "expunge": lambda c: serve(c, special=on_list(
        '* 1 EXPUNGE\r\nTAG OK listed\r\n', "hold")),
    "unexpected_cont": lambda c: serve(c, special=on_list(
        '+ go ahead\r\n', "hold")),
    "close_after_greeting": sc_close_after_greeting,
    # ---- faults of a live connection (net_fault.sh) ----
    "silent_login": sc_silent_login,
    "stall_fetch": sc_stall_fetch,
    "slow_fetch": sc_slow_fetch,
    "reset_mid": sc_reset_mid,    # --tcp only
    "bye_mid_append": sc_bye_mid_append,    # --tcp only
}


def main():
    args = sys.argv[1:]
    portfile = certdir = None
    tls12 = False
    while args and args[0].startswith("--"):
        if args[0] == "--tls12":
            tls12, args = True, args[1:]
        elif args[0] == "--tcp":
            portfile, args = args[1], args[2:]
        elif args[0] == "--cert":
            certdir, args = args[1], args[2:]
        else:
            sys.exit("unknown option " + args[0])
    if len(args) != 1 or args[0] not in SCENARIOS and \
            args[0] not in ("starttls_inject", "scram_plus",
                            "scram_plus_relay", "scram_plus_noplus",
                            "tls_relay"):
        sys.exit("usage: net_fake_imap.py [--tcp PORTFILE] SCENARIO")
    name = args[0]
    if portfile:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        with open(portfile + ".tmp", "w") as f:
            f.write("%d\n" % ls.getsockname()[1])
        os.rename(portfile + ".tmp", portfile)
        ls.settimeout(60)
        s, _ = ls.accept()
        ls.close()
        if certdir and name in SCENARIOS:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certdir + "/cert.pem", certdir + "/key.pem")
            s = ctx.wrap_socket(s, server_side=True)
        c = Conn(s.recv, s.sendall, s)
    else:
        c = Conn(lambda n: os.read(0, n), write_all)
    try:
        if name == "starttls_inject":
            sc_starttls_inject(c, certdir)
        elif name == "tls_relay":
            sc_tls_relay(c, certdir, tls12)
        elif name.startswith("scram_plus"):
            sc_scram_plus(c, certdir, name[11:], tls12)
        else:
            SCENARIOS[name](c)
        c.until_eof()
    except Closed:
        pass
    except ssl.SSLError as e:
        c.note("TLS: " + str(e))
    c.note("end")


if __name__ == "__main__":
    main()
