"""Celery tasks: take ids, call a service. Enqueueing never blocks nor raises into the caller:
the outbox row is already committed, and the relay (beat) enqueues again whatever is pending.

Materialising, the relay and reminders run on their own queue (FANOUT_QUEUE), so that a
backlog of deliveries never delays the next event's rows (a stand-down reaches the inboxes at
once). Workers consume it first: `celery worker -Q notifications.fanout,celery`, or a worker of
its own (docker-compose.yml)."""

import logging

from celery import shared_task
from celery.signals import worker_init, worker_shutting_down
from django.conf import settings

from . import services

log = logging.getLogger(__name__)

FANOUT_QUEUE = getattr(settings, "CRISISCOMM_FANOUT_QUEUE", "notifications.fanout")
# A delivery task hands over after this many seconds and re-enqueues itself, so that one long
# fan-out does not hold a worker forever and other events get their turn.
DELIVERY_TIME_BUDGET = 60.0
# Publishing to the broker: at most one retry, each bounded by the broker's socket timeouts
# (CELERY_BROKER_TRANSPORT_OPTIONS), so a down or hung broker costs a request ~2 s, not 45.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue(task, *args) -> bool:
    """Send a task to the broker; on a broker outage log it and return False (the relay will
    pick the work up from the database once the broker is back)."""
    options = {"queue": FANOUT_QUEUE} if task.name in FANOUT_TASKS else {}
    try:
        task.apply_async(args=args, retry=True, retry_policy=RETRY_POLICY, **options)
    except Exception:
        log.warning("Could not enqueue %s%r; the relay will retry", task.name, args, exc_info=True)
        return False
    return True


@worker_shutting_down.connect(dispatch_uid="notifications.stop_between_mails")
def _stop_between_mails(**kwargs):
    """SIGTERM (a redeploy): the running delivery stops after the mail in hand, hands its other
    claimed rows back and re-enqueues. The signal reaches the task in the solo pool (the
    deployed one: one process per worker, scaled by replicas); prefork children never see it,
    and the thread pool exits ~10 s late."""
    services.STOPPING.set()


@worker_init.connect(dispatch_uid="notifications.clear_stopping")
def _clear_stopping(**kwargs):
    """A worker starting in a process where an earlier one was stopped (an in-process worker,
    a restarted embedded one) delivers normally: the earlier stop request is not its own."""
    services.STOPPING.clear()


@shared_task(name="apps.notifications.tasks.materialise_event", queue=FANOUT_QUEUE)
def materialise_event(event_id: int):
    return services.event_materialise(event_id=event_id)


@shared_task(name="apps.notifications.tasks.deliver_notices")
def deliver_notices(event_id: int, channel: str):
    result = services.notices_deliver(event_id=event_id, channel=channel, time_budget=DELIVERY_TIME_BUDGET)
    if result["more"]:
        enqueue(deliver_notices, event_id, channel)
    return result


@shared_task(name="apps.notifications.tasks.relay_queued_notices", queue=FANOUT_QUEUE)
def relay_queued_notices():
    return services.notices_relay()


@shared_task(name="apps.notifications.tasks.send_reminders", queue=FANOUT_QUEUE)
def send_reminders():
    return [event.pk for event in services.reminders_start()]


@shared_task(name="apps.notifications.tasks.refresh_figures", queue=FANOUT_QUEUE)
def refresh_figures(crisis_id: int, event_id: int, include: list[str]):
    from . import selectors

    selectors.refresh_figures(crisis_id=crisis_id, event_id=event_id, include=include)


FANOUT_TASKS = {materialise_event.name, relay_queued_notices.name, send_reminders.name, refresh_figures.name}
