"""What the crisis services share: the open crisis locked, the time check, the staff notice."""

from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role

from .models import Crisis

# The database holds the same minimum (constraint crisis_freeze_at_least_24h).
MIN_FREEZE = timedelta(hours=24)


def aware(*, value, field):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None or timezone.is_naive(value):
        raise ServiceError(_("A date and time with a time zone is required."), field=field)
    return value


def notice_context(*, crisis: Crisis) -> dict:
    """What staff notices may say. Never the internal summary."""
    return {
        "title": crisis.title,
        "severity": crisis.severity,
        "declared_at": crisis.declared_at.isoformat(),
        "freeze_until": crisis.freeze_until.isoformat(),
        "topics": list(crisis.topics),
    }


def locked(*, crisis) -> Crisis:
    return Crisis.objects.select_for_update().get(pk=crisis.pk)


def require_open(*, crisis):
    if not crisis.is_open:
        raise ConflictError(_("This crisis is closed."), code="crisis_closed")


def crisis_check_change(*, actor, crisis) -> None:
    """Who may extend the freeze or decide a frozen post's fate: a dco, while the crisis is open
    (a pending end is then withdrawn). Raises the service's error."""
    require_role(actor, DCO)
    require_open(crisis=crisis)
