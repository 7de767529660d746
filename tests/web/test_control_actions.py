"""The control room offers what the crises services allow (crisis_allowed_actions), and its
counts, filters and timeline come from the same selectors as the API."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.crises import services as crisis_services
from apps.crises.checklist import checklist_codes
from apps.crises.services import crisis_allowed_actions
from apps.posts.models import Post, PostStatus
from tests.web.helpers import declare, make_account, make_posts, move_freeze_to_the_past

pytestmark = pytest.mark.django_db

CRISIS_ACTIONS = {
    "crisis.declare",
    "crisis.extend",
    "crisis.decide",
    "crisis.lift_request",
    "crisis.stand_down_request",
    "crisis.lift",
    "crisis.stand_down",
}


class _Rollback(Exception):
    pass


def service_accepts(action, *, user, crisis, post) -> bool:
    """Run the service behind `action` for `user` and roll it back: True if it went through."""
    calls = {
        "crisis.declare": lambda: crisis_services.crisis_declare(
            actor=user, title="Another", summary="", severity=1
        ),
        "crisis.extend": lambda: crisis_services.crisis_extend(
            actor=user, crisis=crisis, freeze_until=crisis.freeze_until + timedelta(hours=1)
        ),
        "crisis.decide": lambda: crisis_services.crisis_decide_post(
            actor=user, crisis=crisis, post=post, decision="cancel"
        ),
        "crisis.lift_request": lambda: crisis_services.crisis_request_lift(
            actor=user, crisis=crisis, comment="", checklist=dict.fromkeys(checklist_codes(), True)
        ),
        "crisis.stand_down_request": lambda: crisis_services.crisis_request_stand_down(
            actor=user, crisis=crisis, reason="False alarm"
        ),
        "crisis.lift": lambda: crisis_services.crisis_approve_lift(actor=user, crisis=crisis),
        "crisis.stand_down": lambda: crisis_services.crisis_approve_lift(actor=user, crisis=crisis),
    }
    # The declaration and the approval are durable (never nested in a caller's transaction):
    # this rollback block stands in for the test's own outer block, which Django marks alike.
    block = transaction.atomic()
    block._from_testcase = True
    try:
        with block:
            calls[action]()
            raise _Rollback
    except _Rollback:
        return True
    except ServiceError:
        return False


def offered(client, url="/control/") -> tuple[set[str], set[str]]:
    """(data-action names, data-object refs) on the page."""
    page = client.get(url).content.decode()
    return set(re.findall(r'data-action="([^"]+)"', page)), set(re.findall(r'data-object="([^"]+)"', page))


def check_stage(client, users, crisis, post, api=None):
    for user in users:
        allowed = crisis_allowed_actions(user=user, crisis=crisis)
        if crisis and api:  # the API says the same
            said = api.as_user(user).get(f"/api/v1/crises/{crisis.pk}/").json()["allowed_actions"]
            assert set(said) == allowed, (user.username, said)
        client.force_login(user)
        actions, objects = offered(client)
        assert actions == allowed, (user.username, actions, allowed)
        if allowed:
            assert objects == {f"crises.crisis:{crisis.pk if crisis else 'new'}"}
        # ...and the services agree: what is allowed goes through, the rest is refused.
        kinds = {"crisis.lift", "crisis.stand_down"} - {f"crisis.{crisis.end_kind}"} if crisis else set()
        for action in CRISIS_ACTIONS - kinds:
            if crisis is None and action != "crisis.declare":
                continue
            assert service_accepts(action, user=user, crisis=crisis, post=post) == (action in allowed), (
                user.username,
                action,
            )
        if crisis:
            crisis.refresh_from_db()


def test_the_control_room_offers_exactly_what_the_crises_services_allow(client, api, dco, dco2, auditor):
    """Each stage of a crisis, each person: the buttons (data-action) are crisis_allowed_actions,
    and each of those the service accepts (tried, rolled back) while the others it refuses; the
    API's crisis detail lists the same `allowed_actions`.
    Mutation: crisis_allowed_actions offering the approval whenever the crisis is lifting
    (not asking crisis_check_approve_end) -> the requester is offered "crisis.lift", which the
    service refuses (four eyes), and this test fails.
    Mutation: `{% if approve_action %}` replaced by `{% if is_dco %}` in control.html -> the
    requester sees an approve button and this test fails."""
    account = make_account(dco)
    check_stage(client, [dco, auditor], None, None)
    assert crisis_allowed_actions(user=dco, crisis=None) == {"crisis.declare"}

    (post,) = make_posts(dco, account, n=1)
    crisis = declare(dco)
    check_stage(client, [dco, auditor], crisis, post, api)
    # The freeze is in force and a post is undecided: no lift yet; a stand-down is possible.
    assert crisis_allowed_actions(user=dco, crisis=crisis) == {
        "crisis.extend",
        "crisis.decide",
        "crisis.stand_down_request",
    }

    crisis_services.crisis_decide_post(actor=dco, crisis=crisis, post=post, decision="release")
    move_freeze_to_the_past(crisis)
    check_stage(client, [dco, auditor], crisis, post, api)
    assert "crisis.lift_request" in crisis_allowed_actions(user=dco, crisis=crisis)

    crisis_services.crisis_request_lift(
        actor=dco, crisis=crisis, comment="", checklist=dict.fromkeys(checklist_codes(), True)
    )
    crisis.refresh_from_db()
    check_stage(client, [dco, dco2, auditor], crisis, post, api)
    assert "crisis.lift" not in crisis_allowed_actions(user=dco, crisis=crisis)  # four eyes
    assert "crisis.lift" in crisis_allowed_actions(user=dco2, crisis=crisis)


def test_the_declare_page_counts_what_the_freeze_catches_publishing_posts_too(client, dco):
    """A post claimed by the publisher (`publishing`) is frozen by the closing gate, so the
    declare page and its confirmation count it. Mutation: the count put back to
    `status=scheduled, exempt=False` in control.py -> 1 instead of 2, this test fails."""
    account = make_account(dco)
    _first, second = make_posts(dco, account, n=2)
    Post.objects.filter(pk=second.pk).update(status=PostStatus.PUBLISHING, claimed_at=timezone.now())
    client.force_login(dco)
    page = client.get("/control/").content.decode()
    assert "freezes the 2 scheduled posts at once" in page
    confirm = client.post("/control/declare/", {"title": "Launch anomaly", "severity": "2"})
    assert "2 scheduled posts are frozen" in confirm.content.decode()


def test_undecided_posts_are_one_question_for_the_api_the_page_and_the_lift(client, api, dco):
    """The API's `?undecided=true`, the review page's "undecided" filter and the lift's blocker
    all list the posts crisis_undecided_posts lists. Mutation: the `undecided` filter dropped
    from crisis_review_posts -> the API and the page list the decided post, this test fails."""
    account = make_account(dco)
    decided, undecided = make_posts(dco, account, n=2)
    crisis = declare(dco)
    crisis_services.crisis_decide_post(actor=dco, crisis=crisis, post=decided, decision="cancel")
    api_client = api.as_user(dco)
    listed = api_client.get(f"/api/v1/crises/{crisis.pk}/decisions/?undecided=true").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [undecided.pk]
    client.force_login(dco)
    page = client.get(f"/control/crises/{crisis.pk}/review/?undecided=on")
    assert [p.pk for p in page.context["frozen_posts"]] == [undecided.pk]
    detail = api_client.get(f"/api/v1/crises/{crisis.pk}/").json()
    assert detail["undecided_posts"] == 1
    assert "1 frozen post(s) have no decision yet" in " ".join(b["message"] for b in detail["lift_blockers"])


def test_the_api_report_and_the_pages_show_one_timeline(client, api, dco):
    """The control room, the web report and the API report read crisis_timeline: the same
    entries (the declaration, the gate's closure, an extension), in the same order. Mutation:
    the gate closure's clause dropped from crisis_timeline -> "gate.close" is missing from all
    three and this test fails."""
    crisis = declare(dco)
    crisis_services.crisis_extend(
        actor=dco, crisis=crisis, freeze_until=crisis.freeze_until + timedelta(hours=2)
    )
    report = api.as_user(dco).get(f"/api/v1/crises/{crisis.pk}/report/").json()
    api_sequences = [e["sequence"] for e in report["timeline"]]
    assert {"crisis.declare", "gate.close", "crisis.extend"} <= {e["action"] for e in report["timeline"]}
    client.force_login(dco)
    web_report = client.get(f"/control/crises/{crisis.pk}/report/")
    assert [e.sequence for e in web_report.context["timeline"]] == api_sequences
    control = client.get("/control/")
    assert [e.sequence for e in control.context["timeline"]] == api_sequences[::-1]  # newest first


def objects_and_actions(page: str) -> list[tuple[str, set[str]]]:
    """[(data-object, data-actions inside it)], in page order (the elements are not nested)."""
    parts = re.split(r'data-object="([^"]+)"', page)
    return [
        (ref, set(re.findall(r'data-action="([^"]+)"', body))) for ref, body in zip(parts[1::2], parts[2::2])
    ]


def test_the_post_page_offers_only_what_the_services_allow(client, dco, auditor):
    """A scheduled post: edit, cancel, hold for a chain; frozen by a crisis: edit (text), hold
    and the crisis's decision, no cancel; cancelled: nothing. Each offered action is in
    post_page_actions (posts' and statements' answers) or crisis_allowed_actions (the
    decision); an auditor is offered nothing. Mutation: the cancel button's condition put back
    to `post.status == "scheduled" or post.status == "failed"` in post_form.html -> a frozen
    post is offered "post.cancel", which the service refuses, and this test fails."""
    from apps.web.selectors import post_page_actions

    account = make_account(dco)
    first, second = make_posts(dco, account, n=2)
    client.force_login(dco)

    def offered_on(post):
        page = client.get(f"/calendar/posts/{post.pk}/").content.decode()
        found = objects_and_actions(page)
        for ref, actions in found:
            kind, pk = ref.split(":")
            if kind == "posts.post":
                post.refresh_from_db()
                assert actions <= post_page_actions(user=dco, post=post), (ref, actions)
            else:
                from apps.crises.models import Crisis

                assert actions <= crisis_allowed_actions(user=dco, crisis=Crisis.objects.get(pk=pk))
        return set().union(*(actions for _ref, actions in found)) if found else set()

    assert offered_on(first) == {"post.update", "post.cancel", "post_approval.request"}
    crisis_services.crisis_declare(actor=dco, title="Launch anomaly", summary="", severity=2)
    assert offered_on(first) == {"post.update", "crisis.decide", "post_approval.request"}
    client.force_login(auditor)
    assert offered_on(first) == set()
    client.force_login(dco)
    Post.objects.filter(pk=second.pk).update(status=PostStatus.CANCELLED)
    assert offered_on(second) == set()


def test_the_auditor_reads_the_review_and_the_calendar_without_a_form_to_post(client, dco, auditor):
    """An auditor reads the review list (no decision form around it) and gets 403 on the new-post
    page (a creation form is not theirs). Mutation: the PermissionDenied in calendar_post_new
    removed -> the auditor gets the form (200) and this test fails."""
    account = make_account(dco)
    make_posts(dco, account, n=1)
    crisis = declare(dco)
    client.force_login(auditor)
    review = client.get(f"/control/crises/{crisis.pk}/review/")
    assert review.status_code == 200
    assert f"/control/crises/{crisis.pk}/decisions/" not in review.content.decode()
    assert client.get("/calendar/posts/new/").status_code == 403
    client.force_login(dco)
    assert 'data-action="post.create"' in client.get("/calendar/posts/new/").content.decode()


def test_subjects_other_apps_register_join_every_timeline(client, api, dco):
    """An app registers what belongs on a crisis's timeline (statements: each statement's
    entries) once, and the API report, the control room and the web report all show it.
    Mutation: the loop over timeline_subjects() removed from crisis_timeline -> the post's entry
    is in none of them and this test fails."""
    from django.db.models import Q

    from apps.crises import report as crisis_report_registry

    account = make_account(dco)
    crisis = declare(dco)
    (post,) = make_posts(dco, account, n=1)
    crisis_report_registry.register_timeline_subjects(
        "test-posts", lambda *, crisis: Q(object_type="posts.post", object_id=str(post.pk))
    )
    try:
        report = api.as_user(dco).get(f"/api/v1/crises/{crisis.pk}/report/").json()
        assert "post.create" in [e["action"] for e in report["timeline"]]
        client.force_login(dco)
        for url in ("/control/", f"/control/crises/{crisis.pk}/report/"):
            assert "post.create" in [e.action for e in client.get(url).context["timeline"]], url
    finally:
        crisis_report_registry._TIMELINE_SUBJECTS.pop("test-posts", None)
