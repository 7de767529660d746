"""Single sign-on against a real OpenID Connect provider stub on 127.0.0.1: the full
authorization-code flow through mozilla-django-oidc, with group → role mapping."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.roles import user_roles
from apps.audit.models import AuditEntry
from tests.accounts.oidc_provider import OIDCProvider, _rsa_key

User = get_user_model()

GROUP_ROLE_MAP = {
    "/crisis/dco": "dco",
    "comms-experts": "expert",
    "internal-audit": "auditor;employee",
}


@pytest.fixture
def idp(settings):
    with OIDCProvider() as provider:
        e = provider.endpoints
        settings.OIDC_ENABLED = True
        settings.AUTHENTICATION_BACKENDS = [
            "apps.accounts.backends.LockoutBackend",
            "apps.accounts.oidc.RoleMappingOIDCBackend",
            "django.contrib.auth.backends.ModelBackend",
        ]
        settings.OIDC_OP_ISSUER = provider.issuer
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = e["authorization"]
        settings.OIDC_OP_TOKEN_ENDPOINT = e["token"]
        settings.OIDC_OP_USER_ENDPOINT = e["userinfo"]
        settings.OIDC_OP_JWKS_ENDPOINT = e["jwks"]
        settings.OIDC_RP_CLIENT_ID = provider.client_id
        settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
        settings.OIDC_RP_SIGN_ALGO = "RS256"
        settings.OIDC_GROUPS_CLAIM = "groups"
        settings.OIDC_GROUP_ROLE_MAP = GROUP_ROLE_MAP
        provider.user_claims = {
            "sub": "f3b1c0de-0001",
            "email": "Marie.Curie@agency.example",
            "email_verified": True,
            "given_name": "Marie",
            "family_name": "Curie",
            "preferred_username": "mcurie",
            "groups": ["/crisis/dco", "comms-experts", "football-club"],
        }
        yield provider


def sso_login(client, provider):
    """Browser steps: our /oidc/authenticate/ → the provider's login → back to our callback."""
    start = client.get("/oidc/authenticate/?next=/inbox/")
    assert start.status_code == 302
    location = start["Location"]
    assert location.startswith(provider.endpoints["authorization"])
    params = parse_qs(urlparse(location).query)
    assert params["state"] and params["nonce"] and params["client_id"] == [provider.client_id]
    at_idp = requests.get(location, allow_redirects=False, timeout=5)
    assert at_idp.status_code == 302
    back = urlparse(at_idp.headers["Location"])
    assert back.path == "/oidc/callback/"
    return client.get(f"{back.path}?{back.query}")


@pytest.mark.django_db
def test_first_login_creates_the_user_with_mapped_roles(idp):
    client = Client()
    done = sso_login(client, idp)
    assert done.status_code == 302 and done["Location"] == "/inbox/"
    user = User.objects.get(email="marie.curie@agency.example")
    assert (user.username, user.first_name, user.last_name) == (
        "marie.curie@agency.example",
        "Marie",
        "Curie",
    )
    assert user_roles(user) == {"dco", "expert"}
    assert user.is_staff and not user.is_superuser  # the dco role opens the admin
    assert not user.has_usable_password()
    me = client.get("/api/v1/users/me/")  # the session is a real login
    assert me.status_code == 200
    assert me.json()["roles"] == ["dco", "expert"]
    entry = AuditEntry.objects.get(action="account.sso_login")
    assert entry.actor_id == user.pk
    assert entry.details["created"] is True and entry.details["roles_added"] == ["dco", "expert"]
    # The provider saw the whole flow, keys fetched from its JWKS.
    assert any(r.endswith("/certs") for r in idp.requests)
    assert any(r.endswith("/userinfo") for r in idp.requests)


@pytest.mark.django_db
def test_each_login_sets_mapped_roles_and_keeps_unmapped_ones(idp, make_user):
    existing = make_user("spokesperson", "expert", username="mcurie-old", email="marie.curie@agency.example")
    assert sso_login(Client(), idp).status_code == 302
    existing.refresh_from_db()
    assert user_roles(existing) == {"spokesperson", "expert", "dco"}
    assert existing.username == "mcurie-old"  # matched on email, not duplicated
    assert User.objects.filter(email__iexact="marie.curie@agency.example").count() == 1

    # Next login: out of the DCO group, into audit. dco and expert go; spokesperson (no mapping
    # grants it, so the identity provider does not decide it) stays.
    idp.user_claims["groups"] = ["internal-audit"]
    assert sso_login(Client(), idp).status_code == 302
    fresh = User.objects.get(pk=existing.pk)
    assert user_roles(fresh) == {"spokesperson", "auditor", "employee"}
    assert not fresh.is_staff
    last = AuditEntry.objects.filter(action="account.sso_login").order_by("-sequence").first()
    assert last.details["roles_removed"] == ["dco", "expert"]
    assert last.details["roles_added"] == ["auditor", "employee"]


@pytest.mark.django_db
def test_token_signed_with_an_unknown_key_is_refused(idp):
    idp.rogue_key = _rsa_key()
    client = Client()
    done = sso_login(client, idp)
    assert done.status_code == 302 and done["Location"] == "/login/?sso=failed"
    assert not User.objects.filter(email__iexact="marie.curie@agency.example").exists()
    assert client.get("/api/v1/users/me/").status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override",
    [
        {"aud": "another-client"},
        {"exp": 1_000_000},
        {"iss": "http://127.0.0.1:9/evil"},
        {"nonce": "replayed"},
    ],
    ids=["audience", "expired", "issuer", "nonce"],
)
def test_token_for_another_client_expired_or_foreign_is_refused(idp, override):
    idp.token_overrides = override
    done = sso_login(Client(), idp)
    assert done["Location"] == "/login/?sso=failed"
    assert not User.objects.filter(email__iexact="marie.curie@agency.example").exists()


