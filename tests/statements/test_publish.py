"""Publishing: an approved statement leaves through the closed gate as exempt posts; nothing
unapproved goes out, and an approval that comes too late waits for a new time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.crises.report import report_sections
from apps.posts.models import Post
from apps.posts.selectors import post_state
from apps.posts.services import post_create, post_send, posts_claim_due
from apps.statements import services
from apps.statements.models import Statement

from .conftest import approve_too_late, grant

pytestmark = pytest.mark.django_db


def _approved(api, people, crisis, accounts, **extra):
    grant(people["dco"], people["author"], topics=["launch"])
    res = api.as_user(people["author"]).post(
        "/api/v1/statements/",
        {
            "crisis": crisis.pk,
            "body": "Official: the launch is postponed.",
            "accounts": [a.pk for a in accounts],
            **extra,
        },
        format="json",
    )
    sid = res.json()["id"]
    api.as_user(people["author"]).post(f"/api/v1/statements/{sid}/submit/", {}, format="json")
    api.as_user(people["expert"]).post(f"/api/v1/statements/{sid}/approve/", {}, format="json")
    res = api.as_user(people["dco2"]).post(f"/api/v1/statements/{sid}/approve/", {}, format="json")
    assert res.status_code == 200, res.json()
    return Statement.objects.get(pk=sid)


def _approved_too_late(people, crisis, accounts):
    """Approved, but after its planned time: nothing went out; it waits for publish/."""
    grant(people["dco"], people["author"], topics=["launch"])
    statement = services.statement_create(
        actor=people["author"],
        crisis=crisis,
        body="Official: the launch is postponed.",
        accounts=accounts,
        planned_at=timezone.now() + timedelta(hours=1),
    )
    return approve_too_late(people=people, statement=statement)


def _run_publisher():
    """The publisher's own path (what publish_due_posts / send_post run): claim, then send."""
    sent = {}
    for post_id in posts_claim_due():
        sent[post_id] = post_send(post_id=post_id)
    return sent


def test_approved_statement_goes_through_the_closed_gate_while_ordinary_posts_stay_frozen(
    api, people, chain, accounts, webhook, auditor, eager_celery
):
    from apps.posts.tasks import publish_due_posts

    dco = people["dco"]
    before = post_create(
        actor=dco,
        account=accounts["x"],
        body="Ordinary news",
        scheduled_at=timezone.now() + timedelta(seconds=1),
    )
    from apps.crises.services import crisis_declare

    crisis = crisis_declare(actor=dco, title="Launch anomaly", summary="", severity=3, topics=["launch"])
    during = post_create(actor=dco, account=accounts["x"], body="Ordinary too", scheduled_at=timezone.now())
    before.refresh_from_db()
    assert post_state(post=before) == "frozen" and post_state(post=during) == "frozen"

    # No planned time: the final approval publishes — "publishing" until every post is out.
    statement = _approved(api, people, crisis, [accounts["x"], accounts["mastodon"]])
    res = api.as_user(dco).get(f"/api/v1/statements/{statement.pk}/")
    assert res.json()["status"] == "publishing" and len(res.json()["posts"]) == 2
    assert [a["state"] for a in res.json()["account_states"]] == ["scheduled", "scheduled"]
    posts = Post.objects.filter(pk__in=res.json()["posts"])
    assert all(p.exempt and p.statement_link.statement_id == statement.pk for p in posts)
    # Exempt for this crisis only (its gate closure), not for any later one.
    assert {p.exempt_closure_id for p in posts} == {crisis.gate_closure_id}
    assert webhook.received == []

    # The real publisher task (beat's publish_due_posts, then one send_post per post).
    assert publish_due_posts() == 2
    assert {p.status for p in Post.objects.filter(pk__in=res.json()["posts"])} == {"published"}
    res = api.as_user(dco).get(f"/api/v1/statements/{statement.pk}/")
    assert res.json()["status"] == "published" and res.json()["published_at"]
    assert [a["state"] for a in res.json()["account_states"]] == ["sent", "sent"]
    assert [(m["body"], m["signed"]) for m in webhook.messages("s3cret")] == [
        ("Official: the launch is postponed.", True)
    ] * 2
    for p in (before, during):
        p.refresh_from_db()
        assert post_state(post=p) == "frozen"
    # Published once only.
    assert api.post(f"/api/v1/statements/{statement.pk}/publish/", {}, format="json").status_code == 409

    section = report_sections()["statements"](crisis=crisis)
    [entry] = section["statements"]
    assert entry["status"] == "published" and [r["number"] for r in entry["revisions"]] == [1]
    assert [d["verdict"] for d in entry["decisions"]] == ["approve", "approve"]
    assert sorted(p["status"] for p in entry["posts"]) == ["published", "published"]
    assert [p["state"] for p in entry["posts"]] == ["sent", "sent"]
    report = api.as_user(auditor).get(f"/api/v1/crises/{crisis.pk}/report/")
    assert report.status_code == 200
    assert report.json()["statements"]["statements"][0]["id"] == statement.pk


