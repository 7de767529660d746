from datetime import datetime
from urllib.parse import urlsplit

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

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


@register.filter
def local(value, fmt="DATETIME_FORMAT"):
    """A moment as the reader reads it: the service's time zone, the active language's format
    (apps/web/formats), minutes only. Takes a datetime or an ISO string; anything else unchanged."""
    moment = isodt(value)
    if not isinstance(moment, datetime):
        return value or ""
    return date_format(timezone.localtime(moment), fmt)


def is_web_url(value) -> bool:
    """Only http(s) addresses with a host become links: never javascript:, data:, or a relative path."""
    try:
        parts = urlsplit(str(value or "").strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


@register.filter
def safe_link(value, label=None):
    """An external address as a link when it is http or https, else as plain text (escaped)."""
    if not value:
        return ""
    text = label or value
    if is_web_url(value):
        return format_html('<a href="{}" rel="noopener noreferrer nofollow">{}</a>', str(value).strip(), text)
    return format_html("{}", text)
