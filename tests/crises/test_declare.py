import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from apps.crises.models import Crisis
from apps.crises.services import crisis_declare
from apps.notifications.models import NoticeEvent
from apps.posts.models import GateClosure, Post, PostStatus
from apps.posts.services import post_create, post_send, posts_claim_due
from tests.crises.helpers import end_crisis_directly
from tests.posts.factories import PostFactory

DECLARE = {"title": "Launch failure", "summary": "Internal: telemetry lost at T+42", "severity": 3}


def _end_crisis_directly():
    end_crisis_directly()


def _row_versions():
    """{post id: xmin}: PostgreSQL gives a row a new xmin whenever it is written."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM posts_post")
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_declare_closes_the_gate_and_freezes_without_touching_a_post(api, dco, employee, webhook_account):
    """The freeze is logical: the declaration writes the closure, the crisis, the audit entry and
    the outbox row, and no post row (same xmin before and after); every reader still sees the
    scheduled posts as `frozen` (API, `?status=frozen`), and sees them scheduled again once the
    gate is open.
    Mutation: gate_close's UPDATE of the scheduled posts put back -> the xmin comparison fails.
    Mutation: frozen_q() ignoring the exempt closure -> the statement shows `frozen`, this fails."""
    later = timezone.now() + timedelta(hours=3)
    scheduled = PostFactory.create_batch(3, account=webhook_account, scheduled_at=later)
    published = PostFactory(account=webhook_account, status=PostStatus.PUBLISHED)
    assert api.as_user(employee).get("/api/v1/gate/").json() == {"open": True, "crisis": None}
    before = _row_versions()

    r = api.as_user(dco).post(
        "/api/v1/crises/", {**DECLARE, "topics": ["Launch", "launch", "safety"]}, format="json"
    )
    assert r.status_code == 201, r.content
    assert _row_versions() == before  # not one post row written
    body = r.json()
    crisis = Crisis.objects.get(pk=body["id"])
    assert body["status"] == "active" and body["sends_in_flight"] == 0
    assert body["topics"] == ["launch", "safety"]
    assert {i["code"] for i in body["checklist"]} >= {"frozen_posts_reviewed", "monitoring_in_place"}
    assert all(i["label"] and i["confirmed"] is False for i in body["checklist"])
    assert crisis.freeze_until - crisis.declared_at == timedelta(hours=24)
    statement = post_create(
        actor=dco, account=webhook_account, body="Statement", scheduled_at=later, exempt=crisis
    )

    client = api.as_user(dco)
    frozen_ids = {p["id"] for p in client.get("/api/v1/posts/?status=frozen").json()["results"]}
    assert frozen_ids == {p.pk for p in scheduled}
    states = {p["id"]: p["status"] for p in client.get("/api/v1/posts/").json()["results"]}
    assert states[statement.pk] == "scheduled" and states[published.pk] == "published"
    assert client.get(f"/api/v1/posts/{scheduled[0].pk}/").json()["status"] == "frozen"
    review = client.get(f"/api/v1/crises/{crisis.pk}/decisions/").json()
    assert {p["id"] for p in review["results"]} == frozen_ids

    gate = api.as_user(employee).get("/api/v1/gate/").json()
    assert (
        gate["open"] is False
        and gate["crisis"]["id"] == crisis.pk
        and gate["crisis"]["title"] == "Launch failure"
    )
    assert AuditEntry.objects.filter(action="crisis.declare", object_id=str(crisis.pk)).exists()
    notice = NoticeEvent.objects.get(event="crisis.declared", crisis_id=crisis.pk)
    assert notice.context["title"] == "Launch failure" and notice.context["severity"] == 3
    assert "telemetry" not in str(notice.context)  # the internal summary stays internal

    # A post created during the freeze is frozen with the others, and joins the review.
    late = post_create(actor=dco, account=webhook_account, body="x", scheduled_at=later)
    client = api.as_user(dco)
    assert client.get(f"/api/v1/posts/{late.pk}/").json()["status"] == "frozen"
    r = api.as_user(dco).post("/api/v1/crises/", DECLARE, format="json")
    assert r.status_code == 409 and r.json()["code"] == "crisis_in_force"
    _end_crisis_directly()
    assert client.get("/api/v1/posts/?status=frozen").json()["count"] == 0


@pytest.mark.django_db
def test_gate_read_is_one_indexed_query(api, dco, employee, django_assert_max_num_queries):
    """GET /api/v1/gate/ reads the gate and its crisis in one query, on the unique index, when
    its mirror has no answer; then polls cost no query at all (the mirror, the token memo).
    Mutation: the view going back to gate_state() + crisis_for_closure() -> 2 gate queries, fails."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.posts.gate_mirror import mirror_clear

    crisis_declare(actor=dco, **DECLARE)
    client = api.as_user(employee)
    client.get("/api/v1/gate/")
    mirror_clear()
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/api/v1/gate/").json()
    assert body["open"] is False and body["crisis"]["title"] == "Launch failure"
    gate_queries = [
        q["sql"]
        for q in ctx.captured_queries
        if "posts_gateclosure" in q["sql"] or "crises_crisis" in q["sql"]
    ]
    assert len(gate_queries) == 1, gate_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: ask what the plan can use
        cursor.execute("EXPLAIN " + gate_queries[0])
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "one_current_gate_closure" in plan, plan
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/gate/").json() == body
    assert ctx.captured_queries == []


