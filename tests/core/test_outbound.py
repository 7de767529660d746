"""apps.core.outbound: which targets are refused, when, and that the connection goes where the
check looked (real HTTP servers on 127.x, a scripted resolver standing in for DNS)."""

import pytest
import requests

from apps.core import outbound
from apps.core.outbound import OutboundRefused

from .servers import LoopbackServer, self_signed_tls

pytestmark = pytest.mark.usefixtures("no_outbound_allow")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://127.1.2.3/", "loopback"),
        ("http://localhost:8000/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
        ("http://[::1]/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.10/", "private"),
        ("http://100.64.0.1/", "private"),  # carrier-grade NAT
        ("http://[fd00::1]/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_targets_are_refused_naming_the_field(url, kind):
    """Mutation: refused_kind's IPv4-inside-IPv6 branch removed -> the mapped (kind reported as
    "private", not "loopback"), 6to4 and NAT64 cases fail; each _KINDS entry removed -> its row
    fails (reported under another kind, or accepted)."""
    with pytest.raises(OutboundRefused) as refused:
        outbound.validate_url(url, field="config.base_url")
    assert refused.value.field == "config.base_url"
    assert refused.value.status_code == 400
    assert f" a {kind} address" in refused.value.message


@pytest.mark.parametrize("url", ["ftp://example.org/", "javascript:alert(1)", "http://", "not a url", ""])
def test_only_http_urls_are_targets(url):
    with pytest.raises(OutboundRefused) as refused:
        outbound.validate_url(url, field="url")
    assert refused.value.field == "url"


def test_public_addresses_pass():
    # Checked, never contacted.
    assert outbound.validate_url("https://93.184.216.34/hook", field="url") == "https://93.184.216.34/hook"
    assert outbound.validate_url("http://[2606:4700::1111]/", field="url")


def test_a_name_with_any_private_address_is_refused(scripted_dns):
    """A name answering a public and a private address is refused (the connection could be
    pinned to either)."""
    scripted_dns.DNS_SCRIPT.append(["93.184.216.34", "10.0.0.7"])
    with pytest.raises(OutboundRefused, match=r"10\.0\.0\.7, a private address"):
        outbound.validate_url("https://hooks.example/x", field="url")


def test_an_unresolvable_name_is_accepted_when_configured_and_refused_retryable_at_send(scripted_dns):
    """Nothing is reached through a name that does not resolve; the send-time check refuses it
    (retryable: DNS may come back)."""
    assert outbound.validate_url("https://nowhere.example/x", field="config.url")
    with pytest.raises(OutboundRefused) as refused:
        outbound.request("POST", "https://nowhere.example/x", field="config.url", timeout=5)
    assert refused.value.field == "config.url"
    assert refused.value.retryable is True
    assert "does not resolve" in refused.value.message


def test_the_allow_list_takes_addresses_cidrs_and_names(settings):
    """Mutation: the allow-list test in check_host removed -> this test fails."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1, 10.20.0.0/16, LocalHost"
    assert outbound.validate_url("http://127.0.0.1:9/", field="url")
    assert outbound.validate_url("http://[::ffff:127.0.0.1]:9/", field="url")
    assert outbound.validate_url("http://10.20.3.4/", field="url")
    assert outbound.validate_url("http://localhost:9/", field="url")
    with pytest.raises(OutboundRefused):
        outbound.validate_url("http://10.21.0.1/", field="url")
    with pytest.raises(OutboundRefused):
        outbound.validate_url("http://127.0.0.2/", field="url")


@pytest.fixture
def loopback_server():
    server = LoopbackServer("127.0.0.1")
    yield server
    server.stop()


def test_send_time_check_refuses_before_any_connection(loopback_server):
    """Mutation: PinnedAdapter.send without its check_host call -> the server receives the
    request and this test fails."""
    with pytest.raises(OutboundRefused) as refused:
        outbound.request("POST", f"http://127.0.0.1:{loopback_server.port}/hook", field="url", json={})
    assert "loopback" in refused.value.message
    assert loopback_server.received == []


def test_allowed_target_is_reached_with_its_host_header(settings, loopback_server):
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    url = f"http://localhost:{loopback_server.port}/hook?x=1"
    response = outbound.request("POST", url, json={"a": 1}, timeout=5)
    assert response.status_code == 200
    assert response.url == url
    [got] = loopback_server.received
    assert got["path"] == "/hook?x=1"
    assert got["headers"]["Host"] == f"localhost:{loopback_server.port}"
    assert got["body"] == b'{"a": 1}'


def test_redirects_are_not_followed(settings):
    """Mutation: allow_redirects=False removed from OutboundSession.request and .send -> the
    second server receives the redirected request and this test fails."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    inner = LoopbackServer("127.0.0.1")
    outer = LoopbackServer("127.0.0.1", status=302, location=f"http://127.0.0.1:{inner.port}/admin")
    try:
        with outbound.session() as http:
            response = http.get(f"http://127.0.0.1:{outer.port}/", timeout=5)
        assert response.status_code == 302
        assert len(outer.received) == 1
        assert inner.received == []
    finally:
        inner.stop()
        outer.stop()


def test_no_proxy_from_the_environment(settings, monkeypatch, loopback_server):
    """A proxy would resolve the name itself, past the check: the environment's proxy is ignored.

    Mutation: trust_env=False removed from OutboundSession and PinnedAdapter passing on `proxies`
    -> the request goes to the dead proxy and this test fails."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    dead = LoopbackServer("127.0.0.1")
    dead.stop()  # a proxy address where nobody listens
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead.port}")
    monkeypatch.setenv("NO_PROXY", "")
    assert outbound.request("GET", f"http://127.0.0.1:{loopback_server.port}/", timeout=5).status_code == 200


@pytest.fixture
def twin_servers():
    """The public-looking target on 127.0.0.2 (allowed) and an 'internal' one on 127.0.0.3, same
    port: a rebinding that reaches the wrong address is seen in .received."""
    public = LoopbackServer("127.0.0.2")
    internal = LoopbackServer("127.0.0.3", public.port)
    yield public, internal
    public.stop()
    internal.stop()


def test_dns_rebinding_after_the_check_is_refused_at_send(settings, scripted_dns, twin_servers):
    """The name passed the check when configured; it now resolves to a forbidden address.

    Mutation: PinnedAdapter.send trusting the configuration-time check (no check_host) -> the
    internal server receives the request and this test fails."""
    public, internal = twin_servers
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
    url = f"http://rebind.example:{public.port}/hook"
    scripted_dns.DNS_SCRIPT.append(["127.0.0.2"])
    outbound.validate_url(url, field="config.url")
    scripted_dns.DNS_SCRIPT[:] = [["127.0.0.3"]]
    with pytest.raises(OutboundRefused) as refused:
        outbound.request("POST", url, field="config.url", json={}, timeout=5)
    assert refused.value.field == "config.url"
    assert internal.received == [] and public.received == []


def test_dns_rebinding_between_check_and_connect_cannot_reach_the_private_address(
    settings, scripted_dns, twin_servers
):
    """One send: the first lookup (the check) answers the allowed address, every later lookup the
    forbidden one. The connection goes to the checked address, under the original Host.

    Mutation: PinnedAdapter.send passing on the URL with its host name (connect-time lookup)
    instead of the checked address -> the request reaches 127.0.0.3 (or fails) and this test
    fails."""
    public, internal = twin_servers
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
    scripted_dns.DNS_SCRIPT[:] = [["127.0.0.2"], ["127.0.0.3"]]
    response = outbound.request("POST", f"http://rebind.example:{public.port}/hook", json={}, timeout=5)
    assert response.status_code == 200
    assert internal.received == []
    [got] = public.received
    assert got["headers"]["Host"] == f"rebind.example:{public.port}"
    assert scripted_dns.DNS_QUERIES == ["rebind.example"]


def test_https_to_the_pinned_address_keeps_sni_and_certificate_check(settings, scripted_dns, tmp_path):
    """TLS to the checked address: the server name sent (SNI) and the certificate checked are
    the host name's, not the address's.

    Mutation: build_connection_pool_key_attributes without server_hostname/assert_hostname -> the
    certificate check fails (the certificate names tls.example, not 127.0.0.2)."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
    context, ca_file = self_signed_tls("tls.example", tmp_path)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = LoopbackServer("127.0.0.2", tls=context)
    try:
        scripted_dns.DNS_SCRIPT.append(["127.0.0.2"])
        response = outbound.request("GET", f"https://tls.example:{server.port}/x", verify=ca_file, timeout=5)
        assert response.status_code == 200
        assert names == ["tls.example"]
        # A certificate for another name is still refused.
        scripted_dns.DNS_SCRIPT[:] = [["127.0.0.2"]]
        with pytest.raises(requests.exceptions.SSLError):
            outbound.request("GET", f"https://other.example:{server.port}/x", verify=ca_file, timeout=5)
    finally:
        server.stop()


def test_safe_http_url_keeps_only_http_links():
    """Mutation: safe_http_url returning its input -> this test fails."""
    assert outbound.safe_http_url("https://social.example/@a/1") == "https://social.example/@a/1"
    assert outbound.safe_http_url("javascript:alert(1)") == ""
    assert outbound.safe_http_url("JaVaScRiPt:alert(1)") == ""
    assert outbound.safe_http_url("data:text/html,x") == ""
    assert outbound.safe_http_url("//evil.example/x") == ""
    assert outbound.safe_http_url(None) == ""


def test_ipv6_targets_are_judged_and_reached_by_address(settings):
    """::1 is refused like 127.0.0.1; allowed, the request reaches it ([::1] in the URL, the
    name in the Host header)."""
    server = LoopbackServer("::1")
    try:
        with pytest.raises(OutboundRefused, match="loopback"):
            outbound.request("GET", f"http://[::1]:{server.port}/", timeout=5)
        assert server.received == []
        settings.CRISISCOMM_OUTBOUND_ALLOW = "::1"
        assert outbound.request("GET", f"http://[::1]:{server.port}/v6", timeout=5).status_code == 200
        assert [r["path"] for r in server.received] == ["/v6"]
        assert server.received[0]["headers"]["Host"] == f"[::1]:{server.port}"
    finally:
        server.stop()


def test_a_stuck_dns_server_does_not_hold_the_send(settings, scripted_dns):
    """The resolver answers after 3 s; the check gives up after CRISISCOMM_OUTBOUND_DNS_TIMEOUT
    (refused, retryable: DNS may answer later).

    Mutation: _resolve_bounded waiting for the resolver without a timeout -> the send waits the
    3 s and this test fails."""
    import time

    settings.CRISISCOMM_OUTBOUND_DNS_TIMEOUT = 0.3
    # A forbidden address: even a late answer sends nothing anywhere.
    scripted_dns.DNS_SCRIPT.append(["127.0.0.9"])
    scripted_dns.DNS_DELAY[0] = 3.0
    started = time.monotonic()
    with pytest.raises(OutboundRefused) as refused:
        outbound.request("POST", "https://slow-dns.example/hook", timeout=5)
    assert time.monotonic() - started < 1.5
    assert refused.value.retryable is True  # no answer yet (a late loopback answer is not retryable)
