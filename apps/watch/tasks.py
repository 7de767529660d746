"""The watcher's beat task: one sweep every CRISISCOMM_WATCH_INTERVAL seconds."""

import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(name="apps.watch.tasks.watch_sweep")
def watch_sweep():
    # Off outside a crisis unless CRISISCOMM_WATCH_ALWAYS: the service checks, so a beat entry
    # that fires between a lift and the next declaration costs one query.
    summary = services.watch_sweep()
    # One line a sweep: what the operator (and a failing end-to-end test) reads to see what it did.
    log.info("watch sweep: %s", summary)
    return summary
