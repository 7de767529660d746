"""End to end in headless Chromium (Debian's package, driven by Playwright): what the DCO, an
employee, a spokesperson and a second DCO officer see and do. Screenshots: var/screenshots/.

The Celery worker's part (materialising notices, publishing due posts) is played by calling the
same services the tasks call, in the test thread, at the moment a worker would."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.crises.models import Crisis, CrisisStatus
from apps.notifications.models import NoticeEvent
from apps.notifications.services import event_materialise, notices_deliver
from apps.posts import services as post_services
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import post_is_frozen
from apps.statements import services as st_services
from apps.statements.models import Statement, StatementStatus
from tests.core.servers import LoopbackServer
from tests.web.conftest import assert_accessible, assert_focus_visible, sign_in
from tests.web.helpers import declare, default_chain, make_account, make_posts, move_freeze_to_the_past

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _loopback_sink_allowed(settings):
    # The webhook sink standing in for a social network listens on 127.0.0.1.
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"


def run_notice_worker():
    """What the notifications worker does after the declaration commits."""
    for event in NoticeEvent.objects.filter(materialised_at__isnull=True):
        event_materialise(event_id=event.pk)
        notices_deliver(event_id=event.pk, channel="inapp")


def run_publisher():
    """One publisher round: claim due posts, send each."""
    for post_id in post_services.posts_claim_due():
        post_services.post_send(post_id=post_id)


@pytest.mark.parametrize(
    "lang,declare_label,confirm_label",
    [("en", "Declare", "Yes, declare"), ("fr", "Déclarer", "Oui, déclarer")],
)
def test_dco_declares_from_the_control_room_and_sees_posts_frozen(
    new_page, web, dco, shot, lang, declare_label, confirm_label
):
    account = make_account(dco)
    posts = make_posts(dco, account, n=3, start_in=timedelta(hours=1))
    page = new_page(lang)
    page.goto(web.url + "/")
    expect(page.locator("#id_username")).to_be_focused()
    assert_accessible(page)
    shot(page, f"00-login-{lang}")
    sign_in(page, web.url, dco)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.get_by_role("link", name=re.compile("Control room|Salle")).first.click()
    expect(page.locator("#gate-word")).to_have_text(re.compile("OPEN|OUVERT"))
    assert_accessible(page)
    shot(page, f"01-control-room-open-{lang}")

    page.get_by_label(re.compile("^(Title|Titre)")).fill("Launch anomaly")
    page.get_by_label(re.compile("Subject topics|Sujets")).fill("launch")
    # Keyboard: the button takes a visible focus and Enter submits.
    declare_button = page.get_by_role("button", name=declare_label, exact=True)
    assert_focus_visible(page, declare_button)
    page.keyboard.press("Enter")
    # The confirmation step says what will happen; nothing has happened yet.
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("Confirm|Confirmer"))
    assert not Crisis.objects.exists()
    assert_accessible(page)
    shot(page, f"02-declare-confirm-{lang}")
    page.get_by_role("button", name=re.compile(confirm_label, re.I)).click()

    expect(page.locator("#gate-word")).to_have_text(re.compile("CLOSED|FERMÉ"))
    expect(page.locator("#crisis-banner")).to_be_visible()
    expect(page.locator("#review")).to_contain_text(re.compile("3 frozen posts|3 publications gelées"))
    assert_accessible(page)
    shot(page, f"03-control-room-crisis-{lang}")
    assert all(post_is_frozen(post=p) for p in Post.objects.all())
    page.locator("#review a.btn").click()
    review = page.locator("#review")
    for post in posts:
        expect(review).to_contain_text(post.body)
    assert_accessible(page)
    shot(page, f"03b-frozen-posts-review-{lang}")
    page.goto(web.url + "/control/")

    page.get_by_role("link", name=re.compile("^(Calendar|Calendrier)$")).first.click()
    expect(page.locator(".post-chip.is-frozen")).to_have_count(3)
    assert_accessible(page)
    shot(page, f"04-calendar-frozen-{lang}")


def test_employee_sees_the_banner_and_acknowledges(new_page, web, dco, employee, shot):
    declare(dco)
    run_notice_worker()
    dco_page = new_page()
    sign_in(dco_page, web.url, dco)
    dco_page.goto(web.url + "/control/")
    expect(dco_page.locator("#figures")).to_contain_text("0 of")

    page = new_page(phone=True)
    sign_in(page, web.url, employee)
    banner = page.locator("#crisis-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("suspended")
    expect(banner.get_by_role("link", name=re.compile("Check a post"))).to_have_attribute(
        "href", "/precheck/"
    )
    assert_accessible(page)
    shot(page, "05-employee-home-banner")
    # The control room is not for employees.
    assert page.goto(web.url + "/control/").status == 403
    page.goto(web.url + "/inbox/")
    expect(page.locator("#crisis-banner")).to_be_visible()
    assert_accessible(page)
    shot(page, "06-employee-inbox")
    page.get_by_role("button", name="I acknowledge").first.click()
    expect(page.locator(".notice-list")).to_contain_text("Acknowledged")
    shot(page, "07-employee-acknowledged")
    assert employee.notices.filter(acknowledged_at__isnull=False).exists()
    # The pre-publication check is one click away from the banner.
    page.locator("#crisis-banner").get_by_role("link", name=re.compile("Check a post")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check a post")
    shot(page, "07b-employee-precheck")
    # The DCO's live figures pick it up without a reload (htmx polling).
    expect(dco_page.locator("#figures")).to_contain_text(
        re.compile(r"\b1 of \d+ people acknowledged"), timeout=12_000
    )
    shot(dco_page, "08-control-room-live-acks")


def test_spokesperson_statement_is_approved_and_published_while_posts_stay_frozen(
    new_page, web, dco, dco2, make_user, shot
):
    sink = LoopbackServer(path="/hook", body={"id": "ext-1"})  # the network, on loopback
    try:
        account = post_services.social_account_create(
            actor=dco,
            network="mastodon",
            handle="@agency",
            connector="webhook",
            config={"url": sink.url, "secret": "s3"},
        )
        ordinary = make_posts(dco, account, n=2, start_in=timedelta(minutes=1))
        crisis = declare(dco)
        default_chain()
        speaker = make_user("spokesperson", username="speaker")
        expert = make_user("expert", username="expert1")
        st_services.mandate_grant(
            actor=dco, user=speaker, topics=["launch"], valid_until=timezone.now() + timedelta(days=7)
        )

        page = new_page()
        sign_in(page, web.url, speaker)
        page.goto(web.url + "/statements/")
        page.get_by_role("link", name="Write a statement").click()
        page.get_by_label("Statement").fill("We are investigating the launch anomaly. Next update at 18:00.")
        page.get_by_label(str(account)).check()
        page.get_by_role("button", name="Save the draft").click()
        expect(page.locator("#statement-status")).to_have_text(re.compile("draft", re.I))
        page.get_by_role("button", name="Submit for validation").click()
        expect(page.locator("#statement-status")).to_have_text(re.compile("in review", re.I))
        assert_accessible(page)
        shot(page, "09-statement-submitted")
        statement = Statement.objects.get()

        for reviewer, comment in ((expert, "Facts checked."), (dco2, "Approved for publication.")):
            rpage = new_page()
            sign_in(rpage, web.url, reviewer)
            rpage.goto(f"{web.url}/statements/{statement.pk}/")
            rpage.get_by_label("Approve").check()
            rpage.get_by_label("Comment").fill(comment)
            rpage.get_by_role("button", name="Record my decision").click()
            expect(rpage.locator(".messages")).to_contain_text(
                re.compile("Decision recorded|Approved: it is being published")
            )
        statement.refresh_from_db()
        # The last approval publishes: "publishing" until every account has it.
        assert statement.status == StatementStatus.PUBLISHING

        # The author sees each step's decision and comment.
        page.reload()
        expect(page.locator("#statement-status")).to_have_text(re.compile("publishing", re.I))
        expect(page.get_by_text("Facts checked.")).to_be_visible()
        expect(page.get_by_text("Approved for publication.")).to_be_visible()
        assert_accessible(page)
        shot(page, "10-statement-approved-publishing")

        # Everything is due now; one publisher round: only the statement goes out.
        Post.objects.filter(pk__in=[p.pk for p in ordinary]).update(
            scheduled_at=timezone.now() - timedelta(seconds=1)
        )
        run_publisher()
        assert [message["body"] for message in sink.json_bodies()] == [statement.body]
        assert all(post_is_frozen(post=p) for p in Post.objects.filter(pk__in=[p.pk for p in ordinary]))
        exempt = Post.objects.get(exempt=True)
        assert exempt.status == PostStatus.PUBLISHED
        page.reload()
        expect(page.locator("#statement-status")).to_have_text(re.compile("^published$", re.I))
        shot(page, "11-statement-published")

        dpage = new_page()
        sign_in(dpage, web.url, dco)
        dpage.goto(f"{web.url}/calendar/?week={timezone.localdate().isoformat()}")
        expect(dpage.locator(".post-chip.is-exempt")).to_have_count(1)
        expect(dpage.locator(".post-chip.is-frozen")).to_have_count(2)
        shot(dpage, "12-calendar-statement-and-frozen")
        dpage.goto(f"{web.url}/control/crises/{crisis.pk}/report/")
        expect(dpage.locator("main")).to_contain_text("Facts checked.")
        shot(dpage, "12b-report-with-statement")
    finally:
        sink.stop()


def test_second_dco_approves_the_lift(new_page, web, dco, dco2, shot):
    account = make_account(dco)
    posts = make_posts(dco, account, n=2, start_in=timedelta(days=3))
    crisis = declare(dco)
    page = new_page()
    sign_in(page, web.url, dco)
    page.goto(web.url + "/control/")
    # The review has its own page; bulk decision: release both.
    page.get_by_role("link", name="Review the frozen posts").click()
    review = page.locator("#review")
    for post in posts:
        review.locator(f"#post-{post.pk}").check()
    review.get_by_label("Decision for the selected posts").select_option("release")
    review.get_by_role("button", name="Apply to selected posts").click()
    expect(page.locator(".messages")).to_contain_text("Decision recorded for 2 post(s)")
    # The freeze period is over (operators and tests move freeze_until).
    move_freeze_to_the_past(crisis)
    page.goto(web.url + "/control/")
    lift = page.locator("#lift")
    for box in lift.locator("input[type=checkbox]").all():
        box.check()
    lift.get_by_label("Comment").fill("Situation under control; statement published.")
    lift.get_by_role("button", name="Request the lift").click()
    expect(page.locator(".messages")).to_contain_text("second DCO officer")
    expect(page.locator("#approve-lift")).to_contain_text("A different DCO officer must approve")
    assert_accessible(page)
    shot(page, "13-lift-requested")

    # The second officer approves from a phone.
    page2 = new_page(phone=True)
    sign_in(page2, web.url, dco2)
    page2.goto(web.url + "/control/")
    page2.get_by_role("button", name="Approve the lift").click()
    expect(page2.locator("#gate-word")).to_have_text("OPEN")
    expect(page2.locator("#crisis-banner")).to_have_count(0)
    assert_accessible(page2)
    shot(page2, "14-lift-approved-gate-open")
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.CLOSED and crisis.end_approved_by == dco2
    assert set(Post.objects.values_list("status", flat=True)) == {PostStatus.SCHEDULED}

    page2.goto(f"{web.url}/control/crises/{crisis.pk}/report/")
    expect(page2.get_by_role("heading", level=1)).to_contain_text("Crisis report")
    assert_accessible(page2)
    page2.emulate_media(media="print")
    shot(page2, "15-crisis-report-print")


def test_stand_down_of_a_crisis_declared_in_error_in_french(new_page, web, dco, dco2, shot):
    account = make_account(dco)
    posts = make_posts(dco, account, n=2, start_in=timedelta(days=2))
    crisis = declare(dco, title="Fausse alerte")
    page = new_page("fr")
    sign_in(page, web.url, dco)
    page.goto(web.url + "/control/")
    page.get_by_label("Motif").fill("Déclarée par erreur : exercice.")
    page.get_by_role("button", name="Demander l'annulation").click()
    expect(page.locator(".messages")).to_contain_text("Annulation demandée")
    expect(page.locator("#approve-lift")).to_contain_text("Un·e autre chargé·e de la DCO doit approuver")

    page2 = new_page("fr", phone=True)
    sign_in(page2, web.url, dco2)
    page2.goto(web.url + "/control/")
    expect(page2.locator("#approve-lift")).to_contain_text("Déclarée par erreur : exercice.")
    assert_accessible(page2)
    shot(page2, "16-stand-down-awaiting-approval-fr")
    page2.get_by_role("button", name="Approuver l'annulation").click()
    expect(page2.locator("#gate-word")).to_have_text("OUVERTE")
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.CLOSED and crisis.end_kind == "stand_down"
    # Undecided frozen posts whose time is still ahead go back to the calendar as they were.
    assert set(Post.objects.filter(pk__in=[p.pk for p in posts]).values_list("status", flat=True)) == {
        PostStatus.SCHEDULED
    }
