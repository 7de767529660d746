"""Where the outbound rules meet the doors: official accounts (API), team webhooks (API and the
send), the DCO-only reply bodies. Real servers on 127.x; nothing is faked but DNS."""

import pytest
from django.db import transaction

from apps.notifications import services as notification_services
from apps.notifications.models import Notice, NoticeStatus, TeamWebhook
from apps.posts.models import SocialAccount
from tests.posts.factories import PostFactory

from .servers import LoopbackServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_outbound_allow")]

PUBLIC_A, PUBLIC_B = "https://93.184.216.34", "https://93.184.216.35"  # checked, never contacted


def _account(client, connector, config, network="mastodon"):
    return client.post(
        "/api/v1/social-accounts/",
        {"network": network, "handle": "@agency", "connector": connector, "config": config},
        format="json",
    )


@pytest.mark.parametrize(
    ("connector", "network", "config", "field"),
    [
        ("mastodon", "mastodon", {"base_url": "http://127.0.0.1:9/", "access_token": "t"}, "config.base_url"),
        (
            "mastodon",
            "mastodon",
            {"base_url": "http://[::ffff:10.0.0.1]/", "access_token": "t"},
            "config.base_url",
        ),
        ("webhook", "linkedin", {"url": "http://169.254.169.254/latest", "secret": "s"}, "config.url"),
        ("webhook", "linkedin", {"url": "http://[fe80::1]/hook", "secret": "s"}, "config.url"),
        ("webhook", "linkedin", {"url": "gopher://93.184.216.34/", "secret": "s"}, "config.url"),
    ],
)
def test_an_account_cannot_target_the_services_own_network(api, dco, connector, network, config, field):
    """Mutation: the _check_targets call in social_account_create removed -> the account is
    created (201) and this test fails."""
    response = _account(api.as_user(dco), connector, config, network=network)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not SocialAccount.objects.exists()


def test_moving_an_account_to_a_private_target_is_refused(api, dco):
    """Mutation: the _check_targets call in social_account_update removed -> this test fails."""
    client = api.as_user(dco)
    account_id = _account(client, "mastodon", {"base_url": PUBLIC_A, "access_token": "tok-1"}).json()["id"]
    response = client.patch(
        f"/api/v1/social-accounts/{account_id}/",
        {"config": {"base_url": "http://10.1.2.3", "access_token": "tok-2"}},
        format="json",
    )
    assert response.status_code == 400
    assert "config.base_url" in response.json()["errors"]
    assert SocialAccount.objects.get(pk=account_id).config["base_url"] == PUBLIC_A


def test_changing_the_target_needs_the_secret_again(api, dco):
    """The stored token never goes to an address it was not entered for.

    Mutation: the _require_secrets_for_new_target call in social_account_update removed -> the
    move is accepted with the old token and this test fails."""
    client = api.as_user(dco)
    account_id = _account(client, "mastodon", {"base_url": PUBLIC_A, "access_token": "tok-1"}).json()["id"]
    url = f"/api/v1/social-accounts/{account_id}/"

    moved = client.patch(url, {"config": {"base_url": PUBLIC_B}}, format="json")
    assert moved.status_code == 400
    assert moved.json()["code"] == "secret_required"
    assert list(moved.json()["errors"]) == ["config.access_token"]
    assert SocialAccount.objects.get(pk=account_id).config == {"base_url": PUBLIC_A, "access_token": "tok-1"}

    # The same target (a trailing slash aside) keeps the stored token.
    assert client.patch(url, {"config": {"base_url": PUBLIC_A + "/"}}, format="json").status_code == 200
    assert SocialAccount.objects.get(pk=account_id).config["access_token"] == "tok-1"

    # With the token given again, the move is made.
    response = client.patch(url, {"config": {"base_url": PUBLIC_B, "access_token": "tok-2"}}, format="json")
    assert response.status_code == 200, response.content
    assert SocialAccount.objects.get(pk=account_id).config == {"base_url": PUBLIC_B, "access_token": "tok-2"}


