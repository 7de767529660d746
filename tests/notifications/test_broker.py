"""The broker and the workers really failing: a Redis server this test runs itself, stopped
during a declaration and started again; a broker that accepts connections and never answers;
a worker stopped with SIGTERM in the middle of a fan-out; a relay that greylists everyone, with
the relay's beat as the only thing that sends the mails again."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import transaction

from apps.notifications import services, tasks
from apps.notifications.models import Notice, NoticeEvent, NoticeStatus
from crisiscomm.celery import app as celery_app
from tests.core.servers import RedisServer
from tests.notifications.factories import make_staff
from tests.notifications.test_failures import (
    ROOT,
    _point_broker,
    _worker_env,
    assert_exactly_one_mail_each,
    wait_for,
)

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}
# The broker in production is Redis; `make test` starts one when REDIS_URL is unset.
pytestmark = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis: set REDIS_URL")
QUEUES = ["celery", tasks.FANOUT_QUEUE]


def declare():
    with transaction.atomic():
        return services.notify_event(event="crisis.declared", crisis_id=1, context=CONTEXT)


@pytest.fixture
def own_redis():
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    broker = django_settings.CELERY_BROKER_URL
    _point_broker(server.url)
    yield server
    _point_broker(broker)
    if server.process.poll() is None:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_during_a_declaration_then_restarted_everyone_is_mailed_once(
    own_redis, smtp_sink, settings
):
    """The broker goes away for real (its process stops): the declaring request returns at once
    and loses nothing; once Redis is back the beat's relay sends every notice, once."""
    users = make_staff(20)
    own_redis.stop()
    started = time.monotonic()
    event = declare()
    assert time.monotonic() - started < 5
    assert not NoticeEvent.objects.get(pk=event.pk).materialised_at

    own_redis.start()
    settings.CRISISCOMM_NOTIFY_RELAY_GRACE = 0
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES):
        assert tasks.relay_queued_notices()["materialise"] == 1
        assert wait_for(lambda: len(smtp_sink.messages) >= len(users), timeout=60)
        assert wait_for(
            lambda: not Notice.objects.filter(channel="email").exclude(status=NoticeStatus.SENT).exists()
        )
        tasks.relay_queued_notices()
        time.sleep(0.5)
    assert_exactly_one_mail_each(smtp_sink, users)


