#!/usr/bin/env python
"""What the outbound rules and the secrets at rest cost, next to what they replace.

1. The send-time check (apps.core.outbound.connect_addresses: resolve, judge every address
   against the rules and the allow list) against a bare numeric getaddrinfo of the same address.
2. One request through the pinned session (outbound.session(): check, pinned address, Host kept,
   no redirects) against a plain requests.Session, both to a loopback HTTP server (keep-alive).
3. Reading an official account's configuration: Fernet decryption + JSON
   (EncryptedJSONField.from_db_value) against json.loads of the plaintext.

No database, no traffic outside 127.0.0.1.

    .venv/bin/python bench/outbound.py [--checks 20000] [--requests 500] [--reads 20000]
"""

import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crisiscomm.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")  # never opened
os.environ["CRISISCOMM_OUTBOUND_ALLOW"] = "127.0.0.1"

import django

django.setup()

import requests  # noqa: E402

from apps.core import outbound  # noqa: E402
from apps.core.fields import EncryptedJSONField  # noqa: E402


def per_call(fn, count):
    fn()  # warm
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one segment (no Nagle / delayed-ACK stall)

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"id": "1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def report(label, measured, baseline, unit="µs", scale=1e6):
    print(
        f"{label:<44} {measured * scale:9.1f} {unit}   baseline {baseline * scale:9.1f} {unit}   "
        f"ratio {measured / baseline:5.2f}   added {(measured - baseline) * scale:8.1f} {unit}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--reads", type=int, default=20000)
    args = parser.parse_args()

    check = per_call(lambda: outbound.connect_addresses("127.0.0.1", 443, field="url"), args.checks)
    bare = per_call(
        lambda: socket.getaddrinfo("127.0.0.1", 443, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST),
        args.checks,
    )
    report("send-time check, per connection", check, bare)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with outbound.session() as pinned, requests.Session() as plain:
            plain.trust_env = False
            timings = {pinned: [], plain: []}
            for round_ in range(6):  # interleaved, each first in turn, best of six: the machine is shared
                for http in (pinned, plain) if round_ % 2 == 0 else (plain, pinned):
                    timings[http].append(
                        per_call(lambda h=http: h.post(url, json={"a": 1}, timeout=5), args.requests)
                    )
        best_pinned, best_plain = min(timings[pinned]), min(timings[plain])
        report("request via pinned session (loopback)", best_pinned, best_plain, "ms", 1e3)
    finally:
        server.shutdown()
        server.server_close()

    field = EncryptedJSONField()
    config = {"base_url": "https://social.example", "access_token": "x" * 64}
    plaintext = json.dumps(config)
    sealed = field.get_prep_value(config)
    read = per_call(lambda: field.from_db_value(sealed, None, None), args.reads)
    baseline = per_call(lambda: json.loads(plaintext), args.reads)
    report("account config read (decrypt + JSON)", read, baseline)
    write = per_call(lambda: field.get_prep_value(config), args.reads)
    report("account config write (JSON + encrypt)", write, per_call(lambda: json.dumps(config), args.reads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
