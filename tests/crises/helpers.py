"""Test helpers for crises (setup only: the product ends a freeze through the four-eyes lift)."""

from datetime import timedelta

from django.utils import timezone

from apps.crises.models import Crisis
from apps.posts.models import GateClosure


def past_freeze(crisis, *, ago=timedelta(minutes=1)):
    """Move the crisis back in time so that its freeze ended `ago`: declared 24 h before that.
    (The database refuses a freeze_until earlier than declared_at + 24 h, so both move.)"""
    until = timezone.now() - ago
    declared = until - timedelta(hours=24)
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=declared, freeze_until=until)
    GateClosure.objects.filter(pk=crisis.gate_closure_id).update(closed_at=declared)
    crisis.refresh_from_db()
    return crisis


def end_crisis_directly():
    """Test reset between rounds (not the product's way: that is the four-eyes lift)."""
    from apps.posts.models import Post

    Crisis.objects.filter(is_open=True).update(is_open=None, status="closed", closed_at=timezone.now())
    GateClosure.objects.filter(is_current=True).update(is_current=None, opened_at=timezone.now())
    Post.objects.exclude(status__in=["published", "cancelled", "uncertain"]).update(status="cancelled")
