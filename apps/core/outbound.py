"""Outbound HTTP to targets that people configure (connector URLs, Mastodon base URLs, team
webhooks, watched accounts): never to the service's own network (SSRF).

Two doors, one rule:
- `validate_url(url, field=…)` when a target is configured: a 400 naming the field when the URL is
  not http(s), its host does not resolve, or any address it resolves to is loopback, private,
  link-local, multicast, reserved or unspecified (IPv4 and IPv6, IPv4 inside IPv6 included),
  unless listed in CRISISCOMM_OUTBOUND_ALLOW (comma-separated host names, addresses or CIDRs).
- `session()` / `request()` when sending: the host is resolved and checked again (DNS may have
  changed since), and the connection goes to the address that was checked, with the original
  Host header and TLS server name, so a DNS answer that changes between the check and the
  connect (rebinding) cannot reach a private address. Redirects are never followed, and no proxy
  from the environment is used (a proxy would resolve the name itself, past the check).

Errors are `OutboundRefused` (a ServiceError: 400 with `field`); `retryable` says whether sending
later may succeed (a name that did not resolve) or the configuration must change.
"""

import functools
import ipaddress
import socket
import threading
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from apps.core.errors import ServiceError

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Why an address is refused, in the words of the error message.
_KINDS = (
    ("is_unspecified", gettext_lazy("unspecified")),
    ("is_loopback", gettext_lazy("loopback")),
    ("is_link_local", gettext_lazy("link-local")),
    ("is_multicast", gettext_lazy("multicast")),
    # Before is_private, which also holds 240.0.0.0/4.
    ("is_reserved", gettext_lazy("reserved")),
    ("is_private", gettext_lazy("private")),
)


class OutboundRefused(ServiceError):
    """A target the service must not (or cannot now) reach."""

    def __init__(self, message, *, field, code="outbound_refused", retryable=False):
        super().__init__(message, field=field, code=code)
        self.retryable = retryable