@pytest.mark.django_db
def test_declare_rights_and_validation(api, dco, auditor, employee):
    assert api.as_user(employee).post("/api/v1/crises/", DECLARE, format="json").status_code == 403
    assert api.as_user(auditor).post("/api/v1/crises/", DECLARE, format="json").status_code == 403
    assert api.as_user(auditor).get("/api/v1/crises/").status_code == 200
    assert api.as_user(employee).get("/api/v1/crises/").status_code == 403
    for bad, field in [
        ({"severity": 4}, "severity"),
        ({"severity": "high"}, "severity"),
        ({"title": ""}, "title"),
    ]:
        r = api.as_user(dco).post("/api/v1/crises/", {**DECLARE, **bad}, format="json")
        assert r.status_code == 400 and field in r.json()["errors"], r.content
    api.credentials()
    assert api.get("/api/v1/gate/").status_code == 401
    assert not Crisis.objects.exists() and not GateClosure.objects.exists()


@pytest.mark.django_db
def test_extend_only_later(api, dco):
    crisis = crisis_declare(actor=dco, **DECLARE)
    client = api.as_user(dco)
    earlier = crisis.freeze_until - timedelta(hours=1)
    r = client.post(
        f"/api/v1/crises/{crisis.pk}/extend/", {"freeze_until": earlier.isoformat()}, format="json"
    )
    assert r.status_code == 400 and "freeze_until" in r.json()["errors"]
    later = crisis.freeze_until + timedelta(hours=12)
    r = client.post(f"/api/v1/crises/{crisis.pk}/extend/", {"freeze_until": later.isoformat()}, format="json")
    assert r.status_code == 200, r.content
    crisis.refresh_from_db()
    assert crisis.freeze_until == later
    assert NoticeEvent.objects.filter(event="crisis.extended", crisis_id=crisis.pk).exists()
    # A pending stand-down is withdrawn by an extension.
    client.post(f"/api/v1/crises/{crisis.pk}/stand-down/", {"reason": "error"}, format="json")
    even_later = later + timedelta(hours=1)
    r = client.post(
        f"/api/v1/crises/{crisis.pk}/extend/", {"freeze_until": even_later.isoformat()}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["end_kind"] == ""


@pytest.mark.django_db
def test_exempt_posts_pass_the_closed_gate_others_do_not(dco, webhook_account, webhook_server):
    due = timezone.now() - timedelta(seconds=1)
    crisis = crisis_declare(actor=dco, **DECLARE)
    statement = post_create(
        actor=dco, account=webhook_account, body="Statement", scheduled_at=due, exempt=True
    )
    assert statement.exempt_closure_id == crisis.gate_closure_id
    held = post_create(
        actor=dco,
        account=webhook_account,
        body="Draft",
        scheduled_at=due,
        exempt=crisis,
        awaiting_approval=True,
    )
    slipped = PostFactory(account=webhook_account, scheduled_at=due)
    flag_only = PostFactory(account=webhook_account, scheduled_at=due, exempt=True)  # no closure
    assert posts_claim_due() == [statement.pk]
    assert post_send(post_id=statement.pk) == "published"
    for post in (slipped, flag_only, held):
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED
    assert webhook_server.post_ids() == [statement.pk]


@pytest.mark.django_db
def test_exempt_statement_does_not_outlive_its_crisis(api, dco, webhook_account, webhook_server):
    """A statement approved in crisis 1 and planned for later does not go out through crisis 2's
    closed gate: its exemption is bound to crisis 1's closure. It reads `frozen` in crisis 2 and
    waits for crisis 2's review like any post.
    Mutation: posts_claim_due filtering on the plain `exempt` flag (not exempt_closure) -> the
    statement is claimed and sent during crisis 2, this test fails."""
    first = crisis_declare(actor=dco, **DECLARE)
    later = timezone.now() + timedelta(minutes=5)
    statement = post_create(
        actor=dco, account=webhook_account, body="Statement", scheduled_at=later, exempt=True
    )
    _end_crisis_directly()  # crisis 1 over; the statement is still planned
    Post.objects.filter(pk=statement.pk).update(status="scheduled")
    second = crisis_declare(actor=dco, **{**DECLARE, "title": "Second"})
    Post.objects.filter(pk=statement.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert posts_claim_due() == []
    assert post_send(post_id=statement.pk) == "skipped"
    assert webhook_server.received == []
    assert api.as_user(dco).get(f"/api/v1/posts/{statement.pk}/").json()["status"] == "frozen"
    review = api.as_user(dco).get(f"/api/v1/crises/{second.pk}/decisions/").json()
    assert [p["id"] for p in review["results"]] == [statement.pk]
    assert first.gate_closure_id != second.gate_closure_id


@pytest.mark.django_db(transaction=True)
def test_simultaneous_declarations_one_201_one_409(make_user):
    """3 rounds of two dco users declaring at the same instant (threads, own connections)."""
    users = [make_user("dco", username=f"dco_race{i}") for i in range(2)]
    clients = []
    for user in users:
        client = APIClient()
        client.force_authenticate(user)
        clients.append(client)
    for _round in range(3):
        barrier = threading.Barrier(2)
        codes = []

        def declare(client):
            try:
                barrier.wait()
                codes.append(client.post("/api/v1/crises/", DECLARE, format="json").status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=declare, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(codes) == [201, 409]
        assert Crisis.objects.filter(is_open=True).count() == 1
        _end_crisis_directly()


def _publisher(stop, errors, batch=10):
    """One publisher worker at full speed: claim a batch, send each (the real services)."""
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


@pytest.mark.django_db(transaction=True)
def test_declaration_is_not_starved_by_busy_publishers(dco, webhook_account, webhook_server):
    """4 publishers keep the shared gate lock busy against a slow network (0.2 s per answer);
    the declaration's exclusive request queues fairly and completes within about one send
    (bound: 3 s, generous for a loaded CI machine)."""
    webhook_server.delay = 0.2
    PostFactory.create_batch(200, account=webhook_account, scheduled_at=timezone.now())
    stop, errors = threading.Event(), []
    threads = [threading.Thread(target=_publisher, args=(stop, errors, 2)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        assert len(webhook_server.received) >= 4  # the publishers are busy
        started = time.monotonic()
        crisis_declare(actor=dco, **DECLARE)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors
    # Starved, it would wait for the whole backlog (200 posts x 0.2 s / 4 workers = 10 s).
    assert elapsed < 3.0, f"declaration waited {elapsed:.2f}s behind the publishers"


@pytest.mark.django_db
def test_the_admin_list_shows_frozen_from_the_same_selector(client, dco, webhook_account, make_user):
    """Mutation: PostAdmin listing the stored `status` -> it says "scheduled", this test fails."""
    post = PostFactory(account=webhook_account, scheduled_at=timezone.now() + timedelta(hours=1))
    crisis_declare(actor=dco, **DECLARE)
    admin = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/admin/posts/post/")
    assert page.status_code == 200
    row = page.content.decode().split(f'href="/admin/posts/post/{post.pk}/change/')[1].split("</tr>")[0]
    assert ">frozen<" in row, row


@pytest.mark.django_db
def test_the_declaration_and_the_approval_never_run_inside_a_callers_transaction(dco, dco2):
    """A caller's transaction around the declaration would keep the gate closure and the staff
    notice from committing when the declaration returns: refused (durable), nothing written.
    Mutation: `durable=True` removed from crisis_declare's transaction
    (_declare_in_one_transaction) -> the crisis is made inside the caller's block and this test
    fails (likewise crisis_approve_lift's)."""
    from django.db import transaction

    from apps.crises.services import crisis_approve_lift

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        crisis_declare(actor=dco, **DECLARE)
    assert not Crisis.objects.exists() and not GateClosure.objects.exists()
    crisis = crisis_declare(actor=dco, **DECLARE)  # at the top: declared
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        crisis_approve_lift(actor=dco2, crisis=crisis)
