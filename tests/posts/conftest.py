import pytest

from apps.posts.models import SocialAccount

from .servers import FakeMastodon, WebhookReceiver


@pytest.fixture(autouse=True)
def _loopback_test_doubles(outbound_allow_loopback):
    """The fake networks listen on 127.0.0.1: allowed for these tests (refused by default)."""


@pytest.fixture
def mastodon_server():
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def webhook_server():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def mastodon_account(db, mastodon_server):
    return SocialAccount.objects.create(
        network="mastodon",
        handle="@agency@social.example",
        connector="mastodon",
        config={"base_url": mastodon_server.url, "access_token": FakeMastodon.TOKEN},
    )


@pytest.fixture
def webhook_account(db, webhook_server):
    return SocialAccount.objects.create(
        network="linkedin",
        handle="agency",
        connector="webhook",
        config={"url": webhook_server.url + "/hook", "secret": "hook-secret"},
    )
