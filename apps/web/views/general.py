import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts.roles import AUDITOR, DCO, EXPERT, SPOKESPERSON, has_role
from apps.notifications.messages import MessageBook
from apps.notifications.models import Notice
from apps.notifications.selectors import notices_for_user
from apps.notifications.services import notice_acknowledge, notice_allowed_actions
from apps.posts.models import Post
from apps.posts.selectors import gate_closure_current, gate_state, posts_manual_todo
from apps.posts.services import post_allowed_actions, post_mark_published

from ..auth_views import LoginView
from ..helpers import call_service
from ..selectors import waiting_for


def home(request):
    """Anonymous visitors get Django's login form right here; others their dashboard."""
    if not request.user.is_authenticated:
        return LoginView.as_view()(request)
    user = request.user
    context = {
        "gate": gate_state(),
        "is_dco": has_role(user, DCO),
        "sees_control": has_role(user, DCO, AUDITOR),
        "sees_statements": has_role(user, DCO, SPOKESPERSON, EXPERT),
        "unacknowledged": _unacknowledged(user).count(),
    }
    # Whoever may have to act (approve, decide, publish by hand) sees first what waits for them.
    waiting = waiting_for(user=user)
    context["waiting"] = waiting
    # The statement steps this person may decide: the statements app's one answer (awaiting_user).
    context["to_review"] = sum(1 for item in waiting if item["kind"] == "statement_step")
    context["shows_waiting"] = bool(waiting) or has_role(user, DCO, EXPERT, SPOKESPERSON)
    return render(request, "web/home.html", context)


INBOX_CHANNEL = "inapp"


def _inbox_notices(user):
    """The person's in-app notices for root events (a reminder is acknowledged with its event)."""
    return notices_for_user(user=user).filter(channel=INBOX_CHANNEL, event__parent__isnull=True)


def _unacknowledged(user):
    return _inbox_notices(user).filter(acknowledged_at__isnull=True)


def _with_text(notice, user, language):
    """Subject and text as the notice's channel would say them, in the reader's language, and
    what the reader may do with it (the notifications service says)."""
    notice.actions = notice_allowed_actions(user=user, notice=notice)
    try:
        message = MessageBook().for_person(notice.event, user=user, language=language)
    except Exception:  # a template problem must not hide the notice itself
        notice.title, notice.text = notice.event.event, ""
    else:
        notice.title, notice.text = message.subject, _without_link(message.text, message.link)
    return notice


def _without_link(text: str, link: str) -> str:
    """The inbox has its own button: the e-mail's paragraph with the one-click link is left out."""
    if not link:
        return text
    return "\n\n".join(p for p in re.split(r"\n\s*\n", text) if link not in p)


@login_required
def inbox(request):
    """The person's in-app notices; every staff member has one, whatever their roles."""
    language = get_language()
    notices = [_with_text(n, request.user, language) for n in _inbox_notices(request.user)[:50]]
    # The hand-overs a crisis holds are listed too, held: the button only where the posts'
    # service would take it.
    closure = gate_closure_current()
    todo = list(posts_manual_todo(user=request.user, frozen=True)[:50])
    for post in todo:
        post.actions = post_allowed_actions(user=request.user, post=post, closure=closure)
    return render(request, "web/inbox.html", {"notices": notices, "todo": todo})


@login_required
@require_POST
def todo_mark_published(request, post_id):
    """A manual-connector post: its assignee published it by hand and says so."""
    post = get_object_or_404(Post, pk=post_id)
    call_service(
        request,
        post_mark_published,
        success=_("Marked as published."),
        actor=request.user,
        post=post,
        external_url=request.POST.get("external_url", "").strip(),
    )
    return redirect("web:inbox")


@login_required
@require_POST
def inbox_acknowledge(request, notice_id):
    # Another person's notice is not found, not forbidden: ids are not disclosed.
    notice = get_object_or_404(Notice.objects.select_related("event"), pk=notice_id, user=request.user)
    call_service(
        request,
        notice_acknowledge,
        success=_("Thank you: acknowledgement recorded."),
        actor=request.user,
        notice=notice,
    )
    if request.htmx:
        notice = _with_text(
            Notice.objects.select_related("event").get(pk=notice.pk), request.user, get_language()
        )
        # The fragment says it at once (aria-live) instead of leaving it for the next page.
        flashed = [str(m) for m in messages.get_messages(request)]
        return render(request, "web/_notice.html", {"notice": notice, "flashed": flashed})
    return redirect("web:inbox")
