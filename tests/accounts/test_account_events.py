"""Everything about accounts is on the record, by every door: account.login, account.login_failed,
account.logout, account.password_set (who, whom, door; never a password, hash or token)."""

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify

PASSWORD = "correct-horse-battery"


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("sequence"))


def assert_no_secret(entry, *secrets):
    text = str(entry.details)
    for secret in secrets:
        assert secret not in text
    assert "password" not in {k.lower() for k in entry.details}


@pytest.mark.django_db
def test_web_login_failure_and_logout_are_recorded(make_user):
    """Mutation: events.connect() no longer connecting user_logged_in / user_login_failed /
    user_logged_out -> no entries -> this test fails."""
    make_user("employee", username="alice")
    client = Client()
    assert (
        client.post(
            "/login/", {"username": "alice", "password": "wrong-one"}, REMOTE_ADDR="10.0.0.7"
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7"
        ).status_code
        == 302
    )
    assert client.post("/logout/").status_code == 302
    (failed,) = entries("account.login_failed")
    (login,) = entries("account.login")
    (logout,) = entries("account.logout")
    assert failed.details["door"] == "web" and failed.details["whom"] == "alice"
    assert failed.details["client"] == "10.0.0.7" and failed.actor_id is None
    assert login.details == {"who": "alice", "whom": "alice", "door": "web", "client": "10.0.0.7"}
    assert logout.details["door"] == "web" and logout.actor_repr == "alice"
    for entry in (failed, login, logout):
        assert_no_secret(entry, PASSWORD, "wrong-one")
    assert audit_chain_verify().valid


@pytest.mark.django_db
def test_admin_login_and_token_login_are_recorded_with_their_door(make_user):
    make_user("dco", username="officer")
    assert (
        Client().post("/admin/login/?next=/admin/", {"username": "officer", "password": PASSWORD}).status_code
        == 302
    )
    resp = APIClient().post(
        "/api/v1/auth/token/", {"username": "officer", "password": PASSWORD}, format="json"
    )
    token = resp.json()["token"]
    logins = entries("account.login")
    assert [e.details["door"] for e in logins] == ["admin", "token"]
    for entry in logins:
        assert_no_secret(entry, PASSWORD, token)


@pytest.mark.django_db
def test_the_person_changing_their_own_password_is_recorded(make_user):
    officer = make_user("dco", username="officer")
    client = Client()
    client.force_login(officer)
    resp = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "Brand-new-2026!", "new_password2": "Brand-new-2026!"},
    )
    assert resp.status_code == 302
    (entry,) = entries("account.password_set")
    assert entry.details["who"] == "officer" and entry.details["whom"] == "officer"
    assert entry.details["door"] == "admin" and entry.details["usable"] is True
    assert_no_secret(entry, PASSWORD, "Brand-new-2026!")


@pytest.mark.django_db
def test_a_password_set_from_the_command_line_is_recorded_as_the_system(make_user, monkeypatch):
    make_user("employee", username="alice")
    answers = iter(["Cli-chosen-2026!", "Cli-chosen-2026!"])
    monkeypatch.setattr("getpass.getpass", lambda *a, **k: next(answers))
    call_command("changepassword", "alice")
    (entry,) = entries("account.password_set")
    assert entry.details["who"] == "system" and entry.details["door"] == "command"
    assert entry.actor_id is None


@pytest.mark.django_db
def test_making_a_password_unusable_is_recorded(make_user):
    """A reset to "no password" (SSO only) is a password change too."""
    user = make_user("employee", username="alice")
    user.set_unusable_password()
    user.save()
    (entry,) = entries("account.password_set")
    assert entry.details["usable"] is False
