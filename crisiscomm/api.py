"""Moved to apps.core (errors: apps.core.errors; the HTTP mapping: apps.core.api). This shim is
removed once the last importers (notifications, watch) and the settings point there."""

from apps.core.api import bad_request, exception_handler  # noqa: F401
from apps.core.errors import ConflictError, NotAllowedError, ServiceError  # noqa: F401
