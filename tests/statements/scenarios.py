"""Ready-made states for tests elsewhere (the browser tests): a statement being published with one
account to publish by hand and one the network refuses. The network is a real server on
127.0.0.1 (port 0), refusing until told to accept; tests need CRISISCOMM_OUTBOUND_ALLOW to
include 127.0.0.1 (the root conftest's `outbound_allow_loopback` fixture)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.posts.models import Post, SocialAccount
from apps.posts.services import post_send, posts_claim_due
from apps.statements import services
from tests.core.servers import LoopbackServer


class RefusingNetwork(LoopbackServer):
    """`with RefusingNetwork() as net:` a webhook peer at `net.url` answering 422 until
    `net.accept()`."""

    def __init__(self):
        super().__init__(status=422, body={"error": "Validation failed"}, path="/hook")

    def accept(self, url="https://x.example/agency/1"):
        self.status, self.body = 200, {"id": "1", "url": url}


def statement_one_manual_one_failing(*, crisis, author, expert, dco, assignee, network_url, body=None):
    """Grant `author` a mandate, write, submit and approve (expert, then `dco`) a statement on two
    accounts — LinkedIn published by hand by `assignee`, X through the refusing network — and run
    the publisher once. Returns (statement, manual_post, failing_post); the statement reads
    `publishing`, the first post `by_hand`, the second `failing` (HTTP 422)."""
    now = timezone.now()
    services.mandate_grant(
        actor=dco, user=author, valid_from=now - timedelta(minutes=1), valid_until=now + timedelta(days=1)
    )
    manual = SocialAccount.objects.create(
        network="linkedin",
        handle=f"agency-{crisis.pk}",
        connector="manual",
        config={"assignee": assignee.get_username()},
    )
    refusing = SocialAccount.objects.create(
        network="x",
        handle=f"@agency-{crisis.pk}",
        connector="webhook",
        config={"url": network_url, "secret": "s3cret"},
    )
    statement = services.statement_create(
        actor=author,
        crisis=crisis,
        body=body or "We are investigating the anomaly; next update at noon.",
        accounts=[manual, refusing],
    )
    services.statement_submit(actor=author, statement=statement)
    services.statement_decide(actor=expert, statement=statement, verdict="approve")
    with transaction.atomic():  # as the API and the page do: the decision, then its publication
        services.statement_decide(actor=dco, statement=statement, verdict="approve")
        services.statement_publish_planned(actor=dco, statement=statement)
    for post_id in posts_claim_due():
        post_send(post_id=post_id)
    statement.refresh_from_db()
    manual_post = Post.objects.get(statement_link__statement=statement, account=manual)
    failing_post = Post.objects.get(statement_link__statement=statement, account=refusing)
    return statement, manual_post, failing_post
