"""The one-click acknowledgement page: no login, the signed link is the credential.

GET shows the notice and an "I acknowledge" button and changes nothing (mail scanners and link
previews fetch links); the POST of that button, carrying the signed token in the form,
acknowledges."""

from django.core import signing
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.accounts.models import profile_of
from apps.core.errors import ServiceError

from . import services
from .messages import language_of, page_message


@never_cache
@csrf_exempt  # the signed token is the credential; no session, nothing a forged form could add
@require_http_methods(["GET", "POST"])
def acknowledge_link(request, token):
    if request.method == "POST":
        token = request.POST.get("token") or token
    try:
        if request.method == "POST":
            root, user, count = services.notice_acknowledge_link(token=token)
        else:
            root, user = services.read_ack_link(token=token)
            count = None
    except signing.SignatureExpired:
        return render(request, "notifications/ack.html", {"outcome": "expired"}, status=410)
    except (signing.BadSignature, ServiceError, ValueError, KeyError, TypeError):
        return render(request, "notifications/ack.html", {"outcome": "invalid"}, status=400)
    language = language_of(profile_of(user)[0])
    with translation.override(language):
        acknowledged_at = services.acknowledged_at(user=user, root=root)
        if count is None:
            outcome = "already" if acknowledged_at else "ask"
        else:
            outcome = "done" if count else "already"
        subject, text = page_message(root, user=user, language=language)
        context = {
            "outcome": outcome,
            "token": token,
            "title": (root.context or {}).get("title", ""),
            "subject": subject,
            "text": text,
            "acknowledged_at": acknowledged_at,
            "person": user.get_full_name() or user.get_username(),
            "language": language,
        }
        return render(request, "notifications/ack.html", context)
