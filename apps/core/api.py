"""API plumbing shared by every app: the JSON error format (the domain's errors of
`apps.core.errors` mapped to HTTP in one place), and hostile input (bodies of the wrong JSON type,
NUL bytes, numbers out of range) answered 4xx, never 500."""

import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ConflictError, NotAllowedError, ServiceError

__all__ = ["ConflictError", "NotAllowedError", "ServiceError", "exception_handler"]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


# Django's message when a lookup gets a value of the wrong type (IntegerField.get_prep_value…).
_FIELD_TYPE_ERROR = re.compile(
    r"^Field '(?P<field>[^']+)' expected (?P<kind>.+?) but got (?P<value>.+)\.$", re.S
)


def _wrong_type_lookup(exc, context):
    """A ValueError/TypeError from a lookup with a value of the wrong type: 404 when the value
    came from the URL (`/posts/abc/…`: no such object), 400 naming the field otherwise."""
    match = _FIELD_TYPE_ERROR.match(str(exc))
    if match is None:
        return None
    url_values = {repr(str(v)) for v in (context.get("kwargs") or {}).values()}
    if match.group("value") in url_values:
        return exceptions.NotFound()
    return exceptions.ValidationError(
        {match.group("field"): [_("Expected %(kind)s.") % {"kind": match.group("kind")}]}
    )


def exception_handler(exc, context):
    """Every error is JSON: `{"detail": "...", "code": "...", "errors": {field: [messages]}}`.

    `errors` names each bad field (DRF's own per-field messages); `detail` is one readable line.
    """
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status_code)
    if isinstance(exc, ValueError | TypeError):
        exc = _wrong_type_lookup(exc, context) or exc
    if isinstance(exc, DataError | OverflowError):
        # PostgreSQL refuses NUL characters and numbers beyond its column types.
        exc = exceptions.ValidationError(
            {
                "non_field_errors": [
                    _("A value is out of range or contains a character that is not allowed (NUL).")
                ]
            }
        )
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(_("The request is malformed."))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        first_field = next(iter(errors), "non_field_errors")
        first = errors[first_field]
        first_msg = first[0] if isinstance(first, list) and first else first
        label = "" if first_field == "non_field_errors" else f"{first_field}: "
        response.data = {"detail": f"{label}{first_msg}", "code": "invalid", "errors": errors}
    elif isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        response.data = {"detail": str(detail), "code": getattr(detail, "code", "error")}
    return response


# Django's own 404/500 pages for URLs no DRF view answers: JSON under /api/, HTML elsewhere.
def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
