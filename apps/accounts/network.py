"""The client's address, read through the configured number of trusted reverse proxies.

With `CRISISCOMM_TRUSTED_PROXIES = 0` (the default) it is the socket's peer (REMOTE_ADDR) and
X-Forwarded-For is ignored: a client could write anything there. With N trusted proxies, each
of them appended the address it received from, so the client is the N-th entry from the right.
"""

import ipaddress

from django.conf import settings


def _valid(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return ""


def client_address(request) -> str:
    meta = getattr(request, "META", {}) or {}
    remote = _valid(str(meta.get("REMOTE_ADDR", "")))
    trusted = int(getattr(settings, "CRISISCOMM_TRUSTED_PROXIES", 0) or 0)
    if trusted <= 0:
        return remote
    forwarded = [part for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    if not forwarded:
        return remote
    # Fewer entries than trusted proxies: the leftmost is the farthest any proxy vouches for.
    candidate = forwarded[-trusted] if len(forwarded) >= trusted else forwarded[0]
    return _valid(candidate) or remote


def axes_client_ip(request):
    """AXES_CLIENT_IP_CALLABLE: one lockout counter per (account, client address)."""
    return client_address(request) or None


def axes_username(request, credentials):
    """AXES_USERNAME_CALLABLE: the username as typed, whatever the door sent it as."""
    source = credentials if credentials else getattr(request, "data", None) or request.POST
    try:
        value = source.get("username")
    except AttributeError:  # a JSON body that is not an object
        value = None
    return str(value)[:150] if value is not None else None
