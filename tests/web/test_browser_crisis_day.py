"""The crisis day in headless Chromium (Debian's package), on a phone (390x844) and a desktop, in
English and French: the second DCO told of a stand-down and approving it, the list of people who
have not acknowledged shrinking as they do, and no page wider than a phone.

The Celery worker's part (materialising notices) is played by calling the services its tasks
call, in the test thread, when a worker would."""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from playwright.sync_api import expect

from apps.crises import services as crisis_services
from apps.crises.models import CrisisStatus
from apps.notifications.messages import ack_token
from apps.notifications.models import Notice, NoticeEvent
from apps.posts import services as post_services
from tests.web.conftest import SCREENSHOTS, assert_accessible, sign_in
from tests.web.helpers import declare, make_account, make_posts, run_notice_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
VIEWPORTS = {"phone": True, "desktop": False}


@pytest.fixture(autouse=True)
def _fresh_figures(settings):
    settings.CRISISCOMM_FIGURES_TTL = 0


def to_docs(name):
    """A screenshot the README shows: copied from var/screenshots/ to docs/screenshots/ when
    CRISISCOMM_UPDATE_DOCS_SCREENSHOTS=1 (a test run does not rewrite committed files)."""
    if os.environ.get("CRISISCOMM_UPDATE_DOCS_SCREENSHOTS") != "1":
        return
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCREENSHOTS / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")


def no_horizontal_scroll(page):
    """The page is no wider than the device (nothing to scroll sideways, nothing zoomed out)."""
    width = page.viewport_size["width"]
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= width and inner == width, f"{page.url}: scrollWidth {scroll}, layout {inner} > {width}"


@pytest.mark.parametrize("lang,size", [("en", "phone"), ("fr", "desktop"), ("fr", "phone")])
def test_stand_down_is_approved_by_the_second_dco_after_they_are_notified(
    new_page, web, dco, dco2, shot, lang, size
):
    crisis = declare(dco, title="False alarm" if lang == "en" else "Fausse alerte")
    run_notice_worker()
    page = new_page(lang, phone=VIEWPORTS[size])
    sign_in(page, web.url, dco)
    page.goto(web.url + "/control/")
    page.get_by_label(re.compile("^(Reason|Motif)")).fill("Declared in error: an exercise.")
    page.get_by_role("button", name=re.compile("Request stand-down|Demander l'annulation")).click()
    expect(page.locator(".messages")).to_contain_text(re.compile("Stand-down requested|Annulation demandée"))
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.LIFTING

    # The notifications worker tells every other DCO.
    run_notice_worker()
    told = Notice.objects.filter(user=dco2, event__event="crisis.stand_down_requested")
    assert told.filter(channel="inapp").exists(), "the second DCO is notified in the app"
    assert not Notice.objects.filter(user=dco, event__event="crisis.stand_down_requested").exists()

    page2 = new_page(lang, phone=VIEWPORTS[size])
    sign_in(page2, web.url, dco2)
    waiting = page2.locator("#waiting")
    expect(waiting).to_contain_text(re.compile("Approve the stand-down|Approuver l'annulation"))
    no_horizontal_scroll(page2)
    assert_accessible(page2)
    shot(page2, f"20-stand-down-waiting-for-dco2-{lang}-{size}")
    if (lang, size) == ("en", "phone"):
        to_docs(f"20-stand-down-waiting-for-dco2-{lang}-{size}")
    page2.goto(web.url + "/inbox/")
    expect(page2.locator(".notice-list")).to_contain_text(re.compile("stand-down|annulation", re.I))
    page2.goto(web.url + "/")
    waiting.get_by_role("link").first.click()
    expect(page2.locator("#approve-lift")).to_contain_text("Declared in error: an exercise.")
    page2.get_by_role("button", name=re.compile("Approve the stand-down|Approuver l'annulation")).click()
    expect(page2.locator("#gate-word")).to_have_text(re.compile("OPEN|OUVERTE"))
    no_horizontal_scroll(page2)
    shot(page2, f"21-stand-down-approved-{lang}-{size}")
    crisis.refresh_from_db()
    assert crisis.status == CrisisStatus.CLOSED and crisis.end_kind == "stand_down"
    assert crisis.end_approved_by == dco2


