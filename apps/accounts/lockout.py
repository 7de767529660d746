"""What a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE): 429 with the JSON error on
the API, the login page again with a clear message elsewhere."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_message():
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return _(
        "Too many failed sign-in attempts for this account from your address: signing in is "
        "blocked for %(minutes)d minutes, even with the right password."
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    message = lockout_message()
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
        response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
        return response
    if request.path.startswith("/admin/"):
        from django.contrib import admin

        context = {**admin.site.each_context(request), "title": _("Log in"), "lockout_message": message}
        return render(request, "accounts/admin_lockout.html", context, status=429)
    return render(request, "accounts/lockout.html", {"lockout_message": message}, status=429)
