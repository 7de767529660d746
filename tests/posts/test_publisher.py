import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from apps.posts.models import PostStatus
from apps.posts.services import post_create, post_send, post_set_hold, posts_claim_due
from tests.posts.factories import PostFactory


@pytest.mark.django_db
def test_only_due_unheld_posts_on_active_accounts_are_claimed(dco, webhook_account):
    now = timezone.now()
    due = PostFactory(account=webhook_account, scheduled_at=now - timedelta(minutes=1))
    PostFactory(account=webhook_account, scheduled_at=now + timedelta(minutes=5))
    PostFactory(account=webhook_account, scheduled_at=now, status=PostStatus.CANCELLED)
    held = post_create(actor=dco, account=webhook_account, body="x", scheduled_at=now, awaiting_approval=True)
    inactive = PostFactory(scheduled_at=now, account__is_active=False)
    assert posts_claim_due() == [due.pk]
    assert posts_claim_due() == []
    # The statements service releases the hold: now the publisher takes it.
    post_set_hold(actor=dco, post=held, awaiting_approval=False)
    assert posts_claim_due() == [held.pk]
    inactive.refresh_from_db()
    assert inactive.status == PostStatus.SCHEDULED


@pytest.mark.django_db
def test_hold_with_new_time_and_audit(dco, webhook_account):
    from apps.audit.models import AuditEntry

    post = post_create(actor=dco, account=webhook_account, body="x", scheduled_at=timezone.now())
    later = timezone.now() + timedelta(hours=1)
    post_set_hold(actor=dco, post=post, awaiting_approval=True)
    post = post_set_hold(actor=dco, post=post, awaiting_approval=False, scheduled_at=later)
    assert post.scheduled_at == later and not post.awaiting_approval
    actions = list(AuditEntry.objects.filter(object_id=str(post.pk)).values_list("action", flat=True))
    assert actions == ["post.create", "post.hold", "post.release_hold"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishers_share_the_work_without_overlap(webhook_account):
    """4 threads claim batches of 7 from 200 due posts at once (SKIP LOCKED): every post is
    claimed exactly once."""
    PostFactory.create_batch(200, account=webhook_account, scheduled_at=timezone.now())
    claimed, barrier = [], threading.Barrier(4)

    def worker():
        try:
            barrier.wait()
            while ids := posts_claim_due(limit=7):
                claimed.append(ids)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    flat = [i for batch in claimed for i in batch]
    assert len(flat) == 200 and len(set(flat)) == 200


@pytest.mark.django_db(transaction=True)
def test_beat_task_publishes_through_a_real_worker_and_broker(webhook_account, webhook_server):
    """publish_due_posts queues one send_post per post on the real broker; a real Celery worker
    (in a thread) sends them."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the real broker")
    from celery.contrib.testing.worker import start_worker

    from apps.posts.tasks import publish_due_posts
    from crisiscomm.celery import app

    posts = PostFactory.create_batch(5, account=webhook_account, scheduled_at=timezone.now())
    app.control.purge()  # this test's own Redis database: drop what earlier tests left queued
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
        assert publish_due_posts() == 5
        deadline = time.monotonic() + 20
        while len(webhook_server.received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(webhook_server.post_ids()) == sorted(p.pk for p in posts)
    assert all(
        p.status == PostStatus.PUBLISHED for p in type(posts[0]).objects.filter(pk__in=[p.pk for p in posts])
    )


@pytest.mark.django_db
def test_send_of_a_cancelled_or_unknown_post_does_nothing(webhook_account, webhook_server):
    post = PostFactory(account=webhook_account, status=PostStatus.CANCELLED)
    assert post_send(post_id=post.pk) == "skipped"
    assert post_send(post_id=10**9) == "skipped"
    assert webhook_server.received == []


@pytest.mark.django_db
def test_handing_a_failed_post_to_a_person_checks_who_and_to_whom(dco, employee, make_user, webhook_account):
    """post_hand_to_person: a dco only, to an active person; the post becomes their to-do,
    audited `post.assign`.

    Mutation: require_role removed from post_hand_to_person -> the employee hands it over: this
    test fails. Mutation: the assignee's is_active check removed -> handed to a deactivated
    person: this test fails."""
    from apps.audit.models import AuditEntry
    from apps.core.errors import NotAllowedError, ServiceError
    from apps.posts.services import post_hand_to_person

    post = PostFactory(account=webhook_account, status=PostStatus.FAILED, last_error="HTTP 422")
    with pytest.raises(NotAllowedError):
        post_hand_to_person(actor=employee, post=post, assignee=employee)
    gone = make_user("employee", username="gone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    with pytest.raises(ServiceError) as refused:
        post_hand_to_person(actor=dco, post=post, assignee=gone)
    assert refused.value.field == "assignee"
    post = post_hand_to_person(actor=dco, post=post, assignee=employee)
    post.refresh_from_db()
    assert (post.status, post.assignee_id) == (PostStatus.PUBLISHING, employee.pk)
    entry = AuditEntry.objects.get(action="post.assign", object_id=str(post.pk))
    assert entry.details == {"assignee": employee.pk, "by_hand": True, "previous_status": "failed"}
