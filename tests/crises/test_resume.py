from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.crises import report as registry
from apps.crises.models import Crisis, PostDecision
from apps.crises.report import register_report_section
from apps.crises.services import crisis_declare
from apps.notifications.models import NoticeEvent
from apps.posts.models import GateClosure, PostStatus
from apps.posts.services import post_send, posts_claim_due
from tests.crises.helpers import past_freeze
from tests.posts.factories import PostFactory

pytestmark = pytest.mark.django_db

DECLARE = {"title": "Data breach", "summary": "internal", "severity": 2}
ALL_CHECKED = {
    "frozen_posts_reviewed": True,
    "statement_published": True,
    "spokespersons_briefed": True,
    "monitoring_in_place": True,
}


def _past_freeze(crisis):
    past_freeze(crisis)


@pytest.fixture
def frozen(dco, webhook_account):
    """A crisis freezing: a post due in 2 days, one due in an hour, one whose time has passed."""
    now = timezone.now()
    future = PostFactory(account=webhook_account, scheduled_at=now + timedelta(days=2))
    soon = PostFactory(account=webhook_account, scheduled_at=now + timedelta(hours=1))
    passed = PostFactory(account=webhook_account, scheduled_at=now + timedelta(hours=1))
    crisis = crisis_declare(actor=dco, **DECLARE)
    PostFactory._meta.model.objects.filter(pk=passed.pk).update(scheduled_at=now - timedelta(hours=1))
    return crisis, future, soon, passed


def _decide(client, crisis, post, decision, **extra):
    return client.post(
        f"/api/v1/crises/{crisis.pk}/decisions/",
        {"post": post.pk, "decision": decision, **extra},
        format="json",
    )


def test_decisions_validate_each_fate(api, dco, frozen, webhook_account):
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    r = _decide(client, crisis, passed, "release")
    assert r.status_code == 409 and r.json()["code"] == "time_passed"  # never burst out
    assert _decide(client, crisis, passed, "release", publish_now=True).status_code == 200
    r = _decide(client, crisis, soon, "reschedule")
    assert r.status_code == 400 and "scheduled_at" in r.json()["errors"]
    r = _decide(
        client, crisis, soon, "reschedule", scheduled_at=(timezone.now() - timedelta(minutes=5)).isoformat()
    )
    assert r.status_code == 400 and "scheduled_at" in r.json()["errors"]
    r = _decide(client, crisis, soon, "postpone")
    assert r.status_code == 400 and "decision" in r.json()["errors"]
    other = PostFactory(account=webhook_account, status=PostStatus.PUBLISHED)  # not frozen
    assert _decide(client, crisis, other, "cancel").status_code == 409
    r = client.post(
        f"/api/v1/crises/{crisis.pk}/decisions/", {"post": 99999, "decision": "cancel"}, format="json"
    )
    assert r.status_code == 400 and "post" in r.json()["errors"]
    assert _decide(client, crisis, future, "release").status_code == 200
    assert _decide(client, crisis, soon, "cancel").status_code == 200
    assert PostDecision.objects.filter(crisis=crisis).count() == 3
    assert AuditEntry.objects.filter(action="crisis.decide", object_id=str(crisis.pk)).count() == 3


