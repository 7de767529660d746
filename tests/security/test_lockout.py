"""One lockout for every door (django-axes): the web login, /admin/login/ and the token endpoint
share one counter per (account, client address); during the lockout even the right password is
refused (429 on the API, a clear message on the pages); the client address is read through
CRISISCOMM_TRUSTED_PROXIES proxies only."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry

PASSWORD = "correct-horse-battery"
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def web(username, password, addr, **headers):
    return Client().post("/login/", {"username": username, "password": password}, REMOTE_ADDR=addr, **headers)


def admin(username, password, addr, **headers):
    return Client().post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=addr,
        **headers,
    )


def token(username, password, addr, **headers):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=addr,
        **headers,
    )


DOORS = {"web": web, "admin": admin, "token": token}
FAILED = {"web": 200, "admin": 200, "token": 400}
SUCCESS = {"web": 302, "admin": 302, "token": 200}


@pytest.mark.django_db
@pytest.mark.parametrize("door", list(DOORS))
def test_each_door_locks_and_refuses_even_the_right_password(door, make_user):
    """Mutation: LockoutBackend removed from AUTHENTICATION_BACKENDS -> the right password
    signs in during the lockout -> this test fails (for every door)."""
    make_user("dco", username="target")
    attempt = DOORS[door]
    for _ in range(LIMIT - 1):
        assert attempt("target", "guess", "10.1.1.1").status_code == FAILED[door]
    locked = attempt("target", "guess", "10.1.1.1")
    assert locked.status_code == 429
    right = attempt("target", PASSWORD, "10.1.1.1")
    assert right.status_code == 429
    if door == "token":
        assert right.json()["code"] == "locked_out" and "right password" in right.json()["detail"]
        assert "token" not in right.json()
    else:
        assert "even with the right password" in right.content.decode()
        assert "_auth_user_id" not in right.wsgi_request.session
    # Another address, same account: not locked (one counter per account AND address).
    assert attempt("target", PASSWORD, "10.1.1.2").status_code == SUCCESS[door]


@pytest.mark.django_db
def test_one_counter_across_the_doors(make_user):
    """Failures at the web login, the admin and the token endpoint add up.

    Mutation: the token endpoint checking the password with ModelBackend().authenticate()
    instead of django.contrib.auth.authenticate (its failures not counted by axes) -> the third
    failure, at the token endpoint, does not lock -> this test fails."""
    make_user("dco", username="target")
    assert web("target", "guess", "10.2.2.2").status_code == 200
    assert admin("target", "guess", "10.2.2.2").status_code == 200
    assert token("target", "guess", "10.2.2.2").status_code == 429  # the third failure locks
    for door in DOORS.values():
        assert door("target", PASSWORD, "10.2.2.2").status_code == 429
    refused = AuditEntry.objects.filter(action="account.login_failed")
    assert {e.details["door"] for e in refused} == {"web", "admin", "token"}
    assert all(e.details["client"] == "10.2.2.2" and e.details["whom"] == "target" for e in refused)


@pytest.mark.django_db
def test_a_success_resets_the_counter(make_user):
    make_user("employee", username="target")
    for _ in range(LIMIT - 1):
        token("target", "guess", "10.3.3.3")
    assert token("target", PASSWORD, "10.3.3.3").status_code == 200
    for _ in range(LIMIT - 1):
        assert token("target", "guess", "10.3.3.3").status_code == 400


@pytest.mark.django_db
def test_forwarded_for_is_ignored_without_trusted_proxies(make_user, settings):
    """A client cannot dodge the lockout by writing X-Forwarded-For (default: 0 proxies).

    Mutation: network.client_address reading X-Forwarded-For whatever the setting -> each
    forged header gets a fresh counter -> this test fails."""
    settings.CRISISCOMM_TRUSTED_PROXIES = 0
    make_user("employee", username="target")
    for i in range(LIMIT):
        token("target", "guess", "10.4.4.4", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    assert token("target", PASSWORD, "10.4.4.4", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_forwarded_address_counts(make_user, settings):
    settings.CRISISCOMM_TRUSTED_PROXIES = 1
    make_user("employee", username="target")
    proxy = "10.5.5.5"
    # The client writes its own X-Forwarded-For; the proxy appends the address it saw.
    for _ in range(LIMIT):
        token("target", "guess", proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert token("target", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7").status_code == 429
    # Another client behind the same proxy is not locked out.
    assert token("target", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200
    entry = AuditEntry.objects.filter(action="account.login_failed").first()
    assert entry.details["client"] == "198.51.100.7"
