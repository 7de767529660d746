"""Connectors: how a post reaches a network. One small interface, a registry keyed by
ConnectorKind. Add a connector: subclass Connector, set `kind`, decorate with @register.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from crisiscomm.api import ServiceError

from .models import ConnectorKind, Network


class ConnectorError(Exception):
    """The network refused or failed. `retryable`: worth trying again later (5xx, 429, timeouts)."""

    def __init__(self, message, *, retryable=True):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class SendResult:
    external_id: str = ""
    external_url: str = ""
    # Manual connector: nothing was sent; this person must publish it and mark it published.
    assignee: object = None


class Connector:
    kind: str = ""
    # Config keys never shown back through the API.
    secret_keys: tuple[str, ...] = ()
    required_keys: tuple[str, ...] = ()
    can_retract = False

    def clean_config(self, config: dict, *, network: str) -> dict:
        if not isinstance(config, dict):
            raise ServiceError(_("The configuration must be an object."), field="config")
        missing = [k for k in self.required_keys if not str(config.get(k) or "").strip()]
        if missing:
            raise ServiceError(
                _("The configuration lacks: %(keys)s.") % {"keys": ", ".join(missing)}, field="config"
            )
        return {k: config[k] for k in self.required_keys}

    def send(self, post) -> SendResult:
        raise NotImplementedError

    def retract(self, post) -> None:
        raise ConnectorError(_("This connector cannot delete a published post."), retryable=False)


_REGISTRY: dict[str, Connector] = {}


def register(cls):
    _REGISTRY[cls.kind] = cls()
    return cls


def get_connector(kind: str) -> Connector:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ServiceError(_("Unknown connector: %(kind)s.") % {"kind": kind}, field="connector") from None


def _timeout():
    """(connect, read) seconds. A send holds the gate lock (shared) for its duration, so this
    also bounds how long a crisis declaration can wait behind an in-flight send."""
    read = float(getattr(settings, "CRISISCOMM_CONNECTOR_TIMEOUT", 10))
    return (min(read, 3.0), read)


def _check_url(value, key):
    parsed = urlparse(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServiceError(_("%(key)s must be an http(s) URL.") % {"key": key}, field="config")


def _raise_for(response, what):
    if 200 <= response.status_code < 300:
        return
    retryable = response.status_code >= 500 or response.status_code in (408, 425, 429)
    raise ConnectorError(f"{what}: HTTP {response.status_code} {response.text[:200]}", retryable=retryable)


def _request(method, url, **kwargs):
    try:
        return requests.request(method, url, timeout=_timeout(), allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise ConnectorError(f"{method} {url}: {exc.__class__.__name__}: {exc}", retryable=True) from exc


@register
class MastodonConnector(Connector):
    """Mastodon's REST API: POST /api/v1/statuses with Idempotency-Key (the server then returns
    the same status for a repeated key), DELETE /api/v1/statuses/:id to retract."""

    kind = ConnectorKind.MASTODON
    secret_keys = ("access_token",)
    required_keys = ("base_url", "access_token")
    can_retract = True

    def clean_config(self, config, *, network):
        if network != Network.MASTODON:
            raise ServiceError(_("The Mastodon connector serves Mastodon accounts only."), field="connector")
        cleaned = super().clean_config(config, network=network)
        _check_url(cleaned["base_url"], "base_url")
        cleaned["base_url"] = str(cleaned["base_url"]).rstrip("/")
        return cleaned

    def _headers(self, post):
        return {"Authorization": f"Bearer {post.account.config.get('access_token', '')}"}

    def send(self, post):
        response = _request(
            "POST",
            f"{post.account.config['base_url']}/api/v1/statuses",
            headers={**self._headers(post), "Idempotency-Key": str(post.idempotency_key)},
            data={"status": post.body, "visibility": "public"},
        )
        _raise_for(response, "Mastodon")
        try:
            status = response.json()
            return SendResult(external_id=str(status["id"]), external_url=str(status.get("url") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError(
                f"Mastodon: unexpected answer {response.text[:200]}", retryable=False
            ) from exc

    def retract(self, post):
        response = _request(
            "DELETE",
            f"{post.account.config['base_url']}/api/v1/statuses/{post.external_id}",
            headers=self._headers(post),
        )
        if response.status_code == 404:  # already gone: the goal is reached
            return
        _raise_for(response, "Mastodon")


def webhook_signature(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


@register
class WebhookConnector(Connector):
    """POST JSON {post_id, account, body, scheduled_at, idempotency_key} to `url`, signed with
    X-Crisiscomm-Signature: sha256=<HMAC-SHA256 of the raw body>. Any 2xx means delivered; a JSON
    answer with `id`/`url` is kept as the external id/URL."""

    kind = ConnectorKind.WEBHOOK
    secret_keys = ("secret",)
    required_keys = ("url", "secret")

    def clean_config(self, config, *, network):
        cleaned = super().clean_config(config, network=network)
        _check_url(cleaned["url"], "url")
        return cleaned

    def send(self, post):
        account = post.account
        raw = json.dumps(
            {
                "post_id": post.pk,
                "account": account.pk,
                "network": account.network,
                "handle": account.handle,
                "body": post.body,
                "scheduled_at": post.scheduled_at.isoformat(),
                "idempotency_key": str(post.idempotency_key),
            }
        ).encode()
        response = _request(
            "POST",
            account.config["url"],
            data=raw,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": str(post.idempotency_key),
                "X-Crisiscomm-Signature": webhook_signature(account.config["secret"], raw),
            },
        )
        _raise_for(response, "Webhook")
        result = SendResult()
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            result.external_id = str(answer.get("id") or "")[:200]
            url = str(answer.get("url") or "")
            result.external_url = url[:500] if url.startswith(("http://", "https://")) else ""
        return result


@register
class ManualConnector(Connector):
    """For networks without API access: the post becomes a to-do for a named person, who
    publishes it by hand and marks it published (POST /api/v1/posts/{id}/mark-published/)."""

    kind = ConnectorKind.MANUAL
    required_keys = ("assignee",)

    def clean_config(self, config, *, network):
        cleaned = super().clean_config(config, network=network)
        if not get_user_model().objects.filter(username=cleaned["assignee"], is_active=True).exists():
            raise ServiceError(
                _("assignee: no active user is named %(name)s.") % {"name": cleaned["assignee"]},
                field="config",
            )
        return cleaned

    def send(self, post):
        user = (
            get_user_model()
            .objects.filter(username=post.account.config.get("assignee"), is_active=True)
            .first()
        )
        if user is None:
            raise ConnectorError("Manual: the assignee is not an active user", retryable=False)
        return SendResult(assignee=user)
