"""Error pages in the site's layout, in the reader's language (handler403/404/500). The API keeps
its JSON errors (apps.core.api); a page that fails to render falls back to plain HTML."""

import logging

from django.http import HttpResponseForbidden, HttpResponseNotFound, HttpResponseServerError
from django.template import loader
from django.utils.translation import gettext as _

from apps.core import api as api_errors

logger = logging.getLogger(__name__)


def _render(request, template_name, status, fallback, **context):
    try:
        body = loader.render_to_string(template_name, context, request=request)
    except Exception:  # the layout needs the database (banner, menu): never a second error
        logger.exception("error page %s could not be rendered in the layout", template_name)
        body = loader.render_to_string(f"errors/{status}_plain.html", context)
    return fallback(body)


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(
            {"detail": _("You do not have the right to do this."), "code": "forbidden"}, status=403
        )
    return _render(request, "403.html", 403, HttpResponseForbidden)


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_errors.page_not_found(request, exception)
    return _render(request, "404.html", 404, HttpResponseNotFound, request_path=request.path)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_errors.server_error(request)
    return _render(request, "500.html", 500, HttpResponseServerError)
