"""Server-side tests of the pages: rights (403), every form's error path, the happy paths."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.crises.models import Crisis, CrisisStatus, PostDecision
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import post_is_frozen
from tests.web.conftest import PASSWORD
from tests.web.helpers import declare, make_account, make_posts, move_freeze_to_the_past, run_notice_worker

pytestmark = pytest.mark.django_db


def page_text(response):
    return response.content.decode()


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def account(dco):
    return make_account(dco)


# --- login, home, language ------------------------------------------------------------------


def test_anonymous_root_is_the_login_form_and_signs_in(client, dco):
    response = client.get("/")
    assert response.status_code == 200
    assert 'name="username"' in page_text(response) and "csrfmiddlewaretoken" in page_text(response)
    response = client.post("/", {"username": dco.username, "password": "wrong"})
    assert response.status_code == 200 and "form-errors" in page_text(response)
    response = client.post("/", {"username": dco.username, "password": PASSWORD}, follow=True)
    assert response.context["user"] == dco
    assert "Control room" in page_text(response) or "Salle de crise" in page_text(response)


def test_logout_is_a_post(as_user, employee):
    client = as_user(employee)
    response = client.post("/logout/", follow=True)
    assert not response.context["user"].is_authenticated


def test_language_switch_to_english_and_back(as_user, employee):
    client = as_user(employee)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '<html lang="en">' in page_text(client.get("/"))
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    assert '<html lang="fr">' in page_text(client.get("/"))


# --- rights -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/control/"),
        ("post", "/control/declare/"),
        ("get", "/calendar/"),
        ("post", "/calendar/posts/new/"),
    ],
)
def test_employee_gets_403_on_dco_pages(as_user, employee, method, url):
    response = getattr(as_user(employee), method)(url, {"title": "x", "severity": 2})
    assert response.status_code == 403


def test_employee_gets_403_on_every_crisis_action(as_user, employee, dco, account):
    crisis = declare(dco)
    client = as_user(employee)
    for action in ("extend", "decisions", "lift", "stand-down", "approve-lift"):
        response = client.post(f"/control/crises/{crisis.pk}/{action}/", {"reason": "x", "comment": "x"})
        assert response.status_code == 403, action
    assert client.get(f"/control/crises/{crisis.pk}/figures/").status_code == 403
    assert client.get(f"/control/crises/{crisis.pk}/report/").status_code == 403
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.ACTIVE


def test_auditor_reads_the_control_room_but_cannot_act(as_user, auditor, dco):
    crisis = declare(dco)
    client = as_user(auditor)
    assert client.get("/control/").status_code == 200
    assert client.get(f"/control/crises/{crisis.pk}/report/").status_code == 200
    assert client.post(f"/control/crises/{crisis.pk}/stand-down/", {"reason": "x"}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/control/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_employee_cannot_open_statements(as_user, employee):
    assert as_user(employee).get("/statements/").status_code == 403


# --- declare ------------------------------------------------------------------------------------


def test_declare_has_a_confirmation_step_then_freezes(as_user, dco, account):
    posts = make_posts(dco, account, n=3)
    client = as_user(dco)
    data = {"title": "Launch anomaly", "summary": "s", "severity": "3", "topics": "launch, satellite"}
    response = client.post("/control/declare/", data)
    assert response.status_code == 200
    assert 'name="confirm"' in page_text(response)
    assert not Crisis.objects.exists(), "nothing happens before the confirmation"
    response = client.post("/control/declare/", {**data, "confirm": "yes"}, follow=True)
    crisis = Crisis.objects.get()
    assert crisis.topics == ["launch", "satellite"] and crisis.severity == 3
    assert all(post_is_frozen(post=p) for p in Post.objects.filter(pk__in=[p.pk for p in posts]))
    text = page_text(response)
    assert "gate-closed" in text and "message-success" in text


def test_declare_form_errors(as_user, dco):
    client = as_user(dco)
    response = client.post("/control/declare/", {"title": "", "severity": "9"})
    assert response.status_code == 400
    text = page_text(response)
    assert "errorlist" in text and "message-error" in text
    assert not Crisis.objects.exists()


def test_second_declaration_shows_the_service_conflict(as_user, dco):
    declare(dco)
    client = as_user(dco)
    response = client.post(
        "/control/declare/", {"title": "Another", "severity": "1", "confirm": "yes"}, follow=True
    )
    assert "message-error" in page_text(response)
    assert Crisis.objects.count() == 1


# --- extend, decisions, lift, stand-down, approve -------------------------------------------------


def test_extend_refuses_an_earlier_time_and_bad_input(as_user, dco):
    crisis = declare(dco)
    client = as_user(dco)
    earlier = timezone.localtime(crisis.freeze_until - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/control/crises/{crisis.pk}/extend/", {"freeze_until": earlier}, follow=True)
    assert "message-error" in page_text(response)
    response = client.post(f"/control/crises/{crisis.pk}/extend/", {"freeze_until": "soon"}, follow=True)
    assert "message-error" in page_text(response)
    before = crisis.freeze_until
    crisis.refresh_from_db()
    assert crisis.freeze_until == before
    later = timezone.localtime(before + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/control/crises/{crisis.pk}/extend/", {"freeze_until": later}, follow=True)
    assert "message-success" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.freeze_until > before


def test_bulk_decisions_and_their_errors(as_user, dco, account):
    posts = make_posts(dco, account, n=3)
    crisis = declare(dco)
    client = as_user(dco)
    url = f"/control/crises/{crisis.pk}/decisions/"
    # Nothing selected.
    assert "message-error" in page_text(client.post(url, {"decision": "release"}, follow=True))
    # Reschedule without a time.
    response = client.post(url, {"decision": "reschedule", "posts": [posts[0].pk]}, follow=True)
    assert "message-error" in page_text(response)
    assert not PostDecision.objects.exists()
    # Bulk release of two, reschedule of one.
    response = client.post(url, {"decision": "release", "posts": [posts[0].pk, posts[1].pk]}, follow=True)
    assert "message-success" in page_text(response)
    new_time = timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(url, {"decision": "reschedule", "posts": [posts[2].pk], "scheduled_at": new_time})
    decisions = dict(PostDecision.objects.values_list("post_id", "decision"))
    assert decisions == {posts[0].pk: "release", posts[1].pk: "release", posts[2].pk: "reschedule"}


def test_decision_on_a_post_whose_time_passed_shows_the_service_error(as_user, dco, account):
    post = make_posts(dco, account, n=1)[0]
    crisis = declare(dco)
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(minutes=5))
    response = as_user(dco).post(
        f"/control/crises/{crisis.pk}/decisions/", {"decision": "release", "posts": [post.pk]}, follow=True
    )
    assert "message-error" in page_text(response)
    assert not PostDecision.objects.exists()


def test_lift_refused_before_freeze_until_then_four_eyes(as_user, dco, dco2, account):
    crisis = declare(dco)
    client = as_user(dco)
    checklist = {
        f"check_{code}": "on"
        for code in (
            "frozen_posts_reviewed",
            "statement_published",
            "spokespersons_briefed",
            "monitoring_in_place",
        )
    }
    response = client.post(f"/control/crises/{crisis.pk}/lift/", {"comment": "ok", **checklist}, follow=True)
    assert "message-error" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.ACTIVE
    # Operators (and tests) move freeze_until.
    move_freeze_to_the_past(crisis)
    # An unconfirmed checklist item is refused.
    partial = dict(list(checklist.items())[:2])
    response = client.post(f"/control/crises/{crisis.pk}/lift/", {"comment": "ok", **partial}, follow=True)
    assert "message-error" in page_text(response)
    response = client.post(f"/control/crises/{crisis.pk}/lift/", {"comment": "ok", **checklist}, follow=True)
    assert "message-success" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.LIFTING
    # The requester cannot approve their own lift.
    response = client.post(f"/control/crises/{crisis.pk}/approve-lift/", follow=True)
    assert "message-error" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.LIFTING
    response = as_user(dco2).post(f"/control/crises/{crisis.pk}/approve-lift/", follow=True)
    assert "message-success" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.CLOSED


def test_stand_down_needs_a_reason(as_user, dco):
    crisis = declare(dco)
    client = as_user(dco)
    response = client.post(f"/control/crises/{crisis.pk}/stand-down/", {"reason": ""}, follow=True)
    assert "message-error" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.ACTIVE
    response = client.post(f"/control/crises/{crisis.pk}/stand-down/", {"reason": "False alarm"}, follow=True)
    assert "message-success" in page_text(response)
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.LIFTING and crisis.end_kind == "stand_down"


def test_control_room_figures_and_report_render(as_user, dco, account, settings):
    settings.CRISISCOMM_FIGURES_TTL = 0  # no cached figures: each poll reads the database
    make_posts(dco, account, n=2)
    crisis = declare(dco)
    client = as_user(dco)
    text = page_text(client.get("/control/"))
    assert f'hx-get="/control/crises/{crisis.pk}/figures/"' in text
    assert "gate-closed" in text and 'data-countdown="' in text
    fragment = client.get(f"/control/crises/{crisis.pk}/figures/")
    # Before the first notices exist the panel says how many people are being notified.
    assert fragment.status_code == 200 and b'aria-live="polite"' in fragment.content
    assert "Notifying 1 person" in page_text(fragment) and "0 of 0" not in page_text(fragment)
    run_notice_worker()
    fragment = client.get(f"/control/crises/{crisis.pk}/figures/")
    assert b"<svg" in fragment.content and "0 of 1 people acknowledged" in page_text(fragment)
    report = client.get(f"/control/crises/{crisis.pk}/report/")
    assert report.status_code == 200 and b"crisis.declare" in report.content


# --- calendar ------------------------------------------------------------------------------------


def test_calendar_marks_frozen_posts_and_dco_edits_through_services(as_user, dco, account):
    post = make_posts(dco, account, n=1, start_in=timedelta(hours=2))[0]
    client = as_user(dco)
    week = timezone.localtime(post.scheduled_at).date().isoformat()
    assert post.body in page_text(client.get(f"/calendar/?week={week}"))
    # Bad input on edit: empty text.
    response = client.post(
        f"/calendar/posts/{post.pk}/", {"account": account.pk, "body": "", "scheduled_at": ""}
    )
    assert response.status_code == 400 and "errorlist" in page_text(response)
    new_time = timezone.localtime(post.scheduled_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(
        f"/calendar/posts/{post.pk}/", {"account": account.pk, "body": "Edited", "scheduled_at": new_time}
    )
    post.refresh_from_db()
    assert post.body == "Edited"
    declare(dco)
    text = page_text(client.get(f"/calendar/?week={week}"))
    assert "is-frozen" in text
    # A frozen post's time is decided through the crisis review: the service says so.
    later = timezone.localtime(post.scheduled_at + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/calendar/posts/{post.pk}/", {"account": account.pk, "body": "Edited", "scheduled_at": later}
    )
    assert "message-error" in page_text(response)
    # The frozen post's page offers the review decision for it.
    text = page_text(client.get(f"/calendar/posts/{post.pk}/"))
    assert "/decisions/" in text
    client.post(
        f"/control/crises/{Crisis.objects.get().pk}/decisions/", {"decision": "cancel", "posts": [post.pk]}
    )
    assert PostDecision.objects.get(post=post).decision == "cancel"


def test_calendar_new_post_errors_and_success(as_user, dco, account):
    client = as_user(dco)
    response = client.post("/calendar/posts/new/", {"account": account.pk, "body": "", "scheduled_at": "x"})
    assert response.status_code == 400
    at = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post("/calendar/posts/new/", {"account": account.pk, "body": "Hello", "scheduled_at": at})
    assert Post.objects.filter(body="Hello", status=PostStatus.SCHEDULED).exists()


# --- statements -----------------------------------------------------------------------------------


def test_spokesperson_without_mandate_is_refused_by_the_service(as_user, make_user, dco, account):
    declare(dco)
    speaker = make_user("spokesperson", username="speaker")
    response = as_user(speaker).post(
        "/statements/new/", {"body": "We are investigating.", "accounts": [account.pk]}, follow=True
    )
    assert "message-error" in page_text(response)
    from apps.statements.models import Statement

    assert not Statement.objects.exists()


def test_statement_form_errors(as_user, make_user, dco, account):
    from datetime import timedelta

    from django.utils import timezone

    from apps.statements.services import mandate_grant

    declare(dco)
    speaker = make_user("spokesperson", username="speaker")
    now = timezone.now()
    mandate_grant(
        actor=dco, user=speaker, valid_from=now - timedelta(minutes=1), valid_until=now + timedelta(days=1)
    )
    response = as_user(speaker).post("/statements/new/", {"body": "", "accounts": []})
    assert response.status_code == 400 and "errorlist" in page_text(response)


def test_the_statement_form_is_offered_only_to_a_mandate_holder(as_user, make_user, dco, account):
    """Without a mandate covering the crisis, the page says so instead of a form the service
    would refuse. Mutation: the `{% if "statement.create" in page_actions %}` around the form
    removed -> this test fails."""
    declare(dco)
    speaker = make_user("spokesperson", username="speaker")
    page = page_text(as_user(speaker).get("/statements/new/"))
    assert 'data-action="statement.create"' not in page and "active mandate" in page


# --- inbox ----------------------------------------------------------------------------------------


def test_inbox_lists_own_notices_and_refuses_others(as_user, employee, make_user):
    client = as_user(employee)
    assert client.get("/inbox/").status_code == 200
    assert client.post("/inbox/999999/acknowledge/").status_code == 404
    assert client.get("/inbox/1/acknowledge/").status_code == 405


# --- query counts: pages do not grow with the data ------------------------------------------------


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_control_room_and_calendar_queries_do_not_grow_with_posts(
    as_user, dco, account, django_assert_max_num_queries
):
    make_posts(dco, account, n=3, start_in=timedelta(hours=2))
    crisis = declare(dco)
    client = as_user(dco)
    week = timezone.localdate().isoformat()
    urls = [
        "/control/",
        f"/calendar/?week={week}",
        f"/control/crises/{crisis.pk}/report/",
        f"/control/crises/{crisis.pk}/review/",
        f"/control/crises/{crisis.pk}/not-acknowledged/",
        "/",
    ]
    few = {url: _queries(client, url) for url in urls}
    for i in range(30):
        post = make_posts(dco, account, n=1, start_in=timedelta(hours=3, minutes=i))[0]
        assert post_is_frozen(post=post)  # created during the freeze: joins the review
    for url in urls:
        with django_assert_max_num_queries(few[url]):
            client.get(url)


# --- statements: every form's error path ----------------------------------------------------------


@pytest.fixture
def statement_setup(dco, make_user, account):
    from apps.statements import services as st_services
    from tests.web.helpers import default_chain

    default_chain()
    crisis = declare(dco)
    speaker = make_user("spokesperson", username="speaker")
    expert = make_user("expert", username="expert1")
    st_services.mandate_grant(actor=dco, user=speaker, valid_until=timezone.now() + timedelta(days=2))
    statement = st_services.statement_create(
        actor=speaker, crisis=crisis, body="We are investigating.", accounts=[account]
    )
    return {"crisis": crisis, "speaker": speaker, "expert": expert, "statement": statement}


def test_statement_pages_error_paths(as_user, client, statement_setup, dco):
    from apps.statements.models import StatementStatus

    speaker, expert, statement = (statement_setup[k] for k in ("speaker", "expert", "statement"))
    url = f"/statements/{statement.pk}"
    client = as_user(speaker)
    assert client.get(f"{url}/").status_code == 200
    # Revise with an empty text: form error, no new revision.
    response = client.post(f"{url}/revise/", {"body": "", "accounts": []}, follow=True)
    assert "message-error" in page_text(response)
    statement.refresh_from_db()
    assert statement.revision == 1
    # Publishing a draft: the service refuses (409) and says why.
    response = client.post(f"{url}/publish/", {}, follow=True)
    assert "message-error" in page_text(response)
    # Submit, then submit again: the second is a conflict.
    assert "message-success" in page_text(client.post(f"{url}/submit/", follow=True))
    assert "message-error" in page_text(client.post(f"{url}/submit/", follow=True))
    # The author cannot decide on their own text.
    response = client.post(f"{url}/decide/", {"verdict": "approve", "revision": "1"}, follow=True)
    assert "message-error" in page_text(response)
    # A reviewer: an unknown verdict is a form error; a stale revision is a conflict.
    client = as_user(expert)
    assert "1 statement awaits your decision" in page_text(client.get("/"))
    assert "message-error" in page_text(client.post(f"{url}/decide/", {"verdict": "maybe"}, follow=True))
    response = client.post(f"{url}/decide/", {"verdict": "approve", "revision": "7"}, follow=True)
    assert "message-error" in page_text(response)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.IN_REVIEW
    response = client.post(
        f"{url}/decide/", {"verdict": "approve", "revision": "1", "comment": "ok"}, follow=True
    )
    assert "message-success" in page_text(response)
    # The DCO's approval, the last step, publishes: "publishing" until every account has it.
    client = as_user(dco)
    client.post(f"{url}/decide/", {"verdict": "approve", "revision": "1"})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.PUBLISHING


def test_banner_names_the_authorised_spokespersons(as_user, employee, statement_setup):
    speaker = statement_setup["speaker"]
    text = page_text(as_user(employee).get("/inbox/"))
    assert "Authorised spokespersons:" in text and speaker.get_full_name() in text


def test_statement_hidden_from_people_outside_it(as_user, make_user, statement_setup):
    outsider = make_user("spokesperson", username="outsider")
    statement = statement_setup["statement"]
    assert as_user(outsider).get(f"/statements/{statement.pk}/").status_code == 404
    assert as_user(outsider).post(f"/statements/{statement.pk}/submit/").status_code == 404


def test_withdraw(as_user, statement_setup):
    from apps.statements.models import StatementStatus

    statement = statement_setup["statement"]
    client = as_user(statement_setup["speaker"])
    response = client.post(f"/statements/{statement.pk}/withdraw/", {"reason": "superseded"}, follow=True)
    assert "message-success" in page_text(response)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.WITHDRAWN
    assert "message-error" in page_text(client.post(f"/statements/{statement.pk}/withdraw/", follow=True))


# --- inbox without JavaScript, manual to-dos, retraction -------------------------------------------


def test_inbox_acknowledge_without_javascript(as_user, dco, employee):
    from apps.notifications.models import NoticeEvent
    from apps.notifications.services import event_materialise

    declare(dco)
    for event in NoticeEvent.objects.all():  # the worker's part
        event_materialise(event_id=event.pk)
    notice = employee.notices.get(channel="inapp")
    client = as_user(employee)
    assert "I acknowledge" in page_text(client.get("/inbox/"))
    assert "1 notice to acknowledge" in page_text(client.get("/"))
    response = client.post(f"/inbox/{notice.pk}/acknowledge/", follow=True)
    assert "message-success" in page_text(response) and "Acknowledged" in page_text(response)
    assert employee.notices.filter(acknowledged_at__isnull=True).count() == 0
    # Twice is harmless.
    assert client.post(f"/inbox/{notice.pk}/acknowledge/").status_code == 302
    # Someone else's notice does not exist for this person.
    other = dco.notices.get(channel="inapp")
    assert client.post(f"/inbox/{other.pk}/acknowledge/").status_code == 404
    other.refresh_from_db()
    assert other.acknowledged_at is None


def test_manual_post_todo_marked_published_by_its_assignee(as_user, dco, employee, make_user):
    from apps.posts import services as post_services

    account = post_services.social_account_create(
        actor=dco,
        network="tiktok",
        handle="@agency",
        connector="manual",
        config={"assignee": employee.username},
    )
    post = make_posts(dco, account, n=1, start_in=timedelta(seconds=1))[0]
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    for post_id in post_services.posts_claim_due():  # the publisher's round
        post_services.post_send(post_id=post_id)
    client = as_user(employee)
    assert post.body in page_text(client.get("/inbox/"))
    response = client.post(f"/inbox/posts/{post.pk}/published/", {"external_url": "ftp://x"}, follow=True)
    assert "message-error" in page_text(response)
    # Another employee is not the assignee.
    other = make_user("employee", username="other")
    response = as_user(other).post(f"/inbox/posts/{post.pk}/published/", {}, follow=True)
    assert "message-error" in page_text(response)
    response = as_user(employee).post(
        f"/inbox/posts/{post.pk}/published/", {"external_url": "https://tiktok.example/v/1"}, follow=True
    )
    assert "message-success" in page_text(response)
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.external_url == "https://tiktok.example/v/1"


def test_retract_refuses_a_post_not_sent_and_employees(as_user, dco, employee, account):
    post = make_posts(dco, account, n=1)[0]
    crisis = declare(dco)
    url = f"/control/crises/{crisis.pk}/posts/{post.pk}/retract/"
    assert as_user(employee).post(url).status_code == 403
    response = as_user(dco).post(url, follow=True)
    assert "message-error" in page_text(response)


# --- mandates and the audit trail -----------------------------------------------------------------


def test_mandates_grant_errors_revoke_and_rights(as_user, dco, employee, auditor, make_user):
    from apps.statements.models import Mandate

    speaker = make_user("spokesperson", username="speaker")
    client = as_user(dco)
    until = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    past = timezone.localtime(timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    # Unknown person, missing end, end already past: nothing granted.
    assert client.post("/mandates/", {"username": "nobody", "valid_until": until}).status_code == 400
    assert client.post("/mandates/", {"username": "speaker"}).status_code == 400
    response = client.post("/mandates/", {"username": "speaker", "valid_until": past}, follow=True)
    assert "message-error" in page_text(response)
    assert not Mandate.objects.exists()
    response = client.post(
        "/mandates/",
        {
            "username": "speaker",
            "topics": "launch, orbit",
            "networks": ["x", "mastodon"],
            "valid_until": until,
        },
        follow=True,
    )
    assert "message-success" in page_text(response)
    mandate = Mandate.objects.get(user=speaker)
    assert sorted(mandate.topics) == ["launch", "orbit"] and sorted(mandate.networks) == ["mastodon", "x"]
    # Auditors read, employees do not; neither grants nor revokes.
    assert as_user(auditor).get("/mandates/").status_code == 200
    assert as_user(auditor).post(f"/mandates/{mandate.pk}/revoke/").status_code == 403
    assert as_user(employee).get("/mandates/").status_code == 403
    client = as_user(dco)
    assert "message-success" in page_text(client.post(f"/mandates/{mandate.pk}/revoke/", follow=True))
    assert "message-error" in page_text(client.post(f"/mandates/{mandate.pk}/revoke/", follow=True))
    mandate.refresh_from_db()
    assert mandate.revoked_at is not None


def test_audit_trail_page_and_chain_check(as_user, dco, auditor, employee):
    declare(dco)
    client = as_user(auditor)
    text = page_text(client.get("/audit/?action=crisis."))
    assert "crisis.declare" in text and "gate.close" not in text
    assert "The chain holds" in page_text(client.get("/audit/?verify=1"))
    assert as_user(employee).get("/audit/").status_code == 403


# --- normal times: a calendar post held for validation --------------------------------------------


def test_post_held_for_validation_then_approved(as_user, dco, dco2, employee, make_user, account):
    from tests.web.helpers import default_chain

    default_chain()
    expert = make_user("expert", username="expert1")
    post = make_posts(dco, account, n=1)[0]
    assert as_user(employee).post(f"/calendar/posts/{post.pk}/require-approval/").status_code == 403
    client = as_user(dco)
    response = client.post(f"/calendar/posts/{post.pk}/require-approval/", follow=True)
    assert "message-success" in page_text(response) and "Held" in page_text(response)
    post.refresh_from_db()
    assert post.awaiting_approval
    # Twice: the service refuses.
    assert "message-error" in page_text(
        client.post(f"/calendar/posts/{post.pk}/require-approval/", follow=True)
    )
    from apps.statements.models import ApprovalRequest

    run = ApprovalRequest.objects.get(post=post)
    # The DCO who wrote the post cannot decide; the expert's step comes first.
    assert "Record my decision" not in page_text(client.get("/approvals/"))
    # Every signed-in person has an approvals page (what waits for them); the employee's is empty.
    assert "Record my decision" not in page_text(as_user(employee).get("/approvals/"))
    client = as_user(expert)
    assert "Record my decision" in page_text(client.get("/approvals/"))
    response = client.post(f"/approvals/{run.pk}/decide/", {"verdict": "nope"}, follow=True)
    assert "message-error" in page_text(response)
    client.post(f"/approvals/{run.pk}/decide/", {"verdict": "approve", "step": "1"})
    response = as_user(dco2).post(
        f"/approvals/{run.pk}/decide/", {"verdict": "approve", "step": "2"}, follow=True
    )
    assert "message-success" in page_text(response)
    post.refresh_from_db()
    assert not post.awaiting_approval and post.status == PostStatus.SCHEDULED
    # Nothing is waiting for a new time: the release is refused.
    at = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = as_user(dco).post(f"/approvals/{run.pk}/release/", {"at": at}, follow=True)
    assert "message-error" in page_text(response)


def test_ack_chart_draws_the_cumulative_count_against_the_total():
    from apps.web.charts import ack_chart_svg

    start = timezone.now() - timedelta(minutes=10)
    series = [(start + timedelta(minutes=2), 3), (start + timedelta(minutes=5), 2)]
    svg = str(ack_chart_svg(series, total=10, start=start, end=start + timedelta(minutes=10)))
    assert svg.startswith("<svg") and 'role="img"' in svg and "5 of 10 people acknowledged" in svg
    points = svg.split('points="')[1].split('"')[0].split()
    # From 0 (bottom of the plot, y=172) to 5 of 10 (half way up, y=92), flat to the right edge.
    ys = [float(p.split(",")[1]) for p in points]
    xs = [float(p.split(",")[0]) for p in points]
    assert ys[0] == 172.0 and ys[-1] == 92.0 and max(ys) == 172.0 and min(ys) == 92.0
    assert xs == sorted(xs) and xs[-1] == 588.0


def test_login_form_locks_after_repeated_failures(client, dco, settings):
    # The lockout is django-axes' (tests/security/test_lockout.py covers every door).
    addr = {"REMOTE_ADDR": "10.9.8.7"}
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(1, limit + 1):
        response = client.post("/", {"username": dco.username, "password": "wrong"}, **addr)
        assert response.status_code == (429 if attempt == limit else 200)
    # Locked for this person from this address: even the right password is not tried.
    response = client.post("/", {"username": dco.username, "password": PASSWORD}, **addr)
    assert response.status_code == 429 and "message-error" in page_text(response)
    assert not response.wsgi_request.user.is_authenticated
    # From elsewhere the person still signs in.
    response = client.post("/", {"username": dco.username, "password": PASSWORD}, REMOTE_ADDR="10.9.8.8")
    assert response.status_code == 302


def test_pages_in_french_from_the_compiled_catalogue(as_user, dco, employee):
    declare(dco)
    text = page_text(as_user(dco).get("/control/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert '<html lang="fr">' in text and "Salle de crise" in text and "FERMÉE" in text
    text = page_text(as_user(employee).get("/inbox/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Mode crise" in text and "Toute publication professionnelle" in text
