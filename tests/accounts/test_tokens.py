"""API tokens (django-rest-knox): the contract `POST /api/v1/auth/token/` {username, password} →
{token, expiry}, then `Authorization: Token …`; stored hashed; expiring; revoked at logout and at
any password change."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS

from apps.audit.models import AuditEntry

PASSWORD = "correct-horse-battery"


def obtain(api, username, password=PASSWORD, **extra):
    return api.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


@pytest.mark.django_db
def test_contract_token_and_expiry_then_token_header(api, make_user, settings):
    make_user("employee", username="alice")
    before = timezone.now()
    resp = obtain(api, "alice")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"token", "expiry"}
    expiry = timezone.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    # CRISISCOMM_TOKEN_TTL_HOURS (12 by default).
    assert timedelta(hours=11, minutes=59) < expiry - before <= timedelta(hours=12, seconds=5)
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get("/api/v1/users/me/").json()["username"] == "alice"


@pytest.mark.django_db
def test_tokens_are_stored_hashed(api, make_user):
    """Nothing stored lets a database reader use the token."""
    make_user("employee", username="alice")
    token = obtain(api, "alice").json()["token"]
    stored = AuthToken.objects.get()
    assert token not in (stored.digest, stored.token_key) and len(stored.digest) == 128
    assert token.startswith(stored.token_key)  # only a short lookup prefix is kept in clear
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        assert token not in str(cursor.fetchall())


@pytest.mark.django_db
def test_an_expired_token_is_refused(api, make_user):
    user = make_user("employee", username="alice")
    token = obtain(api, "alice").json()["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/users/me/").status_code == 401


@pytest.mark.django_db
def test_logout_revokes_this_token_and_logout_all_every_token(api, make_user):
    make_user("employee", username="alice")
    first, second, third = (obtain(api, "alice").json()["token"] for _ in range(3))
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/users/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/v1/users/me/").status_code == 200
    assert api.post("/api/v1/auth/logout-all/").status_code == 204
    for token in (second, third):
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/users/me/").status_code == 401
    logouts = AuditEntry.objects.filter(action="account.logout")
    assert logouts.count() == 2 and {e.details["door"] for e in logouts} == {"token"}


@pytest.mark.django_db
def test_any_password_change_revokes_every_token(api, make_user):
    """Mutation: the AuthToken delete removed from events.on_user_post_save -> the old token
    still works after the password change -> this test fails."""
    user = make_user("employee", username="alice")
    token = obtain(api, "alice").json()["token"]
    user.set_password("a-new-password-2026")
    user.save()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/users/me/").status_code == 401
    entry = AuditEntry.objects.get(action="account.password_set")
    assert entry.details["tokens_revoked"] == 1 and entry.details["whom"] == "alice"
    assert "a-new-password-2026" not in str(entry.details)


@pytest.mark.django_db
def test_a_hash_upgrade_at_login_is_no_password_change(api, make_user, settings):
    """Django rehashes a password with the preferred hasher at login: no revocation, no entry."""
    user = make_user("employee", username="alice")
    token = obtain(api, "alice").json()["token"]
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert obtain(api, "alice").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/users/me/").status_code == 200
    assert not AuditEntry.objects.filter(action="account.password_set").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        [],
        ["alice", "pw"],
        "alice",
        42,
        None,
        {"username": ["alice"], "password": "x"},
        {"username": "a\x00b", "password": "x"},
    ],
    ids=["empty-list", "list", "string", "number", "null", "list-field", "nul-byte"],
)
def test_bodies_of_the_wrong_type_are_400_naming_the_problem(api, body):
    """The 500 of issue 10: a JSON list body on the token endpoint.

    Two guards, each enough alone: the object-only JSON parser (its mutation is checked in
    tests/security/test_hostile_input.py) and the view validating with TokenRequestSerializer
    before reading a field. Mutation: both removed (JSONParser back, the view reading
    request.data.get("username") first) -> 500 -> this test fails."""
    resp = api.post("/api/v1/auth/token/", body, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["detail"]


@pytest.mark.django_db
def test_inactive_users_get_no_token(api, make_user):
    make_user("employee", username="gone", is_active=False)
    assert obtain(api, "gone").status_code == 400


# --- gate helper (issue 13): tokens checked in one query, without knox's per-request sweep -------

KEY = CONSTANTS.TOKEN_KEY_LENGTH  # the clear lookup prefix knox keeps of each token


@pytest.mark.django_db
def test_an_expired_token_is_refused_on_the_gate_too(api, make_user):
    """What a scheduler polls: an expired token gets 401 there as everywhere (the custom
    authentication no longer deletes it on sight, so the refusal rests on the expiry check).
    Mutation: the expiry check removed from TokenAuthentication.authenticate_credentials
    -> 200 -> this test fails."""
    user = make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    resp = api.get("/api/v1/gate/")
    assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers
    assert api.get("/api/v1/users/me/").status_code == 401


def refused_by_the_gate_within(api, seconds) -> bool:
    """The gate remembers a valid token a few seconds per process (GateTokenAuthentication):
    poll until it refuses, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while api.get("/api/v1/gate/").status_code != 401:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.django_db