@pytest.mark.parametrize("lang,size", [("en", "desktop"), ("fr", "phone")])
def test_not_acknowledged_list_shrinks_when_a_person_acknowledges(
    new_page, web, dco, make_user, shot, lang, size
):
    from apps.accounts.models import StaffProfile

    people = []
    for i, dept in enumerate(["Launch", "Launch", "Science"]):
        person = make_user("employee", username=f"staff{i}", first_name=f"Ann{i}", last_name=f"Doe{i}")
        StaffProfile.objects.update_or_create(user=person, defaults={"department": dept})
        people.append(person)
    crisis = declare(dco)
    run_notice_worker()
    page = new_page(lang, phone=VIEWPORTS[size])
    sign_in(page, web.url, dco)
    page.goto(web.url + "/control/")
    figures = page.locator("#figures")
    expect(figures).to_contain_text(re.compile("0 of 4 people acknowledged|0 personnes sur 4"))
    figures.get_by_role("link", name=re.compile("who\\?|qui \\?")).click()
    listing = page.locator("#not-ack-list")
    for person in people:
        expect(listing).to_contain_text(f"{person.first_name} {person.last_name}")
    page.get_by_label(re.compile("Department|Service")).select_option("Launch")
    page.get_by_role("button", name=re.compile("^(Show|Afficher)$")).click()
    expect(page.locator("#not-ack-count")).to_contain_text(re.compile("^2 "))
    no_horizontal_scroll(page)
    assert_accessible(page)
    shot(page, f"22-not-acknowledged-before-{lang}-{size}")

    # Ann0 acknowledges from the link in her e-mail, on her phone: the notice page, then the button.
    event = NoticeEvent.objects.get(crisis_id=crisis.pk, parent__isnull=True, event="crisis.declared")
    person_page = new_page(lang, phone=True)
    person_page.goto(f"{web.url}/notices/ack/{ack_token(event_id=event.pk, user_id=people[0].pk)}/")
    button = person_page.get_by_role("button", name=re.compile("I acknowledge|pris connaissance", re.I))
    expect(button).to_be_in_viewport()  # the button first, not two screens down
    no_horizontal_scroll(person_page)
    shot(person_page, f"23-employee-notice-page-{lang}")
    button.click()
    page.reload()
    expect(page.locator("#not-ack-count")).to_contain_text(re.compile("^1 "))
    expect(page.locator("#not-ack-list")).not_to_contain_text("Ann0 Doe0")
    expect(page.locator("#not-ack-list")).to_contain_text("Ann1 Doe1")
    shot(page, f"24-not-acknowledged-after-{lang}-{size}")
    if (lang, size) == ("en", "desktop"):
        to_docs(f"24-not-acknowledged-after-{lang}-{size}")
    page.goto(web.url + "/control/")
    expect(page.locator("#figures")).to_contain_text(
        re.compile("1 of 4 people acknowledged|1 personne sur 4|1 personnes sur 4")
    )


# --- no page wider than a phone ---------------------------------------------------------------

SKIP_PREFIXES = ("api/", "admin/", "oidc/", "i18n/", "static/", "healthz", "login/", "logout/")


