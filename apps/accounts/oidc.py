"""OpenID Connect single sign-on (mozilla-django-oidc), on when CRISISCOMM_OIDC_ISSUER is set.

The backend finds the account by its link to the provider's `iss` + `sub` (made at the first
sign-on, see services.sso_login), updates it from the verified claims and maps the identity
provider's groups to our roles at every login (services.user_sync_from_sso). The views are
mounted always and answer 404 while no identity provider is configured.
"""

import logging
import time

import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .services import SSORefused, sso_login

log = logging.getLogger(__name__)

# Seconds of clock difference tolerated between us and the identity provider.
CLOCK_LEEWAY = 120


def claim_at(claims, path: str):
    """A claim by name, or by dotted path for nested ones (Keycloak's "realm_access.roles")."""
    if path in claims:
        return claims[path]
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class RoleMappingOIDCBackend(OIDCAuthenticationBackend):
    def authenticate(self, request, **kwargs):
        """A forged, expired or foreign token, or an unreachable provider, is a failed login
        (back to the login page), never a server error."""
        try:
            return super().authenticate(request, **kwargs)
        except SSORefused as exc:
            # Said on the login page and in the account.login_failed entry (events.py).
            if request is not None:
                request.crisiscomm_login_refusal = exc.message
            log.warning("single sign-on refused: %s", exc.message)
            return None
        except (SuspiciousOperation, requests.RequestException) as exc:
            log.warning("single sign-on refused: %s", exc)
            return None

    def verify_token(self, token, **kwargs):
        """The library checks the signature and the nonce; we also check issuer, audience and
        expiry, so that a token minted for another client or long ago is refused."""
        payload = super().verify_token(token, **kwargs)
        issuer = getattr(settings, "OIDC_OP_ISSUER", "")
        if issuer and payload.get("iss", "").rstrip("/") != issuer.rstrip("/"):
            raise SuspiciousOperation("id_token issuer mismatch")
        audience = payload.get("aud")
        audience = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audience:
            raise SuspiciousOperation("id_token audience mismatch")
        exp = payload.get("exp")
        if not isinstance(exp, int | float) or exp < time.time() - CLOCK_LEEWAY:
            raise SuspiciousOperation("id_token expired")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """Claims from the userinfo endpoint over those of the id_token: Azure AD puts groups and
        roles only in the token, Keycloak in both."""
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") and payload.get("sub") and userinfo["sub"] != payload["sub"]:
            raise SuspiciousOperation("userinfo subject differs from the id_token's")
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token, id_token, payload):
        """The linked account (iss + sub), never a match on the email claim alone."""
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SuspiciousOperation("Claims verification failed")
        return sso_login(
            claims=claims,
            issuer=getattr(settings, "OIDC_OP_ISSUER", ""),
            idp_groups=claim_at(claims, settings.OIDC_GROUPS_CLAIM) or [],
            group_role_map=settings.OIDC_GROUP_ROLE_MAP,
        )


class _OnlyWhenConfigured:
    def dispatch(self, request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return super().dispatch(request, *args, **kwargs)


class SSOStartView(_OnlyWhenConfigured, OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/ → redirect to the identity provider with state and nonce."""


class SSOCallbackView(_OnlyWhenConfigured, OIDCAuthenticationCallbackView):
    """GET /oidc/callback/?code&state → log in, or back to the login page marked as failed."""

    @property
    def failure_url(self):
        return reverse("login") + "?sso=failed"

    def login_failure(self):
        log.warning("single sign-on failed for a callback from the identity provider")
        refusal = getattr(self.request, "crisiscomm_login_refusal", "")
        if refusal:
            messages.error(self.request, refusal)
        return super().login_failure()
