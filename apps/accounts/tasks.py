"""Periodic housekeeping of the accounts (Celery beat)."""

from celery import shared_task

from .authentication import delete_all_expired_tokens


@shared_task(name="apps.accounts.tasks.sweep_expired_tokens", ignore_result=True)
def sweep_expired_tokens() -> int:
    return delete_all_expired_tokens()