def page_urls(args: dict) -> list[str]:
    """Every page of the URL configuration, its arguments filled from `args`; URLs needing an
    argument we have no value for are returned as None (reported, never silently dropped)."""
    urls = []

    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if route.startswith(SKIP_PREFIXES):
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                names = re.findall(r"<(?:\w+:)?(\w+)>", route)
                filled = route
                for name in names:
                    value = args.get(name)
                    if value is None:
                        filled = None
                        break
                    filled = re.sub(rf"<(?:\w+:)?{name}>", str(value), filled)
                urls.append((route, filled))

    walk(get_resolver().url_patterns, "")
    return urls


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_page_scrolls_sideways_on_a_phone(new_page, web, dco, dco2, employee, make_user, lang):
    """Walks the URL configuration's pages at 390x844 (as the DCO, in a crisis with data on every
    page) and measures scrollWidth against the viewport.

    Mutations: base.html's `<meta name="viewport">` removed -> the phone lays the pages out
    980 px wide and this test fails; `<script>document.title += ""</script>` added to base.html
    -> the Content-Security-Policy refuses it and this test fails."""
    from apps.accounts.models import StaffProfile

    StaffProfile.objects.update_or_create(
        user=employee, defaults={"department": "Direction des lanceurs et des systèmes orbitaux"}
    )
    account = make_account(dco, handle="@agence_spatiale_officielle_internationale")
    make_posts(dco, account, n=60)
    long_post = post_services.post_create(
        actor=dco,
        account=account,
        body="https://example.org/" + "x" * 180 + " " + "Anticonstitutionnellement " * 8,
        scheduled_at=timezone.now() + timedelta(hours=2),  # first in the review, in this week's calendar
    )
    crisis = declare(dco, title="Anomalie du lanceur lors de la phase de séparation des étages supérieurs")
    run_notice_worker()
    crisis_services.crisis_request_stand_down(actor=dco2, crisis=crisis, reason="Exercice mal étiqueté. " * 5)
    notice = Notice.objects.filter(user=dco, channel="inapp").first()
    args = {
        "crisis_id": crisis.pk,
        "post_id": long_post.pk,
        "notice_id": notice.pk,
        "token": ack_token(event_id=notice.event_id, user_id=dco.pk),
    }
    page = new_page(lang, phone=True)
    # The Content-Security-Policy (no inline script) refuses nothing a page needs.
    refused = []
    page.on(
        "console",
        lambda msg: refused.append(f"{page.url}: {msg.text}") if "Content Security" in msg.text else None,
    )
    sign_in(page, web.url, dco)
    checked, skipped, unreachable = [], [], []
    for route, url in page_urls(args):
        if url is None:
            unreachable.append(route)
            continue
        # Asked first with the page's cookies: POST-only actions answer 405 without a body.
        probe = page.request.get(f"{web.url}/{url}", max_redirects=0)
        if probe.status != 200 or "html" not in (probe.headers.get("content-type") or ""):
            skipped.append((route, probe.status))
            continue
        if "<html" not in probe.text()[:500].lower():  # an htmx fragment, shown inside a page
            skipped.append((route, "fragment"))
            continue
        page.goto(f"{web.url}/{url}")
        no_horizontal_scroll(page)
        checked.append(route)
    # The pages of the crisis day are among those measured.
    must = {
        "",
        "inbox/",
        "control/",
        "control/crises/<int:crisis_id>/review/",
        "control/crises/<int:crisis_id>/report/",
        "control/crises/<int:crisis_id>/not-acknowledged/",
        "calendar/",
        "calendar/posts/<int:post_id>/",
        "statements/",
        "audit/",
        "mandates/",
        "approvals/",
    }
    assert must <= set(checked), (must - set(checked), skipped, unreachable)
    assert refused == []
    # Routes with arguments we could not fill are the statement/approval/sighting detail pages
    # (covered by their own browser tests) and POST-only actions; none is a crisis-day page.
    assert not [r for r in unreachable if r.startswith(("control/", "calendar/", "inbox/"))], unreachable
    # The employee and the signed-out visitor too.
    other = new_page(lang, phone=True)
    other.goto(web.url + "/")
    no_horizontal_scroll(other)
    sign_in(other, web.url, employee)
    for url in ("/", "/inbox/", f"/notices/ack/{args['token']}/", "/precheck/"):
        other.goto(web.url + url)
        no_horizontal_scroll(other)


def test_control_room_in_crisis_screenshots_for_the_readme(new_page, web, dco, dco2, make_user, shot):
    """The control room in crisis at 390x844 and at desktop size, saved in var/screenshots/ and
    copied to docs/screenshots/ (the README shows them)."""
    from apps.accounts.models import StaffProfile

    for i, dept in enumerate(["Launch", "Launch", "Science", "Communication", "Science"]):
        person = make_user("employee", username=f"staff{i}", first_name=f"Ann{i}", last_name=f"Doe{i}")
        StaffProfile.objects.update_or_create(user=person, defaults={"department": dept})
    account = make_account(dco)
    make_posts(dco, account, n=12)
    crisis = declare(dco, title="Launch anomaly")
    run_notice_worker()
    for notice in Notice.objects.filter(channel="inapp", user__username__in=["staff0", "staff2", "staff3"]):
        from apps.notifications.services import notice_acknowledge

        notice_acknowledge(actor=notice.user, notice=notice)
    crisis_services.crisis_request_stand_down(actor=dco2, crisis=crisis, reason="Sensor glitch, no anomaly.")
    for size in ("phone", "desktop"):
        page = new_page("en", phone=VIEWPORTS[size])
        sign_in(page, web.url, dco)
        page.goto(web.url + "/control/")
        expect(page.locator("#figures")).to_contain_text("3 of 7 people acknowledged")
        no_horizontal_scroll(page)
        name = f"control-room-crisis-{size}"
        shot(page, name)
        to_docs(name)
        if size == "phone":  # what the officer sees first, without scrolling
            page.screenshot(path=str(SCREENSHOTS / f"{name}-first-screen.png"))
            to_docs(f"{name}-first-screen")


