"""Request guards shared by every page and endpoint."""

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _


class BodySizeLimitMiddleware:
    """A body larger than CRISISCOMM_MAX_BODY_BYTES gets 413 with the JSON error, before any view
    or parser reads it (DRF reads JSON straight from the stream, past Django's own limit)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.CRISISCOMM_MAX_BODY_BYTES
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse(
                {"detail": _("Bad Content-Length header."), "code": "bad_request"}, status=400
            )
        if length > limit:
            return JsonResponse(
                {
                    "detail": _("The request body is too large (%(size)d bytes; at most %(limit)d).")
                    % {"size": length, "limit": limit},
                    "code": "request_too_large",
                },
                status=413,
            )
        return self.get_response(request)
