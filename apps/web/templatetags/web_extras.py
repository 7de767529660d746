from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def isodt(value):
    """An ISO 8601 string (as the JSON-shaped reports give) → an aware datetime for |date."""
    if not value or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
