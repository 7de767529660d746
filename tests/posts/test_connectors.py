"""Connectors against real loopback servers speaking Mastodon's API and the webhook protocol."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.posts.models import PostStatus, SocialAccount
from apps.posts.services import (
    MAX_ATTEMPTS,
    SendOutcome,
    post_retract,
    post_send,
    posts_claim_due,
    posts_reclaim_stale,
)
from tests.posts.factories import PostFactory

pytestmark = pytest.mark.django_db


def _claimed(account, **kw):
    post = PostFactory(account=account, scheduled_at=timezone.now() - timedelta(seconds=1), **kw)
    assert posts_claim_due() == [post.pk]
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING
    return post


def test_mastodon_publishes_with_bearer_token_and_idempotency_key(mastodon_account, mastodon_server):
    post = _claimed(mastodon_account, body="Launch window opens at 14:00.")
    assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
    post.refresh_from_db()
    (request,) = mastodon_server.received
    assert request["headers"]["Authorization"] == "Bearer mastodon-test-token"
    assert request["headers"]["Idempotency-Key"] == str(post.idempotency_key)
    assert post.status == PostStatus.PUBLISHED
    assert mastodon_server.statuses[post.external_id]["status"] == "Launch window opens at 14:00."
    assert post.external_url.endswith(f"/{post.external_id}")
    assert post.published_at is not None
    assert AuditEntry.objects.filter(action="post.publish", object_id=str(post.pk)).exists()


def test_lost_answer_then_resend_never_publishes_twice(settings, mastodon_account, mastodon_server):
    """The network got the post but the answer never came (the worker gave up, as if it died):
    the resend carries the same Idempotency-Key, so the network keeps a single status."""
    settings.CRISISCOMM_SEND_DEADLINE_SECONDS = 0.3
    mastodon_server.delay = 0.6
    post = _claimed(mastodon_account)
    assert post_send(post_id=post.pk) == SendOutcome.RETRY
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING and post.attempts == 1 and "deadline" in post.last_error
    assert post.network_attempt_at is not None  # the request reached the network

    mastodon_server.delay = 0
    assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
    post.refresh_from_db()
    assert len(mastodon_server.received) == 2
    assert len(mastodon_server.statuses) == 1
    assert post.external_id in mastodon_server.statuses


def test_stale_publishing_claim_is_recovered_with_the_same_key(mastodon_account, mastodon_server):
    post = _claimed(mastodon_account)
    # The worker died before sending: the claim stays `publishing`, nothing reached the network.
    assert posts_reclaim_stale() == []  # a fresh claim is left alone
    type(post).objects.filter(pk=post.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert posts_reclaim_stale() == [post.pk]
    assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
    assert post_send(post_id=post.pk) == SendOutcome.SKIPPED  # a duplicate task does nothing
    assert [r["headers"]["Idempotency-Key"] for r in mastodon_server.received] == [str(post.idempotency_key)]


def test_mastodon_rejection_fails_at_once_and_outage_retries_then_fails(mastodon_account, mastodon_server):
    bad = _claimed(mastodon_account)
    SocialAccount.objects.filter(pk=mastodon_account.pk).update(
        config={"base_url": mastodon_server.url, "access_token": "wrong"}
    )
    assert post_send(post_id=bad.pk) == SendOutcome.FAILED
    bad.refresh_from_db()
    assert bad.status == PostStatus.FAILED and "401" in bad.last_error and bad.attempts == 1

    SocialAccount.objects.filter(pk=mastodon_account.pk).update(
        config={"base_url": mastodon_server.url, "access_token": mastodon_server.TOKEN}
    )
    down = _claimed(mastodon_account)
    mastodon_server.fail_with = [503] * MAX_ATTEMPTS
    outcomes = [post_send(post_id=down.pk) for _ in range(MAX_ATTEMPTS)]
    assert outcomes == [SendOutcome.RETRY] * (MAX_ATTEMPTS - 1) + [SendOutcome.FAILED]
    down.refresh_from_db()
    assert down.status == PostStatus.FAILED and down.attempts == MAX_ATTEMPTS and "503" in down.last_error


def test_publisher_task_retries_with_backoff_then_publishes(eager_celery, mastodon_account, mastodon_server):
    from apps.posts.tasks import publish_due_posts

    post = PostFactory(account=mastodon_account, scheduled_at=timezone.now())
    mastodon_server.fail_with = [502, 429]
    assert publish_due_posts() == 1
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.attempts == 3
    assert len(mastodon_server.statuses) == 1


def test_retract_deletes_the_status(dco, mastodon_account, mastodon_server):
    post = _claimed(mastodon_account)
    post_send(post_id=post.pk)
    post.refresh_from_db()
    post_retract(actor=dco, post=post)
    post.refresh_from_db()
    assert mastodon_server.deleted == [post.external_id]
    assert post.retracted_at is not None
    assert mastodon_server.received[-1]["method"] == "DELETE"


def test_webhook_signed_json_any_2xx_delivers(webhook_account, webhook_server):
    post = _claimed(webhook_account, body="Open day on Saturday")
    webhook_server.status = 202
    assert post_send(post_id=post.pk) == SendOutcome.PUBLISHED
    (request,) = webhook_server.received
    raw = request["body"]
    expected = "sha256=" + hmac.new(b"hook-secret", raw, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Crisiscomm-Signature"] == expected
    payload = json.loads(raw)
    assert payload["post_id"] == post.pk
    assert payload["account"] == webhook_account.pk
    assert payload["body"] == "Open day on Saturday"
    assert payload["idempotency_key"] == str(post.idempotency_key)
    assert payload["scheduled_at"].startswith(post.scheduled_at.isoformat()[:19])


def test_webhook_client_error_fails_server_error_retries(webhook_account, webhook_server):
    post = _claimed(webhook_account)
    webhook_server.fail_with = [500]
    assert post_send(post_id=post.pk) == SendOutcome.RETRY
    webhook_server.fail_with = [410]
    assert post_send(post_id=post.pk) == SendOutcome.FAILED
    post.refresh_from_db()
    assert post.status == PostStatus.FAILED and "410" in post.last_error


def test_webhook_post_cannot_be_retracted(dco, api, webhook_account, webhook_server):
    post = _claimed(webhook_account)
    post_send(post_id=post.pk)
    r = api.as_user(dco).post(f"/api/v1/posts/{post.pk}/retract/")
    assert r.status_code == 409, r.content


def test_manual_post_is_a_todo_for_its_assignee(api, dco, make_user):
    alice = make_user("employee", username="alice")
    bob = make_user("employee", username="bob")
    account = SocialAccount.objects.create(
        network="tiktok", handle="@agency", connector="manual", config={"assignee": "alice"}
    )
    post = _claimed(account)
    assert post_send(post_id=post.pk) == SendOutcome.ASSIGNED
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING and post.assignee == alice
    assert posts_reclaim_stale(older_than=timedelta(0)) == []  # a to-do is not a lost send

    todo = api.as_user(alice).get("/api/v1/posts/todo/").json()
    assert [p["id"] for p in todo["results"]] == [post.pk]
    assert api.as_user(bob).post(f"/api/v1/posts/{post.pk}/mark-published/").status_code == 403
    r = api.as_user(alice).post(
        f"/api/v1/posts/{post.pk}/mark-published/",
        {"external_url": "https://tiktok.example/v/1"},
        format="json",
    )
    assert r.status_code == 200, r.content
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.external_url == "https://tiktok.example/v/1"
    assert api.as_user(alice).post(f"/api/v1/posts/{post.pk}/mark-published/").status_code == 409


def test_retraction_refused_by_the_network_is_502_and_nothing_changes(
    dco, api, mastodon_account, mastodon_server
):
    post = _claimed(mastodon_account)
    post_send(post_id=post.pk)
    mastodon_server.fail_with = [500]
    r = api.as_user(dco).post(f"/api/v1/posts/{post.pk}/retract/")
    assert r.status_code == 502 and "500" in r.json()["detail"]
    post.refresh_from_db()
    assert post.retracted_at is None


def test_manual_todo_caught_by_a_crisis_cannot_be_marked_published(api, dco, make_user):
    from apps.crises.services import crisis_declare

    alice = make_user("employee", username="alice")
    account = SocialAccount.objects.create(
        network="twitch", handle="agency", connector="manual", config={"assignee": "alice"}
    )
    post = _claimed(account)
    assert post_send(post_id=post.pk) == SendOutcome.ASSIGNED
    crisis_declare(actor=dco, title="Outage", summary="", severity=1)
    r = api.as_user(alice).post(f"/api/v1/posts/{post.pk}/mark-published/")
    assert r.status_code == 409 and r.json()["code"] == "frozen"
    assert api.as_user(alice).get("/api/v1/posts/todo/").json()["results"] == []


def test_a_connection_that_cannot_open_is_a_clean_failure_not_a_lost_send(webhook_account, webhook_server):
    """Nothing was written (refused connection, unusable configuration): the post is retried or
    failed with the reason, and never left looking like a send whose outcome was lost.
    Mutation: post_send without the build/open error handling -> send_started_at stays set (the
    relay would call it `uncertain`), this test fails."""
    post = _claimed(webhook_account)
    webhook_server.stop()  # nothing listens on that port any more
    assert post_send(post_id=post.pk) == SendOutcome.RETRY
    post.refresh_from_db()
    assert post.send_started_at is None and post.network_attempt_at is None and post.attempts == 1
    SocialAccount.objects.filter(pk=webhook_account.pk).update(config={"secret": "s"})  # no url
    assert post_send(post_id=post.pk) == SendOutcome.FAILED
    post.refresh_from_db()
    assert post.status == PostStatus.FAILED and "url" in post.last_error and post.send_started_at is None
