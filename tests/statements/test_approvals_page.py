"""The approvals page lists everything awaiting the reader: the statement step that awaits an
expert, calendar posts held for their chain, posts to publish by hand; and nothing that awaits
someone else."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.posts.models import SocialAccount
from apps.posts.services import post_create, post_send, posts_claim_due
from apps.statements import services
from apps.statements.selectors import awaiting_user

from .conftest import grant

pytestmark = pytest.mark.django_db


def _statement(people, crisis, accounts, body="We are investigating."):
    grant(people["dco"], people["author"], topics=["launch"])
    s = services.statement_create(actor=people["author"], crisis=crisis, body=body, accounts=accounts)
    services.statement_submit(actor=people["author"], statement=s)
    return s


def test_the_expert_sees_the_statement_step_that_awaits_an_expert(client, people, crisis, chain, accounts):
    """The issue's case: the expert's Approvals page said nothing awaits him while a statement did.
    Mutation: statement runs left out of awaiting_user -> this test fails."""
    s = _statement(people, crisis, [accounts["x"]])
    client.force_login(people["expert"])
    page = client.get("/approvals/").content.decode()
    assert f"Statement #{s.pk} awaits your decision" in page and f"/statements/{s.pk}/" in page
    assert "Nothing awaits you" not in page
    # The home page's "what waits for me" reads the same selector.
    from apps.web.selectors import waiting_for

    assert [i["url"] for i in waiting_for(user=people["expert"])] == [f"/statements/{s.pk}/"]
    [item] = awaiting_user(user=people["expert"])
    assert item.statement == s and item["kind"] == "statement_step"

    # Not the DCO's yet (step 1 is the experts'), nor the author's own text.
    for who in ("dco", "author"):
        client.force_login(people[who])
        page = client.get("/approvals/").content.decode()
        assert f"Statement #{s.pk} awaits" not in page

    # Once an expert decided, the step moves to the DCOs and leaves both experts' pages.
    services.statement_decide(actor=people["expert2"], statement=s, verdict="approve")
    assert [i["kind"] for i in awaiting_user(user=people["expert"])] == []
    assert [(i["kind"], i["object_id"]) for i in awaiting_user(user=people["dco"])] == [
        ("statement_step", s.pk)
    ]
    # One person does not fill two steps: an expert who is also a DCO is not asked again.
    people["expert2"].groups.add(*people["dco"].groups.all())
    assert awaiting_user(user=people["expert2"]) == []


def test_calendar_posts_and_by_hand_todos_are_listed_for_whom_they_await(
    client, people, crisis, chain, accounts, make_user
):
    from apps.crises.models import Crisis

    Crisis.objects.filter(pk=crisis.pk).update(status="closed", is_open=None)  # normal times
    from apps.posts.models import GateClosure

    GateClosure.objects.filter(is_current=True).update(is_current=None, opened_at=timezone.now())
    post = post_create(
        actor=people["dco"],
        account=accounts["x"],
        body="Our new lab opens",
        scheduled_at=timezone.now() + timedelta(hours=2),
    )
    run = services.post_approval_request(actor=people["dco"], post=post)
    client.force_login(people["expert"])
    page = client.get("/approvals/").content.decode()
    assert f'id="run-{run.pk}"' in page and "Record my decision" in page
    res = client.post(f"/approvals/{run.pk}/decide/", {"verdict": "approve", "step": "1"})
    assert res.status_code == 302
    assert awaiting_user(user=people["expert"]) == []
    assert [i["kind"] for i in awaiting_user(user=people["dco2"])] == ["post_step"]

    # A person with a post to publish by hand, whatever their role, sees it (and only theirs).
    person = make_user("employee", username="li_person")
    manual = SocialAccount.objects.create(
        network="linkedin", handle="agency", connector="manual", config={"assignee": "li_person"}
    )
    todo = post_create(actor=people["dco"], account=manual, body="By hand", scheduled_at=timezone.now())
    assert [post_send(post_id=pid) for pid in posts_claim_due()] == ["assigned"]
    assert [(i["kind"], i["object_id"]) for i in awaiting_user(user=person)] == [("post_by_hand", todo.pk)]
    client.force_login(person)
    res = client.get("/approvals/")
    assert res.status_code == 200 and "Publish on LinkedIn agency by hand" in res.content.decode()
    client.force_login(people["outsider"])
    res = client.get("/approvals/")
    assert res.status_code == 200 and "Nothing awaits you" in res.content.decode()


def test_the_final_approval_on_the_page_says_it_is_being_published(client, people, crisis, chain, accounts):
    s = _statement(people, crisis, [accounts["x"]])
    services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
    client.force_login(people["dco"])
    res = client.post(f"/statements/{s.pk}/decide/", {"verdict": "approve", "revision": "1"}, follow=True)
    page = res.content.decode()
    assert "Approved: it is being published on each account" in page
    assert 'id="account-states"' in page and 'data-state="scheduled"' in page