def test_a_token_of_a_deactivated_user_is_refused(api, make_user, settings):
    """At once everywhere but the gate; on the gate once its memo (here 0.3 s) has passed.
    Mutation: validate_user() bypassed (return (auth_token.user, auth_token)) -> 200 -> fails.
    Mutation: the memo's deadline not checked in GateTokenAuthentication -> the gate keeps
    answering 200 -> fails."""
    settings.CRISISCOMM_GATE_TOKEN_MEMO_SECONDS = 0.3
    user = make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/gate/").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api.get("/api/v1/users/me/").status_code == 401
    assert refused_by_the_gate_within(api, seconds=3)


@pytest.mark.django_db
def test_a_token_sharing_the_lookup_prefix_but_not_the_secret_is_refused(api, make_user):
    """token_key is only the first characters of the token: the rest must match the stored digest.
    Mutation: the compare_digest check removed -> 200 -> this test fails."""
    make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    api.credentials(HTTP_AUTHORIZATION=f"Token {forged}")
    assert api.get("/api/v1/gate/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token \xff\xfe-not-hex")
    assert api.get("/api/v1/gate/").status_code == 401


@pytest.mark.django_db
def test_a_revoked_token_is_refused_on_the_gate(api, make_user, settings):
    """A token signed out is refused at once everywhere, the gate after its memo (0.3 s here);
    a token the gate never saw is refused there at once."""
    settings.CRISISCOMM_GATE_TOKEN_MEMO_SECONDS = 0.3
    make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/gate/").status_code == 200
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/users/me/").status_code == 401
    assert refused_by_the_gate_within(api, seconds=3)
    unseen = obtain(api, "sched").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {unseen}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/gate/").status_code == 401


@pytest.mark.django_db
def test_an_expired_token_is_refused_by_the_gate_at_once_even_when_remembered(api, make_user, settings):
    """The memo keeps the token's expiry and checks it on every poll, however long it would
    remember the token. Mutation: the expiry check on a remembered token removed -> still 200
    after the expiry -> this test fails."""
    settings.CRISISCOMM_GATE_TOKEN_MEMO_SECONDS = 600
    user = make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    expiry = timezone.now() + timedelta(milliseconds=400)
    AuthToken.objects.filter(user=user).update(expiry=expiry)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/gate/").status_code == 200  # remembered, with its expiry
    while timezone.now() <= expiry:  # the token's real end, not a fixed sleep
        time.sleep(0.05)
    assert api.get("/api/v1/gate/").status_code == 401


