"""A DCO hands a failing statement post to a person while the publisher retries that very post.
Real concurrent transactions on PostgreSQL: the send runs in a thread on its own connection,
through the real publisher, against a network on 127.0.0.1.

What the hand-over does (posts.post_hand_to_person): a send writing its request holds the gate
lock and the post's row, so the hand-over waits for its outcome and re-reads the row; a send
between its committed start and its request holds nothing but `send_started_at`, so the
hand-over is refused (409, code `sending`), never taken over."""

import threading
import time

import pytest
from django.db import connections, transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.core.errors import ConflictError
from apps.crises.models import Crisis, CrisisStatus
from apps.posts.locks import gate_lock_exclusive
from apps.posts.models import Post, SocialAccount
from apps.posts.services import post_send, posts_claim_due
from apps.statements import services
from tests.core import servers
from tests.posts.servers import FakeMastodon

from .conftest import decide_as_callers_do, grant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_dns(settings):
    """Names resolve through tests.core.servers.scripted_resolve (DNS_DELAY: a slow resolver)."""
    settings.CRISISCOMM_OUTBOUND_RESOLVER = "tests.core.servers.scripted_resolve"
    servers.DNS_SCRIPT[:] = [["127.0.0.1"]]
    yield servers
    servers.DNS_SCRIPT.clear()
    servers.DNS_QUERIES.clear()
    servers.DNS_DELAY[0] = 0.0


def _retrying(people, crisis, network, host="127.0.0.1"):
    """An approved statement on one Mastodon account; its first send answered 503: the post is
    `publishing`, retrying by itself (last_error set, no assignee)."""
    account = SocialAccount.objects.create(
        network="mastodon",
        handle="@press@social.example",
        connector="mastodon",
        config={"base_url": f"http://{host}:{network.port}", "access_token": FakeMastodon.TOKEN},
    )
    grant(people["dco"], people["author"], topics=["launch"])
    s = services.statement_create(
        actor=people["author"], crisis=crisis, body="We are investigating.", accounts=[account]
    )
    services.statement_submit(actor=people["author"], statement=s)
    services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
    network.fail_with = [503]
    decide_as_callers_do(actor=people["dco2"], statement=s)
    [post_id] = posts_claim_due()
    assert post_send(post_id=post_id) == "retry"
    post = Post.objects.get(pk=post_id)
    assert post.status == "publishing" and post.last_error and post.assignee_id is None
    return s, post


def _aside(fn):
    """fn() in a thread with its own database connection; returns (thread, its outcome)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_for(condition, seconds=10.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the other transaction never got there"
        time.sleep(0.02)


def _assigns(post):
    return AuditEntry.objects.filter(action="post.assign", object_id=str(post.pk)).count()


def test_a_send_started_and_not_yet_written_is_not_taken_over(people, crisis, chain, slow_dns):
    """The publisher's retry committed `send_started_at` and waits for DNS (no lock held): the
    hand-over is refused, 409 `sending`; the send goes on and publishes, and so does the statement.

    Mutation: the `send_started_at` re-check on the locked row removed (post_hand_to_person) ->
    the post is handed over, the send then skips it with `send_started_at` left set (the relay
    would later call it `uncertain`): this test fails."""
    with FakeMastodon() as network:
        statement, post = _retrying(people, crisis, network, host="slow-dns.example")
        slow_dns.DNS_DELAY[0] = 2.0
        thread, sent = _aside(lambda: post_send(post_id=post.pk))
        _wait_for(lambda: Post.objects.filter(pk=post.pk, send_started_at__isnull=False).exists())
        with pytest.raises(ConflictError) as refused:
            services.statement_post_by_hand(actor=people["dco"], statement=statement, post=post.pk)
        assert refused.value.code == "sending"
        assert thread.is_alive()  # refused while the send was in flight, not after its outcome
        thread.join(15)
    assert sent == {"value": "published"}
    post.refresh_from_db()
    assert post.status == "published" and post.assignee_id is None and post.send_started_at is None
    assert _assigns(post) == 0
    statement.refresh_from_db()
    assert statement.status == "published"


def test_a_send_writing_its_request_holds_the_hand_over_until_its_outcome(people, crisis, chain):
    """The retry writes its request and the network answers after 1.5 s (the send holds the gate
    lock and the row): the hand-over waits, re-reads the row, finds it published: 409.

    Mutation: the state re-check on the locked row removed (post_hand_to_person) -> the published
    post is handed to a person again (`publishing`, an assignee): this test fails."""
    with FakeMastodon() as network:
        statement, post = _retrying(people, crisis, network)
        network.delay = 1.5
        thread, sent = _aside(lambda: post_send(post_id=post.pk))
        _wait_for(lambda: len(network.received) == 2)  # the retry's request arrived: lock held
        started = time.monotonic()
        with pytest.raises(ConflictError) as refused:
            services.statement_post_by_hand(actor=people["dco"], statement=statement, post=post.pk)
        waited = time.monotonic() - started
        thread.join(15)
    assert sent == {"value": "published"}
    assert "published" in refused.value.message
    assert waited > 0.5  # it waited for the send's outcome
    post.refresh_from_db()
    assert post.status == "published" and post.assignee_id is None
    assert _assigns(post) == 0


def test_a_hand_over_waits_for_the_end_of_its_crisis_then_refuses(people, crisis, chain):
    """The crisis ends while the hand-over starts: the end holds the gate lock exclusively (as
    crisis_approve_lift does, here its writes on the crisis row only); the hand-over takes the gate
    lock before it checks that the crisis is in force, so it waits and then refuses: nothing of a
    crisis that is over is handed out.

    Mutation: gate_lock_shared() removed from statement_post_by_hand -> the crisis reads in force,
    the row is locked, and the posts service's gate lock waits behind the end and then hands the
    post over: this test fails."""
    with FakeMastodon() as network:
        statement, post = _retrying(people, crisis, network)
    locked = threading.Event()

    def end_the_crisis():
        with transaction.atomic():
            gate_lock_exclusive()
            Crisis.objects.filter(pk=crisis.pk).update(
                status=CrisisStatus.CLOSED, is_open=None, closed_at=timezone.now()
            )
            locked.set()
            time.sleep(1.0)

    thread, ended = _aside(end_the_crisis)
    assert locked.wait(10)
    with pytest.raises(ConflictError) as refused:
        services.statement_post_by_hand(actor=people["dco"], statement=statement, post=post.pk)
    thread.join(15)
    assert ended == {"value": None}
    assert refused.value.field == "crisis"
    post.refresh_from_db()
    assert post.assignee_id is None and _assigns(post) == 0