class HungBroker:
    """Accepts TCP connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _addr = self.sock.accept()
                self.held.append(conn)

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.mark.django_db(transaction=True)
def test_a_hung_broker_does_not_hold_the_declaring_request(smtp_sink):
    """Mutation: no socket timeouts in CELERY_BROKER_TRANSPORT_OPTIONS -> this test fails (the
    request waits on the silent broker)."""
    make_staff(3)
    hung = HungBroker()
    broker = django_settings.CELERY_BROKER_URL
    _point_broker(f"redis://127.0.0.1:{hung.port}/0")
    try:
        result = {}

        def request():
            started = time.monotonic()
            result["event"] = declare()
            result["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=request, daemon=True)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the declaration is still waiting for the broker"
    finally:
        _point_broker(broker)
        hung.close()
    assert result["seconds"] < 5
    assert NoticeEvent.objects.filter(pk=result["event"].pk).exists()


@pytest.mark.django_db(transaction=True)
def test_greylisted_mails_go_out_again_through_the_relay_and_a_real_worker(smtp_sink, settings):
    """Everyone is refused once with 451; a real worker on the real broker, and nothing but the
    beat's relay to pick the backed-off notices up again: everyone mailed once.
    Mutation: the relay not enqueuing due notices (the `pairs` loop in notices_relay) -> this
    test fails."""
    settings.CRISISCOMM_NOTIFY_BACKOFF = 1
    settings.CRISISCOMM_NOTIFY_RELAY_GRACE = 0
    users = make_staff(8)
    smtp_sink.handler.greylist = {u.email for u in users}
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(*QUEUES)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES):
        event = declare()
        assert wait_for(
            lambda: Notice.objects.filter(event=event, channel="email", attempts=1, status="queued").count()
            == 8,
            timeout=30,
        )
        assert smtp_sink.messages == []
        time.sleep(1.2)  # the back-off is over; only the relay knows
        assert tasks.relay_queued_notices()["deliver"] == 1
        assert wait_for(lambda: len(smtp_sink.messages) == 8, timeout=30)
        time.sleep(0.3)
    assert_exactly_one_mail_each(smtp_sink, users)


@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_the_worker_between_two_mails_and_the_rest_is_sent_later(smtp_sink, settings):
    """docker stop: SIGTERM to a real worker (solo pool, as deployed) in the middle of a slow fan-out. It
    exits within seconds, leaves no row `sending` nor claimed, and the rest goes out once.
    Mutation: the STOPPING check in _deliver_batch removed -> this test fails (the worker
    finishes its claim first, past the grace)."""
    queue = f"notifications-term-test-{os.getpid()}"
    smtp_sink.handler.delay = 0.25
    users = make_staff(30)
    event = declare()
    services.event_materialise(event_id=event.pk)
    env = _worker_env(smtp_sink.port)
    env["REDIS_URL"] = django_settings.REDIS_URL
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crisiscomm", "worker", "-Q", queue, "--pool", "solo",
         "-c", "1", "-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env,
        cwd=ROOT,
    )  # fmt: skip
    try:
        tasks.deliver_notices.apply_async(args=(event.pk, "email"), queue=queue)
        assert wait_for(lambda: len(smtp_sink.messages) >= 3, timeout=60)
        worker.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        worker.wait(timeout=20)
        assert time.monotonic() - stopped < 3
    finally:
        if worker.poll() is None:
            worker.kill()
        redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(queue, f"_kombu.binding.{queue}")
    email = Notice.objects.filter(channel="email")
    assert not email.filter(status=NoticeStatus.SENDING).exists()
    assert not email.filter(claim_token__isnull=False).exists()
    sent_before = email.filter(status=NoticeStatus.SENT).count()
    assert 3 <= sent_before < 20
    smtp_sink.handler.delay = 0
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 30 - sent_before
    assert_exactly_one_mail_each(smtp_sink, users)
    assert timedelta(0) <= services.sending_lease()


@pytest.mark.django_db(transaction=True)
def test_a_stand_down_reaches_the_inboxes_past_a_backlog_of_sends(smtp_sink, settings):
    """Materialising has a queue of its own: with 40 delivery tasks waiting in the default
    queue, a worker on the fan-out queue materialises the stand-down at once.
    Mutation: materialise_event without its own queue (no `queue=` on the task, not in
    FANOUT_TASKS) -> this test fails."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.delete(*QUEUES)
    make_staff(5)
    declared = declare()
    for _ in range(40):  # a fan-out's backlog, which no worker in this test consumes
        tasks.deliver_notices.apply_async(args=(declared.pk, "email"))
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=30,
            queues=[tasks.FANOUT_QUEUE],
        ):
            with transaction.atomic():
                stood_down = services.notify_event(event="crisis.stood_down", crisis_id=1, context=CONTEXT)
            assert wait_for(
                lambda: Notice.objects.filter(event=stood_down, channel="inapp").count() == 5, timeout=20
            )
        assert client.llen("celery") >= 40  # the backlog is still there, untouched
    finally:
        client.delete(*QUEUES)


@pytest.mark.django_db(transaction=True)
def test_a_worker_started_after_an_earlier_one_was_stopped_sends_everything(smtp_sink):
    """An earlier worker in this process was asked to stop (the shutdown signal set STOPPING);
    a worker started afterwards in the same process delivers every mail, not none.
    Mutation: the STOPPING.clear() on worker_init (tasks._clear_stopping) removed -> this test
    fails (every delivery hands its claim back at once and no mail goes out)."""
    users = make_staff(6)
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(*QUEUES)
    services.STOPPING.set()  # what an earlier worker's warm shutdown leaves behind
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES):
        declare()
        assert wait_for(lambda: len(smtp_sink.messages) == 6, timeout=30), len(smtp_sink.messages)
        time.sleep(0.3)
    assert_exactly_one_mail_each(smtp_sink, users)
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(*QUEUES)
