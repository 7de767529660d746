"""Connectors: how a post reaches a network. One small interface, a registry keyed by
ConnectorKind. Add a connector: subclass Connector, set `kind`, decorate with @register.
"""

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from apps.core import outbound
from apps.core.errors import ServiceError

from .models import ConnectorKind, Network

# An answer larger than this is cut (we keep an id and a URL from it, nothing more).
MAX_ANSWER_BYTES = 1 << 20


class ConnectorError(Exception):
    """The network refused or failed. `retryable`: worth trying again later (5xx, 429, timeouts).
    `reached_network`: request bytes may have been written (the peer may have acted on them)."""

    def __init__(self, message, *, retryable=True, reached_network=False):
        super().__init__(message)
        self.retryable = retryable
        self.reached_network = reached_network


@dataclass
class SendResult:
    external_id: str = ""
    external_url: str = ""
    # Manual connector: nothing was sent; this person must publish it and mark it published.
    assignee: object = None


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""


@dataclass
class HttpResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class Deadline:
    """One hard deadline for a whole exchange (DNS, connect, TLS, request, answer)."""

    def __init__(self, seconds: float | None = None):
        self.seconds = float(seconds if seconds is not None else send_deadline_seconds())
        self.at = time.monotonic() + self.seconds

    def remaining(self, what="") -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise ConnectorError(
                f"{what}: no complete exchange within the {self.seconds:g} s send deadline".lstrip(": "),
                retryable=True,
            )
        return left


def send_deadline_seconds() -> float:
    return float(getattr(settings, "CRISISCOMM_SEND_DEADLINE_SECONDS", 20))


def _resolve(host: str, port: int) -> list[tuple]:
    """(family, type, proto, sockaddr) for host, every address judged by the outbound rules
    (apps.core.outbound: loopback, private, link-local… refused unless allowed). open_connection
    connects to these very addresses, so a DNS answer that changes later cannot redirect it."""
    return outbound.connect_addresses(host, port, field="url")


def _resolve_within(host, port, deadline):
    """The system resolver cannot be interrupted: run it aside and stop waiting at the deadline."""
    outcome = {}

    def work():
        try:
            outcome["addresses"] = _resolve(host, port)
        except Exception as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name=f"resolve {host}")
    worker.start()
    worker.join(deadline.remaining(f"DNS {host}"))
    if worker.is_alive():
        raise ConnectorError(f"DNS {host}: no answer within the {deadline.seconds:g} s send deadline")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, ServiceError):
            raise exc
        raise ConnectorError(f"DNS {host}: {exc.__class__.__name__}: {exc}") from exc
    return outcome["addresses"]


