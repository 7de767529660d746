"""The crisis day's pages, server-side: the control room's order, the frozen-posts review on its
own paged page with "decide all matching", what waits for whom, acknowledgements by people,
the not-acknowledged list (department filter, CSV, "remind them now")."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.crises import services as crisis_services
from apps.crises.models import PostDecision
from apps.notifications.models import Notice, NoticeEvent
from apps.notifications.services import notice_acknowledge
from apps.posts import services as post_services
from tests.web.helpers import declare, make_account, make_posts, run_notice_worker

pytestmark = pytest.mark.django_db


def text(response):
    return response.content.decode()


@pytest.fixture(autouse=True)
def _fresh_figures(settings):
    settings.CRISISCOMM_FIGURES_TTL = 0  # every read of the figures sees the database


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def account(dco):
    return make_account(dco)


def set_department(user, name):
    from apps.accounts.models import StaffProfile

    StaffProfile.objects.update_or_create(user=user, defaults={"department": name})


# --- the control room ------------------------------------------------------------------------


def test_control_room_in_crisis_puts_state_figures_waiting_and_statements_before_the_forms(
    as_user, dco, account
):
    """At 2 a.m. on a phone the first screens are what matters: the gate and countdown, the
    crisis, the acknowledgements, what waits for me, the statements; the forms come after and
    the frozen posts are a link to their own page, not a 12,000-pixel table."""
    make_posts(dco, account, n=60)
    crisis = declare(dco)
    page = text(as_user(dco).get("/control/"))
    order = [
        'id="gate-word"',
        'data-countdown="',
        'id="crisis-h"',
        'id="ack-h"',
        'id="waiting-h"',
        'id="stmt-h"',
        'id="review-h"',
        'id="extend-h"',
        'id="lift-h"',
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions), list(zip(order, positions, strict=True))
    assert 'name="posts"' not in page  # no review table here
    assert f'href="/control/crises/{crisis.pk}/review/?undecided=on"' in page
    assert "60 frozen posts" in page and "60 without a decision" in page


# --- the review page -------------------------------------------------------------------------


def test_review_page_pages_filters_and_comes_back_to_the_filter_after_a_decision(as_user, dco, account):
    other = make_account(dco, handle="@agency_fr", network="x")
    posts = make_posts(dco, account, n=53)
    others = make_posts(dco, other, n=2, start_in=timedelta(days=6))
    crisis = declare(dco)
    client = as_user(dco)
    url = f"/control/crises/{crisis.pk}/review/"
    first = text(client.get(url))
    assert first.count('name="posts"') == 50 and "55 frozen posts" in first and "Page 1 of 2" in first
    assert text(client.get(url + "?page=2")).count('name="posts"') == 5
    # Filter by account, by network, by dates (inclusive end day, local time).
    assert text(client.get(url, {"account": other.pk})).count('name="posts"') == 2
    assert text(client.get(url, {"network": "x"})).count('name="posts"') == 2
    day = timezone.localtime(others[0].scheduled_at).date().isoformat()
    dated = text(client.get(url, {"scheduled_from": day, "scheduled_to": day}))
    assert dated.count('name="posts"') == 2
    # A decision made under a filter comes back to the same filter.
    response = client.post(
        f"/control/crises/{crisis.pk}/decisions/",
        {"decision": "cancel", "posts": [p.pk for p in posts[:4]], "filter_query": "undecided=on&evil=1"},
    )
    assert response.status_code == 302 and response["Location"] == url + "?undecided=on"
    undecided = text(client.get(url, {"undecided": "on"}))
    assert "51 without a decision" in undecided and "Page 2 of 2" not in undecided
    assert undecided.count('name="posts"') == 50
    # A post id that is not this crisis's is refused; the others are decided.
    client.post(
        f"/control/crises/{crisis.pk}/decisions/", {"decision": "cancel", "posts": [posts[5].pk, 999999]}
    )
    assert PostDecision.objects.filter(crisis=crisis).count() == 4


def test_decide_all_matching_decides_every_page_in_one_audited_step(as_user, dco, account):
    """Mutation: the `expected` count check in control_decide_matching removed -> the stale
    submission below decides the posts and this test fails."""
    other = make_account(dco, handle="@agency_fr", network="x")
    make_posts(dco, account, n=54)
    make_posts(dco, other, n=3)
    crisis = declare(dco)
    client = as_user(dco)
    page = text(client.get(f"/control/crises/{crisis.pk}/review/", {"network": "mastodon"}))
    assert "Decide all 54 matching posts at once" in page and 'name="expected" value="54"' in page
    url = f"/control/crises/{crisis.pk}/decisions/matching/"
    # The page showed 53: one more post matches now, so nothing is decided.
    response = client.post(url, {"network": "mastodon", "decision": "cancel", "expected": "53"}, follow=True)
    assert "changed since the page was shown (now 54)" in text(response)
    assert not PostDecision.objects.exists()
    # Reschedule without a time: a form error naming the field.
    response = client.post(
        url, {"network": "mastodon", "decision": "reschedule", "expected": "54"}, follow=True
    )
    assert "A new time is needed to reschedule" in text(response)
    response = client.post(url, {"network": "mastodon", "decision": "cancel", "expected": "54"}, follow=True)
    assert "Decision recorded for 54 post(s)" in text(response)
    assert PostDecision.objects.filter(crisis=crisis, decision="cancel").count() == 54
    assert not PostDecision.objects.filter(post__account=other).exists()
    entries = AuditEntry.objects.filter(action="crisis.decide_matching")
    assert entries.count() == 1 and entries.get().details["count"] == 54


def test_review_pages_refuse_other_roles(as_user, dco, employee, auditor, account):
    make_posts(dco, account, n=2)
    crisis = declare(dco)
    assert as_user(employee).get(f"/control/crises/{crisis.pk}/review/").status_code == 403
    auditor_client = as_user(auditor)
    assert auditor_client.get(f"/control/crises/{crisis.pk}/review/").status_code == 200
    url = f"/control/crises/{crisis.pk}/decisions/matching/"
    assert auditor_client.post(url, {"decision": "cancel", "expected": "2"}).status_code == 403
    assert not PostDecision.objects.exists()


# --- what waits for whom ----------------------------------------------------------------------


def test_second_dco_home_shows_the_stand_down_waiting_for_them_not_the_requester(as_user, dco, dco2):
    crisis = declare(dco)
    crisis_services.crisis_request_stand_down(actor=dco, crisis=crisis, reason="Declared in error")
    home2 = text(as_user(dco2).get("/"))
    assert "Waiting for you" in home2 and "Approve the stand-down" in home2
    assert "/control/#approve-lift" in home2
    home1 = text(as_user(dco).get("/"))
    assert "Approve the stand-down" not in home1 and "Nothing waits for you." in home1


def test_a_dco_appointed_after_the_request_is_not_asked_to_approve(as_user, dco, dco2, make_user):
    """Mutation: the `end_eligible_approvers` condition removed from waiting_for -> the newcomer's
    home offers the approval and this test fails."""
    crisis = declare(dco)
    crisis_services.crisis_request_stand_down(actor=dco, crisis=crisis, reason="Declared in error")
    newcomer = make_user("dco", username="dco3")
    home = text(as_user(newcomer).get("/"))
    assert "Approve the stand-down" not in home
    assert "Approve the stand-down" in text(as_user(dco2).get("/"))


def test_expert_home_lists_the_statement_step_waiting_for_them(as_user, dco, dco2, make_user):
    from datetime import timedelta as td

    from apps.statements import services as st_services
    from tests.web.helpers import default_chain

    default_chain()
    author = make_user("spokesperson", username="speaker")
    expert = make_user("expert", username="expert1")
    crisis = declare(dco)
    now = timezone.now()
    st_services.mandate_grant(
        actor=dco, user=author, valid_from=now - td(minutes=1), valid_until=now + td(days=1)
    )
    account = make_account(dco)
    statement = st_services.statement_create(
        actor=author, crisis=crisis, body="We are investigating.", accounts=[account]
    )
    st_services.statement_submit(actor=author, statement=statement)
    home = text(as_user(expert).get("/"))
    assert "Waiting for you" in home and f"/statements/{statement.pk}/" in home
    assert "We are investigating." in home
    assert f"/statements/{statement.pk}/" not in text(as_user(make_user("employee", username="e9")).get("/"))


def test_assignee_home_lists_the_post_to_publish_by_hand(as_user, dco, employee):
    account = post_services.social_account_create(
        actor=dco, network="tiktok", handle="@agency", connector="manual", config={"assignee": dco.username}
    )
    post = make_posts(dco, account, n=1, start_in=timedelta(seconds=1))[0]
    from apps.posts.models import Post

    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    for post_id in post_services.posts_claim_due():
        post_services.post_send(post_id=post_id)
    home = text(as_user(dco).get("/"))
    assert "by hand" in home and post.body in home
    assert post.body not in text(as_user(employee).get("/"))


# --- acknowledgements by people ---------------------------------------------------------------


@pytest.fixture
def staff(make_user):
    """Four people in two departments (plus the DCO, in none)."""
    people = []
    for i, dept in enumerate(["Launch", "Launch", "Science", "Science"]):
        person = make_user("employee", username=f"staff{i}", first_name=f"Ann{i}", last_name=f"Doe{i}")
        set_department(person, dept)
        people.append(person)
    return people


def test_figures_count_people_not_notices(as_user, dco, staff):
    """Each person gets two notices (in-app and e-mail); the figures still count people."""
    crisis = declare(dco)
    figures_url = f"/control/crises/{crisis.pk}/figures/"
    assert "Notifying 5 people" in text(as_user(dco).get(figures_url))
    run_notice_worker()
    assert Notice.objects.filter(user=staff[0]).count() >= 2
    notice_acknowledge(actor=staff[0], notice=Notice.objects.filter(user=staff[0]).first())
    fragment = text(as_user(dco).get(figures_url))
    assert "1 of 5 people acknowledged" in fragment
    launch = re.search(r"<th scope=\"row\">Launch</th>(.*?)</tr>", fragment, re.S).group(1)
    assert re.findall(r">(\d+)<", launch)[:2] == ["2", "1"] and "50 %" in launch
    assert 'value="50"' in launch  # the bar says the same as the number
    inapp = re.search(r"<th scope=\"row\">inapp</th>(.*?)</tr>", fragment, re.S).group(1)
    assert re.findall(r">(\d+)<", inapp)[0] == "5"
    assert "4 people have not acknowledged" in fragment
    report = text(as_user(dco).get(f"/control/crises/{crisis.pk}/report/"))
    assert "1 of 5 people acknowledged" in report


def test_not_acknowledged_list_filters_exports_and_shrinks(as_user, dco, staff, employee, auditor):
    crisis = declare(dco)
    run_notice_worker()
    client = as_user(dco)
    url = f"/control/crises/{crisis.pk}/not-acknowledged/"
    page = text(client.get(url))
    assert "7 people have not acknowledged" in page  # the four, the DCO, the employee, the auditor
    assert "Ann0 Doe0" in page and "inapp" in page
    launch = text(client.get(url, {"department": "Launch"}))
    assert "2 people have not acknowledged" in launch and "Ann2 Doe2" not in launch
    notice_acknowledge(actor=staff[0], notice=Notice.objects.filter(user=staff[0]).first())
    launch = text(client.get(url, {"department": "Launch"}))
    assert "1 person has not acknowledged" in launch and "Ann0 Doe0" not in launch
    response = client.get(f"/control/crises/{crisis.pk}/not-acknowledged.csv", {"department": "Science"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Username", "Name", "Department"]
    assert sorted(r[0] for r in rows[1:]) == ["staff2", "staff3"]
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}T", cell) for row in rows for cell in row)
    # Rights: an employee gets 403; an auditor reads but cannot remind.
    assert as_user(employee).get(url).status_code == 403
    assert as_user(auditor).get(url).status_code == 200
    assert as_user(auditor).post(f"/control/crises/{crisis.pk}/remind/").status_code == 403


def test_remind_them_now_starts_an_audited_round_for_those_who_have_not_acknowledged(as_user, dco, staff):
    crisis = declare(dco)
    run_notice_worker()
    notice_acknowledge(actor=staff[0], notice=Notice.objects.filter(user=staff[0]).first())
    response = as_user(dco).post(f"/control/crises/{crisis.pk}/remind/", follow=True)
    assert "A reminder is on its way" in text(response)
    rounds = NoticeEvent.objects.filter(crisis_id=crisis.pk, parent__isnull=False)
    assert rounds.count() == 1
    run_notice_worker()
    reminded = set(Notice.objects.filter(event=rounds.get()).values_list("user__username", flat=True))
    assert "staff0" not in reminded and {"staff1", "staff2", "staff3"} <= reminded
    assert AuditEntry.objects.filter(actor=dco, details__by="dco").exists()


def test_inbox_notice_puts_the_button_first_and_leaves_out_the_emails_link(as_user, dco, employee):
    declare(dco)
    run_notice_worker()
    page = text(as_user(employee).get("/inbox/"))
    notice = page[page.index("<article") :]
    assert notice.index("I acknowledge") < notice.index("has declared a crisis")
    assert "/notices/ack/" not in page  # the e-mail's one-click link: the button is right there