# --- a statement that tells the truth -----------------------------------------------------------


@pytest.mark.parametrize("lang,size", [("en", "desktop"), ("fr", "phone")])
def test_statement_with_a_manual_and_a_failing_account_shows_both_then_is_published(
    new_page, web, dco, dco2, make_user, shot, settings, lang, size
):
    """One account published by hand (LinkedIn, a person's to-do), one the network refuses (a
    real server on 127.0.0.1 answering 422): the control room and the statement page show both
    states; the statement reads "published" only once the person said so and the retry went out."""
    from apps.posts.services import post_send, posts_claim_due
    from apps.statements.models import StatementStatus
    from tests.statements.scenarios import RefusingNetwork, statement_one_manual_one_failing
    from tests.web.helpers import default_chain

    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    default_chain()
    author = make_user("spokesperson", username="speaker")
    expert = make_user("expert", username="expert1")
    assignee = make_user("employee", username="lina", first_name="Lina", last_name="Roux")
    crisis = declare(dco)
    with RefusingNetwork() as net:
        statement, manual_post, failing_post = statement_one_manual_one_failing(
            crisis=crisis, author=author, expert=expert, dco=dco2, assignee=assignee, network_url=net.url
        )
        assert statement.status == StatementStatus.PUBLISHING

        page = new_page(lang, phone=VIEWPORTS[size])
        sign_in(page, web.url, dco)
        page.goto(web.url + "/control/")
        row = page.locator(f"#statement-row-{statement.pk}")
        expect(row).to_contain_text("Lina Roux")  # to do by hand, and by whom
        expect(row).to_contain_text("(HTTP 422)")  # failing, in plain words
        no_horizontal_scroll(page)
        shot(page, f"25-control-room-statement-two-states-{lang}-{size}")
        page.goto(f"{web.url}/statements/{statement.pk}/")
        states = page.locator("#account-states")
        expect(states.locator(f"#account-{manual_post.account_id}")).to_have_attribute(
            "data-state", "by_hand"
        )
        expect(states.locator(f"#account-{failing_post.account_id}")).to_have_attribute(
            "data-state", "failing"
        )
        expect(page.locator("#statement-status")).not_to_have_text(re.compile("^(published|publiée)$", re.I))
        no_horizontal_scroll(page)
        assert_accessible(page)
        shot(page, f"26-statement-manual-and-failing-{lang}-{size}")

        # Lina published it on LinkedIn by hand, from her phone.
        person = new_page(lang, phone=True)
        sign_in(person, web.url, assignee)
        person.goto(f"{web.url}/statements/{statement.pk}/")
        person.get_by_role("button", name=re.compile("I published it|Je l'ai publiée")).click()
        page.reload()
        expect(states.locator(f"#account-{manual_post.account_id}")).not_to_have_attribute(
            "data-state", "by_hand"
        )
        statement.refresh_from_db()
        assert statement.status == StatementStatus.PUBLISHING  # X is still failing

        # The network accepts again; the DCO retries and the publisher sends.
        net.accept()
        page.locator(f"#account-{failing_post.account_id}").get_by_role(
            "button", name=re.compile("^(Retry|Relancer|Réessayer)$")
        ).click()
        for post_id in posts_claim_due():
            post_send(post_id=post_id)
    page.reload()
    expect(page.locator("#statement-status")).to_have_text(re.compile("published|publiée", re.I))
    statement.refresh_from_db()
    assert statement.status == StatementStatus.PUBLISHED
    shot(page, f"27-statement-published-{lang}-{size}")
