"""The gate's answer mirrored in Redis (apps.posts.gate_mirror, apps.crises.gate_answer): a poll
costs no database trip, and the mirror is never more open than the database."""

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.db import connections
from rest_framework.renderers import JSONRenderer

from apps.crises.api import GateSerializer
from apps.crises.gate_answer import gate_answer
from apps.crises.services import crisis_declare, crisis_extend
from apps.posts import gate_mirror
from apps.posts.models import GateClosure
from tests.core.servers import RedisServer
from tests.crises.helpers import end_crisis_directly

DECLARE = {"title": "Réseau coupé", "summary": "", "severity": 2}


def poll() -> dict:
    return json.loads(gate_answer())


def answer_in_redis(url, database_name):
    return redis.Redis.from_url(url).get(f"crisiscomm:{database_name}:gate:answer")


@pytest.mark.django_db(transaction=True)
def test_a_read_taken_before_a_declaration_is_never_stored_after_it(dco):
    """A slow poll reads the open gate, then a declaration and an extension commit (the
    extension drops the declaration's answer), then the poll tries to store its open answer:
    refused, and the next poll says closed. Mutation: the generation check removed from the
    store script (`if gen ~= ARGV[1]`) -> the stale open answer is stored -> this test fails."""
    gate_mirror.mirror_clear()
    stored, seen_generation = gate_mirror.mirror_read()
    assert stored is None
    stale = gate_answer_from_database()
    assert json.loads(stale)["open"] is True

    crisis = crisis_declare(actor=dco, **DECLARE)
    crisis_extend(actor=dco, crisis=crisis, freeze_until=crisis.freeze_until + timedelta(hours=6))

    assert gate_mirror.mirror_store(answer=stale, seen_generation=seen_generation) is False
    body = poll()
    assert body["open"] is False and body["crisis"]["id"] == crisis.pk
    end_crisis_directly()


def gate_answer_from_database() -> bytes:
    """What a poll that found no answer reads (the database), without storing it."""
    from apps.crises.gate_answer import _OPEN, _encode, gate_answer_body
    from apps.posts.selectors import gate_read

    closure = gate_read()
    return _OPEN if closure is None else _encode(gate_answer_body(crisis=closure.crisis, open_=False))


@pytest.mark.django_db(transaction=True)
def test_the_declaration_commits_only_after_processes_stopped_reusing_an_open_answer(dco, settings):
    """Each process reuses an answer Redis confirmed for CRISISCOMM_GATE_LOCAL_SECONDS; the
    declaration stores its closed answer, then waits that long before it commits, so that no
    process still answers open once it has committed. Watched from outside: one thread reads
    Redis, another the database (its own connection, committed rows only).
    Mutation: the wait in mirror_store_closed removed -> committed within a few ms of the
    closed answer -> this test fails."""
    settings.CRISISCOMM_GATE_LOCAL_SECONDS = 0.4
    name = connections["default"].settings_dict["NAME"]
    seen = {}
    stop = threading.Event()

    def watch_redis():
        while not stop.is_set() and "closed answer" not in seen:
            if answer_in_redis(settings.REDIS_URL, name):
                seen["closed answer"] = time.monotonic()
            time.sleep(0.002)

    def watch_database():
        try:
            while not stop.is_set() and "commit" not in seen:
                if GateClosure.objects.filter(is_current=True).exists():
                    seen["commit"] = time.monotonic()
                time.sleep(0.002)
        finally:
            connections.close_all()

    assert poll()["open"] is True
    gate_mirror.mirror_clear()
    watchers = [threading.Thread(target=watch_redis), threading.Thread(target=watch_database)]
    for watcher in watchers:
        watcher.start()
    try:
        crisis_declare(actor=dco, **DECLARE)
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join(timeout=5)
    assert set(seen) == {"closed answer", "commit"}, seen
    assert seen["commit"] - seen["closed answer"] >= 0.3, seen
    assert poll()["open"] is False
    end_crisis_directly()


@pytest.mark.django_db(transaction=True)
def test_a_declaration_failing_at_its_commit_leaves_the_gate_reading_open(dco):
    """The declaration stores its closed answer just before it commits; if the commit itself
    fails (here a deferred foreign key, checked at COMMIT, on a row written inside it), polls
    read the open gate at once, not the stored closed answer for 30 s.
    Mutation: gate_answer_abandoned() removed from crisis_declare -> closed -> this test fails."""
    from django.db import IntegrityError, connection
    from django.db.models.signals import post_save

    from apps.crises.models import Crisis
    from apps.notifications.models import NoticeEvent

    def dangling_row_checked_at_commit(sender, instance, created, **kwargs):
        if created and instance.event == "crisis.declared":
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO knox_authtoken (digest, token_key, created, user_id) "
                    "VALUES (%s, %s, now(), %s)",
                    ["0" * 128, "deadbeef", 2**31 - 1],
                )

    assert poll()["open"] is True
    post_save.connect(dangling_row_checked_at_commit, sender=NoticeEvent, dispatch_uid="test.fail_commit")
    try:
        with pytest.raises(IntegrityError):
            crisis_declare(actor=dco, **DECLARE)
    finally:
        post_save.disconnect(sender=NoticeEvent, dispatch_uid="test.fail_commit")
    assert not Crisis.objects.exists()
    assert poll() == {"open": True, "crisis": None}


