"""Browser harness: Debian's Chromium driven by Playwright (never a downloaded browser)."""

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
# are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
SKIP_REASON = "Chromium not installed: browser tests skipped"
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


@pytest.fixture(autouse=True)
def _skip_browser_without_chromium(request):
    if request.node.get_closest_marker("browser") and not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(request):
    """pytest-django's live server, started per test with plain-HTTP settings.

    Its middleware (SecurityMiddleware's HTTPS redirect) reads settings when the server starts, so
    the overrides must be in force before it starts, not after (pytest-django's own fixture is
    started before any test fixture could change them)."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        SECURE_HSTS_SECONDS=0,
    )
    plain_http.enable()
    server = LiveServer("localhost")
    yield server
    server.stop()
    plain_http.disable()


@pytest.fixture
def web(live_server, settings):
    settings.CRISISCOMM_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def new_page(chromium, web):
    """new_page(lang="en", phone=False) → a fresh browser context (own cookies) and page."""
    contexts = []

    def make(lang="en", phone=False):
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        ctx = chromium.new_context(locale=lang, viewport=viewport, is_mobile=phone, has_touch=phone)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def shot():
    """shot(page, "name") saves a full-page screenshot under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def sign_in(page, base_url, user, password=PASSWORD):
    """Sign in through Django's login form at `/`."""
    page.goto(base_url + "/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