@pytest.mark.django_db
def test_a_gate_poll_is_two_queries_and_deletes_nothing(api, make_user):
    """A first poll: the token with its user (one query), then the gate (one query); the next
    polls: none (the token memo, the gate's mirror). Knox's sweep of the caller's other tokens
    (a SELECT of all of them, a DELETE per expired one) is gone from the request path; an
    expired sibling token stays until its owner signs in again.
    Mutation: DEFAULT_AUTHENTICATION_CLASSES back to knox.auth.TokenAuthentication -> 3 queries
    and the expired sibling deleted -> this test fails."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = make_user("employee", username="sched")
    token = obtain(api, "sched").json()["token"]
    stale = obtain(api, "sched").json()["token"]
    AuthToken.objects.filter(token_key=stale[:KEY]).update(expiry=timezone.now() - timedelta(hours=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as ctx:
        resp = api.get("/api/v1/gate/")
    assert resp.status_code == 200 and resp.json() == {"open": True, "crisis": None}
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert len(sqls) == 2, sqls
    with CaptureQueriesContext(connection) as again:
        assert api.get("/api/v1/gate/").json() == {"open": True, "crisis": None}
    assert again.captured_queries == []
    assert "knox_authtoken" in sqls[0] and "auth_user" in sqls[0]
    assert not any(s.lstrip().upper().startswith("DELETE") for s in sqls)
    assert AuthToken.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_signing_in_deletes_the_callers_expired_tokens_only(api, make_user):
    """The sweep moved to sign-in. Mutation: delete_expired_tokens() call removed from the token
    view -> the expired row stays -> this test fails."""
    user = make_user("employee", username="sched")
    other = make_user("employee", username="other")
    live = obtain(api, "sched").json()["token"]
    expired = obtain(api, "sched").json()["token"]
    others_expired = obtain(api, "other").json()["token"]
    past = timezone.now() - timedelta(hours=1)
    AuthToken.objects.filter(token_key__in=[expired[:KEY], others_expired[:KEY]]).update(expiry=past)
    assert obtain(api, "sched").status_code == 200
    keys = set(AuthToken.objects.filter(user=user).values_list("token_key", flat=True))
    assert live[:KEY] in keys and expired[:KEY] not in keys and len(keys) == 2
    assert AuthToken.objects.filter(user=other, token_key=others_expired[:KEY]).exists()


@pytest.mark.django_db
def test_each_token_authenticates_its_own_user(api, make_user):
    """The token query is compiled once per process (crisiscomm.precompiled) and run with each
    request's token. Mutation: Precompiled.fetch executing with the sample parameters instead of
    the caller's -> every token refused -> this test fails."""
    make_user("employee", username="alice")
    make_user("employee", username="bob")
    tokens = {name: obtain(api, name).json()["token"] for name in ("alice", "bob", "alice")}
    for name, token in tokens.items():
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/users/me/").json()["username"] == name
        assert api.get("/api/v1/gate/").status_code == 200


@pytest.mark.django_db
def test_the_nightly_sweep_deletes_every_expired_token_and_keeps_the_live_ones(api, make_user):
    """People who never sign in again leave no expired token behind (beat task
    apps.accounts.tasks.sweep_expired_tokens, in CELERY_BEAT_SCHEDULE). Mutation: the sweep's
    `expiry__lte` filter dropped (every token deleted) -> the live token is gone -> this test
    fails."""
    from django.conf import settings

    from apps.accounts.tasks import sweep_expired_tokens

    make_user("employee", username="sched")
    make_user("employee", username="gone")
    live = obtain(api, "sched").json()["token"]
    expired = obtain(api, "gone").json()["token"]
    AuthToken.objects.filter(token_key=expired[:KEY]).update(expiry=timezone.now() - timedelta(days=2))
    assert sweep_expired_tokens.apply().get() == 1
    assert list(AuthToken.objects.values_list("token_key", flat=True)) == [live[:KEY]]
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "apps.accounts.tasks.sweep_expired_tokens" in scheduled