@pytest.mark.django_db
def test_an_extension_shows_on_the_next_poll(dco):
    """Mutation: gate_answer_changed() removed from crisis_extend -> the declaration's answer
    (old freeze_until) is still served -> this test fails."""
    crisis = crisis_declare(actor=dco, **DECLARE)
    before = poll()["crisis"]["freeze_until"]
    crisis_extend(actor=dco, crisis=crisis, freeze_until=crisis.freeze_until + timedelta(hours=6))
    after = poll()["crisis"]["freeze_until"]
    assert after != before
    crisis.refresh_from_db()
    assert after == GateSerializer({"open": False, "crisis": crisis}).data["crisis"]["freeze_until"]


@pytest.mark.django_db
def test_the_answer_is_what_the_api_serializer_writes(dco):
    """The mirror's bytes are built without DRF (domain code); they must equal what the
    documented serializer renders. Mutation: _when() without localtime (UTC times) -> fails."""
    crisis = crisis_declare(actor=dco, **DECLARE)
    crisis.refresh_from_db()
    rendered = JSONRenderer().render(GateSerializer({"open": False, "crisis": crisis}).data)
    assert gate_answer() == rendered
    gate_mirror.mirror_clear()
    assert gate_answer() == rendered  # from the database this time
    end_crisis_directly()
    gate_mirror.mirror_clear()
    assert gate_answer() == JSONRenderer().render(GateSerializer({"open": True, "crisis": None}).data)


@pytest.fixture
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_polls_and_declarations_go_on_from_the_database(own_redis, dco, api, employee):
    """The mirror's own redis-server stops for real: polls answer from the database (closed after
    the declaration), the declaration returns promptly; Redis back (empty), the mirror fills
    again. Mutation: mirror_read() letting a Redis error out -> 500 -> this test fails."""
    client = api.as_user(employee)
    assert client.get("/api/v1/gate/").json()["open"] is True
    assert answer_in_redis(own_redis.url, connections["default"].settings_dict["NAME"])
    own_redis.stop()
    assert client.get("/api/v1/gate/").json()["open"] is True
    started = time.monotonic()
    crisis = crisis_declare(actor=dco, **DECLARE)
    assert time.monotonic() - started < 3
    body = client.get("/api/v1/gate/").json()
    assert body["open"] is False and body["crisis"]["id"] == crisis.pk
    own_redis.start()
    assert client.get("/api/v1/gate/").json()["open"] is False
    assert answer_in_redis(own_redis.url, connections["default"].settings_dict["NAME"])
    end_crisis_directly()


@pytest.mark.django_db(transaction=True)
def test_a_hung_redis_costs_a_poll_a_quarter_second_and_answers_from_the_database(settings, dco):
    """A listener that accepts and never answers: the poll's read times out (0.25 s) and the
    database answers; a declaration still commits within a couple of seconds.
    Mutation: socket_timeout removed from the mirror's client -> the poll hangs -> fails."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept_and_hold():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    holder = threading.Thread(target=accept_and_hold, daemon=True)
    holder.start()
    settings.REDIS_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    results = {}

    def poll_and_declare():
        try:
            started = time.monotonic()
            results["open"] = poll()["open"]
            results["poll seconds"] = time.monotonic() - started
            started = time.monotonic()
            crisis_declare(actor=dco, **DECLARE)
            results["declare seconds"] = time.monotonic() - started
            results["closed"] = not poll()["open"]
        finally:
            connections.close_all()

    worker = threading.Thread(target=poll_and_declare, daemon=True)
    worker.start()
    worker.join(timeout=15)
    stop.set()
    holder.join(timeout=5)
    try:
        assert not worker.is_alive(), "a poll or the declaration hung on the silent Redis"
        assert results["open"] is True and results["poll seconds"] < 1.5, results
        assert results["declare seconds"] < 3 and results["closed"] is True, results
        assert accepted, "the mirror never tried the hung Redis"
    finally:
        for sock in accepted:
            sock.close()
        listener.close()
        end_crisis_directly()


@pytest.mark.django_db
def test_without_a_mirror_every_poll_reads_the_database(settings, dco, api, employee):
    """CRISISCOMM_GATE_MIRROR_SECONDS=0 (or no REDIS_URL): the gate still answers, from the
    database each time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CRISISCOMM_GATE_MIRROR_SECONDS = 0
    client = api.as_user(employee)
    client.get("/api/v1/gate/")
    crisis = crisis_declare(actor=dco, **DECLARE)
    for _poll in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/gate/").json()["crisis"]["id"] == crisis.pk
        assert any("posts_gateclosure" in q["sql"] for q in ctx.captured_queries)
