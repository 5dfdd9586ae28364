#!/usr/bin/env python3
"""A token-introspection endpoint (RFC 7662) for Dovecot's oauth2 passdb.

  oauth_introspect.py DIR

Listens on 127.0.0.1 (the port in DIR/port once it listens) and answers
POST /introspect, form field "token": {"active": true, "username": "user"}
when the token is a line of DIR/tokens (read at each request, so a test
can expire a token by rewriting the file), {"active": false} otherwise.
Each token asked about is appended to DIR/asked.
"""

import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode(errors="replace")
        form = urllib.parse.parse_qs(body)
        token = (form.get("token") or [""])[0]
        auth = self.headers.get("Authorization", "")
        if not token and auth.startswith("Bearer "):
            token = auth[7:]
        with open(os.path.join(D, "asked"), "a") as f:
            f.write(token + "\n")
        try:
            with open(os.path.join(D, "tokens")) as f:
                valid = [x.strip() for x in f if x.strip()]
        except OSError:
            valid = []
        if token in valid:
            reply = {"active": True, "username": "user"}
        else:
            reply = {"active": False}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, fmt, *args):
        pass


D = sys.argv[1]
srv = HTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(D, "port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(D, "port.tmp"), os.path.join(D, "port"))
srv.serve_forever()
