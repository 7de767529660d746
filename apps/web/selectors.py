"""Reads shaped for the pages (charts, timelines, the calendar grid). Writes never happen here."""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.text import Truncator

from apps.audit.models import AuditEntry
from apps.notifications.models import Acknowledgement, NoticeEvent
from apps.posts.models import Post, PostStatus, SocialAccount
from apps.posts.selectors import with_state
from apps.statements.models import Statement


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
    # `state`: the status a person sees (frozen is derived from the closed gate, never stored).
    posts = with_state(
        Post.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end).select_related("account")
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


def waiting_for(user) -> list[dict]:
    """What waits for this person to act, most urgent first: the approval of a lift or stand-down
    (a DCO other than the requester), statement and calendar-post steps they may decide, and posts
    they must publish by hand. Each item: kind, title, url, detail.

    The statements app's `awaiting_user(user)` is the authority on approval steps when it exists;
    otherwise statement runs are matched here with `step_allows` (one query for the runs)."""
    from django.urls import reverse
    from django.utils.formats import date_format
    from django.utils.translation import gettext as _

    from apps.accounts.roles import DCO, has_role
    from apps.crises.selectors import crisis_open
    from apps.posts.selectors import posts_manual_todo
    from apps.statements import selectors as statement_selectors
    from apps.statements.models import ApprovalRequest, ApprovalStatus

    items: list[dict] = []
    crisis = crisis_open()
    if (
        crisis
        and crisis.status == "lifting"
        and has_role(user, DCO)
        and crisis.end_requested_by_id != user.pk
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
    awaiting = getattr(statement_selectors, "awaiting_user", None)
    if awaiting is not None:
        runs = list(awaiting(user))
    else:
        runs = [
            run
            for run in ApprovalRequest.objects.filter(
                status=ApprovalStatus.PENDING, current_step__isnull=False
            )
            .select_related("current_step", "statement", "post", "post__account")
            .order_by("created_at", "id")[:200]
            if not (run.statement_id and run.statement.author_id == user.pk)
            and statement_selectors.step_allows(run.current_step, user)
        ]
    for run in runs:
        run = getattr(run, "run", run)  # a selector may wrap runs; the run itself is what we show
        statement = getattr(run, "statement", None)
        post = getattr(run, "post", None)
        if statement is not None:
            items.append(
                {
                    "kind": "statement",
                    "title": _("Statement #%(id)s awaits your decision") % {"id": statement.pk},
                    "url": reverse("web:statement", args=[statement.pk]),
                    "detail": Truncator(statement.body).chars(90),
                }
            )
        elif post is not None:
            items.append(
                {
                    "kind": "post",
                    "title": _("A calendar post awaits your approval"),
                    "url": reverse("web:approvals"),
                    "detail": f"{post.account} — {Truncator(post.body).chars(70)}",
                }
            )
    for post in posts_manual_todo(user)[:50]:
        items.append(
            {
                "kind": "todo",
                "title": _("Publish by hand on %(account)s") % {"account": post.account},
                "url": reverse("web:inbox") + "#todo",
                "detail": Truncator(post.body).chars(90),
            }
        )
    return items
