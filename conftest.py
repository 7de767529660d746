"""Root fixtures shared by every test module."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from tests.factories import UserFactory

# A skipped test is a failure in CI (tests/no_skips.py).
pytest_plugins = ["tests.no_skips"]


@pytest.fixture(autouse=True)
def _plain_http_test_client(settings):
    # Production settings redirect to HTTPS; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # PBKDF2 costs ~0.25 s a password; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_gate_mirror():
    # The gate's answer is mirrored in Redis and reused per process (apps.posts.gate_mirror); a
    # test's rolled-back database must not meet the previous test's answer.
    from apps.posts.gate_mirror import mirror_clear

    mirror_clear()
    yield


@pytest.fixture
def make_user(db):
    """make_user("dco") → an active user in those role groups."""

    def make(*roles, **fields):
        user = UserFactory(**fields)
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def api():
    """An API client; api.as_user(user) authenticates it with a fresh API token of that user
    (django-rest-knox: stored hashed, so the clear value exists only here)."""
    client = APIClient()

    def as_user(user):
        from knox.models import AuthToken

        _instance, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.token = token
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def dco(make_user):
    return make_user("dco", username="dco1")


@pytest.fixture
def dco2(make_user):
    return make_user("dco", username="dco2")


@pytest.fixture
def employee(make_user):
    return make_user("employee", username="employee1")


@pytest.fixture
def auditor(make_user):
    return make_user("auditor", username="auditor1")


# --- outbound (issue 10) ---
@pytest.fixture
def outbound_allow_loopback(settings, monkeypatch):
    """The test doubles of networks and chats listen on 127.0.0.1, which outbound requests refuse
    by default: allow it here, for this process and the worker processes a test starts."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    monkeypatch.setenv("CRISISCOMM_OUTBOUND_ALLOW", "127.0.0.1")


@pytest.fixture(autouse=True)
def _outbound_offline_dns(settings):
    """Outbound checks resolve names: in tests, without the real DNS (localhost only)."""
    settings.CRISISCOMM_OUTBOUND_RESOLVER = "tests.core.servers.offline_resolve"


# --- end outbound ---


@pytest.fixture(autouse=True)
def _english_unless_asked(settings):
    """The French catalogue is compiled (locale/), and LANGUAGE_CODE is "fr": tests read English
    messages unless they ask for French (Accept-Language, the language cookie, override)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def pytest_terminal_summary(terminalreporter):
    """Say plainly when the browser tests did not run (tests/web/conftest.py skips them)."""
    reason = "Chromium not installed: browser tests skipped"
    if any(reason in str(rep.longrepr) for rep in terminalreporter.stats.get("skipped", [])):
        terminalreporter.write_line(reason, yellow=True, bold=True)


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process (the broker is not what these tests are about)."""
    from crisiscomm.celery import app

    # The app reads Django settings under the CELERY_ namespace, so set the namespaced key.
    previous = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield app
    app.conf.CELERY_TASK_ALWAYS_EAGER = previous
