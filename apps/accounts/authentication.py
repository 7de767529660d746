"""API token authentication: knox's tokens (stored hashed, expiring), checked in one query.

knox's own TokenAuthentication loads every token of the caller and deletes the expired ones on
EVERY request (two queries, sometimes a DELETE, even for a valid token): that was most of the cost
of `GET /api/v1/gate/`, which external schedulers poll (issue 13). Here an expired token is refused
exactly as knox refuses it (401 "Invalid token."), without the per-request sweep; expired rows are
deleted when their owner signs in again (delete_expired_tokens) — they are hashed and refused
meanwhile, so leaving them a while costs only disk.
"""

import binascii
import threading
import time
from hmac import compare_digest

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from crisiscomm.precompiled import Precompiled

# The token and its user in one query on the token_key index, compiled once per process.
_TOKENS_BY_KEY = Precompiled(
    lambda key: get_token_model().objects.filter(token_key=key).select_related("user"), "-"
)


def _text_and_digest(token: bytes) -> tuple[str, str]:
    """The header's token as text and its knox digest; a token that is not text: 401."""
    try:
        text = token.decode("utf-8")
        return text, hash_token(text)
    except (UnicodeDecodeError, TypeError, binascii.Error):
        raise exceptions.AuthenticationFailed(_("Invalid token.")) from None


class TokenAuthentication(knox_auth.TokenAuthentication):
    """`Authorization: Token <token>`: the token and its user in one query (token_key index)."""

    def authenticate_credentials(self, token: bytes):
        return self._check(*_text_and_digest(token))

    def _check(self, token: str, digest: str):
        msg = _("Invalid token.")
        now = timezone.now()
        # token_key is only a short lookup prefix: several rows may share it; the digest decides.
        for auth_token in _TOKENS_BY_KEY.fetch(token[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry <= now:
                raise exceptions.AuthenticationFailed(msg)  # expired: refused, as knox does
            if knox_settings.AUTO_REFRESH and auth_token.expiry:
                self.renew_token(auth_token)
            return self.validate_user(auth_token)  # inactive user: 401
        raise exceptions.AuthenticationFailed(msg)


class GateTokenAuthentication(TokenAuthentication):
    """For `GET /api/v1/gate/` only: a token found valid is remembered in this process for
    `CRISISCOMM_GATE_TOKEN_MEMO_SECONDS` (5 s), so most polls cost no query. Its expiry is still
    checked on every poll; a token revoked (deleted, its user deactivated) may read the gate for
    at most those seconds more. Every other endpoint checks the token each time."""

    MEMO_LIMIT = 4096  # tokens remembered at once; past it the memo starts afresh

    _memo: dict = {}
    _memo_lock = threading.Lock()

    def authenticate_credentials(self, token: bytes):
        seconds = settings.CRISISCOMM_GATE_TOKEN_MEMO_SECONDS
        if not seconds:
            return super().authenticate_credentials(token)
        text, digest = _text_and_digest(token)
        remembered = self._memo.get(digest)
        if remembered is not None:
            user, auth_token, until = remembered
            if time.monotonic() < until and (auth_token.expiry is None or auth_token.expiry > timezone.now()):
                return user, auth_token
        user, auth_token = self._check(text, digest)
        with self._memo_lock:
            if len(self._memo) >= self.MEMO_LIMIT:
                self._memo.clear()
            self._memo[digest] = (user, auth_token, time.monotonic() + seconds)
        return user, auth_token


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI schema describes this class as knox's (`knoxApiToken`), as before."""

    target_class = "apps.accounts.authentication.TokenAuthentication"


class GateTokenScheme(TokenScheme):
    """The same token, under its own name (a scheme name belongs to one class)."""

    target_class = "apps.accounts.authentication.GateTokenAuthentication"
    name = "knoxApiTokenGate"


def delete_expired_tokens(user) -> int:
    """Delete `user`'s expired tokens (called at sign-in); returns how many went."""
    deleted, _per_model = get_token_model().objects.filter(user=user, expiry__lte=timezone.now()).delete()
    return deleted


def delete_all_expired_tokens() -> int:
    """Delete every expired token (the nightly beat task): people who never sign in again leave
    none behind. Expired tokens are refused anyway; this only keeps the table small."""
    deleted, _per_model = get_token_model().objects.filter(expiry__lte=timezone.now()).delete()
    return deleted
