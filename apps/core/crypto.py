"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet.

Keys come from CRISISCOMM_FIELD_KEYS (comma-separated urlsafe-base64 Fernet keys): the first
encrypts, every one decrypts, so a new key is put first and `rotate_field_keys` re-encrypts every
stored secret with it before the old one is dropped. Unset: one key derived from SECRET_KEY (a
local run needs no setup; `check --deploy` warns).

A stored value is "fernet:" + token; a value without the prefix is plaintext written before
encryption existed (the data migrations and `rotate_field_keys` encrypt it).
"""

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "fernet:"


def derived_key(secret_key: str) -> str:
    digest = hashlib.sha256(b"crisiscomm field key\0" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    keys = [k.strip() for k in (getattr(settings, "CRISISCOMM_FIELD_KEYS", None) or []) if k.strip()]
    return keys or [derived_key(settings.SECRET_KEY)]


@functools.lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CRISISCOMM_FIELD_KEYS: each key must be 32 url-safe base64-encoded bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet_for(tuple(configured_keys()))


def is_sealed(stored) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX)


def seal(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def unseal(stored: str) -> str:
    """The plaintext of a stored value (a value without the prefix is legacy plaintext)."""
    if not is_sealed(stored):
        return stored
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret does not decrypt with any key of CRISISCOMM_FIELD_KEYS: a key that is "
            "still in use was removed."
        ) from None


def sealed_with_first_key(stored) -> bool:
    """Whether the stored value is already encrypted with the current (first) key."""
    if not is_sealed(stored):
        return False
    try:
        Fernet(configured_keys()[0]).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


def reseal(stored: str) -> str:
    """The stored value encrypted with the first key (plaintext is encrypted; a token under an
    older key is rotated)."""
    if not is_sealed(stored):
        return seal(stored)
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()
