"""Celery tasks: take ids, call a service. Enqueueing never raises into the caller: the outbox
row is already committed, and the relay (beat) enqueues again whatever is still pending."""

import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)

# A delivery task hands over after this many seconds and re-enqueues itself, so that one long
# fan-out does not hold a worker forever and other events get their turn.
DELIVERY_TIME_BUDGET = 120.0


def enqueue(task, *args) -> bool:
    """Send a task to the broker; on a broker outage log it and return False (the relay will
    pick the work up from the database once the broker is back)."""
    try:
        task.apply_async(
            args=args,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except Exception:
        log.warning("Could not enqueue %s%r; the relay will retry", task.name, args, exc_info=True)
        return False
    return True


@shared_task(name="apps.notifications.tasks.materialise_event")
def materialise_event(event_id: int):
    return services.event_materialise(event_id=event_id)


@shared_task(name="apps.notifications.tasks.deliver_notices")
def deliver_notices(event_id: int, channel: str):
    result = services.notices_deliver(event_id=event_id, channel=channel, time_budget=DELIVERY_TIME_BUDGET)
    if result["more"]:
        enqueue(deliver_notices, event_id, channel)
    return result


@shared_task(name="apps.notifications.tasks.relay_queued_notices")
def relay_queued_notices():
    return services.notices_relay()


@shared_task(name="apps.notifications.tasks.send_reminders")
def send_reminders():
    return [event.pk for event in services.reminders_start()]
