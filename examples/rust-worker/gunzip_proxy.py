#!/usr/bin/env python3
"""A gzip-decompressing front for the dev receiver, for e2e-test.sh.

Why it exists: the workers-rs host compresses OTLP bodies itself (`CompressionStream("gzip")`)
when `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`, and the dev receiver takes uncompressed bodies only.
This front checks that a push says `Content-Encoding: gzip`, decompresses it with Python's gzip
module (a body that is not valid gzip is answered 400 and counted), and forwards the plain body
to the dev receiver, whose decoder then checks what arrived. It answers with the receiver's
status, content type and body.

Usage: gunzip_proxy.py PORT UPSTREAM_PORT
  POST any path : decompress, forward to http://127.0.0.1:UPSTREAM_PORT/same-path
  GET /stats    : {"gzip": n, "plain": n, "bad": n}
  GET /-/ready  : 200
Binds 127.0.0.1 only.
"""
import gzip
import http.client
import json
import sys
from http.server import ThreadingHTTPServer

from quiet_handler import QuietHandler

PORT, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
STATS = {"gzip": 0, "plain": 0, "bad": 0}


class Handler(QuietHandler):

    def do_GET(self):
        if self.path == "/stats":
            self.reply(200, json.dumps(STATS).encode(), "application/json")
        else:
            self.reply(200, b"ready\n", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if (self.headers.get("content-encoding") or "").lower() != "gzip":
            STATS["plain"] += 1
            self.reply(400, b"expected Content-Encoding: gzip\n", "text/plain")
            return
        try:
            plain = gzip.decompress(body)
        except (OSError, EOFError) as e:
            STATS["bad"] += 1
            self.reply(400, f"not gzip: {e}\n".encode(), "text/plain")
            return
        STATS["gzip"] += 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-encoding", "content-length", "host")}
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=10)
        conn.request("POST", self.path, body=plain, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.reply(r.status, data, r.getheader("content-type") or "application/octet-stream")
        conn.close()


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
