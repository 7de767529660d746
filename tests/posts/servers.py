"""Real HTTP servers on loopback that speak the connectors' protocols (no patched functions).

FakeMastodon: POST /api/v1/statuses (Bearer token, Idempotency-Key honoured like Mastodon: a
repeated key returns the status already made), DELETE /api/v1/statuses/:id.
WebhookReceiver: records every delivery (raw body, headers, receipt time).
Both can be told to answer slowly or with an error status, to receive late (request_delay:
latency on the way in, before the request counts as arrived) or to trickle their answer one byte
at a time (trickle: seconds between bytes).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that connects and gives up (a frozen send) is part of the tests


class _Server:
    def __init__(self):
        self.lock = threading.Lock()
        self.received = []  # dicts: method, path, headers, body, at (time.monotonic())
        self.delay = 0.0  # seconds before answering
        self.request_delay = 0.0  # seconds of latency before a request counts as arrived
        self.trickle = 0.0  # seconds between the bytes of the answer (0: all at once)
        self.fail_with = []  # status codes to answer with, one per request, before succeeding
        handler = self._handler_class()
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next_failure(self):
        with self.lock:
            return self.fail_with.pop(0) if self.fail_with else None

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _read(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, code, payload=None):
                raw = json.dumps(payload if payload is not None else {}).encode()
                if server.trickle:
                    head = (
                        f"HTTP/1.1 {code} OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(raw)}\r\n\r\n"
                    ).encode()
                    try:
                        for byte in head + raw:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(server.trickle)
                    except OSError:
                        pass  # the client gave up: what the trickle tests want
                    self.close_connection = True
                    return
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method):
                body = self._read()
                if server.request_delay:
                    time.sleep(server.request_delay)
                entry = {
                    "method": method,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "at": time.monotonic(),
                    # Wall clock: compared with times the database records (same host clock).
                    "wall": time.time(),
                }
                with server.lock:
                    server.received.append(entry)
                code, payload = server.respond(entry)
                if server.delay:
                    time.sleep(server.delay)
                self._reply(code, payload)

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        return Handler


class FakeMastodon(_Server):
    TOKEN = "mastodon-test-token"

    def __init__(self):
        super().__init__()
        self.statuses = {}  # id -> {"status": text, "key": idempotency key}
        self.by_key = {}
        self.deleted = []

    def respond(self, entry):
        failure = self._next_failure()
        if failure:
            return failure, {"error": "induced failure"}
        if entry["headers"].get("Authorization") != f"Bearer {self.TOKEN}":
            return 401, {"error": "The access token is invalid"}
        if entry["method"] == "POST" and entry["path"] == "/api/v1/statuses":
            from urllib.parse import parse_qs

            form = {k: v[0] for k, v in parse_qs(entry["body"].decode()).items()}
            if not form.get("status"):
                return 422, {"error": "Validation failed: Text can't be blank"}
            key = entry["headers"].get("Idempotency-Key")
            with self.lock:
                if key and key in self.by_key:
                    sid = self.by_key[key]
                else:
                    sid = str(100000 + len(self.statuses))
                    self.statuses[sid] = {"status": form["status"], "key": key}
                    if key:
                        self.by_key[key] = sid
            return 200, {"id": sid, "url": f"{self.url}/@agency/{sid}", "content": form["status"]}
        if entry["method"] == "DELETE" and entry["path"].startswith("/api/v1/statuses/"):
            sid = entry["path"].rsplit("/", 1)[1]
            with self.lock:
                if sid not in self.statuses:
                    return 404, {"error": "Record not found"}
                self.deleted.append(sid)
                return 200, {"id": sid, "text": self.statuses.pop(sid)["status"]}
        return 404, {"error": "not found"}


class WebhookReceiver(_Server):
    def __init__(self):
        super().__init__()
        self.status = 204

    def respond(self, entry):
        failure = self._next_failure()
        if failure:
            return failure, {"error": "induced failure"}
        return self.status, None

    def post_ids(self):
        with self.lock:
            return [json.loads(e["body"])["post_id"] for e in self.received]
