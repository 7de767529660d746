"""Fixtures for the statements tests: people, a crisis, official accounts, the default chain."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.posts.models import SocialAccount
from apps.statements import services
from apps.statements.models import ChainStep, ValidationChain
from tests.posts.servers import WebhookReceiver
from tests.statements.scenarios import RefusingNetwork


def decide_as_callers_do(*, actor, statement, verdict="approve", **kwargs):
    """What the API and the page do: the decision, then, in the same transaction, what a final
    approval leads to (statement_publish_planned), called explicitly."""
    with transaction.atomic():
        statement = services.statement_decide(actor=actor, statement=statement, verdict=verdict, **kwargs)
        services.statement_publish_planned(actor=actor, statement=statement)
    statement.refresh_from_db()
    return statement


@pytest.fixture(autouse=True)
def _networks_on_loopback(outbound_allow_loopback):
    """Every network here is a test double on 127.0.0.1 (outbound refuses loopback otherwise)."""


@pytest.fixture
def chain(db):
    """The default chain of the data migration (recreated: transactional tests flush it)."""
    chain = ValidationChain.objects.filter(is_default=True).first()
    if chain is None:
        chain = ValidationChain.objects.create(name="Expert review then DCO approval", is_default=True)
        ChainStep.objects.create(chain=chain, order=1, name="Expert review", role="expert")
        ChainStep.objects.create(chain=chain, order=2, name="DCO approval", role="dco")
    return chain


@pytest.fixture
def people(make_user, dco, dco2):
    """author (spokesperson with a mandate on 'launch'), two experts, two DCOs, an outsider."""
    return {
        "author": make_user("spokesperson", username="speaker"),
        "expert": make_user("expert", username="expert1"),
        "expert2": make_user("expert", username="expert2"),
        "dco": dco,
        "dco2": dco2,
        "outsider": make_user("employee", username="outsider"),
    }


def grant(dco, user, *, topics=(), networks=(), days=30, start=None):
    start = start or timezone.now() - timedelta(minutes=1)
    return services.mandate_grant(
        actor=dco,
        user=user,
        topics=list(topics),
        networks=list(networks),
        valid_from=start,
        valid_until=start + timedelta(days=days),
    )


@pytest.fixture
def crisis(people):
    from apps.crises.services import crisis_declare

    return crisis_declare(
        actor=people["dco"],
        title="Launch anomaly",
        summary="internal",
        severity=2,
        topics=["Launch", "Orbit"],
    )


@pytest.fixture
def webhook():
    """The networks' webhook receiver; the accounts below sign with "s3cret"."""
    with WebhookReceiver(path="/hook") as server:
        yield server


@pytest.fixture
def accounts(db, webhook):
    cfg = {"url": webhook.url, "secret": "s3cret"}
    return {
        "x": SocialAccount.objects.create(network="x", handle="@agency", connector="webhook", config=cfg),
        "mastodon": SocialAccount.objects.create(
            network="mastodon", handle="@agency@social.example", connector="webhook", config=cfg
        ),
    }


def approve_too_late(*, people, statement):
    """Run the default chain to approval with the planned time passed during the review, so
    nothing goes out on approval: an `approved` statement that waits for publish/ (what the
    clock does when a review takes longer than planned, without waiting for it)."""
    from apps.statements.models import Statement

    services.statement_submit(actor=people["author"], statement=statement)
    services.statement_decide(actor=people["expert"], statement=statement, verdict="approve")
    Statement.objects.filter(pk=statement.pk).update(planned_at=timezone.now() - timedelta(minutes=1))
    services.statement_decide(actor=people["dco2"], statement=statement, verdict="approve")
    statement.refresh_from_db()
    assert statement.status == "approved", statement.status
    return statement


@pytest.fixture
def live(transactional_db):
    """A live server over plain HTTP on 127.0.0.1 (settings in force before it starts)."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        SECURE_HSTS_SECONDS=0,
    )
    plain_http.enable()
    server = LiveServer("127.0.0.1")
    yield server
    server.stop()
    plain_http.disable()


@pytest.fixture
def network():
    """A webhook peer refusing (422) until `network.accept()`."""
    with RefusingNetwork() as server:
        yield server


@pytest.fixture
def desk(make_user, people, network):
    """One manual account (LinkedIn, published by hand by `li_person`) and one API account that
    the network refuses (422)."""
    li_person = make_user("employee", username="li_person", first_name="Lina", last_name="Roux")
    manual = SocialAccount.objects.create(
        network="linkedin", handle="agency", connector="manual", config={"assignee": "li_person"}
    )
    refusing = SocialAccount.objects.create(
        network="x",
        handle="@agency-news",
        connector="webhook",
        config={"url": network.url, "secret": "s3cret"},
    )
    return {"li_person": li_person, "manual": manual, "refusing": refusing}
