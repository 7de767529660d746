"""Browser harness: Debian's Chromium driven by Playwright (never a downloaded browser)."""

import os
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it
# are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Debian's package; CRISISCOMM_CHROMIUM points elsewhere (or nowhere, to see the skip).
CHROMIUM = Path(os.environ.get("CRISISCOMM_CHROMIUM", "/usr/bin/chromium"))
SKIP_REASON = "Chromium not installed: browser tests skipped"
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


@pytest.fixture(autouse=True)
def _networks_on_loopback(outbound_allow_loopback):
    """outbound: the test doubles of networks listen on 127.0.0.1 (refused by default)."""


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
    # Requests still in flight (an htmx poll as the page closed) finish before the server stops:
    # on SQLite they share the test's connection, which stop() takes back.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "process_request_thread" in t.name for t in threading.enumerate()
    ):
        time.sleep(0.02)
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


A11Y_PROBLEMS_JS = r"""
() => {
  const problems = [];
  const lang = document.documentElement.getAttribute('lang');
  if (!lang) problems.push('html has no lang');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby');
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()} name=${el.name}`);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!visible(el)) continue;
    const text = (el.textContent || '').trim() || el.getAttribute('aria-label');
    if (!text) problems.push(`${el.tagName.toLowerCase()} without text: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const el of document.querySelectorAll('svg')) {
    if (!el.getAttribute('aria-label') && !el.getAttribute('aria-hidden')) {
      problems.push('svg without aria-label');
    }
  }
  for (const el of document.querySelectorAll('form[method=post], form[method=POST]')) {
    if (!el.querySelector('input[name=csrfmiddlewaretoken]')) {
      problems.push(`form ${el.action} without CSRF token`);
    }
  }
  // Text contrast (WCAG AA, 4.5:1) of what carries meaning: buttons, links, badges, help text,
  // the banner and the gate. Background: the first opaque one up the tree.
  const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const sel = '.btn, main a, .nav a, .badge, .help, .crisis-banner p, .gate p, .message, th, td';
  for (const el of document.querySelectorAll(sel)) {
    if (!visible(el) || !(el.textContent || '').trim()) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(bg(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) {
      problems.push(`contrast ${ratio.toFixed(2)} on ${el.tagName.toLowerCase()}.${el.className}`);
    }
  }
  return problems;
}
"""


def assert_accessible(page):
    """Basic checks on the rendered page: lang, one h1, every control labelled, every button and
    link named, charts labelled, a CSRF token in every POST form, text contrast at least 4.5:1."""
    problems = page.evaluate(A11Y_PROBLEMS_JS)
    assert problems == [], f"{page.url}: {problems}"


def assert_focus_visible(page, locator):
    """Keyboard focus shows: the focused control gets an outline."""
    locator.focus()
    outline = locator.evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
    )
    assert not outline.startswith("none"), outline
