"""Reads shaped for the pages (charts, timelines, the calendar grid). Writes never happen here."""

from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone

from apps.notifications.models import Acknowledgement, NoticeEvent
from apps.posts.models import Post, PostStatus, SocialAccount
from apps.posts.selectors import with_state


def ack_series(*, crisis_id: int, event_id: int | None = None) -> list[tuple[datetime, int]]:
    """People acknowledging an event of the crisis (default: its first), per minute:
    [(minute, count)], oldest first. One acknowledgement row per (event, person), grouped in the
    database: a few rows for 35,000 people, cheap enough to poll every few seconds."""
    events = NoticeEvent.objects.filter(crisis_id=crisis_id, parent__isnull=True)
    if event_id is not None:
        events = events.filter(pk=event_id)
    event = events.order_by("created_at", "pk").first()
    if event is None:
        return []
    rows = (
        Acknowledgement.objects.filter(event=event)
        .annotate(minute=TruncMinute("acknowledged_at"))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by("minute")
    )
    return [(row["minute"], row["n"]) for row in rows]


def calendar_week(*, start: datetime, account_id: int | None = None) -> tuple[list, list]:
    """(accounts, rows): posts of the 7 days from `start` (aware, local midnight), one row per
    account, each row a list of 7 lists of posts."""
    end = start + timedelta(days=7)
    # `state`: the status a person sees (frozen is derived from the closed gate, never stored).
    posts = with_state(
        queryset=Post.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end).select_related("account")
    )
    accounts = SocialAccount.objects.filter(is_active=True)
    if account_id:
        posts = posts.filter(account_id=account_id)
        accounts = accounts.filter(pk=account_id)
    grid: dict[int, list[list[Post]]] = {}
    labels = dict(PostStatus.choices)
    for post in posts.order_by("scheduled_at", "id"):
        post.state_label = labels.get(post.state, post.state)
        day = (timezone.localtime(post.scheduled_at).date() - start.date()).days
        grid.setdefault(post.account_id, [[] for _ in range(7)])[day].append(post)
    rows = [(account, grid.get(account.pk, [[] for _ in range(7)])) for account in accounts]
    return list(accounts), rows


def waiting_for(*, user) -> list[dict]:
    """What waits for this person to act, most urgent first: the approval of a lift or stand-down
    (a DCO other than the requester), statement and calendar-post steps they may decide, and posts
    they must publish by hand. Each item: kind, title, url, detail.

    Beyond the end of the crisis, the statements app's `awaiting_user(user)` says what waits."""
    from django.urls import reverse
    from django.utils.formats import date_format
    from django.utils.translation import gettext as _

    from apps.crises.actions import APPROVE_ACTIONS
    from apps.crises.selectors import crisis_open
    from apps.crises.services import crisis_allowed_actions
    from apps.statements import selectors as statement_selectors

    items: list[dict] = []
    crisis = crisis_open()
    # The approval waits for whoever the crises service would let approve it (four eyes).
    if (
        crisis
        and crisis.status == "lifting"
        and APPROVE_ACTIONS[crisis.end_kind] in crisis_allowed_actions(user=user, crisis=crisis)
    ):
        stand_down = crisis.end_kind == "stand_down"
        items.append(
            {
                "kind": "end",
                "title": _("Approve the stand-down") if stand_down else _("Approve the lift"),
                "url": reverse("web:control") + "#approve-lift",
                "detail": _("Requested by %(who)s on %(when)s")
                % {
                    "who": crisis.end_requested_by.get_username() if crisis.end_requested_by else "?",
                    "when": date_format(timezone.localtime(crisis.end_requested_at), "DATETIME_FORMAT")
                    if crisis.end_requested_at
                    else "",
                },
            }
        )
    # Statement and calendar-post steps, posts to publish by hand, failing statement posts: the
    # statements app's list, already in this shape (kind, title, url, detail).
    items.extend(statement_selectors.awaiting_user(user=user))
    return items


def post_page_actions(*, user, post) -> frozenset[str]:
    """What the calendar's post page may offer: the posts services' answer
    (post_allowed_actions) and the statements' "hold it for a validation chain"
    (`post_approval.request`, their own check). Posts know nothing of statements: the page, which
    sees both, asks both."""
    from apps.core.errors import ServiceError
    from apps.posts.services import post_allowed_actions
    from apps.statements.post_approvals import post_approval_check_request

    out = set(post_allowed_actions(user=user, post=post))
    if post is not None and not post.awaiting_approval:
        try:
            post_approval_check_request(actor=user, post=post)
        except ServiceError:
            pass
        else:
            out.add("post_approval.request")
    return frozenset(out)
