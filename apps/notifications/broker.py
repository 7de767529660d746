"""Enqueueing this app's Celery tasks, never blocking nor raising into the caller.

Services and selectors enqueue through here, by task name, instead of importing tasks.py (which
imports them): the tasks stay on top of the services, with no import cycle. The tasks are
registered when the app is ready (apps.py imports tasks.py), as `shared_task` resolves them.

Materialising, the relay and reminders run on their own queue (FANOUT_QUEUE), so that a
backlog of deliveries never delays the next event's rows (a stand-down reaches the inboxes at
once). Workers consume it first: `celery worker -Q notifications.fanout,celery`, or a worker of
its own (docker-compose.yml)."""

import logging

from celery import current_app
from django.conf import settings

log = logging.getLogger(__name__)

FANOUT_QUEUE = getattr(settings, "CRISISCOMM_FANOUT_QUEUE", "notifications.fanout")
# Publishing to the broker: at most one retry, each bounded by the broker's socket timeouts
# (CELERY_BROKER_TRANSPORT_OPTIONS), so a down or hung broker costs a request ~2 s, not 45.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

MATERIALISE = "apps.notifications.tasks.materialise_event"
DELIVER = "apps.notifications.tasks.deliver_notices"
RELAY = "apps.notifications.tasks.relay_queued_notices"
REMIND = "apps.notifications.tasks.send_reminders"
REFRESH_FIGURES = "apps.notifications.tasks.refresh_figures"
FANOUT_TASKS = frozenset({MATERIALISE, RELAY, REMIND, REFRESH_FIGURES})


def enqueue(name: str, *args) -> bool:
    """Send a task to the broker; on a broker outage log it and return False (the relay will
    pick the work up from the database once the broker is back)."""
    task = current_app.tasks[name]  # an unknown name is a bug, not an outage: it raises
    options = {"queue": FANOUT_QUEUE} if name in FANOUT_TASKS else {}
    try:
        task.apply_async(args=args, retry=True, retry_policy=RETRY_POLICY, **options)
    except Exception:
        log.warning("Could not enqueue %s%r; the relay will retry", name, args, exc_info=True)
        return False
    return True
