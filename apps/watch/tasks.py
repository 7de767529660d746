"""The watcher's beat task: one sweep every CRISISCOMM_WATCH_INTERVAL seconds."""

from celery import shared_task

from . import services


@shared_task(name="apps.watch.tasks.watch_sweep")
def watch_sweep():
    # Off outside a crisis unless CRISISCOMM_WATCH_ALWAYS: the service checks, so a beat entry
    # that fires between a lift and the next declaration costs one query.
    return services.watch_sweep()