@pytest.mark.django_db
def test_deactivated_staff_cannot_sign_in(idp, make_user):
    make_user("dco", username="gone", email="marie.curie@agency.example", is_active=False)
    assert sso_login(Client(), idp)["Location"] == "/login/?sso=failed"


@pytest.mark.django_db
def test_groups_claim_may_be_nested_and_given_in_the_token_only(idp, settings):
    # Keycloak realm roles: {"realm_access": {"roles": [...]}}, only in the id_token.
    settings.OIDC_GROUPS_CLAIM = "realm_access.roles"
    idp.user_claims.pop("groups")
    idp.token_overrides = {"realm_access": {"roles": ["comms-experts"]}}
    assert sso_login(Client(), idp).status_code == 302
    assert user_roles(User.objects.get(email="marie.curie@agency.example")) == {"expert"}


@pytest.mark.django_db
def test_sso_routes_answer_404_when_not_configured(settings):
    settings.OIDC_ENABLED = False
    assert Client().get("/oidc/authenticate/").status_code == 404
    assert Client().get("/oidc/callback/?code=x&state=y").status_code == 404


# --------------------------------------------------------------------------- iss + sub links


@pytest.mark.django_db
def test_later_logins_match_on_the_issuer_and_subject_link_only(idp, make_user):
    """Mutation: sso_login's lookup of the SSOIdentity link removed (back to matching on email)
    -> the changed email claim makes a second account -> this test fails."""
    from apps.accounts.models import SSOIdentity

    assert sso_login(Client(), idp).status_code == 302
    marie = User.objects.get(email="marie.curie@agency.example")
    link = SSOIdentity.objects.get(user=marie)
    assert (link.issuer, link.subject) == (idp.issuer.rstrip("/"), "f3b1c0de-0001")
    # The provider now sends another email (renamed in the directory): same account.
    idp.user_claims["email"] = "marie.sklodowska@agency.example"
    assert sso_login(Client(), idp).status_code == 302
    marie.refresh_from_db()
    assert marie.email == "marie.sklodowska@agency.example"
    assert User.objects.count() == 1
    # Another subject claiming Marie's (new) email, verified: not Marie's account, whose link exists.
    idp.user_claims["sub"] = "intruder-0002"
    assert sso_login(Client(), idp)["Location"] == "/login/?sso=failed"
    assert SSOIdentity.objects.filter(user=marie).count() == 1


@pytest.mark.django_db
def test_unverified_email_never_links_an_existing_account(idp, make_user):
    """The takeover of issue 10: an unverified email claim matched an existing account.

    Mutation: the `email_verified` test removed from services.sso_login -> the account is linked
    and the intruder signed in -> this test fails."""
    from apps.accounts.models import SSOIdentity

    victim = make_user("employee", username="victim", email="marie.curie@agency.example")
    idp.user_claims["email_verified"] = False
    idp.user_claims["groups"] = []
    client = Client()
    done = sso_login(client, idp)
    assert done["Location"] == "/login/?sso=failed"
    assert client.get("/api/v1/users/me/").status_code in (401, 403)
    assert not SSOIdentity.objects.filter(user=victim).exists()
    failed = AuditEntry.objects.get(action="account.login_failed")
    assert failed.details["door"] == "sso" and "not verified" in failed.details["reason"]
    # The login page says why.
    page = client.get(done["Location"]).content.decode()
    assert "not verified" in page


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["superuser", "admin", "dco"])
def test_administrative_accounts_are_never_linked_by_email(idp, make_user, kind):
    """Mutation: the superuser/admin/dco test removed from services.sso_login -> the verified
    email links the account -> this test fails."""
    from apps.accounts.models import SSOIdentity

    if kind == "superuser":
        target = make_user("employee", username="root", email="marie.curie@agency.example", is_superuser=True)
    else:
        target = make_user(kind, username="officer", email="marie.curie@agency.example")
    idp.user_claims["groups"] = []
    done = sso_login(Client(), idp)
    assert done["Location"] == "/login/?sso=failed"
    assert not SSOIdentity.objects.filter(user=target).exists()
    assert (
        "user administrator must link"
        in AuditEntry.objects.get(action="account.login_failed").details["reason"]
    )
    # Linked by a user administrator (the admin's inline), the same sign-on then works.
    SSOIdentity.objects.create(user=target, issuer=idp.issuer.rstrip("/"), subject="f3b1c0de-0001")
    assert sso_login(Client(), idp)["Location"] == "/inbox/"


@pytest.mark.django_db
def test_group_mapping_never_combines_admin_and_dco(idp, settings, make_user):
    """Mutation: the combines_exclusive_roles test removed from services.user_sync_from_sso ->
    the m2m guard raises a ValidationError instead: a 500, not a refused sign-on -> fails."""
    settings.OIDC_GROUP_ROLE_MAP = {**GROUP_ROLE_MAP, "user-admins": "admin"}
    idp.user_claims["groups"] = ["/crisis/dco", "user-admins"]
    client = Client()
    done = sso_login(client, idp)
    assert done["Location"] == "/login/?sso=failed"
    assert "same person" in client.get(done["Location"]).content.decode()
    assert not User.objects.filter(groups__name="admin").filter(groups__name="dco").exists()


@pytest.mark.django_db
def test_sso_login_and_roles_change_are_on_the_record(idp):
    client = Client()
    assert sso_login(client, idp).status_code == 302
    login = AuditEntry.objects.get(action="account.login")
    assert login.details["door"] == "sso" and login.details["whom"] == "marie.curie@agency.example"
    change = AuditEntry.objects.get(action="account.roles_change")
    assert change.details["after"] == ["dco", "expert"] and change.details["door"] == "sso"
