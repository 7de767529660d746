"""Ready-made states for tests elsewhere (the browser tests): a statement being published with one
account to publish by hand and one the network refuses. The network is a real server on
127.0.0.1 (port 0), refusing until told to accept; tests need CRISISCOMM_OUTBOUND_ALLOW to
include 127.0.0.1 (the root conftest's `outbound_allow_loopback` fixture)."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import transaction
from django.utils import timezone

from apps.posts.models import Post, SocialAccount
from apps.posts.services import post_send, posts_claim_due
from apps.statements import services


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class RefusingNetwork:
    """`with RefusingNetwork() as net:` a webhook peer answering 422 until `net.accept()`."""

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.answer = (422, b'{"error": "Validation failed"}')
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        return self

    def accept(self, url="https://x.example/agency/1"):
        self.server.answer = (200, b'{"id": "1", "url": "%s"}' % url.encode())

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


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