def test_a_client_cannot_make_a_post_exempt(api, people, crisis, accounts):
    res = api.as_user(people["dco"]).post(
        "/api/v1/posts/",
        {
            "account": accounts["x"].pk,
            "body": "sneaky",
            "scheduled_at": timezone.now().isoformat(),
            "exempt": True,
        },
        format="json",
    )
    assert res.status_code == 201
    post = Post.objects.get(pk=res.json()["id"])
    assert post.exempt is False and post.exempt_closure_id is None and post_state(post=post) == "frozen"


def test_publish_at_a_time_and_only_for_the_crisis_in_force(api, people, crisis, chain, accounts):
    statement = _approved_too_late(people, crisis, [accounts["x"]])
    client = api.as_user(people["dco"])
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    res = client.post(f"/api/v1/statements/{statement.pk}/publish/", {"at": past}, format="json")
    assert res.status_code == 400 and "at" in res.json()["errors"]
    assert (
        api.as_user(people["expert"]).post(f"/api/v1/statements/{statement.pk}/publish/").status_code == 403
    )

    later = timezone.now() + timedelta(hours=2)
    res = api.as_user(people["dco"]).post(
        f"/api/v1/statements/{statement.pk}/publish/", {"at": later.isoformat()}, format="json"
    )
    [post] = Post.objects.filter(pk__in=res.json()["posts"])
    assert abs(post.scheduled_at - later) < timedelta(seconds=1) and post.exempt
    assert _run_publisher() == {}  # not due yet


def test_no_publication_once_the_crisis_is_closed(api, people, crisis, chain, accounts):
    statement = _approved_too_late(people, crisis, [accounts["x"]])
    draft = api.as_user(people["author"]).post(
        "/api/v1/statements/",
        {"crisis": crisis.pk, "body": "late", "accounts": [accounts["x"].pk]},
        format="json",
    )
    type(crisis).objects.filter(pk=crisis.pk).update(is_open=None, status="closed")
    res = api.as_user(people["author"]).post(f"/api/v1/statements/{draft.json()['id']}/submit/")
    assert res.status_code == 409 and "crisis" in res.json()["errors"]
    res = api.as_user(people["dco"]).post(f"/api/v1/statements/{statement.pk}/publish/", {}, format="json")
    assert res.status_code == 409
    assert not Post.objects.filter(exempt=True).exists()


def test_approved_before_its_planned_time_goes_out_then(api, people, crisis, chain, accounts):
    planned = timezone.now() + timedelta(hours=1)
    statement = _approved(api, people, crisis, [accounts["x"]], planned_at=planned.isoformat())
    assert statement.status == "publishing"
    [post] = Post.objects.filter(statement_link__statement=statement)
    assert post.exempt and abs(post.scheduled_at - planned) < timedelta(seconds=1)


def test_approved_after_its_planned_time_waits_for_a_new_time(api, people, crisis, chain, accounts):
    grant(people["dco"], people["author"], topics=["launch"])
    planned = timezone.now() + timedelta(minutes=30)
    res = api.as_user(people["author"]).post(
        "/api/v1/statements/",
        {
            "crisis": crisis.pk,
            "body": "Late text",
            "accounts": [accounts["x"].pk],
            "planned_at": planned.isoformat(),
        },
        format="json",
    )
    sid = res.json()["id"]
    api.as_user(people["author"]).post(f"/api/v1/statements/{sid}/submit/", {}, format="json")
    api.as_user(people["expert"]).post(f"/api/v1/statements/{sid}/approve/", {}, format="json")
    # The review took longer than planned: the planned time is now behind us.
    Statement.objects.filter(pk=sid).update(planned_at=timezone.now() - timedelta(minutes=5))
    res = api.as_user(people["dco"]).post(f"/api/v1/statements/{sid}/approve/", {}, format="json")
    assert res.json()["status"] == "approved" and res.json()["posts"] == []
    assert res.json()["needs_new_time"] is True
    assert not Post.objects.filter(exempt=True).exists()
    assert _run_publisher() == {}
    # The DCO gives the new time.
    new_time = timezone.now() + timedelta(minutes=10)
    res = api.as_user(people["dco"]).post(
        f"/api/v1/statements/{sid}/publish/", {"at": new_time.isoformat()}, format="json"
    )
    assert res.json()["status"] == "publishing"
    assert abs(Post.objects.get(statement_link__statement_id=sid).scheduled_at - new_time) < timedelta(
        seconds=1
    )


def test_a_published_statement_post_cannot_be_rewritten(api, people, crisis, chain, accounts):
    """An exempt post is its statement's approved text: the posts service refuses a new text
    with 409 (the database refuses it anyway, migration 0007). Mutation: the exempt check removed
    from post_update -> the trigger refuses with an IntegrityError, the API answers 500, not 409;
    this test fails."""
    from apps.posts.services import post_update

    later = (timezone.now() + timedelta(hours=1)).isoformat()
    statement = _approved(api, people, crisis, [accounts["x"]], planned_at=later)
    [post] = Post.objects.filter(statement_link__statement=statement)
    with pytest.raises(Exception, match="approved text"):
        post_update(
            actor=people["dco"], post=post, data={"body": "Unreviewed words slipping through the gate"}
        )
    res = api.as_user(people["dco"]).patch(f"/api/v1/posts/{post.pk}/", {"body": "Unreviewed"}, format="json")
    assert res.status_code == 409
    post.refresh_from_db()
    assert post.body == "Official: the launch is postponed." and post.exempt
    # A new time is fine: the text stays the approved one.
    new_time = timezone.now() + timedelta(hours=3)
    post_update(actor=people["dco"], post=post, data={"scheduled_at": new_time})


