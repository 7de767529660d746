"""End to end through a real Celery beat and a real worker (separate processes; the real Redis
broker, or without REDIS_URL the filesystem one), against the loopback fakes: a post made before
the declaration is never a sighting, one made during it is seen within two intervals, once;
replies and boosts are classified; the owner and the DCO get their mail."""

import os
import pprint
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from apps.crises.services import crisis_declare
from apps.watch import services
from apps.watch.models import Sighting, WatchedAccount
from crisiscomm.celery import app as celery_app
from crisiscomm.embedded_db import database_url
from tests.notifications.conftest import SMTPSink

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 2  # seconds between sweeps


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def wait_for(predicate, timeout=60.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def smtp():
    sink = SMTPSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker_env(tmp_path):
    """The broker the worker, beat and this process share: a redis-server of this test's own
    (a free port, no disk), or without redis-server Celery's filesystem transport in this test's
    own folder (the settings' no-Redis mode). Never the suite's shared Redis database: another
    test or run on it (a queue deleted, a competing consumer, a flush) would take the beat's
    sweeps away from this worker after its first read."""
    binary = shutil.which("redis-server")
    if binary is not None:
        port = _free_port()
        server = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        assert wait_for(lambda: _pings(client), timeout=10), "the test's redis-server did not start"
        # This process publishes the declaration's tasks: through the project's app and the one
        # the notice tasks are bound to (the same one unless a test made another app current).
        from apps.notifications.tasks import materialise_event

        apps_in_use = {id(a): a for a in (celery_app, materialise_event.app)}.values()
        saved = [(a, a.conf.broker_url, a.conf.broker_write_url, a.conf.broker_read_url) for a in apps_in_use]
        for app in apps_in_use:
            app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
            app._pool = None
            app.amqp._producer_pool = None
        try:
            yield {"REDIS_URL": url}
        finally:
            for app, *urls in saved:
                app.conf.broker_url, app.conf.broker_write_url, app.conf.broker_read_url = urls
                app._pool = None
                app.amqp._producer_pool = None
            server.terminate()
            server.wait(10)
        return
    if django_settings.REDIS_URL:  # a Redis elsewhere and no redis-server here: the suite's own
        queues = ["celery", django_settings.CRISISCOMM_FANOUT_QUEUE]
        broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
        broker.delete(*queues)
        yield {"REDIS_URL": django_settings.REDIS_URL}
        broker.delete(*queues)
        return
    folder = tmp_path / "broker"
    options = {
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    for sub in ("out", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # The Django namespace's key: setting the attribute would not override it.
    key = "CELERY_BROKER_TRANSPORT_OPTIONS"
    saved = celery_app.conf[key]
    celery_app.conf[key] = options
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield {}  # no REDIS_URL: the children use CRISISCOMM_VAR_DIR/broker, the same folder
    celery_app.conf[key] = saved
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def celery_processes(fake, smtp, tmp_path, broker_env):
    """A real worker and a real beat, configured by environment like production."""
    queues = ["celery", django_settings.CRISISCOMM_FANOUT_QUEUE]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(broker_env)
    env.update(
        DATABASE_URL=database_url(db),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        DJANGO_SETTINGS_MODULE="crisiscomm.settings",
        PYTHONPATH=str(ROOT),
        CRISISCOMM_VAR_DIR=str(tmp_path),
        CRISISCOMM_WATCH_INTERVAL=str(INTERVAL),
        CRISISCOMM_WATCH_HOST_RATE="0",
        CRISISCOMM_OUTBOUND_ALLOW="127.0.0.1",
        CRISISCOMM_BLUESKY_APPVIEW=fake.base,
        CRISISCOMM_DCO_CONTACT="crisis-desk@agency.example",
        CRISISCOMM_NOTIFY_RELAY_INTERVAL="3600",
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    common = ["-l", "INFO"]
    # The worker's log (each sweep's summary, any recording failure) goes to a file that a
    # failing assertion quotes.
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed at teardown
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crisiscomm", "worker", "-Q", ",".join(queues),
         "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat", *common],
        env=env, cwd=ROOT, stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crisiscomm",
            "beat",
            "-s",
            str(tmp_path / "beat-schedule"),
            *common,
        ],
        env=env,
        cwd=ROOT,
    )
    yield
    for process in (beat, worker):
        process.terminate()
    for process in (beat, worker):
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    worker_log.close()


def worker_log_tail(tmp_path, lines=40) -> str:
    path = tmp_path / "worker.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.mark.django_db(transaction=True)
def test_through_the_real_beat_and_worker(fake, celery_processes, smtp, make_user, dco, tmp_path):
    from django.utils import timezone

    owner = make_user("employee", username="owner", email="owner@agency.example")
    lab = services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[owner]
    )
    services.watched_account_create(
        actor=dco,
        network="bluesky",
        kind="bluesky",
        url=fake.bluesky_account("lab.bsky.social"),
        owners=[owner],
    )
    fake.toot("lab", "Posted the day before", timezone.now() - timezone.timedelta(days=1))
    time.sleep(INTERVAL + 0.5)  # beat ticks, but no crisis: nothing is read
    assert fake.requests == []

    crisis = crisis_declare(actor=dco, title="Launch anomaly", summary="", severity=3)
    # The owner is told by name (the worker materialises and mails the notice).
    # (Staff with no language on their profile read French, the site's language.)
    assert wait_for(lambda: any("restent silencieux" in m["Subject"] for _r, m in smtp.messages), timeout=60)
    # The first sweep of the crisis has read the account.
    assert wait_for(lambda: WatchedAccount.objects.get(pk=lab.pk).last_good_read_at is not None, timeout=90)
    assert not Sighting.objects.exists()  # the post of the day before is never a sighting

    posted_at = timezone.now()
    fake.toot("lab", "Nothing wrong with the launcher, trust me", posted_at)
    fake.toot("lab", "@journalist no comment", posted_at, reply_to_account="4242")
    fake.skeet("lab.bsky.social", "", posted_at, repost_of=("press.example", "3kx", "Agency launcher fails"))
    assert wait_for(lambda: Sighting.objects.count() == 3, timeout=90), pprint.pformat(
        list(Sighting.objects.values_list("kind", "url")),
        list(WatchedAccount.objects.values_list("url", "last_error", "last_good_read_at", "cursor")),
        fake.requests[-6:],
        {"declared_at": crisis.declared_at, "posted_at": posted_at},
        worker_log_tail(tmp_path),
    )
    seen = Sighting.objects.order_by("seen_at")
    assert max(s.seen_at for s in seen) - posted_at <= timezone.timedelta(seconds=2 * INTERVAL + 1)
    assert sorted(seen.values_list("kind", flat=True)) == ["boost", "post", "reply"]
    assert {s.crisis_id for s in seen} == {crisis.pk}

    time.sleep(2 * INTERVAL + 0.5)  # two more sweeps: still once each
    assert Sighting.objects.count() == 3

    # The owner and the DCO are told by mail.
    def mails_to(address):
        return [m for rcpts, m in smtp.messages if address in rcpts]

    seen_subject = "Vu pendant le gel"
    assert wait_for(lambda: any(seen_subject in m["Subject"] for m in mails_to("owner@agency.example")))
    assert wait_for(lambda: any(seen_subject in m["Subject"] for m in mails_to(dco.email)))
    bodies = [m.get_body(("plain",)).get_content() for m in mails_to("owner@agency.example")]
    quoted = [b for b in bodies if "> Nothing wrong with the launcher" in b]
    assert quoted and "crisis-desk@agency.example" in quoted[0]  # the post quoted, the DCO named
