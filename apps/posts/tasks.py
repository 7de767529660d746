"""The publisher: a beat task claims due posts; one task per post sends it."""

from celery import shared_task

from .services import SendOutcome, post_send, posts_claim_due, posts_reclaim_stale, retry_delay

# A beat tick claims at most this many batches, then leaves the rest to the next tick.
MAX_BATCHES_PER_TICK = 20


@shared_task(name="apps.posts.tasks.publish_due_posts", ignore_result=True)
def publish_due_posts() -> int:
    """Claim due posts in batches (SKIP LOCKED: several publishers share the work) and queue one
    send per post; re-queue sends lost by a dead worker (same idempotency key)."""
    queued = 0
    for post_id in posts_reclaim_stale():
        send_post.delay(post_id)
        queued += 1
    for _batch in range(MAX_BATCHES_PER_TICK):
        ids = posts_claim_due()  # committed: the claims outlive a broker hiccup (stale reclaim)
        for post_id in ids:
            send_post.delay(post_id)
        queued += len(ids)
        if not ids:
            break
    return queued


@shared_task(bind=True, name="apps.posts.tasks.send_post", ignore_result=True, max_retries=None)
def send_post(self, post_id: int) -> str:
    """Send one post; on a retryable network error try again later with backoff (the service
    counts attempts and marks the post failed after the last one)."""
    outcome = post_send(post_id=post_id)
    if outcome == SendOutcome.RETRY:
        from .models import Post

        attempts = Post.objects.filter(pk=post_id).values_list("attempts", flat=True).first() or 1
        raise self.retry(countdown=retry_delay(attempts=attempts))
    return outcome