def test_lift_is_refused_with_the_reason_until_everything_is_ready(api, dco, frozen):
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    url = f"/api/v1/crises/{crisis.pk}/lift/"
    r = client.post(url, {"comment": "ok", "checklist": ALL_CHECKED}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "freeze_in_force"
    detail = client.get(f"/api/v1/crises/{crisis.pk}/").json()
    assert [b["code"] for b in detail["lift_blockers"]] == ["freeze_in_force", "undecided_posts"]
    assert detail["undecided_posts"] == 3
    _past_freeze(crisis)
    r = client.post(url, {"comment": "ok", "checklist": ALL_CHECKED}, format="json")
    assert (
        r.status_code == 409
        and r.json()["code"] == "undecided_posts"
        and "3 frozen post" in r.json()["detail"]
    )
    _decide(client, crisis, future, "release")
    _decide(client, crisis, soon, "reschedule", scheduled_at=(timezone.now() + timedelta(days=1)).isoformat())
    _decide(client, crisis, passed, "cancel")
    r = client.post(
        url, {"comment": "ok", "checklist": {**ALL_CHECKED, "monitoring_in_place": False}}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "checklist_incomplete"
    assert "Monitoring of reactions" in r.json()["detail"]
    r = client.post(url, {"comment": "ok", "checklist": {**ALL_CHECKED, "pray": True}}, format="json")
    assert r.status_code == 400 and "checklist" in r.json()["errors"]
    assert Crisis.objects.get(pk=crisis.pk).status == "active"
    assert client.get(f"/api/v1/crises/{crisis.pk}/").json()["lift_blockers"] == []
    r = client.post(url, {"comment": "All reviewed", "checklist": ALL_CHECKED}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "lifting"
    assert all(i["confirmed"] for i in r.json()["checklist"])


def test_four_eyes_lift_opens_the_gate_and_applies_the_decisions(api, dco, dco2, frozen):
    """Mutation: mirror_forget() removed from gate_open -> the gate's mirror keeps the
    declaration's closed answer after the lift -> this test fails."""
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    new_time = timezone.now() + timedelta(days=1)
    _decide(client, crisis, future, "release")
    _decide(client, crisis, soon, "reschedule", scheduled_at=new_time.isoformat())
    _decide(client, crisis, passed, "release", publish_now=True)
    _past_freeze(crisis)
    assert (
        client.post(
            f"/api/v1/crises/{crisis.pk}/lift/", {"checklist": ALL_CHECKED}, format="json"
        ).status_code
        == 200
    )

    r = client.post(f"/api/v1/crises/{crisis.pk}/approve-lift/")
    assert r.status_code == 403 and "second dco" in r.json()["detail"]
    assert api.as_user(dco2).get("/api/v1/gate/").json()["open"] is False

    before = timezone.now()
    r = api.as_user(dco2).post(f"/api/v1/crises/{crisis.pk}/approve-lift/")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "closed" and r.json()["end_approved_by"] == "dco2"
    crisis.refresh_from_db()
    assert crisis.is_open is None and crisis.closed_at is not None
    assert api.as_user(dco2).get("/api/v1/gate/").json() == {"open": True, "crisis": None}
    assert not GateClosure.objects.filter(is_current=True).exists()
    future_scheduled = future.scheduled_at
    for post in (future, soon, passed):
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED
    assert future.scheduled_at == future_scheduled
    assert soon.scheduled_at == new_time
    assert passed.scheduled_at >= before  # published now, explicitly
    assert posts_claim_due() == [passed.pk]  # only the explicit one goes out at once
    assert NoticeEvent.objects.filter(event="crisis.lifted", crisis_id=crisis.pk).exists()
    assert AuditEntry.objects.filter(action="crisis.lift", object_id=str(crisis.pk)).exists()
    assert client.post(f"/api/v1/crises/{crisis.pk}/approve-lift/").status_code == 409
    # The next crisis may now be declared.
    assert client.post("/api/v1/crises/", DECLARE, format="json").status_code == 201


def test_changing_a_decision_withdraws_the_pending_lift(api, dco, dco2, frozen):
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    for post in (future, soon, passed):
        _decide(client, crisis, post, "cancel")
    _past_freeze(crisis)
    client.post(f"/api/v1/crises/{crisis.pk}/lift/", {"checklist": ALL_CHECKED}, format="json")
    assert _decide(client, crisis, future, "release").status_code == 200
    crisis.refresh_from_db()
    assert crisis.status == "active"
    assert api.as_user(dco2).post(f"/api/v1/crises/{crisis.pk}/approve-lift/").status_code == 409


def test_stand_down_needs_a_reason_and_a_second_dco(api, dco, dco2, frozen):
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    r = client.post(f"/api/v1/crises/{crisis.pk}/stand-down/", {"reason": " "}, format="json")
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    # The post whose time passed must be decided first; the others go back as they were.
    r = client.post(f"/api/v1/crises/{crisis.pk}/stand-down/", {"reason": "False alarm"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "undecided_posts"
    _decide(client, crisis, passed, "cancel")
    r = client.post(f"/api/v1/crises/{crisis.pk}/stand-down/", {"reason": "False alarm"}, format="json")
    assert r.status_code == 200 and r.json()["end_kind"] == "stand_down"
    assert client.post(f"/api/v1/crises/{crisis.pk}/approve-lift/").status_code == 403
    r = api.as_user(dco2).post(f"/api/v1/crises/{crisis.pk}/approve-lift/")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    statuses = {
        p.pk: p.status for p in PostFactory._meta.model.objects.filter(pk__in=[future.pk, soon.pk, passed.pk])
    }
    assert statuses == {future.pk: "scheduled", soon.pk: "scheduled", passed.pk: "cancelled"}
    assert NoticeEvent.objects.filter(event="crisis.stood_down", crisis_id=crisis.pk).exists()


def test_rights_on_the_crisis_actions(api, dco, auditor, employee, frozen):
    crisis, future, *_ = frozen
    for user in (auditor, employee):
        client = api.as_user(user)
        assert _decide(client, crisis, future, "cancel").status_code == 403
        assert (
            client.post(f"/api/v1/crises/{crisis.pk}/stand-down/", {"reason": "x"}, format="json").status_code
            == 403
        )
    assert api.as_user(auditor).get(f"/api/v1/crises/{crisis.pk}/report/").status_code == 200
    assert api.as_user(employee).get(f"/api/v1/crises/{crisis.pk}/report/").status_code == 403


def test_report_timeline_fates_retraction_candidates_and_sections(
    api, dco, dco2, auditor, mastodon_account, webhook_account
):
    now = timezone.now()
    # Sent 10 minutes before the declaration (a candidate) and 2 hours before (not one).
    recent = PostFactory(account=mastodon_account, scheduled_at=now)
    old = PostFactory(account=mastodon_account, scheduled_at=now)
    hook = PostFactory(account=webhook_account, scheduled_at=now)
    for post in (recent, old, hook):
        assert posts_claim_due(limit=1) == [post.pk]
        assert post_send(post_id=post.pk) == "published"
    model = PostFactory._meta.model
    ten_minutes_ago, two_hours_ago = now - timedelta(minutes=10), now - timedelta(hours=2)
    model.objects.filter(pk__in=[recent.pk, hook.pk]).update(
        published_at=ten_minutes_ago, network_attempt_at=ten_minutes_ago
    )
    model.objects.filter(pk=old.pk).update(published_at=two_hours_ago, network_attempt_at=two_hours_ago)
    frozen_post = PostFactory(account=webhook_account, scheduled_at=now + timedelta(days=3))
    register_report_section("test_section", lambda *, crisis: {"title_seen": crisis.title})
    try:
        crisis = crisis_declare(actor=dco, **DECLARE)
        client = api.as_user(dco)
        _decide(client, crisis, frozen_post, "release")
        report = api.as_user(auditor).get(f"/api/v1/crises/{crisis.pk}/report/").json()
    finally:
        registry._SECTIONS.pop("test_section", None)

    ours = {"gate.close", "crisis.declare", "notification.record", "crisis.decide"}
    actions = [e["action"] for e in report["timeline"] if e["action"] in ours]
    assert actions[:4] == ["gate.close", "crisis.declare", "notification.record", "crisis.decide"]
    assert report["timeline"][0]["actor"] == "dco1"
    (item,) = report["posts"]["items"]
    assert item["post"] == frozen_post.pk and item["decision"] == "release" and item["decided_by"] == "dco1"
    assert report["posts"]["by_fate"] == {"release": 1}
    candidates = {c["post"]: c for c in report["retraction_candidates"]}
    assert set(candidates) == {recent.pk, hook.pk}
    assert candidates[recent.pk]["actions"] == [
        {"name": "retract", "method": "POST", "url": f"/api/v1/posts/{recent.pk}/retract/"}
    ]
    assert candidates[hook.pk]["actions"] == []  # the webhook connector cannot delete
    assert report["test_section"] == {"title_seen": "Data breach"}
    assert "total" in report["notifications"]

    r = api.as_user(dco).post(candidates[recent.pk]["actions"][0]["url"])
    assert r.status_code == 200 and r.json()["retracted_at"]
    report = api.as_user(dco).get(f"/api/v1/crises/{crisis.pk}/report/").json()
    retracted = next(c for c in report["retraction_candidates"] if c["post"] == recent.pk)
    assert retracted["retracted_at"] and retracted["actions"] == []


def test_review_list_shows_each_frozen_post_and_its_decision(
    api, dco, auditor, frozen, django_assert_max_num_queries
):
    crisis, future, soon, passed = frozen
    client = api.as_user(dco)
    _decide(client, crisis, future, "cancel")
    reader = api.as_user(auditor)
    with django_assert_max_num_queries(6):
        r = reader.get(f"/api/v1/crises/{crisis.pk}/decisions/")
    rows = {p["id"]: p for p in r.json()["results"]}
    assert rows[future.pk]["decision"] == "cancel"
    assert rows[passed.pk]["decision"] is None and rows[passed.pk]["time_passed"] is True
    assert rows[soon.pk]["time_passed"] is False
    r = client.get(f"/api/v1/crises/{crisis.pk}/decisions/?undecided=true")
    assert {p["id"] for p in r.json()["results"]} == {soon.pk, passed.pk}


def test_lift_without_checklist_is_409_naming_the_items(api, dco, frozen):
    crisis, *posts = frozen
    client = api.as_user(dco)
    for post in posts:
        _decide(client, crisis, post, "cancel")
    _past_freeze(crisis)
    r = client.post(f"/api/v1/crises/{crisis.pk}/lift/", {"comment": "done"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "checklist_incomplete"
    assert "spokespersons" in r.json()["detail"].lower()


def test_crisis_list_queries_are_bounded(api, auditor, dco, dco2, django_assert_max_num_queries):
    for _ in range(3):
        crisis = crisis_declare(actor=dco, **DECLARE)
        Crisis.objects.filter(pk=crisis.pk).update(is_open=None, status="closed")
        GateClosure.objects.filter(pk=crisis.gate_closure_id).update(is_current=None)
    client = api.as_user(auditor)
    with django_assert_max_num_queries(6):
        r = client.get("/api/v1/crises/")
    assert r.json()["count"] == 3


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("extend", {"freeze_until": "next week"}, "freeze_until"),
        ("extend", {}, "freeze_until"),
        ("decisions", {"post": "abc", "decision": "cancel"}, "post"),
        ("decisions", {"decision": "cancel"}, "post"),
        ("decisions", {"post": 1, "decision": "reschedule", "scheduled_at": "tomorrow"}, "scheduled_at"),
        ("lift", {"checklist": ["monitoring_in_place"]}, "checklist"),
        ("lift", {"checklist": {"monitoring_in_place": "maybe"}}, "checklist"),
        ("stand-down", {}, "reason"),
    ],
)
def test_bad_input_on_crisis_actions_is_400_naming_the_field(api, dco, frozen, action, payload, field):
    crisis = frozen[0]
    r = api.as_user(dco).post(f"/api/v1/crises/{crisis.pk}/{action}/", payload, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]
    crisis.refresh_from_db()
    assert crisis.status == "active" and not PostDecision.objects.exists()


def test_unknown_crisis_is_404(api, dco):
    assert api.as_user(dco).post("/api/v1/crises/999/approve-lift/").status_code == 404
    assert api.as_user(dco).get("/api/v1/crises/999/report/").status_code == 404
