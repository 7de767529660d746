"""Reads: live figures for the DCO and the crisis report, who has not acknowledged, a person's
inbox.

Figures are per event (the crisis's current declaration or extension by default), counted by
people; the control room polls them every few seconds from every open screen, so they are
served from a short cache (CRISISCOMM_FIGURES_TTL seconds): one refresh computes them, the
others read the cache, and a stale copy is served while one request recomputes."""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.cache import cache
from django.db.models import Count, Max, Q

from . import broker
from .models import Acknowledgement, Notice, NoticeEvent, NoticeStatus

# The events whose notices the figures are about: the crisis being on.
FIGURE_EVENTS = ("crisis.declared", "crisis.extended")
# Targeted notices recorded with the staff notice and counted with it in the pages and the
# report (the watch's owners' notice: acknowledged like the others, counted in the figures).
COUNTED_WITH_STAFF_NOTICE = ("watch.owners_told",)
CHANNEL_KEYS = ("total", "queued", "sent", "failed", "cancelled", "acknowledged")


def figures_ttl() -> float:
    return float(getattr(settings, "CRISISCOMM_FIGURES_TTL", 5))


def crisis_events(*, crisis_id: int) -> list[NoticeEvent]:
    """The crisis's root events whose figures can be shown, newest first."""
    roots = NoticeEvent.objects.filter(crisis_id=crisis_id, parent__isnull=True, event__in=FIGURE_EVENTS)
    return list(roots.order_by("-pk"))


