#!/usr/bin/env python3
"""A receiver that answers every push only after DELAY seconds, for host-contract-test.sh.

Why it exists: the host-loop contract (src/push/host.rs) is about what a host does when the
receiver is slow (coalescing, budgets, aborting its own requests). No real receiver can be told to
stall on demand, so this one does, and records what it saw: when each push arrived and whether the
client (the worker) gave up and closed the connection before the answer, and after how long.

Usage: slow_receiver.py PORT DELAY_SECONDS
  POST any path : waits up to DELAY (watching the socket), then answers 200 if the client is still there
  GET /summary  : {"requests": [{"at_ms": ..., "bytes": ..., "closed_after_ms": ms or null}, ...]}
  GET /-/ready  : 200
Binds 127.0.0.1 only.
"""
import json
import select
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from quiet_handler import QuietHandler

PORT = int(sys.argv[1])
DELAY = float(sys.argv[2])
LOCK = threading.Lock()
REQUESTS = []


def now_ms():
    return int(time.time() * 1000)


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/summary":
            with LOCK:
                body = json.dumps({"requests": REQUESTS}).encode()
            self.reply(200, body)
        else:
            self.reply(200, b"ok", "text/plain")

    def do_POST(self):
        t0 = now_ms()
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        rec = {"at_ms": t0, "bytes": len(body), "closed_after_ms": None}
        with LOCK:
            REQUESTS.append(rec)
        end = time.time() + DELAY
        sock = self.connection
        while time.time() < end:
            r, _, _ = select.select([sock], [], [], min(0.05, max(0.0, end - time.time())))
            if r:
                try:
                    peek = sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    peek = b""
                if peek == b"":
                    with LOCK:
                        rec["closed_after_ms"] = now_ms() - t0
                    self.close_connection = True
                    return
                time.sleep(0.05)  # a pipelined request, not a close: keep waiting
        try:
            self.reply(200, b"", "application/x-protobuf")
        except OSError:
            with LOCK:
                rec["closed_after_ms"] = now_ms() - t0


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
