"""Reads shaped for the pages (charts, timelines, the calendar grid). Writes never happen here."""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.notifications.models import Notice, NoticeEvent
from apps.posts.models import Post, SocialAccount
from apps.statements.models import Statement


def ack_series(*, crisis_id: int) -> list[tuple[datetime, int]]:
    """People acknowledging the declaration, per minute: [(minute, count)], oldest first.

    Counted on the in-app notices of the crisis's first event (one per person; acknowledging on
    any channel stamps them all), grouped in the database: a few rows for 35,000 people, cheap
    enough to poll every few seconds."""
    first_event = (
        NoticeEvent.objects.filter(crisis_id=crisis_id, parent__isnull=True)
        .order_by("created_at", "pk")
        .first()
    )
    if first_event is None:
        return []
    rows = (
        Notice.objects.filter(event=first_event, channel="inapp", acknowledged_at__isnull=False)
        .annotate(minute=TruncMinute("acknowledged_at"))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by("minute")
    )
    return [(row["minute"], row["n"]) for row in rows]


def crisis_timeline(crisis, *, limit: int = 200) -> list[AuditEntry]:
    """The audit entries of this crisis: the crisis itself, its gate closure, and its statements.
    Most recent first."""
    statement_ids = [str(pk) for pk in Statement.objects.filter(crisis=crisis).values_list("pk", flat=True)]
    about = (
        Q(object_type="crises.crisis", object_id=str(crisis.pk))
        | Q(object_type="posts.gateclosure", object_id=str(crisis.gate_closure_id))
        | Q(object_type="statements.statement", object_id__in=statement_ids)
    )
    return list(AuditEntry.objects.filter(about).order_by("-sequence")[:limit])


def calendar_week(*, start: datetime, account_id: int | None = None) -> tuple[list, list]:
    """(accounts, rows): posts of the 7 days from `start` (aware, local midnight), one row per
    account, each row a list of 7 lists of posts."""
    end = start + timedelta(days=7)
    posts = Post.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end).select_related("account")
    accounts = SocialAccount.objects.filter(is_active=True)
    if account_id:
        posts = posts.filter(account_id=account_id)
        accounts = accounts.filter(pk=account_id)
    grid: dict[int, list[list[Post]]] = {}
    for post in posts.order_by("scheduled_at", "id"):
        day = (timezone.localtime(post.scheduled_at).date() - start.date()).days
        grid.setdefault(post.account_id, [[] for _ in range(7)])[day].append(post)
    rows = [(account, grid.get(account.pk, [[] for _ in range(7)])) for account in accounts]
    return list(accounts), rows