def refused_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes this address not a public unicast one ("loopback", "private", …), or None."""
    if address.version == 6:
        # IPv4 carried inside IPv6 (mapped ::ffff:a.b.c.d, 6to4, Teredo, NAT64) reaches that IPv4
        # address: judge the IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            kind = refused_kind(embedded)
            if kind:
                return kind
        if address.is_site_local:
            return str(gettext_lazy("private"))
    for attribute, kind in _KINDS:
        if getattr(address, attribute):
            return str(kind)
    if not address.is_global:  # e.g. 100.64.0.0/10, carrier-grade NAT
        return str(gettext_lazy("private"))
    return None


@functools.lru_cache(maxsize=16)
def _parse_allow(raw: str):
    hosts, networks = set(), []
    for item in raw.split(","):
        item = item.strip().lower().rstrip(".")
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            hosts.add(item)
    return frozenset(hosts), tuple(networks)


def _allowed():
    raw = getattr(settings, "CRISISCOMM_OUTBOUND_ALLOW", "") or ""
    if isinstance(raw, list | tuple):
        raw = ",".join(raw)
    return _parse_allow(raw)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (A and AAAA)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@functools.lru_cache(maxsize=4)
def _import_resolver(path: str):
    return import_string(path)


def _resolver():
    # A dotted path to a function like system_resolve: a split-horizon resolver, or the tests'
    # scripted DNS. Empty: the system resolver.
    path = getattr(settings, "CRISISCOMM_OUTBOUND_RESOLVER", "")
    return _import_resolver(path) if path else system_resolve


def _resolve_bounded(host: str, port: int) -> list[str]:
    """The resolver's answer within CRISISCOMM_OUTBOUND_DNS_TIMEOUT seconds (default 5): the
    system resolver cannot be interrupted, so it runs aside and a late answer is not waited for
    (a stuck DNS server must not hold a send, and the locks its caller holds, for ever)."""
    timeout = float(getattr(settings, "CRISISCOMM_OUTBOUND_DNS_TIMEOUT", 5))
    resolve, outcome = _resolver(), {}

    def work():
        try:
            outcome["addresses"] = resolve(host, port)
        except Exception as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True, name=f"resolve {host}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise OSError(f"{host}: no DNS answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["addresses"]


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def _refuse_unresolved(host, field):
    return OutboundRefused(
        _("%(host)s does not resolve to an address.") % {"host": host},
        field=field,
        code="outbound_unresolved",
        retryable=True,
    )


def judge_addresses(host: str, addresses, *, field: str) -> None:
    """Refuse (OutboundRefused naming `field`) unless every address `host` resolved to may be
    reached. For senders that resolve themselves and then connect to exactly these addresses."""
    host = _normalise_host(host)
    addresses = [ipaddress.ip_address(str(a).split("%")[0]) for a in addresses]
    if not addresses:
        raise _refuse_unresolved(host, field)
    allowed_hosts, allowed_networks = _allowed()
    if host in allowed_hosts:
        return
    for address in addresses:
        judged = [address] + ([address.ipv4_mapped] if address.version == 6 and address.ipv4_mapped else [])
        if any(a in network for a in judged for network in allowed_networks if a.version == network.version):
            continue
        kind = refused_kind(address)
        if kind:
            where = (
                _("%(address)s is a %(kind)s address")
                if host == str(address)
                else _("%(host)s resolves to %(address)s, a %(kind)s address")
            )
            reason = where % {"host": host, "address": address, "kind": kind}
            raise OutboundRefused(
                _(
                    "%(reason)s: the service sends only to public addresses (or to those listed in "
                    "CRISISCOMM_OUTBOUND_ALLOW)."
                )
                % {"reason": reason},
                field=field,
            )


def check_host(host: str, port: int, *, field: str) -> str:
    """Resolve host and judge every address; return the address to connect to (the first).

    Raises OutboundRefused naming `field`."""
    return connect_addresses(host, port, field=field)[0][3][0]


def connect_addresses(host: str, port: int, *, field: str) -> list[tuple]:
    """For senders that open their own sockets: resolve host (the configured resolver), judge
    every address, and return them as getaddrinfo-style (family, type, proto, sockaddr) tuples.
    Connecting to exactly these is what pins the connection to what was checked."""
    host = _normalise_host(host)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in _resolve_bounded(host, port)]
        except (OSError, UnicodeError, ValueError):
            raise _refuse_unresolved(host, field) from None
    judge_addresses(host, addresses, field=field)
    return [
        (socket.AF_INET6, socket.SOCK_STREAM, 0, (str(a), port, 0, 0))
        if a.version == 6
        else (socket.AF_INET, socket.SOCK_STREAM, 0, (str(a), port))
        for a in addresses
    ]


def _parse(url, field):
    try:
        parsed = parse_url(str(url))
    except (LocationParseError, ValueError):
        parsed = None
    if parsed is None or (parsed.scheme or "").lower() not in SCHEMES or not parsed.host:
        raise OutboundRefused(_("Enter an http(s) URL."), field=field, code="invalid")
    return parsed


def validate_url(url: str, *, field: str) -> str:
    """Check a configured target URL now; return it unchanged. Raises OutboundRefused (400 naming
    `field`). A name that does not resolve yet is accepted: nothing can be reached through it, and
    the check runs again at each send."""
    parsed = _parse(url, field)
    try:
        check_host(parsed.host, parsed.port or _DEFAULT_PORTS[parsed.scheme.lower()], field=field)
    except OutboundRefused as exc:
        if exc.code != "outbound_unresolved":
            raise
    return url


def safe_http_url(value) -> str:
    """value when it is an http(s) URL, else "": what a remote server answers is shown as a link."""
    value = str(value or "").strip()
    try:
        parsed = urlsplit(value)
    except ValueError:
        return ""
    return value if parsed.scheme.lower() in SCHEMES and parsed.netloc else ""


class PinnedAdapter(HTTPAdapter):
    """A transport that checks the host of each request and connects to the checked address.

    The URL handed to urllib3 names the address; the Host header and, for https, the TLS server
    name and the certificate check keep the original host name."""

    def __init__(self, *, field: str = "url", **kwargs):
        self.field = field
        super().__init__(**kwargs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parsed = _parse(request.url, self.field)
        scheme = parsed.scheme.lower()
        address = check_host(parsed.host, parsed.port or _DEFAULT_PORTS[scheme], field=self.field)
        pinned = request.copy()
        pinned.url = parsed._replace(host=f"[{address}]" if ":" in address else address).url
        if "Host" not in pinned.headers:
            pinned.headers["Host"] = parsed.netloc
        pinned.tls_server_name = _normalise_host(parsed.host)
        # proxies={}: straight to the checked address.
        response = super().send(pinned, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})
        response.url, response.request = request.url, request
        return response

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name = getattr(request, "tls_server_name", "")
        if host_params["scheme"] == "https" and name:
            pool_kwargs["server_hostname"] = name
            if verify:
                pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


class OutboundSession(requests.Session):
    """requests.Session for configured targets: checked, pinned, no redirects, no proxies."""

    def __init__(self, *, field: str = "url"):
        super().__init__()
        self.trust_env = False
        adapter = PinnedAdapter(field=field)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def session(*, field: str = "url") -> OutboundSession:
    return OutboundSession(field=field)


def request(method: str, url: str, *, field: str = "url", **kwargs) -> requests.Response:
    """One request to a configured target (see OutboundSession). Raises OutboundRefused, or
    requests' own exceptions when the far end fails."""
    with OutboundSession(field=field) as http:
        return http.request(method, url, **kwargs)
