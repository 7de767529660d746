"""Which URLs the watch may read: the outbound rules of the rest of the service, and the URL
shape each kind of account needs."""

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from apps.core.outbound import OutboundRefused, validate_url

from .models import WatchKind

MASTODON_PATH = re.compile(r"^/@(?P<user>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)/?$")
# A handle (a domain name) or a DID.
BLUESKY_PATH = re.compile(
    r"^/profile/(?P<actor>did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/?$"
)


def outbound_refusal(url: str) -> str | None:
    """Why the service must not call this URL (None when it may): the service's one outbound rule
    (apps.core.outbound: no loopback, private or link-local target unless CRISISCOMM_OUTBOUND_ALLOW)."""
    try:
        validate_url(url, field="url")
    except OutboundRefused as exc:
        return exc.message
    return None


def shape_error(kind: str, url: str) -> str | None:
    """Why `url` cannot be read as an account of `kind` (None when it can)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("A full http(s) address is required.")
    if kind == WatchKind.MASTODON and not MASTODON_PATH.match(parts.path):
        return _("A Mastodon account is read from its profile address, https://instance/@name.")
    if kind == WatchKind.BLUESKY and not BLUESKY_PATH.match(parts.path):
        return _("A Bluesky account is read from its profile address, https://bsky.app/profile/handle.")
    if kind in (WatchKind.MASTODON, WatchKind.BLUESKY) and (parts.query or parts.fragment):
        return _("A profile address has no query or fragment.")
    return None


def mastodon_parts(url: str) -> tuple[str, str]:
    """(instance base URL, acct) of a Mastodon profile URL."""
    parts = urlsplit(url)
    user = MASTODON_PATH.match(parts.path).group("user")
    return f"{parts.scheme}://{parts.netloc}", user


def bluesky_actor(url: str) -> str:
    return BLUESKY_PATH.match(urlsplit(url).path).group("actor")