def test_changing_a_webhook_connectors_url_needs_its_secret_again(api, dco):
    client = api.as_user(dco)
    created = _account(client, "webhook", {"url": PUBLIC_A + "/hook", "secret": "s-1"}, network="linkedin")
    response = client.patch(
        f"/api/v1/social-accounts/{created.json()['id']}/",
        {"config": {"url": PUBLIC_B + "/hook"}},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["config.secret"]


def test_team_webhooks_cannot_target_the_services_own_network(api, dco):
    """Mutation: outbound.validate_url removed from team_webhook_create (resp. _update) -> the
    first (resp. second) request succeeds and this test fails."""
    client = api.as_user(dco)
    response = client.post(
        "/api/v1/team-webhooks/",
        {"name": "Ops", "kind": "slack", "url": "http://10.0.0.5/hooks/x"},
        format="json",
    )
    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    assert not TeamWebhook.objects.exists()

    created = client.post(
        "/api/v1/team-webhooks/",
        {"name": "Ops", "kind": "slack", "url": PUBLIC_A + "/hooks/x"},
        format="json",
    )
    assert created.status_code == 201, created.content
    hook_id = created.json()["id"]
    response = client.patch(
        f"/api/v1/team-webhooks/{hook_id}/", {"url": "http://127.0.0.1:9/x"}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    assert TeamWebhook.objects.get(pk=hook_id).url == PUBLIC_A + "/hooks/x"


def _send_team_notices():
    with transaction.atomic():
        event = notification_services.notify_event(
            event="crisis.declared",
            crisis_id=1,
            context={"title": "Leak", "severity": 2, "declared_at": "2026-11-25T09:00:00+00:00"},
        )
    notification_services.event_materialise(event_id=event.pk)
    notification_services.notices_deliver(event_id=event.pk, channel="webhook")
    return Notice.objects.get(event=event, channel="webhook")


def test_team_webhook_send_is_checked_again(scripted_dns, settings):
    """A hook that passed the check when configured, whose name now resolves to a private address,
    is refused at the send: nothing reaches either address.

    Mutation: WebhookChannel.session back to a plain requests.Session -> the internal server
    (or the DNS failure) shows in this test and it fails."""
    public = LoopbackServer("127.0.0.2")
    internal = LoopbackServer("127.0.0.3", public.port)
    try:
        settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
        scripted_dns.DNS_SCRIPT.append(["127.0.0.2"])
        TeamWebhook.objects.create(name="Ops", kind="slack", url=f"http://chat.example:{public.port}/hooks/x")
        scripted_dns.DNS_SCRIPT[:] = [["127.0.0.3"]]
        notice = _send_team_notices()
        assert notice.status == NoticeStatus.FAILED
        assert "refused" in notice.error
        assert public.received == [] and internal.received == []
    finally:
        public.stop()
        internal.stop()


def test_team_webhook_send_goes_to_the_checked_address(scripted_dns, settings):
    """Rebinding between the check and the connect: the post reaches the checked address."""
    public = LoopbackServer("127.0.0.2")
    internal = LoopbackServer("127.0.0.3", public.port)
    try:
        settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.2"
        scripted_dns.DNS_SCRIPT[:] = [["127.0.0.2"], ["127.0.0.3"]]
        TeamWebhook.objects.create(name="Ops", kind="slack", url=f"http://chat.example:{public.port}/hooks/x")
        notice = _send_team_notices()
        assert notice.status == NoticeStatus.SENT, notice.error
        assert [r["path"] for r in public.received] == ["/hooks/x"]
        assert public.received[0]["headers"]["Host"] == f"chat.example:{public.port}"
        assert internal.received == []
    finally:
        public.stop()
        internal.stop()


def test_a_posts_raw_error_is_shown_to_the_dco_only(api, dco, auditor):
    """Mutation: PostSerializer.to_representation's last_error blanking removed -> the auditor
    reads the remote reply and this test fails."""
    post = PostFactory(last_error="Webhook: HTTP 500 <html>internal admin page</html>")
    seen_by_auditor = api.as_user(auditor).get(f"/api/v1/posts/{post.pk}/").json()
    assert seen_by_auditor["last_error"] == ""
    assert "internal admin page" not in api.as_user(auditor).get("/api/v1/posts/").content.decode()
    assert "internal admin page" in api.as_user(dco).get(f"/api/v1/posts/{post.pk}/").json()["last_error"]


def test_the_admin_refuses_a_private_team_webhook_with_a_form_error(client, make_user):
    """Mutation: the _outbound_url validator removed from TeamWebhookAdmin.get_form -> the
    service's refusal escapes the admin as a server error and this test fails."""
    officer = make_user("dco", username="admin-dco", is_staff=True, is_superuser=True)
    client.force_login(officer)
    response = client.post(
        "/admin/notifications/teamwebhook/add/",
        {
            "name": "Ops",
            "kind": "slack",
            "url": "http://169.254.169.254/latest",
            "department": "",
            "language": "en",
        },
    )
    assert response.status_code == 200
    assert "link-local" in response.content.decode()
    assert not TeamWebhook.objects.exists()


def test_changing_the_connector_needs_the_new_connectors_secret(api, dco):
    """Mutation: _require_secrets_for_new_target called only when the connector is unchanged ->
    the answer names `config` (the lacking keys), not the secret, and this test fails."""
    client = api.as_user(dco)
    account_id = _account(client, "mastodon", {"base_url": PUBLIC_A, "access_token": "tok-1"}).json()["id"]
    response = client.patch(
        f"/api/v1/social-accounts/{account_id}/",
        {"connector": "webhook", "config": {"url": PUBLIC_B + "/hook"}},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["config.secret"]
    assert SocialAccount.objects.get(pk=account_id).connector == "mastodon"
