"""The publisher's sends: the outbound check at the moment the connection is opened (DNS may have
changed since the account was configured), and what is kept of a network's answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.posts.models import PostStatus, SocialAccount
from apps.posts.services import SendOutcome, post_send, posts_claim_due
from tests.posts.factories import PostFactory

from .servers import LoopbackServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_outbound_allow")]


def _claimed(account):
    post = PostFactory(account=account, scheduled_at=timezone.now() - timedelta(seconds=1))
    assert posts_claim_due() == [post.pk]
    return post


def _mastodon(base_url):
    return SocialAccount.objects.create(
        network="mastodon",
        handle="@agency",
        connector="mastodon",
        config={"base_url": base_url, "access_token": "t"},
    )


def test_a_status_url_that_is_not_http_is_not_kept(settings):
    """Mutation: post_send storing result.external_url without outbound.safe_http_url -> the
    javascript: URL is kept and this test fails."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    server = LoopbackServer("127.0.0.1", body={"id": "109", "url": "javascript:alert(document.cookie)"})
    try:
        post = _claimed(_mastodon(f"http://127.0.0.1:{server.port}"))
        assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
        post.refresh_from_db()
        assert (post.status, post.external_id, post.external_url) == (PostStatus.PUBLISHED, "109", "")
    finally:
        server.stop()


@pytest.fixture
def twin_servers():
    """The target on 127.0.0.2 (allowed) and an 'internal' server on 127.0.0.3, same port."""
    public = LoopbackServer("127.0.0.2", body={"id": "1", "url": "https://social.example/@agency/1"})
    internal = LoopbackServer("127.0.0.3", public.port)
    yield public, internal
    public.stop()
    internal.stop()


def test_a_send_to_a_loopback_target_is_refused_and_not_retried():
    """An account stored before the rule (or written around the services) points at loopback.

    Mutation: open_connection without the outbound judgement -> the loopback server receives
    the post and this test fails."""
    server = LoopbackServer("127.0.0.1")
    try:
        post = _claimed(_mastodon(f"http://127.0.0.1:{server.port}"))
        assert post_send(post_id=post.pk) == SendOutcome.FAILED
        post.refresh_from_db()
        assert post.status == PostStatus.FAILED and post.attempts == 1
        assert "loopback" in post.last_error
        assert server.received == []
    finally:
        server.stop()


def test_a_name_that_now_resolves_privately_is_refused_at_send(settings, scripted_dns, twin_servers):
    """Configured while it resolved to an allowed address; it now resolves to a forbidden one.

    Mutation: open_connection without the outbound judgement -> the internal server receives
    the post and this test fails."""
    public, internal = twin_servers
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
    account = _mastodon(f"http://social.example:{public.port}")
    scripted_dns.DNS_SCRIPT.append(["127.0.0.3"])
    post = _claimed(account)
    assert post_send(post_id=post.pk) == SendOutcome.FAILED
    post.refresh_from_db()
    assert "127.0.0.3" in post.last_error
    assert internal.received == [] and public.received == []


def test_the_connection_goes_to_the_judged_address(settings, scripted_dns, twin_servers):
    """A rebinding resolver: the first answer is the allowed address, any later one the internal
    server. The post reaches the allowed address, under the account's host name.

    Mutation: open_connection connecting by host name after the judgement (a second lookup) ->
    the internal server receives the post and this test fails."""
    public, internal = twin_servers
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
    post = _claimed(_mastodon(f"http://social.example:{public.port}"))
    scripted_dns.DNS_SCRIPT[:] = [["127.0.0.2"], ["127.0.0.3"]]
    assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
    assert [r["path"] for r in public.received] == ["/api/v1/statuses"]
    assert public.received[0]["headers"]["Host"] == f"social.example:{public.port}"
    assert internal.received == []
    assert scripted_dns.DNS_QUERIES == ["social.example"]


def test_a_remote_reply_reaches_the_dco_but_not_the_audit_trail(settings, api, dco, auditor):
    """The reply of a refusing network (which may echo anything back) is in the post's error for
    the DCO; the trail, read by auditors, keeps the status only.

    Mutation: _record_failure writing post.last_error whole into the post.fail entry -> the
    auditor reads the reply through the audit API and this test fails."""
    from apps.audit.models import AuditEntry

    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    server = LoopbackServer("127.0.0.1", status=403, body={"error": "ECHOED-INTERNAL-DETAIL"})
    try:
        post = _claimed(_mastodon(f"http://127.0.0.1:{server.port}"))
        assert post_send(post_id=post.pk) == SendOutcome.FAILED
    finally:
        server.stop()
    entry = AuditEntry.objects.get(action="post.fail", object_id=str(post.pk))
    assert entry.details["error"] == "Mastodon: HTTP 403"
    assert "ECHOED-INTERNAL-DETAIL" not in api.as_user(auditor).get("/api/v1/audit/").content.decode()
    assert (
        "ECHOED-INTERNAL-DETAIL" not in api.as_user(auditor).get(f"/api/v1/posts/{post.pk}/").content.decode()
    )
    assert "ECHOED-INTERNAL-DETAIL" in api.as_user(dco).get(f"/api/v1/posts/{post.pk}/").json()["last_error"]


def test_a_connector_reaches_an_allowed_ipv6_target(settings):
    settings.CRISISCOMM_OUTBOUND_ALLOW = "::1"
    server = LoopbackServer("::1", body={"id": "6", "url": "https://social.example/@agency/6"})
    try:
        post = _claimed(_mastodon(f"http://[::1]:{server.port}"))
        assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
        post.refresh_from_db()
        assert post.external_url == "https://social.example/@agency/6"
        assert [r["path"] for r in server.received] == ["/api/v1/statuses"]
    finally:
        server.stop()
