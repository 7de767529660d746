"""Reads: live figures for the DCO and the crisis report, a person's inbox."""

from django.db.models import Count, Q

from .models import Notice, NoticeStatus


def _blank():
    return {"total": 0, "queued": 0, "sent": 0, "failed": 0, "acknowledged": 0}


def notice_figures(*, crisis_id: int) -> dict:
    """Totals for a crisis's notices (reminders counted apart): {total, queued, sent, failed,
    acknowledged, by_channel: {channel: {...}}, by_department: {department: {...}}, people,
    reminders}. `sent` counts every notice handed over (acknowledged ones included);
    `acknowledged` the notices whose person has acknowledged. One grouped query, plus two small
    ones for people and reminders."""
    rows = (
        Notice.objects.filter(crisis_id=crisis_id, event__parent__isnull=True)
        .values("channel", "department")
        .annotate(
            total=Count("pk"),
            queued=Count("pk", filter=Q(status__in=[NoticeStatus.QUEUED, NoticeStatus.SENDING])),
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            failed=Count("pk", filter=Q(status=NoticeStatus.FAILED)),
            acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        )
        .order_by()
    )
    figures = {**_blank(), "by_channel": {}, "by_department": {}}
    for row in rows:
        for bucket in (
            figures,
            figures["by_channel"].setdefault(row["channel"], _blank()),
            figures["by_department"].setdefault(row["department"] or "", _blank()),
        ):
            for key in ("total", "queued", "sent", "failed", "acknowledged"):
                bucket[key] += row[key]
    people = Notice.objects.filter(
        crisis_id=crisis_id, event__parent__isnull=True, user__isnull=False
    ).aggregate(
        total=Count("user", distinct=True),
        acknowledged=Count("user", distinct=True, filter=Q(acknowledged_at__isnull=False)),
    )
    figures["people"] = people
    figures["reminders"] = Notice.objects.filter(
        crisis_id=crisis_id, event__parent__isnull=False, sent_at__isnull=False
    ).count()
    return figures


def notices_for_user(*, user):
    return (
        Notice.objects.filter(user=user)
        .select_related("event", "event__parent")
        .order_by("-created_at", "-id")
    )
