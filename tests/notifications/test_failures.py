"""Failures in the middle of a fan-out: the SMTP server drops the connection, a worker is killed
with SIGKILL, two workers race for the same notices, the broker is down at declaration time.
Each ends with every person holding exactly one notice per channel."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import connection, connections, transaction

from apps.notifications import services, tasks
from apps.notifications.models import Notice, NoticeEvent, NoticeStatus
from crisiscomm.celery import app as celery_app
from crisiscomm.embedded_db import database_url
from tests.notifications.conftest import free_port
from tests.notifications.factories import make_staff

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def declare():
    with transaction.atomic():
        return services.notify_event(event="crisis.declared", crisis_id=1, context=CONTEXT)


def wait_for(predicate, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def assert_exactly_one_mail_each(sink, users):
    per_rcpt = sink.per_recipient()
    assert {u.email: per_rcpt.get(u.email, 0) for u in users} == {u.email: 1 for u in users}
    assert len(sink.messages) == len(users)
    # And one inbox notice each.
    assert Notice.objects.filter(channel="inapp").count() == len(users)


@pytest.mark.django_db
def test_smtp_server_drops_the_connection_mid_batch_then_the_retry_completes(smtp_sink, settings):
    settings.CRISISCOMM_NOTIFY_BACKOFF = 0
    users = make_staff(12)
    smtp_sink.handler.drop_after = 5  # the 6th message: connection dropped before 250
    event = declare()
    services.event_materialise(event_id=event.pk)

    first = services.notices_deliver(event_id=event.pk, channel="email")
    # The dropped one went back to the queue and, its back-off over, out again on a new connection.
    assert (first["sent"], first["retry"]) == (12, 1)
    retried = Notice.objects.get(channel="email", attempts=2)
    assert (retried.status, retried.error) == (NoticeStatus.SENT, "")
    assert Notice.objects.filter(channel="email", attempts=1, status=NoticeStatus.SENT).count() == 11

    services.notices_relay()  # the beat's relay, and a redelivered task: nothing left to send
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 0
    assert_exactly_one_mail_each(smtp_sink, users)


@pytest.mark.django_db
def test_a_failed_send_waits_for_its_back_off_then_the_relay_sends_it(smtp_sink, settings):
    settings.CRISISCOMM_NOTIFY_BACKOFF = 3600
    users = make_staff(4)
    smtp_sink.handler.drop_after = 1
    event = declare()
    services.event_materialise(event_id=event.pk)
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 3
    waiting = Notice.objects.get(channel="email", status=NoticeStatus.QUEUED)
    assert waiting.attempts == 1 and "SMTP" in waiting.error and waiting.next_attempt_at
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 0  # backing off
    Notice.objects.filter(pk=waiting.pk).update(next_attempt_at=waiting.created_at)  # an hour later
    services.notices_relay()
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 1
    assert_exactly_one_mail_each(smtp_sink, users)


@pytest.mark.django_db
def test_smtp_server_down_leaves_notices_queued_without_burning_their_attempts(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    make_staff(10)
    event = declare()
    services.event_materialise(event_id=event.pk)
    result = services.notices_deliver(event_id=event.pk, channel="email")
    assert result["sent"] == 0 and result["retry"] == 3  # stopped after three in a row
    email = Notice.objects.filter(channel="email")
    assert email.filter(status=NoticeStatus.QUEUED).count() == 10
    assert email.filter(attempts=0, claim_token__isnull=True).count() == 7


def _worker_env(sink_port):
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(db),
        EMAIL_URL=f"smtp://127.0.0.1:{sink_port}",
        DJANGO_SETTINGS_MODULE="crisiscomm.settings",
        PYTHONPATH=str(ROOT),
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


KILL_QUEUE = f"notifications-kill-test-{os.getpid()}"


def _start_delivery_worker(event, sink_port):
    """A real Celery worker process (solo pool) on the real Redis broker, running the delivery
    task; without Redis, a plain process running the same service function."""
    env = _worker_env(sink_port)
    if django_settings.REDIS_URL:
        env["REDIS_URL"] = django_settings.REDIS_URL
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crisiscomm", "worker", "-Q", KILL_QUEUE,
             "--pool", "solo", "-l", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            env=env,
            cwd=ROOT,
        )  # fmt: skip
        tasks.deliver_notices.apply_async(args=(event.pk, "email"), queue=KILL_QUEUE)
        return worker
    code = (
        "import django; django.setup();"
        "from apps.notifications.services import notices_deliver;"
        f"notices_deliver(event_id={event.pk}, channel='email')"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)


def _forget_queue():
    if django_settings.REDIS_URL:
        # The killed worker's message waits, unacknowledged, for the visibility timeout; the
        # relay is what recovers the work, so drop the message with the queue.
        client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
        client.delete(KILL_QUEUE, f"_kombu.binding.{KILL_QUEUE}", "unacked", "unacked_index")


def test_default_leases_delay_a_killed_workers_notices_by_at_most_a_minute(settings):
    """With the shipped settings a dead worker's one row in flight is handed out again within a
    minute, and the rest of its claim (one claim, not renewed by a heartbeat any more) within
    seconds, as the next relay tick finds it."""
    settings.EMAIL_TIMEOUT = None
    for name in ("CRISISCOMM_NOTIFY_LEASE", "CRISISCOMM_NOTIFY_BATCH", "CRISISCOMM_SEND_TIMEOUT"):
        if hasattr(settings, name):
            delattr(settings, name)
    relay_interval = timedelta(seconds=django_settings.CRISISCOMM_NOTIFY_RELAY_INTERVAL)
    assert services.claim_lease() + relay_interval <= timedelta(minutes=1)
    assert services.sending_lease() <= timedelta(minutes=1)
    assert services.batch_size() <= 200


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_send_then_relayed_at_most_one_duplicate_none_lost(smtp_sink, settings):
    """A real worker process SIGKILLed while the SMTP server holds its 13th mail; the server
    then accepts that mail after all. Once the short leases are over the relay hands the rows
    out again: everyone gets their mail, one person (the one in flight) gets a second copy with
    the same Message-ID, and the worker held only one small claim."""
    settings.EMAIL_TIMEOUT = 1  # the send lease is tied to it: a minute by default
    # 4 s: room for a loaded machine between the kill and the retried task below, which must
    # still find the dead worker's claim under its lease.
    settings.CRISISCOMM_NOTIFY_LEASE = timedelta(seconds=4)
    users = make_staff(60)
    event = declare()
    services.event_materialise(event_id=event.pk)

    handler = smtp_sink.handler
    handler.hold_after = 12
    handler.accept_held = True
    worker = _start_delivery_worker(event, smtp_sink.port)
    try:
        assert wait_for(handler.holding.is_set, timeout=60), "the worker never reached the sink"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        handler.release.set()
        _forget_queue()
    assert wait_for(lambda: len(smtp_sink.messages) == 13)  # the held one was accepted after all
    email = Notice.objects.filter(channel="email")
    assert email.filter(status=NoticeStatus.SENT).count() == 12
    in_flight = email.get(status=NoticeStatus.SENDING)
    claimed = email.filter(status=NoticeStatus.QUEUED, claim_token__isnull=False).count()
    assert claimed == min(services.batch_size(), 60) - 13  # one claim: the rest of one batch

    # A retried task right now takes nothing the dead worker holds under its lease...
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 60 - 13 - claimed
    assert services.notices_relay()["expired"] == 0
    # ...and within seconds (a minute with the shipped settings) everything is handed out again.
    assert wait_for(lambda: services.notices_relay()["expired"] == 1, timeout=10)
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == claimed + 1
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 0

    per_rcpt = smtp_sink.per_recipient()
    assert {u.email for u in users} == set(per_rcpt)  # none lost
    assert {rcpt: n for rcpt, n in per_rcpt.items() if n > 1} == {in_flight.user.email: 2}
    copies = [m for rcpts, m in smtp_sink.messages if rcpts == [in_flight.user.email]]
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert not email.exclude(status=NoticeStatus.SENT).exists()


@pytest.mark.django_db(transaction=True)
def test_the_relay_leaves_a_live_workers_mail_in_flight_alone(smtp_sink, settings):
    """A live worker waits for a slow server on one mail; the relay runs meanwhile (and another
    worker with it): the mail in flight is not handed out again, so nobody gets two.
    Mutation: the relay re-queueing `sending` rows without the lease condition -> this test fails."""
    settings.EMAIL_TIMEOUT = 5
    users = make_staff(3)
    event = declare()
    services.event_materialise(event_id=event.pk)
    handler = smtp_sink.handler
    handler.hold_after = 1
    handler.accept_held = True
    results = []

    def worker():
        try:
            results.append(services.notices_deliver(event_id=event.pk, channel="email"))
        finally:
            connections.close_all()

    first = threading.Thread(target=worker)
    first.start()
    assert wait_for(handler.holding.is_set, timeout=30)
    assert services.notices_relay()["expired"] == 0
    second = threading.Thread(target=worker)  # a redelivered task, a relay's enqueue
    second.start()
    second.join(timeout=30)
    handler.release.set()
    first.join(timeout=30)
    assert services.notices_deliver(event_id=event.pk, channel="email")["sent"] == 0
    assert_exactly_one_mail_each(smtp_sink, users)


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_claim_outlasts_the_lease_through_its_heartbeat(smtp_sink, settings):
    """A worker slowly sending a claim of 20 (0.15 s a mail, 3 s in all) against a 1 s lease:
    while it lives, nobody else (another worker, the relay) takes its rows, and it sends them
    all itself, each once.
    Mutation: the _heartbeat call in _deliver_batch removed -> this test fails (the rows are
    claimed by the second worker once the first lease is over)."""
    settings.CRISISCOMM_NOTIFY_LEASE = timedelta(seconds=1)
    settings.CRISISCOMM_NOTIFY_BATCH = 20
    smtp_sink.handler.delay = 0.15
    users = make_staff(20)
    event = declare()
    services.event_materialise(event_id=event.pk)
    results = []

    def worker():
        try:
            results.append(services.notices_deliver(event_id=event.pk, channel="email"))
        finally:
            connections.close_all()

    first = threading.Thread(target=worker)
    first.start()
    assert wait_for(lambda: len(smtp_sink.messages) >= 1, timeout=30)
    time.sleep(1.6)  # past the first lease: only the heartbeat keeps the claim the worker's
    assert len(smtp_sink.messages) < 20
    services.notices_relay()
    _token, taken = services.notices_claim(event_id=event.pk, channel="email", limit=100)
    assert taken == []
    first.join(timeout=30)
    assert results[0]["sent"] == 20
    assert_exactly_one_mail_each(smtp_sink, users)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_event_send_each_notice_once(smtp_sink, settings):
    settings.CRISISCOMM_NOTIFY_BATCH = 7  # many small claims, so the workers interleave
    smtp_sink.handler.delay = 0.005  # a slowish server: every worker is up before the work is done
    users = make_staff(60)
    event = declare()
    services.event_materialise(event_id=event.pk)
    results, errors = [], []

    def worker():
        try:
            results.append(services.notices_deliver(event_id=event.pk, channel="email"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(r["sent"] for r in results) == 60
    assert sum(1 for r in results if r["sent"]) >= 2  # they really shared the work
    assert_exactly_one_mail_each(smtp_sink, users)


def _point_broker(url):
    celery_app.conf.broker_url = celery_app.conf.broker_write_url = celery_app.conf.broker_read_url = url
    # Forget the pooled connections so that the next publish connects to `url`.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_broker_unreachable_at_declaration_then_relay_sends_everything_once(smtp_sink, settings):
    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    broker = django_settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).delete("celery")
    users = make_staff(25)

    _point_broker(f"redis://127.0.0.1:{free_port()}/0")  # a Redis that is not there
    try:
        event = declare()  # the caller's transaction commits; the enqueue after commit fails
    finally:
        _point_broker(broker)
    event.refresh_from_db()
    assert event.materialised_at is None
    assert not Notice.objects.exists()
    assert smtp_sink.messages == []

    # The broker is back: a real worker consumes it, the beat's relay re-enqueues the outbox.
    settings.CRISISCOMM_NOTIFY_RELAY_GRACE = 0
    queues = ["celery", tasks.FANOUT_QUEUE]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=queues):
        assert tasks.relay_queued_notices()["materialise"] == 1
        assert wait_for(lambda: len(smtp_sink.messages) >= len(users), timeout=60)
        assert wait_for(
            lambda: not Notice.objects.filter(channel="email").exclude(status=NoticeStatus.SENT).exists()
        )
        tasks.relay_queued_notices()  # another beat tick finds nothing left to send
        time.sleep(0.5)
    assert_exactly_one_mail_each(smtp_sink, users)
    assert NoticeEvent.objects.get(pk=event.pk).materialised_at is not None
    redis.Redis.from_url(broker).delete("celery")