def test_a_published_statement_is_withdrawn_while_its_posts_wait_not_once_out(
    api, people, crisis, chain, accounts, eager_celery
):
    from apps.posts.tasks import publish_due_posts

    later = (timezone.now() + timedelta(hours=1)).isoformat()
    statement = _approved(api, people, crisis, [accounts["x"]], planned_at=later)
    assert statement.status == "publishing"
    assert (
        api.as_user(people["author"]).post(f"/api/v1/statements/{statement.pk}/withdraw/").status_code == 403
    )
    res = api.as_user(people["dco"]).post(
        f"/api/v1/statements/{statement.pk}/withdraw/", {"reason": "overtaken by events"}, format="json"
    )
    assert res.status_code == 200 and res.json()["status"] == "withdrawn"
    assert Post.objects.get(statement_link__statement=statement).status == "cancelled"

    # Once a post is out, withdrawing is refused: nothing pretends it did not leave.
    other = _approved(api, people, crisis, [accounts["x"]])
    assert publish_due_posts() == 1
    assert api.as_user(people["dco"]).post(f"/api/v1/statements/{other.pk}/withdraw/").status_code == 409
    assert Statement.objects.get(pk=other.pk).status == "published"


def test_the_decision_publishes_nothing_itself_its_callers_do(api, client, people, crisis, chain, accounts):
    """The final approval records a decision only; what follows (the author's plan) is a visible
    call by the API and the page (statement_publish_planned). Mutation: the API's decide view
    without its statement_publish_planned call -> the API-approved statement stays `approved`
    with no post; this test fails. Mutation: the page's _decide_and_publish without it -> the
    page-approved one does; this test fails."""
    grant(people["dco"], people["author"], topics=["launch"])

    def in_review(body):
        s = services.statement_create(
            actor=people["author"], crisis=crisis, body=body, accounts=[accounts["x"]]
        )
        services.statement_submit(actor=people["author"], statement=s)
        services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
        return s

    # The service alone: approved, nothing made.
    alone = in_review("By the service alone")
    services.statement_decide(actor=people["dco2"], statement=alone, verdict="approve")
    alone.refresh_from_db()
    assert alone.status == "approved" and not Post.objects.filter(statement_link__statement=alone).exists()
    assert [p.pk for p in services.statement_publish_planned(actor=people["dco2"], statement=alone)]

    by_api = in_review("Through the API")
    res = api.as_user(people["dco2"]).post(f"/api/v1/statements/{by_api.pk}/approve/", {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "publishing"
    assert Post.objects.filter(statement_link__statement=by_api, exempt=True).count() == 1

    by_page = in_review("Through the page")
    client.force_login(people["dco2"])
    res = client.post(
        f"/statements/{by_page.pk}/decide/", {"verdict": "approve", "comment": "", "revision": "1"}
    )
    assert res.status_code == 302
    by_page.refresh_from_db()
    assert by_page.status == "publishing"
    assert Post.objects.filter(statement_link__statement=by_page, exempt=True).count() == 1


def test_the_database_keeps_an_exempt_post_the_approved_text(api, people, crisis, chain, accounts):
    """Every door, the bulk UPDATE that bypasses the services included: an exempt post's body and
    account stay its statement's, and no existing post becomes exempt. Its time may still change
    (a new time given through the statement). Mutation: the trigger of migration 0007 dropped ->
    the bulk UPDATE rewrites the approved text; this test fails."""
    from django.db import IntegrityError, transaction

    later = (timezone.now() + timedelta(hours=1)).isoformat()
    statement = _approved(api, people, crisis, [accounts["x"]], planned_at=later)
    [post] = Post.objects.filter(statement_link__statement=statement)
    for change in ({"body": "Rewritten in bulk"}, {"account": accounts["mastodon"]}):
        with pytest.raises(IntegrityError, match="approved text"), transaction.atomic():
            Post.objects.filter(pk=post.pk).update(**change)
    post.refresh_from_db()
    assert post.body == "Official: the launch is postponed." and post.account_id == accounts["x"].pk
    ordinary = post_create(
        actor=people["dco"],
        account=accounts["x"],
        body="Calendar",
        scheduled_at=timezone.now() + timedelta(hours=2),
    )
    with pytest.raises(IntegrityError, match="approved text"), transaction.atomic():
        Post.objects.filter(pk=ordinary.pk).update(exempt=True)
    assert Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() + timedelta(hours=4)) == 1
    assert Post.objects.filter(pk=post.pk).update(attempts=1) == 1
