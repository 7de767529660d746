"""The beat's work: the relay re-enqueues what the outbox still holds (and seals the
acknowledgements), reminder rounds start on schedule or when a DCO asks."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.core.roles import DCO, has_role, require_role

from .acknowledgement import acknowledgements_seal
from .delivery import claim_lease, claimable, sending_lease
from .fanout import notices_for_arrivals
from .models import Notice, NoticeEvent, NoticeStatus
from .outbox import (
    REMINDED_EVENTS,
    SUPERSEDING_EVENTS,
    actor_or_none,
    enqueue_delivery,
    enqueue_materialise,
    superseding_event,
)

# --- relay and reminders (beat) ------------------------------------------------------------------


def notices_relay(*, now=None) -> dict:
    """Re-enqueue what the outbox still holds: events never materialised, notices due, rows a
    dead worker left `sending` past the send lease; free claims past their lease; seal the
    acknowledgements into the audit chain."""
    now = now or timezone.now()
    grace = timedelta(seconds=getattr(settings, "CRISISCOMM_NOTIFY_RELAY_GRACE", 30))
    with transaction.atomic():
        # A worker died while handing these over (a live one is bounded by the send timeout,
        # well inside the lease). It may have gone out: sent again with the same Message-ID.
        stale = Notice.objects.filter(status=NoticeStatus.SENDING, claimed_at__lt=now - sending_lease())
        stale_count = stale.update(
            status=NoticeStatus.QUEUED,
            error="Worker lost while handing this notice over; sent again with the same Message-ID.",
            claim_token=None,
            next_attempt_at=None,
        )
        if stale_count:
            audit_record(actor=None, action="notification.requeue_stale", details={"notices": stale_count})
        # Claims of a dead worker on rows it never reached: free them for the next worker.
        Notice.objects.filter(
            status=NoticeStatus.QUEUED, claim_token__isnull=False, claimed_at__lt=now - claim_lease()
        ).update(claim_token=None, claimed_at=None)
    pending_events = list(
        NoticeEvent.objects.filter(materialised_at__isnull=True, created_at__lte=now - grace).values_list(
            "pk", flat=True
        )
    )
    for event_id in pending_events:
        enqueue_materialise(event_id=event_id)
    pairs = list(
        Notice.objects.filter(claimable(now=now), created_at__lte=now - grace)
        .order_by()  # the model's ordering would make every row distinct
        .values_list("event_id", "channel")
        .distinct()
    )
    for event_id, channel in pairs:
        enqueue_delivery(event_id=event_id, channel=channel)
    sealed = acknowledgements_seal()
    return {
        "materialise": len(pending_events),
        "deliver": len(pairs),
        "expired": stale_count,
        "sealed": sealed,
    }


def reminders_start(*, now=None) -> list[NoticeEvent]:
    """Start the next scheduled reminder round of every event due for one: a child event whose
    notices (email and in-app, unique per person like any other) go to every active person who
    has not acknowledged. First, people who arrived since get the open crises' notices."""
    now = now or timezone.now()
    delay = settings.CRISISCOMM_REMINDER_DELAY
    rounds = getattr(settings, "CRISISCOMM_REMINDER_ROUNDS", 3)
    notices_for_arrivals()
    started = []
    candidates = NoticeEvent.objects.filter(
        parent__isnull=True, event__in=REMINDED_EVENTS, materialised_at__isnull=False
    )
    for root in candidates:
        # Rounds a DCO started by hand ("remind them now") do not use up the scheduled ones.
        scheduled = root.reminders.count() - root.reminders.filter(context__by="dco").count()
        if scheduled >= rounds:
            continue
        if now < root.created_at + delay * (scheduled + 1):
            continue
        superseded = (
            root.crisis_id is not None
            and NoticeEvent.objects.filter(
                parent__isnull=True,
                crisis_id=root.crisis_id,
                event__in=SUPERSEDING_EVENTS,
                pk__gt=root.pk,
            ).exists()
        )
        if superseded:
            continue  # a later event replaced this one: no more reminders about it
        child = _start_round(root, by="schedule", actor=None)
        if child is not None:
            started.append(child)
    return started


def _start_round(root, *, by: str, actor):
    with transaction.atomic():
        current = root.reminder_round
        updated = NoticeEvent.objects.filter(pk=root.pk, reminder_round=current).update(
            reminder_round=current + 1
        )
        if not updated:
            return None  # another beat (or a DCO) got there first
        next_round = current + 1
        root.reminder_round = next_round
        child = NoticeEvent.objects.create(
            event=root.event,
            crisis_id=root.crisis_id,
            context={"by": by},
            parent=root,
            reminder_round=next_round,
            actor=actor_or_none(actor=actor),
        )
        audit_record(
            actor=actor,
            action="notification.remind",
            obj=root,
            details={"event": root.event, "crisis": root.crisis_id, "round": next_round, "by": by},
        )
        child_id = child.pk
        transaction.on_commit(lambda pk=child_id: enqueue_materialise(event_id=pk))
    return child


def notice_event_allowed_actions(*, user, event: NoticeEvent) -> frozenset[str]:
    """What `user` may do about `event` (the audit trail's verbs): a DCO reminds, at once, the
    people who have not acknowledged it, until a lift or stand-down makes its notices moot.
    reminders_send_now refuses the rest by the same two rules."""
    if has_role(user, DCO) and not _reminders_over(event.root):
        return frozenset({"notification.remind"})
    return frozenset()


def _reminders_over(root: NoticeEvent) -> bool:
    return superseding_event(root=root) is not None


def reminders_send_now(*, actor, event: NoticeEvent) -> NoticeEvent:
    """ "Remind them now": a DCO starts a reminder round at once for everyone who has not
    acknowledged `event` (a root event), beside the scheduled rounds (which keep their times)."""
    require_role(actor, DCO, message="Only a communication directorate officer (dco) may send reminders.")
    root = event.root
    if _reminders_over(root):
        raise ServiceError("This crisis is over: its notices are no longer sent.", field="event")
    for _attempt in range(3):
        child = _start_round(NoticeEvent.objects.get(pk=root.pk), by="dco", actor=actor)
        if child is not None:
            return child
    raise ServiceError("Another reminder round is starting; try again.", field="event", code="conflict")
