"""Loopback test doubles for outbound tests: an HTTP(S) server that records what it receives on
a chosen 127.x address, and a scripted resolver standing in for DNS (the outside world)."""

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class RecordingServer:
    """Answers every request with `status` (and a JSON body, or a Location for redirects)."""

    def __init__(self, address="127.0.0.1", port=0, *, status=200, body=None, location=None, tls=None):
        self.received = []
        self.status, self.body, self.location = status, body or {"ok": True}, location
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                raw = json.dumps(server.body).encode()
                self.send_response(server.status)
                if server.location:
                    self.send_header("Location", server.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _handle

        server_class = ThreadingHTTPServer
        if ":" in address:

            class server_class(ThreadingHTTPServer):
                address_family = socket.AF_INET6

        self.httpd = server_class((address, port), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


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
