from django.conf import settings
from django.db.models import QuerySet

from .models import GateClosure, Post, PostStatus


def gate_closure_current() -> GateClosure | None:
    return GateClosure.objects.filter(is_current=True).first()


def gate_state() -> dict:
    """{"open": bool, "closure": GateClosure | None}. Read fresh from the database each time."""
    closure = gate_closure_current()
    return {"open": closure is None, "closure": closure}


def post_list() -> QuerySet[Post]:
    return Post.objects.select_related("account").order_by("scheduled_at", "id")


def posts_frozen_by(closure) -> QuerySet[Post]:
    """Posts still frozen by this closure (awaiting the review's decision)."""
    return Post.objects.filter(frozen_by=closure, status=PostStatus.FROZEN)


def posts_sent_between(start, end) -> QuerySet[Post]:
    """Non-exempt posts that reached a network in [start, end]: retraction candidates."""
    return (
        Post.objects.filter(
            status=PostStatus.PUBLISHED, exempt=False, published_at__gte=start, published_at__lte=end
        )
        .select_related("account")
        .order_by("published_at", "id")
    )


def posts_manual_todo(user) -> QuerySet[Post]:
    """Manual-connector posts waiting for this person to publish them by hand."""
    return post_list().filter(assignee=user, status=PostStatus.PUBLISHING)


def retraction_window_start(at):
    return at - settings.CRISISCOMM_RETRACTION_WINDOW
