"""Rules every page keeps: error pages in the layout and both languages, no inline script or
style (Content-Security-Policy), external addresses linked only when http(s), the calendar's
read-only posts, time zone, previews, and "publish now" apart from a time."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.posts import services as post_services
from apps.posts.models import Post, PostStatus
from apps.web.templatetags.web_extras import safe_link
from tests.web.helpers import make_account, make_posts

pytestmark = pytest.mark.django_db


def text(response):
    return response.content.decode()


# --- error pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang,not_found,forbidden",
    [("en", "Page not found", "This page is not for your role"), ("fr", "Page introuvable", "Cette page")],
)
def test_403_and_404_pages_are_in_the_layout_and_the_readers_language(
    client, employee, lang, not_found, forbidden
):
    client.force_login(employee)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = text(response)
    assert f'<html lang="{lang}">' in page and 'class="site-header"' in page and not_found in page
    response = client.get("/control/")
    assert response.status_code == 403
    page = text(response)
    assert 'class="site-header"' in page and forbidden in page and "/inbox/" in page  # the menu


def test_api_errors_stay_json(client, employee):
    client.force_login(employee)
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("lang,said", [("en", "Something went wrong"), ("fr", "Une erreur")])
def test_500_page_is_in_the_layout(client, employee, settings, lang, said):
    """A real exception in a page, through the project's handler500."""
    settings.ROOT_URLCONF = "tests.web.urls_500"
    settings.DEBUG = False
    client.raise_request_exception = False
    client.force_login(employee)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.get("/broken-page/")
    assert response.status_code == 500
    page = text(response)
    assert 'class="site-header"' in page and said in page and "RuntimeError" not in page


@pytest.mark.django_db(transaction=True)
def test_500_page_still_answers_when_the_database_is_gone(client, employee, settings):
    """The layout needs the database (the crisis banner, the menu); when the database session
    has been ended by its server, the error page falls back to a plain one instead of failing
    again. Mutation: the fallback in apps.web.errors._render removed -> this test fails (the
    handler itself raises)."""
    from django.db import connection

    settings.ROOT_URLCONF = "tests.web.urls_500"
    settings.DEBUG = False
    client.raise_request_exception = False
    client.force_login(employee)
    response = client.get("/broken-page-database-gone/")
    assert response.status_code == 500
    page = text(response)
    assert "Something went wrong on our side" in page and 'class="site-header"' in page
    assert "crisis-banner" not in page  # the plain page: no database needed
    connection.close()  # the ended session; the test's teardown opens a new one


# --- Content-Security-Policy readiness ---------------------------------------------------------

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR, "apps").glob("*/templates")]
# E-mail bodies are not pages: mail clients need their inline styles.
EMAIL = re.compile(r"notifications/(en|fr)/message\.html$")
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def inline_code_in_templates() -> list[str]:
    found = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*.html")):
            if EMAIL.search(path.as_posix()):
                continue
            source = path.read_text()
            for what, pattern in INLINE.items():
                for match in pattern.finditer(source):
                    line = source.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(settings.BASE_DIR)}:{line}: {what}")
    return found


def test_no_page_template_has_inline_script_handlers_or_styles():
    """Everything a strict CSP (no 'unsafe-inline') would block lives in static files instead.
    Mutation: report.html's print button given back `onclick="window.print()"` -> this test
    fails naming the line."""
    assert inline_code_in_templates() == []


@pytest.mark.parametrize(
    "value,link",
    [
        ("https://mastodon.example/@agency/1", True),
        ("HTTP://social.example/p?a=1&b=2", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("https://", False),
    ],
)
def test_safe_link_links_only_http_and_https(value, link):
    """Mutation: the scheme check in is_web_url removed -> the javascript:/data: cases fail."""
    out = str(safe_link(value))
    assert out.startswith("<a ") is link
    assert "<b>" not in out  # always escaped
    if link:
        assert 'rel="noopener noreferrer nofollow"' in out


# --- calendar ----------------------------------------------------------------------------------


@pytest.fixture
def account(dco):
    return make_account(dco)


def test_week_view_shows_the_time_zone_and_a_preview_of_each_post(client, dco, auditor, account):
    body = "Launch window opens tomorrow morning: follow the countdown live with our engineers " * 2
    post = post_services.post_create(
        actor=dco, account=account, body=body, scheduled_at=timezone.now() + timedelta(hours=3)
    )
    client.force_login(auditor)
    week = timezone.localtime(post.scheduled_at).date().isoformat()
    page = text(client.get(f"/calendar/?week={week}"))
    assert "Times are shown in the Europe/Paris time zone (CET)" in page
    assert body[:120] in page  # a real preview, not 60 characters
    assert f'href="/calendar/posts/{post.pk}/"' in page and ">View<" in page  # read-only for an auditor


def test_a_post_that_can_no_longer_be_edited_renders_read_only(client, dco, account):
    """Mutation: `editable` forced to True in calendar_post_edit -> the form comes back and this
    test fails."""
    post = make_posts(dco, account, n=1)[0]
    post_services.post_cancel(actor=dco, post=post)
    client.force_login(dco)
    page = text(client.get(f"/calendar/posts/{post.pk}/"))
    assert "This post can no longer be edited" in page
    assert "<textarea" not in page and 'name="scheduled_at"' not in page and ">Save<" not in page
    # A POST anyway (an old tab) changes nothing and says so.
    new_time = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/calendar/posts/{post.pk}/",
        {"account": account.pk, "body": "Edited", "scheduled_at": new_time},
        follow=True,
    )
    assert "can no longer be edited" in text(response)
    post.refresh_from_db()
    assert post.body != "Edited" and post.status == PostStatus.CANCELLED


def test_a_time_in_the_past_is_refused_and_publish_now_is_a_separate_choice(client, dco, account):
    client.force_login(dco)
    month_ago = timezone.localtime(timezone.now() - timedelta(days=30))
    data = {"account": account.pk, "body": "Old news", "scheduled_at": month_ago.strftime("%Y-%m-%dT%H:%M")}
    response = client.post("/calendar/posts/new/", data)
    assert response.status_code == 400
    said = " ".join(m.message for m in response.context["messages"])
    assert "is in the past" in said and month_ago.strftime("%H:%M") in said
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", said)
    assert not Post.objects.exists()
    page = text(response)
    assert 'value="publish_now"' in page and "Publish now" in page
    # "Publish now": the explicit choice, no time needed.
    response = client.post(
        "/calendar/posts/new/", {"account": account.pk, "body": "Now", "action": "publish_now"}, follow=True
    )
    post = Post.objects.get()
    assert post.body == "Now" and abs((post.scheduled_at - timezone.now()).total_seconds()) < 60
    assert "Post published now." in text(response)


def test_external_addresses_in_the_pages_go_through_safe_link():
    """In the site's templates an href is a {% url %}, a fixed path, or an address the server
    built itself; an address from outside (a post's link, a statement's) goes through |safe_link.
    Mutation: report.html's `{{ p.external_url|safe_link }}` back to `<a href="{{ p.external_url }}">`
    -> this test fails."""
    allowed = {"item.url"}  # apps.web.selectors.waiting_for / statements.awaiting_user: reverse()
    raw = []
    for path in sorted((Path(settings.BASE_DIR) / "templates").rglob("*.html")):
        for match in re.finditer(r'href="\{\{\s*([\w.]+)[^}]*\}\}', path.read_text()):
            if match.group(1) not in allowed:
                raw.append(f"{path.name}: {match.group(0)}")
    assert raw == []