def _include_ids(event: NoticeEvent, include: tuple[str, ...]) -> list[int]:
    """Targeted events of the same crisis counted with `event` (e.g. the watch's owners' notice
    sent at the declaration): those recorded after it and before the crisis's next event."""
    if not include:
        return []
    following = (
        NoticeEvent.objects.filter(
            crisis_id=event.crisis_id, parent__isnull=True, event__in=FIGURE_EVENTS, pk__gt=event.pk
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    extra = NoticeEvent.objects.filter(
        crisis_id=event.crisis_id, parent__isnull=True, event__in=include, pk__gt=event.pk
    )
    if following:
        extra = extra.filter(pk__lt=following)
    return list(extra.values_list("pk", flat=True))


def _blank_channel():
    return dict.fromkeys(CHANNEL_KEYS, 0)


def notice_figures(*, crisis_id: int, event_id: int | None = None, include: tuple[str, ...] = ()) -> dict:
    """Figures of one event of a crisis, by people:

    {event: {id, event, created_at} | None, events: [the selectable ones],
     total / acknowledged / pending / percent: people,
     people: {total, acknowledged},
     by_department: {name: {total, acknowledged, pending, percent}} (people),
     by_channel: {channel: {total, queued, sent, failed, cancelled, acknowledged}} (one notice
       per person on a channel, so these are people on that channel too),
     notices: {total, queued, sent, failed, cancelled} summed over channels, and the same
       queued/sent/failed at the top level (notices, as before),
     reminders: reminder notices handed over}

    `event_id` None: the current (latest) declaration or extension. `include`: event names of
    targeted notices of the same crisis to count with it (see _include_ids)."""
    ttl = figures_ttl()
    if ttl <= 0:
        return compute_figures(crisis_id=crisis_id, event_id=event_id, include=include)
    event = _figures_event(crisis_id, event_id)
    if event is None:
        return compute_figures(crisis_id=crisis_id, event_id=event_id, include=include)
    # The event's creation time in the key: nothing cached for another database (a restore, a
    # test run) is ever read back for this one.
    key = f"crisiscomm:figures:{event.pk}:{event.created_at.timestamp()}:{','.join(sorted(include))}"
    cached = cache.get(key)
    if cached is not None and cached["figures"]["notices"]["total"] >= cache_from():
        if time.time() - cached["at"] < ttl:
            return cached["figures"]
        # Stale: one caller has it recomputed in the background; all read the stale copy.
        if cache.add(key + ":lock", 1, timeout=max(10, int(ttl * 4))) and not broker.enqueue(
            broker.REFRESH_FIGURES, crisis_id, event.pk, list(include)
        ):
            cache.delete(key + ":lock")
            return refresh_figures(crisis_id=crisis_id, event_id=event.pk, include=include)
        return cached["figures"]
    return refresh_figures(crisis_id=crisis_id, event_id=event.pk, include=include)


def cache_from() -> int:
    """Below this many notices the figures are computed on every read (a few milliseconds), so
    they are exact at once; above it they come from the short cache."""
    return int(getattr(settings, "CRISISCOMM_FIGURES_CACHE_FROM", 10_000))


def refresh_figures(*, crisis_id: int, event_id: int, include=()) -> dict:
    """Compute the figures and put them in the cache (the background refresh's task too)."""
    include = tuple(include)
    figures = compute_figures(crisis_id=crisis_id, event_id=event_id, include=include)
    event = figures["event"]
    if event is not None:
        key = (
            f"crisiscomm:figures:{event['id']}:{event['created_at'].timestamp()}:{','.join(sorted(include))}"
        )
        cache.set(key, {"at": time.time(), "figures": figures}, timeout=max(60, int(figures_ttl() * 20)))
        cache.delete(key + ":lock")
    return figures


def _figures_event(crisis_id, event_id):
    events = NoticeEvent.objects.filter(crisis_id=crisis_id, parent__isnull=True)
    if event_id is not None:
        return events.filter(pk=event_id).first()
    return events.filter(event__in=FIGURE_EVENTS).order_by("-pk").first()


def compute_figures(*, crisis_id: int, event_id: int | None = None, include: tuple[str, ...] = ()) -> dict:
    events = crisis_events(crisis_id=crisis_id)
    if event_id is not None:
        event = NoticeEvent.objects.filter(pk=event_id, crisis_id=crisis_id, parent__isnull=True).first()
    else:
        event = events[0] if events else None
    figures = {
        "event": _event_summary(event),
        "events": [_event_summary(e) for e in events],
        "total": 0,
        "acknowledged": 0,
        "pending": 0,
        "percent": 0,
        "people": {"total": 0, "acknowledged": 0},
        "by_department": {},
        "by_channel": {},
        "notices": {k: 0 for k in CHANNEL_KEYS if k != "acknowledged"},
        "queued": 0,
        "sent": 0,
        "failed": 0,
        "reminders": 0,
    }
    if event is None:
        return figures
    event_ids = [event.pk, *_include_ids(event, include)]
    notices = Notice.objects.filter(event_id__in=event_ids)
    # People: one row per (department, person) on whatever channels reached them.
    people_rows = (
        notices.filter(user__isnull=False)
        .values("department")
        .annotate(
            total=Count("user", distinct=True),
            acknowledged=Count("user", distinct=True, filter=Q(acknowledged_at__isnull=False)),
        )
        .order_by()
    )
    for row in people_rows:
        name = row["department"] or ""
        bucket = figures["by_department"].setdefault(name, {"total": 0, "acknowledged": 0})
        bucket["total"] += row["total"]
        bucket["acknowledged"] += row["acknowledged"]
    for bucket in figures["by_department"].values():
        _with_percent(bucket)
    people = notices.filter(user__isnull=False).aggregate(
        total=Count("user", distinct=True),
        acknowledged=Count("user", distinct=True, filter=Q(acknowledged_at__isnull=False)),
    )
    figures["people"] = people
    figures.update(total=people["total"], acknowledged=people["acknowledged"])
    _with_percent(figures)
    channel_rows = (
        notices.values("channel")
        .annotate(
            total=Count("pk"),
            queued=Count("pk", filter=Q(status__in=[NoticeStatus.QUEUED, NoticeStatus.SENDING])),
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            failed=Count("pk", filter=Q(status=NoticeStatus.FAILED)),
            cancelled=Count("pk", filter=Q(status=NoticeStatus.CANCELLED)),
            acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        )
        .order_by()
    )
    for row in channel_rows:
        figures["by_channel"][row["channel"]] = {k: row[k] for k in CHANNEL_KEYS}
        for k in figures["notices"]:
            figures["notices"][k] += row[k]
    for k in ("queued", "sent", "failed"):
        figures[k] = figures["notices"][k]
    figures["reminders"] = Notice.objects.filter(event__parent_id=event.pk, sent_at__isnull=False).count()
    return figures


def _with_percent(bucket):
    bucket["pending"] = bucket["total"] - bucket["acknowledged"]
    bucket["percent"] = round(100 * bucket["acknowledged"] / bucket["total"]) if bucket["total"] else 0
    return bucket


def _event_summary(event):
    if event is None:
        return None
    return {"id": event.pk, "event": event.event, "created_at": event.created_at}


def people_not_acknowledged(*, crisis_id: int, event_id: int | None = None, department: str | None = None):
    """The people an event reached who have not acknowledged it, by name: a queryset of dicts
    {user_id, username, first_name, last_name, email, department, channels (tried: handed
    over or attempted), last_attempt}, ordered by department then name. `event_id` None: the
    crisis's current event."""
    if event_id is None:
        event = NoticeEvent.objects.filter(
            crisis_id=crisis_id, parent__isnull=True, event__in=FIGURE_EVENTS
        ).order_by("-pk")
        event_id = event.values_list("pk", flat=True).first()
        if event_id is None:
            return Notice.objects.none().values("user_id")
    rounds = NoticeEvent.objects.filter(Q(pk=event_id) | Q(parent_id=event_id), crisis_id=crisis_id)
    rounds = rounds.values("pk")
    acknowledged = Acknowledgement.objects.filter(event_id=event_id).values("user_id")
    notices = Notice.objects.filter(event_id__in=rounds, user__isnull=False, user__is_active=True).exclude(
        user_id__in=acknowledged
    )
    if department is not None:
        notices = notices.filter(department=department)
    tried = Q(attempts__gt=0) | Q(sent_at__isnull=False)
    return (
        notices.values("user_id")
        .annotate(
            username=Max("user__username"),
            first_name=Max("user__first_name"),
            last_name=Max("user__last_name"),
            email=Max("user__email"),
            department_name=Max("department"),
            channels=ArrayAgg("channel", filter=tried, distinct=True, order_by="channel"),
            last_attempt=Max("sent_at"),
            last_claim=Max("claimed_at", filter=tried),
        )
        .order_by("department_name", "last_name", "first_name", "username")
    )


def pending_row(*, row) -> dict:
    """One row of people_not_acknowledged as the API and the CSV give it."""
    name = f"{row['first_name']} {row['last_name']}".strip() or row["username"]
    last = max((t for t in (row["last_attempt"], row["last_claim"]) if t is not None), default=None)
    return {
        "user": row["user_id"],
        "username": row["username"],
        "name": name,
        "department": row["department_name"] or "",
        "channels": [c for c in (row["channels"] or []) if c],
        "last_attempt": last,
    }


def notices_for_user(*, user):
    return (
        Notice.objects.filter(user=user)
        .select_related("event", "event__parent")
        .order_by("-created_at", "-id")
    )


def staff_count() -> int:
    return get_user_model().objects.filter(is_active=True).count()
