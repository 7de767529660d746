"""The outside world on loopback: one HTTP(S) server every test double is built on (the fakes of
Mastodon, Bluesky, feeds, webhooks, an OIDC provider are thin `respond` methods on it), a scripted
resolver standing in for DNS, free ports and a self-signed TLS context."""

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# CRISISCOMM_OUTBOUND_RESOLVER = "tests.core.servers.scripted_resolve": each lookup takes the
# next answer of DNS_SCRIPT (the last one repeats); DNS_QUERIES records the names asked.
DNS_SCRIPT: list[list[str]] = []
DNS_QUERIES: list[str] = []
DNS_DELAY = [0.0]  # seconds scripted_resolve waits before answering (a slow DNS server)


def scripted_resolve(host, port):
    DNS_QUERIES.append(host)
    if DNS_DELAY[0]:
        time.sleep(DNS_DELAY[0])
    if not DNS_SCRIPT:
        raise OSError("no such host")
    return DNS_SCRIPT.pop(0) if len(DNS_SCRIPT) > 1 else DNS_SCRIPT[0]


def offline_resolve(host, port):
    """Tests never ask the real DNS (no traffic outside 127.0.0.0/8): localhost only."""
    if host == "localhost":
        return ["127.0.0.1"]
    # Numeric forms the system resolver reads without asking anyone (2130706433, 0x7f.1).
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [info[4][0] for info in infos]


class Request(dict):
    """One request as the server received it: method, path (as sent, with its query), route (the
    path without the query), query (last value of each key), headers, body (bytes), at
    (time.monotonic()) and wall (time.time(): compared with times the database records)."""

    def json(self):
        return json.loads(self["body"] or b"null")

    def form(self) -> dict:
        return {k: v[-1] for k, v in parse_qs(self["body"].decode()).items()}


def _parts(answer) -> tuple:
    """status | (status, body) | (status, body, headers) -> (status, body, headers)."""
    if not isinstance(answer, tuple):
        return answer, None, None
    status, body, headers = (*answer, None, None)[:3]
    return status, body, headers


def _encode(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping or reading never holds the teardown
    request_queue_size = 128  # bursts of parallel sends (set before listen(), unlike after)

    def __init__(self, address, handler_class):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler_class)

    def handle_error(self, request, client_address):
        pass  # a client that connects and gives up (a frozen send, a deadline) is part of the tests


class LoopbackServer:
    """The one loopback HTTP(S) server of the tests, every fake is built on it. It serves from
    construction on `address` (a free port unless `port` is given), until `stop()` or the end of
    a `with` block.

    Every request is recorded in `received` (Request dicts, in arrival order). The answer is, in
    order: the next entry of `script` (one per request, then the usual answer), else `respond()`:
    `handler(request)` when given, else `(status, body, answer_headers)` (the constructor's `status`,
    `body`, `headers`, `location`: the same answer to every request). An answer is `status`,
    `(status, body)` or `(status, body, headers)`; a dict/list body goes as JSON, str/bytes as is,
    Content-Type application/json unless the headers say otherwise. A fake for a protocol is a
    subclass overriding `respond`.

    `url` is the address to configure (`base` + the `path` given).

    Faults: `request_delay` (seconds before a request counts as arrived), `delay` (seconds before
    answering), `trickle` (seconds between the answer's bytes), `stop()` (the server dies: open
    connections are cut, the port refuses)."""

    def __init__(
        self,
        address="127.0.0.1",
        port=0,
        *,
        handler=None,
        status=200,
        body=None,
        headers=None,
        location=None,
        script=(),
        tls=None,
        path="",
    ):
        self.lock = threading.Lock()
        self.received: list[Request] = []
        self.errors: list[BaseException] = []  # exceptions raised by respond() (answered 500)
        self.handler = handler
        self.status, self.body = status, {"ok": True} if body is None else body
        self.answer_headers = dict(headers or {})
        if location:
            self.answer_headers["Location"] = location
        self.script = list(script)
        self.request_delay = self.delay = self.trickle = 0.0
        self._connections: set[socket.socket] = set()
        self.httpd = _Server((address, port), self.handler_class)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.address, self.port = address, self.httpd.server_address[1]
        host = f"[{address}]" if ":" in address else address
        self.base = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self.path = path
        # poll_interval: shutdown() waits up to one interval (0.5 s by default, paid by every test).
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The address to configure: base (scheme://host:port) and the `path` given."""
        return self.base + self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop listening and cut the open (kept-alive) connections: the port now refuses."""
        self.httpd.shutdown()
        with self.lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.httpd.server_close()
        self.thread.join(1)

    def respond(self, request: Request):
        if self.handler is not None:
            return self.handler(request)
        return self.status, self.body, self.answer_headers

    def json_bodies(self) -> list:
        with self.lock:
            return [request.json() for request in self.received]

    def _answer(self, request):
        with self.lock:
            self.received.append(request)
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None:
            return scripted
        try:
            return self.respond(request)
        except Exception as error:  # a broken fake answers 500 and says why (captured output)
            traceback.print_exc()
            self.errors.append(error)
            return 500, {"error": f"test double failed: {error!r}"}

    @property
    def handler_class(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with owner.lock:
                    owner._connections.add(self.connection)

            def finish(self):
                with contextlib.suppress(OSError):
                    super().finish()
                with owner.lock:
                    owner._connections.discard(self.connection)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if owner.request_delay:
                    time.sleep(owner.request_delay)
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=self.path,
                    route=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers=dict(self.headers),
                    body=body,
                    at=time.monotonic(),
                    wall=time.time(),
                )
                status, payload, headers = _parts(owner._answer(request))
                if owner.delay:
                    time.sleep(owner.delay)
                self._reply(status, _encode(payload), {"Content-Type": "application/json", **(headers or {})})

            def _reply(self, status, raw, headers):
                if self.command == "HEAD":
                    raw = b""
                if owner.trickle:
                    lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
                    lines += [f"{k}: {v}" for k, v in headers.items()]
                    lines += [f"Content-Length: {len(raw)}", "Connection: close", "", ""]
                    self.close_connection = True
                    try:
                        for byte in "\r\n".join(lines).encode() + raw:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(owner.trickle)
                    except OSError:
                        pass  # the client gave up: what the trickle tests want
                    return
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        return Handler


def free_port() -> int:
    """A port nobody listens on (bound once, released): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_tls(hostname: str, directory):
    """A server TLS context with a self-signed certificate for hostname, and the CA file path."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)


class RedisServer:
    """A redis-server of this test's own, on a free loopback port, nothing saved to disk."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (apt-get install redis-server)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def _answers(self):
        import redis

        with contextlib.suppress(redis.RedisError):
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