class Connection:
    """An open connection (DNS, TCP and TLS done) on which one request will be written."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket, url: str):
        self.conn, self.sock, self.url = conn, sock, url
        self.reached_network = False
        self._cut = False

    def _cut_at_deadline(self):
        self._cut = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def exchange(self, request: HttpRequest, *, deadline: Deadline) -> HttpResponse:
        """Write the request and read the whole answer before the deadline. A watchdog shuts the
        socket at the deadline: per-read timeouts alone let a peer trickling one byte at a time
        hold the send (and the gate lock) for ever."""
        what = f"{request.method} {request.url}"
        remaining = deadline.remaining(what)
        watchdog = threading.Timer(remaining, self._cut_at_deadline)
        watchdog.daemon = True
        watchdog.start()
        try:
            self.sock.settimeout(remaining)
            parts = urlsplit(request.url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            # From the first byte written on, the peer may act on the request.
            self.reached_network = True
            self.conn.request(request.method, target, body=request.body or None, headers=request.headers)
            answer = self.conn.getresponse()
            content = answer.read(MAX_ANSWER_BYTES)
            if self._cut:
                raise OSError("cut at the deadline")
            return HttpResponse(answer.status, content)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if self._cut or time.monotonic() >= deadline.at:
                message = f"{what}: no complete answer within the {deadline.seconds:g} s send deadline"
            else:
                message = f"{what}: {exc.__class__.__name__}: {exc}"
            raise ConnectorError(message, retryable=True, reached_network=True) from exc
        finally:
            watchdog.cancel()
            self.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.conn.close()


def open_connection(url: str, *, deadline: Deadline) -> Connection:
    """DNS, TCP and TLS for `url` within the deadline: everything slow that comes before the first
    byte of a request. The sender calls this BEFORE its last gate check and before it takes the
    gate lock, so a slow resolver or handshake never holds the lock. The one place a connection
    to a network is opened: the outbound target check belongs here, between resolve and connect."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorError(f"{url}: not an http(s) URL", retryable=False)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    try:
        addresses = _resolve_within(parts.hostname, port, deadline)
    except outbound.OutboundRefused as exc:  # outbound: nothing was sent
        raise ConnectorError(f"{parts.hostname}: {exc.message}", retryable=exc.retryable) from exc
    sock, last_error = None, None
    for family, type_, proto, sockaddr in addresses:
        candidate = socket.socket(family, type_, proto)
        try:
            candidate.settimeout(deadline.remaining(f"connect {parts.hostname}"))
            candidate.connect(sockaddr)
            sock = candidate
            break
        except OSError as exc:
            candidate.close()
            last_error = exc
    if sock is None:
        raise ConnectorError(f"connect {parts.hostname}:{port}: {last_error}", retryable=True)
    try:
        if secure:
            sock.settimeout(deadline.remaining(f"TLS {parts.hostname}"))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
            conn = http.client.HTTPSConnection(parts.hostname, port)
        else:
            conn = http.client.HTTPConnection(parts.hostname, port)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise ConnectorError(f"TLS {parts.hostname}: {exc}", retryable=True) from exc
    conn.sock = sock
    return Connection(conn, sock, url)


class Connector:
    kind: str = ""
    # Config keys never shown back through the API.
    secret_keys: tuple[str, ...] = ()
    required_keys: tuple[str, ...] = ()
    can_retract = False

    def clean_config(self, config: dict, *, network: str) -> dict:
        if not isinstance(config, dict):
            raise ServiceError(_("The configuration must be an object."), field="config")
        missing = [k for k in self.required_keys if not str(config.get(k) or "").strip()]
        if missing:
            raise ServiceError(
                _("The configuration lacks: %(keys)s.") % {"keys": ", ".join(missing)}, field="config"
            )
        return {k: config[k] for k in self.required_keys}

    def build_request(self, post) -> HttpRequest | None:
        """The request that publishes `post`; None for connectors that reach no network."""
        return None

    def read_answer(self, post, response: HttpResponse) -> SendResult:
        raise NotImplementedError

    def send_offline(self, post) -> SendResult:
        """Connectors without a network request (manual) publish here."""
        raise NotImplementedError

    def send(self, post, *, deadline: Deadline | None = None) -> SendResult:
        """The whole send, outside any gate check (tools and tests). The publisher goes through
        services.post_send, which splits it around the gate check."""
        request = self.build_request(post)
        if request is None:
            return self.send_offline(post)
        deadline = deadline or Deadline()
        return self.read_answer(
            post, open_connection(request.url, deadline=deadline).exchange(request, deadline=deadline)
        )

    def retract(self, post) -> None:
        raise ConnectorError(_("This connector cannot delete a published post."), retryable=False)


_REGISTRY: dict[str, Connector] = {}


def register(cls):
    _REGISTRY[cls.kind] = cls()
    return cls


def get_connector(kind: str) -> Connector:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ServiceError(_("Unknown connector: %(kind)s.") % {"kind": kind}, field="connector") from None


