"""The one-click acknowledgement page: no login, the signed link is the credential."""

from django.core import signing
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.accounts.models import profile_of
from crisiscomm.api import ServiceError

from . import services
from .messages import language_of


@never_cache
@csrf_exempt  # the signed token is the credential; no session, nothing a forged form could add
@require_http_methods(["GET", "POST"])
def acknowledge_link(request, token):
    try:
        root, user, count = services.notice_acknowledge_link(token=token)
    except signing.SignatureExpired:
        return render(request, "notifications/ack.html", {"outcome": "expired"}, status=410)
    except (signing.BadSignature, ServiceError, ValueError, KeyError, TypeError):
        return render(request, "notifications/ack.html", {"outcome": "invalid"}, status=400)
    language = language_of(profile_of(user)[0])
    with translation.override(language):
        context = {
            "outcome": "done" if count else "already",
            "title": (root.context or {}).get("title", ""),
            "acknowledged_at": services.acknowledged_at(user=user, root=root),
            "person": user.get_full_name() or user.get_username(),
        }
        return render(request, "notifications/ack.html", context)
