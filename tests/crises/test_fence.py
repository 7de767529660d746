"""The fence between the gate and the network, tried with real concurrent transactions on
PostgreSQL, real loopback peers, real faults (pg_terminate_backend, a peer that trickles bytes)
and a real Celery worker process.

The no-leak oracle: the database records when the declaration was granted the gate lock (the
closure's `closed_at`, from the database's clock: at or before its commit); the peer records when
each request arrived (wall clock, same host). No request for a post not exempt for that closure
may arrive at or after that instant: a stricter test than "before the commit".
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.crises.models import Crisis
from apps.crises.selectors import crisis_retraction_candidates
from apps.crises.services import crisis_declare
from apps.posts.models import GateClosure, Post, PostStatus
from apps.posts.services import (
    SendOutcome,
    post_create,
    post_send,
    posts_claim_due,
    posts_reclaim_stale,
)
from tests.crises.helpers import end_crisis_directly
from tests.posts.factories import PostFactory

ROOT = Path(__file__).resolve().parents[2]
DECLARE = {"title": "Launch failure", "summary": "internal", "severity": 3}


def _publisher(stop, errors, batch=5):
    """One publisher at full speed: claim a batch, send each (the real services)."""
    try:
        while not stop.is_set():
            ids = posts_claim_due(limit=batch)
            if not ids:
                time.sleep(0.002)
            for post_id in ids:
                post_send(post_id=post_id)
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connections.close_all()


def _arrivals(server):
    with server.lock:
        return [(e["wall"], json.loads(e["body"])["post_id"]) for e in server.received]


def _gate_closed_at(crisis) -> float:
    return GateClosure.objects.get(pk=crisis.gate_closure_id).closed_at.timestamp()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            stuck = list(
                Post.objects.filter(status="publishing").values_list(
                    "pk", "attempts", "last_error", "send_started_at"
                )
            )
            raise AssertionError(f"{what}; publishing: {stuck[:5]}")
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("latency", [0.0, 0.05, 0.2])
def test_no_request_arrives_after_the_gate_closed_in_process(dco, webhook_account, webhook_server, latency):
    """Rounds of: due posts, 4 publisher threads sending at full speed to a loopback peer with
    `latency` seconds of delay on the way in, a declaration at a random moment. No non-exempt
    request arrives at or after the database's time of the gate closure; every post is either
    sent (once, before it) or frozen; posts exempt for the crisis still go out.
    Mutation: the exchange moved after the locked transaction (send outside the lock) -> leaks
    at 50 and 200 ms, this test fails.
    Mutation: the gate check in _send_under_lock removed (gate checked at claim only) -> leaks.
    Mutation: the gate checked only in _start_send, before the connection is opened, not under
    the lock right before the write (no recheck at send) -> leaks."""
    rng = random.Random(20261130)
    webhook_server.request_delay = latency
    webhook_server.delay = 0.002
    rounds, per_round = (4, 200) if latency == 0 else (3, 40)
    totals = {"sent": 0, "frozen": 0}
    for _round in range(rounds):
        webhook_server.received.clear()
        posts = PostFactory.create_batch(per_round, account=webhook_account, scheduled_at=timezone.now())
        stop, errors = threading.Event(), []
        threads = [threading.Thread(target=_publisher, args=(stop, errors)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            # Declare while the publishers are busy: after a few posts went out (however loaded
            # the machine), at a random instant.
            started_with = rng.randint(1, 10)
            _wait(
                lambda n=started_with: len(webhook_server.received) >= n, 30, "the publishers did not start"
            )
            time.sleep(rng.uniform(0, 0.02))
            crisis = crisis_declare(actor=dco, **DECLARE)
            exempt = {
                post_create(
                    actor=dco,
                    account=webhook_account,
                    body="Statement",
                    scheduled_at=timezone.now(),
                    exempt=crisis,
                ).pk
                for _ in range(3)
            }
            _wait(
                lambda: not Post.objects.filter(status="publishing").exists()
                and Post.objects.filter(pk__in=exempt, status="published").count() == 3,
                30,
                "publishers did not drain",
            )
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not errors, errors

        closed_at = _gate_closed_at(crisis)
        arrivals = _arrivals(webhook_server)
        leaked = [pid for wall, pid in arrivals if pid not in exempt and wall >= closed_at]
        assert leaked == [], f"{len(leaked)} request(s) arrived after the gate closed"
        ids = [pid for _wall, pid in arrivals]
        assert len(ids) == len(set(ids)), "a post was sent twice"
        round_ids = {p.pk for p in posts}
        sent = Post.objects.filter(pk__in=round_ids, status="published")
        assert {p.pk for p in sent} == set(ids) - exempt
        assert all(p.published_at.timestamp() < closed_at for p in sent)
        frozen = Post.objects.filter(pk__in=round_ids, status="scheduled").count()
        assert frozen + sent.count() == per_round
        totals["sent"] += sent.count()
        totals["frozen"] += frozen
        end_crisis_directly()
    # The race was really exercised: posts went out before declarations, others were caught.
    assert totals["sent"] > 0 and totals["frozen"] > 0, totals


def _worker_env():
    from crisiscomm.embedded_db import database_url

    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(db),
        REDIS_URL=django_settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="crisiscomm.settings",
        PYTHONPATH=str(ROOT),
        CRISISCOMM_OUTBOUND_ALLOW="127.0.0.1",
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


@pytest.mark.django_db(transaction=True)
def test_no_request_arrives_after_the_gate_closed_through_a_celery_worker(
    dco, webhook_account, webhook_server
):
    """The same oracle with the sends made by two real Celery worker processes on the
    real Redis broker, fed by the publisher task's claims, against a peer with 50 ms of latency
    on the way in.
    Mutation: the exchange moved after the locked transaction (send outside the lock) -> leaks,
    this test fails."""
    if not django_settings.REDIS_URL:
        pytest.fail("needs REDIS_URL: `make test` starts a private redis-server when it is unset")
    import redis

    from apps.posts.tasks import send_post

    queue = f"freeze-oracle-{os.getpid()}"
    webhook_server.request_delay = 0.05
    rng = random.Random(11)
    # Solo pools: the threads pool left tasks of this queue unconsumed for tens of seconds here.
    code = (
        "from crisiscomm.celery import app;"
        f"app.worker_main(['worker', '-Q', '{queue}', '--pool', 'solo', '-l', 'WARNING',"
        "'--without-gossip', '--without-mingle', '--without-heartbeat'])"
    )
    workers = [subprocess.Popen([sys.executable, "-c", code], env=_worker_env(), cwd=ROOT) for _ in range(2)]
    try:
        warm = PostFactory(account=webhook_account, scheduled_at=timezone.now())
        assert posts_claim_due() == [warm.pk]
        send_post.apply_async(args=(warm.pk,), queue=queue)
        _wait(lambda: webhook_server.received, 60, "the worker did not start")
        totals = {"sent": 0, "frozen": 0}
        for _round in range(3):
            webhook_server.received.clear()
            posts = PostFactory.create_batch(60, account=webhook_account, scheduled_at=timezone.now())
            stop = threading.Event()

            def feed(stop=stop):
                try:
                    while not stop.is_set():
                        for post_id in posts_claim_due(limit=4):
                            send_post.apply_async(args=(post_id,), queue=queue)
                        time.sleep(0.02)
                finally:
                    connections.close_all()

            feeder = threading.Thread(target=feed)
            feeder.start()
            try:
                started_with = rng.randint(1, 8)
                _wait(
                    lambda n=started_with: len(webhook_server.received) >= n, 60, "the worker did not start"
                )
                time.sleep(rng.uniform(0, 0.05))
                crisis = crisis_declare(actor=dco, **DECLARE)
                _wait(
                    lambda: not Post.objects.filter(status="publishing").exists(),
                    60,
                    "the worker did not drain",
                )
            finally:
                stop.set()
                feeder.join(30)
            closed_at = _gate_closed_at(crisis)
            arrivals = _arrivals(webhook_server)
            assert [pid for wall, pid in arrivals if wall >= closed_at] == []
            round_ids = {p.pk for p in posts}
            sent = set(Post.objects.filter(pk__in=round_ids, status="published").values_list("pk", flat=True))
            assert sent == {pid for _w, pid in arrivals}
            frozen = Post.objects.filter(pk__in=round_ids, status="scheduled").count()
            assert frozen + len(sent) == len(round_ids)
            totals["sent"] += len(sent)
            totals["frozen"] += frozen
            end_crisis_directly()
        assert totals["sent"] > 0 and totals["frozen"] > 0, totals
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis.Redis.from_url(django_settings.REDIS_URL).delete(queue)


def _backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waiting_for_the_gate_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_sender_session_killed_mid_send_makes_the_post_uncertain_listed_and_never_resent(
    dco, mastodon_account, mastodon_server
):
    """The sender wrote its request and waits for Mastodon's answer (1 s) while a declaration
    waits for the gate lock; the sender's database session is killed (pg_terminate_backend): the
    lock goes, the declaration commits. The post becomes `uncertain` through a new session, is
    listed among the crisis's retraction candidates ("may have gone out"), and is never sent
    again: not by the relay, not by a redelivered task, not after the crisis.
    Mutation: the `except DatabaseError` branch of post_send not marking the post uncertain ->
    it stays `publishing`, this test fails.
    Mutation: _start_send ignoring a send_started_at already set (redelivered task) -> it is
    sent a second time, this test fails."""
    post = PostFactory(account=mastodon_account, scheduled_at=timezone.now() - timedelta(seconds=1))
    assert posts_claim_due() == [post.pk]
    mastodon_server.delay = 1.0
    pid, outcome, declared = [], [], []

    def sender():
        try:
            pid.append(_backend_pid())
            outcome.append(post_send(post_id=post.pk))
        except Exception as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    def declarer():
        try:
            declared.append(crisis_declare(actor=dco, **DECLARE))
        finally:
            connections.close_all()

    send_thread = threading.Thread(target=sender)
    send_thread.start()
    _wait(lambda: mastodon_server.received, 10, "the request never arrived")
    declare_thread = threading.Thread(target=declarer)
    declare_thread.start()
    _wait(lambda: _waiting_for_the_gate_lock() >= 1, 10, "the declaration is not waiting for the lock")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid[0]])
    declare_thread.join(10)
    send_thread.join(10)
    assert declared, "the declaration did not commit"
    assert outcome == [SendOutcome.UNCERTAIN]
    post.refresh_from_db()
    assert post.status == PostStatus.UNCERTAIN and post.external_id == ""
    assert post.network_attempt_at is not None and "may have gone out" in post.last_error
    (crisis,) = declared
    crisis = Crisis.objects.get(pk=crisis.pk)
    candidates = {c["post"]: c for c in crisis_retraction_candidates(crisis=crisis)}
    assert candidates[post.pk]["reached"] == "may_have_gone_out"
    assert mastodon_server.received[0]["wall"] < _gate_closed_at(crisis)

    mastodon_server.delay = 0
    assert posts_reclaim_stale(older_than=timedelta(0)) == []
    assert post_send(post_id=post.pk) == SendOutcome.SKIPPED
    end_crisis_directly()
    assert posts_claim_due() == []
    assert len(mastodon_server.received) == 1 and len(mastodon_server.statuses) == 1
    # A person decides: the DCO who looked at the network records that it did go out.
    from apps.posts.services import post_mark_published

    post_mark_published(actor=dco, post=post, external_url=f"{mastodon_server.url}/@agency/100000")
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.external_url.endswith("/100000")


@pytest.mark.django_db
def test_a_send_whose_worker_died_mid_send_is_uncertain_not_resent(mastodon_account, mastodon_server):
    """What a SIGKILLed worker leaves: a `publishing` post whose send started (send_started_at
    committed) and never recorded an outcome. The relay marks it `uncertain` once the send
    deadline is long past and does not queue it; the redelivered task (acks_late) does not send
    it either.
    Mutation: posts_reclaim_stale without its lost-outcome branch -> the post is re-queued and
    sent, this test fails.
    Mutation: _start_send ignoring send_started_at -> the redelivered task sends it again."""
    post = PostFactory(account=mastodon_account, scheduled_at=timezone.now() - timedelta(minutes=30))
    assert posts_claim_due() == [post.pk]
    long_ago = timezone.now() - timedelta(minutes=20)
    Post.objects.filter(pk=post.pk).update(send_started_at=long_ago, claimed_at=long_ago)
    redelivered = PostFactory(account=mastodon_account, scheduled_at=timezone.now() - timedelta(minutes=30))
    assert posts_claim_due() == [redelivered.pk]
    Post.objects.filter(pk=redelivered.pk).update(send_started_at=timezone.now())

    assert posts_reclaim_stale() == []
    post.refresh_from_db()
    assert post.status == PostStatus.UNCERTAIN
    assert post_send(post_id=redelivered.pk) == SendOutcome.UNCERTAIN
    redelivered.refresh_from_db()
    assert redelivered.status == PostStatus.UNCERTAIN
    assert mastodon_server.received == []


@pytest.mark.django_db(transaction=True)
def test_a_trickling_peer_holds_the_declaration_no_longer_than_the_send_deadline(
    settings, dco, webhook_account, webhook_server
):
    """A peer that answers one byte every 0.5 s (a full answer would take about a minute). With
    a 2 s send deadline, the declaration waiting behind that send returns within the deadline
    plus a margin and says one send was in flight; the post is listed as a retraction candidate
    (its request reached the network) and is not sent again while the gate is closed.
    Mutation: the watchdog in Connection.exchange removed (per-read timeouts only) -> the
    declaration waits for the whole trickle, this test fails."""
    settings.CRISISCOMM_SEND_DEADLINE_SECONDS = 2
    webhook_server.trickle = 0.5
    post = PostFactory(account=webhook_account, scheduled_at=timezone.now() - timedelta(seconds=1))
    assert posts_claim_due() == [post.pk]
    outcome = []

    def sender():
        try:
            outcome.append(post_send(post_id=post.pk))
        finally:
            connections.close_all()

    thread = threading.Thread(target=sender)
    thread.start()
    _wait(lambda: webhook_server.received, 5, "the request never arrived")
    started = time.monotonic()
    crisis = crisis_declare(actor=dco, **DECLARE)
    elapsed = time.monotonic() - started
    thread.join(10)
    assert elapsed < 2 + 1.5, f"the declaration waited {elapsed:.1f} s"
    assert crisis.sends_in_flight == 1
    assert outcome == [SendOutcome.RETRY]
    post.refresh_from_db()
    assert "deadline" in post.last_error and post.network_attempt_at is not None
    crisis = Crisis.objects.get(pk=crisis.pk)
    assert [c["post"] for c in crisis_retraction_candidates(crisis=crisis)] == [post.pk]
    assert post_send(post_id=post.pk) == SendOutcome.FROZEN
    assert len(webhook_server.received) == 1


@pytest.mark.django_db(transaction=True)
def test_a_gate_held_past_the_deadline_fails_the_declaration_cleanly(settings, api, dco):
    """A session holding the gate lock (shared) far longer than any send may (a hung sender):
    the declaration gives up after the send deadline plus its margin with a 503 naming the
    cause, and changes nothing; it never hangs and never answers 500.
    Mutation: GateBusyError not raised on lock_timeout -> a 500, this test fails."""
    from apps.posts.locks import gate_lock_shared

    settings.CRISISCOMM_SEND_DEADLINE_SECONDS = 0.5
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                gate_lock_shared()
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    try:
        started = time.monotonic()
        r = api.as_user(dco).post("/api/v1/crises/", DECLARE, format="json")
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert r.status_code == 503 and r.json()["code"] == "gate_busy", r.content
    assert 5 <= elapsed < 8
    assert not Crisis.objects.exists() and not GateClosure.objects.exists()
