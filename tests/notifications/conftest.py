"""Real local stand-ins for the outside world: an SMTP sink (aiosmtpd) and a team chat's
webhook on the shared loopback server, both on 127.0.0.1 with a free port."""

import asyncio
import contextlib
import threading
import time
from collections import Counter
from email import message_from_bytes, policy

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings

from tests.core.servers import LoopbackServer, free_port  # free_port: imported from here too


class SinkHandler:
    """Keeps every message. Once, after `drop_after` messages, it drops the connection mid-DATA;
    once, after `hold_after` messages, it holds the next one (no answer) until `release`."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.drop_after = None
        self.hold_after = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.delay = 0.0  # seconds before answering each message: a slow server
        self.accept_held = False  # whether the held message is accepted (250) once released
        self.greylist = set()  # recipients refused once with 451 at RCPT, then accepted
        self.refuse = {}  # recipient -> reply at RCPT, every time (e.g. "550 5.1.1 no such user")
        self.times = []  # when each message was accepted (time.monotonic())

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        if address in self.greylist:
            self.greylist.discard(address)
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        return await self._handle_data(server, session, envelope)

    async def _handle_data(self, server, session, envelope):
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.hold_after = None
            if self.accept_held:  # the relay has taken the mail; its 250 is what waits
                self._keep(envelope)
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "250 OK" if self.accept_held else "451 try again later"
        with self.lock:
            if self.drop_after is not None and len(self.messages) >= self.drop_after:
                self.drop_after = None
                server.transport.close()  # the server dies mid-conversation: no 250
                return "421 closing"
        self._keep(envelope)
        return "250 OK"

    def _keep(self, envelope):
        with self.lock:
            self.messages.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
            )
            self.times.append(time.monotonic())

    def per_recipient(self) -> Counter:
        with self.lock:
            return Counter(rcpt for rcpts, _ in self.messages for rcpt in rcpts)


class SMTPSink:
    def __init__(self):
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    def per_recipient(self):
        return self.handler.per_recipient()


@pytest.fixture(autouse=True)
def _no_persistent_connections_in_threads():
    """Production keeps connections open (CONN_MAX_AGE); the worker threads these tests start
    must not, or the test database cannot be dropped at the end."""
    from django.db import connections

    saved = connections.settings["default"].get("CONN_MAX_AGE")
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    yield
    connections.settings["default"]["CONN_MAX_AGE"] = saved


@pytest.fixture(autouse=True)
def _not_stopping():
    """A test that stops a worker (a SIGTERM's shutdown signal) leaves no stop request behind
    for the next test's in-process deliveries."""
    from apps.notifications import services

    yield
    services.STOPPING.clear()


@pytest.fixture(autouse=True)
def _no_leftover_tasks():
    """Transactional tests enqueue real tasks after commit; leave no message behind in the
    Redis queue for a later test's worker to pick up."""
    yield
    broker = django_settings.CELERY_BROKER_URL
    if broker.startswith("redis"):
        with contextlib.suppress(Exception):
            redis.Redis.from_url(broker).delete("celery")


@pytest.fixture
def smtp_sink(settings):
    sink = SMTPSink()
    sink.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.controller.stop()


class WebhookReceiver(LoopbackServer):
    """A team chat's incoming webhook: records each post (`requests`: path and JSON, `headers`),
    answers `status`; `stall` seconds of silence once, after reading a post, before answering."""

    def __init__(self):
        super().__init__(body="ok", headers={"Content-Type": "text/plain"})
        self.stall = 0.0

    def respond(self, request):
        if self.stall:
            stall, self.stall = self.stall, 0.0
            time.sleep(stall)
        return super().respond(request)

    def url(self, path):
        return self.base + path

    @property
    def requests(self) -> list[tuple[str, object]]:
        with self.lock:
            return [(request["path"], request.json()) for request in self.received]

    @property
    def headers(self) -> list[dict]:
        with self.lock:
            return [request["headers"] for request in self.received]


@pytest.fixture
def webhook_receiver(settings):
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"  # the stand-in for the team chat is local
    with WebhookReceiver() as receiver:
        yield receiver
