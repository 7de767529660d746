"""Celery tasks: take ids, call a service. Enqueueing (broker.py) never blocks nor raises into
the caller: the outbox row is already committed, and the relay (beat) enqueues again whatever
is pending. The queues and the task names the services enqueue by are in broker.py."""

from celery import shared_task
from celery.signals import worker_init, worker_shutting_down

from . import broker, selectors, services
from .broker import FANOUT_QUEUE

# A delivery task hands over after this many seconds and re-enqueues itself, so that one long
# fan-out does not hold a worker forever and other events get their turn.
DELIVERY_TIME_BUDGET = 60.0


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


@shared_task(name=broker.MATERIALISE, queue=FANOUT_QUEUE)
def materialise_event(event_id: int):
    return services.event_materialise(event_id=event_id)


@shared_task(name=broker.DELIVER)
def deliver_notices(event_id: int, channel: str):
    result = services.notices_deliver(event_id=event_id, channel=channel, time_budget=DELIVERY_TIME_BUDGET)
    if result["more"]:
        broker.enqueue(broker.DELIVER, event_id, channel)
    return result


@shared_task(name=broker.RELAY, queue=FANOUT_QUEUE)
def relay_queued_notices():
    return services.notices_relay()


@shared_task(name=broker.REMIND, queue=FANOUT_QUEUE)
def send_reminders():
    return [event.pk for event in services.reminders_start()]


@shared_task(name=broker.REFRESH_FIGURES, queue=FANOUT_QUEUE)
def refresh_figures(crisis_id: int, event_id: int, include: list[str]):
    selectors.refresh_figures(crisis_id=crisis_id, event_id=event_id, include=include)
