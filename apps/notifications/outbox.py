"""The outbox: the entry points other apps call inside their transaction (one NoticeEvent row
each, its fan-out enqueued only after commit), and what each crisis event means for the
notices (who hears of it, which are reminded, which supersede which)."""

from django.db import transaction

from apps.audit.services import audit_record
from apps.core.errors import ServiceError

from . import broker
from .models import NoticeEvent

# Who hears of an event when the caller names nobody: every active staff member, or the DCOs.
DCO_ONLY_EVENTS = {"crisis.lift_requested"}
# Events whose unacknowledged recipients get reminders.
REMINDED_EVENTS = {"crisis.declared", "crisis.extended"}
# Crisis events that supersede earlier ones (no more reminders about an older one).
SUPERSEDING_EVENTS = {"crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down"}
# A crisis's state, as the outbox sees it: open after these...
OPEN_CRISIS_EVENTS = {"crisis.declared", "crisis.extended"}
# ...closed after these, whose notices replace any not yet sent about the crisis being on.
CLOSING_EVENTS = {"crisis.lifted", "crisis.stood_down"}
CRISIS_STATE_EVENTS = OPEN_CRISIS_EVENTS | CLOSING_EVENTS
SUPERSEDED_BY_CLOSE = {
    "crisis.declared",
    "crisis.extended",
    "crisis.lift_requested",
    "crisis.stand_down_requested",
}


def actor_or_none(*, actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


# --- entry points called by other apps, inside their transaction -----------------------------


@transaction.atomic
def notify_event(*, event: str, crisis_id: int, context: dict, actor=None) -> NoticeEvent:
    """Crisis events ("crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down",
    "crisis.lift_requested"): one outbox row in the caller's transaction; after commit Celery
    creates one notice per active staff member and channel (and per team webhook) and sends."""
    return _record_event(event=event, crisis_id=crisis_id, context=context, recipients=None, actor=actor)


@transaction.atomic
def notify_users(
    *, event: str, user_ids: list[int], context: dict, crisis_id: int | None = None, actor=None
) -> NoticeEvent:
    """Targeted notices (e.g. "statement.submitted" to reviewers), same guarantees."""
    recipients = sorted({int(pk) for pk in user_ids})
    return _record_event(
        event=event, crisis_id=crisis_id, context=context, recipients=recipients, actor=actor
    )


def _record_event(*, event, crisis_id, context, recipients, actor) -> NoticeEvent:
    if not event or len(event) > 64:
        raise ServiceError("An event name of at most 64 characters is required.", field="event")
    notice_event = NoticeEvent.objects.create(
        event=event,
        crisis_id=crisis_id,
        context=context or {},
        recipients=recipients,
        actor=actor_or_none(actor=actor),
    )
    audit_record(
        actor=actor,
        action="notification.record",
        obj=notice_event,
        details={
            "event": event,
            "crisis": crisis_id,
            "recipients": "staff" if recipients is None else len(recipients),
        },
    )
    event_id = notice_event.pk
    transaction.on_commit(lambda: enqueue_materialise(event_id=event_id))
    return notice_event


def enqueue_materialise(*, event_id: int):
    broker.enqueue(broker.MATERIALISE, event_id)


def enqueue_delivery(*, event_id: int, channel: str, copies: int = 1):
    for _ in range(copies):
        broker.enqueue(broker.DELIVER, event_id, channel)


def open_crisis_events() -> list[NoticeEvent]:
    """The current event of every open crisis: the latest declaration or extension of a crisis
    that no lift or stand-down followed. One indexed query on the (small) outbox."""
    latest = (
        NoticeEvent.objects.filter(
            parent__isnull=True, crisis_id__isnull=False, event__in=CRISIS_STATE_EVENTS
        )
        .order_by("crisis_id", "-pk")
        .distinct("crisis_id")
    )
    return [e for e in latest if e.event in OPEN_CRISIS_EVENTS]


def superseding_event(*, root: NoticeEvent) -> NoticeEvent | None:
    """The later lift or stand-down of the same crisis that makes `root`'s notices moot."""
    if root.crisis_id is None or root.event not in SUPERSEDED_BY_CLOSE:
        return None
    return (
        NoticeEvent.objects.filter(
            parent__isnull=True, crisis_id=root.crisis_id, event__in=CLOSING_EVENTS, pk__gt=root.pk
        )
        .order_by("pk")
        .first()
    )
