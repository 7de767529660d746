"""Reads of posts and the gate. `frozen` is derived here and nowhere else.

A post is frozen when the gate is closed, it is waiting to go out (scheduled, or claimed and not
yet sent: the send-time recheck puts it back) and it is not exempt for the current closure.
Nothing is written when the gate closes, so the declaration costs the same at any calendar size.
"""

from django.conf import settings
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When

from crisiscomm.precompiled import Precompiled

from .models import FREEZABLE_STATUSES, GateClosure, Post, PostStatus

_UNSET = object()


def gate_closure_current() -> GateClosure | None:
    return GateClosure.objects.filter(is_current=True).first()


def gate_state() -> dict:
    """{"open": bool, "closure": GateClosure | None}. Read fresh from the database each time."""
    closure = gate_closure_current()
    return {"open": closure is None, "closure": closure}


# Compiled once per process (crisiscomm.precompiled): external schedulers poll this.
# No ORDER BY (first() would add one on the primary key and leave the unique index unused).
_CURRENT_CLOSURE = Precompiled(
    lambda: GateClosure.objects.filter(is_current=True)
    .select_related("crisis")
    .only("id", "crisis__id", "crisis__title", "crisis__declared_at", "crisis__freeze_until")
    .order_by()[:1]
)


def gate_read():
    """The gate and its crisis in ONE indexed query (the unique index on is_current; the crisis
    through its one-to-one, joined): what external schedulers poll. None while open. Only the
    columns the gate shows are loaded (others are deferred)."""
    found = _CURRENT_CLOSURE.fetch()
    return found[0] if found else None


def frozen_q(*, closure: GateClosure | None) -> Q:
    """The condition "frozen by this closure" on posts; matches nothing when closure is None."""
    if closure is None:
        return Q(pk__in=[])
    # exempt_closure may be NULL: "not exempt for this closure" must include those rows.
    return Q(status__in=FREEZABLE_STATUSES) & (Q(exempt_closure__isnull=True) | ~Q(exempt_closure=closure))


def posts_to_freeze() -> QuerySet[Post]:
    """What closing the gate now would freeze (what the declare page counts): frozen_q for a
    closure no post is exempt for yet, i.e. every post waiting to go out, claimed ones too."""
    return Post.objects.filter(status__in=FREEZABLE_STATUSES)


def posts_frozen(*, closure=_UNSET) -> QuerySet[Post]:
    """Every post the closed gate holds back now (none while the gate is open)."""
    if closure is _UNSET:
        closure = gate_closure_current()
    return Post.objects.filter(frozen_q(closure=closure))


def post_is_frozen(*, post: Post, closure=_UNSET) -> bool:
    if closure is _UNSET:
        closure = gate_closure_current()
    return (
        closure is not None
        and post.status in FREEZABLE_STATUSES
        and post.exempt_closure_id != getattr(closure, "pk", closure)
    )


def post_state(*, post: Post, closure=_UNSET) -> str:
    """The status a person sees: the stored one, or `frozen`."""
    return PostStatus.FROZEN if post_is_frozen(post=post, closure=closure) else post.status


def with_state(*, queryset: QuerySet[Post], closure=_UNSET) -> QuerySet[Post]:
    """Annotate `state` (the status a person sees) on a queryset; `?status=frozen` filters on it.
    One query for the gate, then plain column comparisons."""
    if closure is _UNSET:
        closure = gate_closure_current()
    if closure is None:
        return queryset.annotate(state=F("status"))
    return queryset.annotate(
        state=Case(
            When(frozen_q(closure=closure), then=Value(PostStatus.FROZEN)),
            default=F("status"),
            output_field=CharField(),
        )
    )


def post_list(*, closure=_UNSET) -> QuerySet[Post]:
    return with_state(queryset=Post.objects.select_related("account"), closure=closure).order_by(
        "scheduled_at", "id"
    )


def posts_reached_network(*, start, end, closure=None) -> QuerySet[Post]:
    """Posts not exempt for `closure` that reached a network in [start, end], or may have:
    published then; a request written then whatever came back (a timed-out attempt now frozen
    or retried, an outcome lost: `uncertain`); handed to a person to publish by hand then.
    The retraction candidates of a crisis."""
    reached = (
        Q(status=PostStatus.PUBLISHED, published_at__gte=start, published_at__lte=end)
        | Q(network_attempt_at__gte=start, network_attempt_at__lte=end)
        | Q(assignee__isnull=False, claimed_at__gte=start, claimed_at__lte=end)
    )
    queryset = Post.objects.filter(reached)
    if closure is not None:
        queryset = queryset.filter(Q(exempt_closure__isnull=True) | ~Q(exempt_closure=closure))
    return queryset.select_related("account").order_by("published_at", "network_attempt_at", "id")


def posts_sent_between(*, start, end) -> QuerySet[Post]:
    """Kept for callers of the first edition: non-exempt posts that reached a network."""
    return posts_reached_network(start=start, end=end).filter(exempt=False)


def posts_manual_todo(*, user, frozen: bool = False) -> QuerySet[Post]:
    """Manual-connector posts waiting for this person to publish them by hand; `frozen=True`:
    the hand-overs a crisis now holds too (the inbox shows them, held)."""
    states = [PostStatus.PUBLISHING, PostStatus.FROZEN] if frozen else [PostStatus.PUBLISHING]
    return post_list().filter(assignee=user, status=PostStatus.PUBLISHING, state__in=states)


def retraction_window_start(*, at):
    return at - settings.CRISISCOMM_RETRACTION_WINDOW
