"""Fixtures of the watch tests: the loopback fake networks, outbound allowed to 127.0.0.1 only,
a declared crisis."""

import contextlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.watch.fakes import FakeNetworks


@pytest.fixture
def fake(settings):
    with FakeNetworks() as networks:
        settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
        settings.CRISISCOMM_BLUESKY_APPVIEW = networks.base
        settings.CRISISCOMM_WATCH_HOST_RATE = 0  # unpaced unless a test paces
        settings.CRISISCOMM_WATCH_HOST_RATES = {}
        settings.CRISISCOMM_WATCH_TIMEOUT = 5
        yield networks
    with contextlib.suppress(Exception):
        cache.delete(f"crisiscomm:watch:host-blocked:127.0.0.1:{networks.port}")


@pytest.fixture
def declare(dco):
    """declare(hours_ago=0) → a crisis declared by a DCO (its declared_at moved back if asked)."""
    from apps.crises.models import Crisis
    from apps.crises.services import crisis_declare

    def make(*, minutes_ago: int = 0, title="Satellite incident"):
        crisis = crisis_declare(actor=dco, title=title, summary="internal", severity=2)
        if minutes_ago:
            declared_at = crisis.declared_at - timedelta(minutes=minutes_ago)
            Crisis.objects.filter(pk=crisis.pk).update(declared_at=declared_at)
            crisis.refresh_from_db()
        return crisis

    return make


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)