def _check_url(value, key):
    parsed = urlparse(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServiceError(_("%(key)s must be an http(s) URL.") % {"key": key}, field="config")


def _raise_for(response, what):
    if 200 <= response.status_code < 300:
        return
    retryable = response.status_code >= 500 or response.status_code in (408, 425, 429)
    raise ConnectorError(
        f"{what}: HTTP {response.status_code} {response.text[:200]}",
        retryable=retryable,
        reached_network=True,
    )


def _request(method, url, *, headers=None, body=b""):
    """One exchange outside the gate (retractions)."""
    deadline = Deadline()
    request = HttpRequest(method, url, headers=headers or {}, body=body)
    return open_connection(url, deadline=deadline).exchange(request, deadline=deadline)


@register
class MastodonConnector(Connector):
    """Mastodon's REST API: POST /api/v1/statuses with Idempotency-Key (the server then returns
    the same status for a repeated key), DELETE /api/v1/statuses/:id to retract."""

    kind = ConnectorKind.MASTODON
    secret_keys = ("access_token",)
    required_keys = ("base_url", "access_token")
    can_retract = True

    def clean_config(self, config, *, network):
        if network != Network.MASTODON:
            raise ServiceError(_("The Mastodon connector serves Mastodon accounts only."), field="connector")
        cleaned = super().clean_config(config, network=network)
        _check_url(cleaned["base_url"], "base_url")
        cleaned["base_url"] = str(cleaned["base_url"]).rstrip("/")
        return cleaned

    def _headers(self, post):
        return {"Authorization": f"Bearer {post.account.config.get('access_token', '')}"}

    def build_request(self, post):
        from urllib.parse import urlencode

        return HttpRequest(
            "POST",
            f"{post.account.config['base_url']}/api/v1/statuses",
            headers={
                **self._headers(post),
                "Idempotency-Key": str(post.idempotency_key),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            body=urlencode({"status": post.body, "visibility": "public"}).encode(),
        )

    def read_answer(self, post, response):
        _raise_for(response, "Mastodon")
        try:
            status = response.json()
            return SendResult(external_id=str(status["id"]), external_url=str(status.get("url") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError(
                f"Mastodon: unexpected answer {response.text[:200]}", retryable=False, reached_network=True
            ) from exc

    def retract(self, post):
        response = _request(
            "DELETE",
            f"{post.account.config['base_url']}/api/v1/statuses/{post.external_id}",
            headers=self._headers(post),
        )
        if response.status_code == 404:  # already gone: the goal is reached
            return
        _raise_for(response, "Mastodon")


def webhook_signature(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


@register
class WebhookConnector(Connector):
    """POST JSON {post_id, account, body, scheduled_at, idempotency_key} to `url`, signed with
    X-Crisiscomm-Signature: sha256=<HMAC-SHA256 of the raw body>. Any 2xx means delivered; a JSON
    answer with `id`/`url` is kept as the external id/URL."""

    kind = ConnectorKind.WEBHOOK
    secret_keys = ("secret",)
    required_keys = ("url", "secret")

    def clean_config(self, config, *, network):
        cleaned = super().clean_config(config, network=network)
        _check_url(cleaned["url"], "url")
        return cleaned

    def build_request(self, post):
        account = post.account
        raw = json.dumps(
            {
                "post_id": post.pk,
                "account": account.pk,
                "network": account.network,
                "handle": account.handle,
                "body": post.body,
                "scheduled_at": post.scheduled_at.isoformat(),
                "idempotency_key": str(post.idempotency_key),
            }
        ).encode()
        return HttpRequest(
            "POST",
            account.config["url"],
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": str(post.idempotency_key),
                "X-Crisiscomm-Signature": webhook_signature(account.config["secret"], raw),
            },
            body=raw,
        )

    def read_answer(self, post, response):
        _raise_for(response, "Webhook")
        result = SendResult()
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            result.external_id = str(answer.get("id") or "")[:200]
            url = str(answer.get("url") or "")
            result.external_url = url[:500] if url.startswith(("http://", "https://")) else ""
        return result


@register
class ManualConnector(Connector):
    """For networks without API access: the post becomes a to-do for a named person, who
    publishes it by hand and marks it published (POST /api/v1/posts/{id}/mark-published/)."""

    kind = ConnectorKind.MANUAL
    required_keys = ("assignee",)

    def clean_config(self, config, *, network):
        cleaned = super().clean_config(config, network=network)
        if not get_user_model().objects.filter(username=cleaned["assignee"], is_active=True).exists():
            raise ServiceError(
                _("assignee: no active user is named %(name)s.") % {"name": cleaned["assignee"]},
                field="config",
            )
        return cleaned

    def send_offline(self, post):
        user = (
            get_user_model()
            .objects.filter(username=post.account.config.get("assignee"), is_active=True)
            .first()
        )
        if user is None:
            raise ConnectorError("Manual: the assignee is not an active user", retryable=False)
        return SendResult(assignee=user)
