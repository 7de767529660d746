"""The post calendar: a week per page, one row per official account. The DCO edits it through
the posts services; a frozen post is decided through the crisis review instead."""

from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.crises.selectors import crisis_open
from apps.crises.services import crisis_allowed_actions
from apps.posts import services as post_services
from apps.posts.models import Post, PostStatus, SocialAccount
from apps.posts.selectors import _UNSET, gate_closure_current, post_is_frozen
from apps.posts.services import post_allowed_actions

from ..forms import DecisionsForm, PostForm
from ..helpers import call_service, roles_required, submit_form
from ..selectors import calendar_week as calendar_grid
from ..selectors import post_page_actions

calendar_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))


def post_is_editable(post, user, closure=_UNSET) -> bool:
    """The page's form edits text, account and time: offered when the posts service would take
    an edit (post_allowed_actions), and not for a statement's post (its words are fixed)."""
    return "post.update" in post_allowed_actions(user=user, post=post, closure=closure) and not post.exempt


def _create_kwargs_publish_now():
    """The posts service's explicit "publish now": no time given, sent at once."""
    return {"publish_now": True, "scheduled_at": None}


def _week_start(raw: str | None) -> date:
    try:
        day = date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        day = timezone.localdate()
    return day - timedelta(days=day.weekday())


@calendar_access
def calendar_week(request):
    monday = _week_start(request.GET.get("week"))
    start = timezone.make_aware(datetime.combine(monday, time.min))
    try:
        account_id = int(request.GET.get("account") or 0) or None
    except ValueError:
        account_id = None
    _accounts, grid = calendar_grid(start=start, account_id=account_id)
    days = [monday + timedelta(days=i) for i in range(7)]
    rows = [(account, list(zip(days, cells, strict=True))) for account, cells in grid]
    closure = gate_closure_current()  # read once for the page
    for _account, cells in grid:
        for cell in cells:
            for post in cell:
                post.editable = post_is_editable(post, request.user, closure)
    now = timezone.localtime()
    context = {
        "time_zone": timezone.get_current_timezone_name(),
        "zone_abbr": now.tzname(),
        "days": days,
        "rows": rows,
        "monday": monday,
        "prev_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "accounts": SocialAccount.objects.filter(is_active=True),
        "account_id": account_id,
        "is_dco": has_role(request.user, DCO),
        "frozen_count": sum(
            1 for _acc, cells in grid for cell in cells for p in cell if p.state == PostStatus.FROZEN
        ),
    }
    return render(request, "web/calendar.html", context)


@calendar_access
def calendar_post_new(request):
    if "post.create" not in post_allowed_actions(user=request.user):
        raise PermissionDenied  # an auditor reads the calendar; a creation form is not for them
    form = PostForm(request.POST or None)
    publish_now = request.POST.get("action") == "publish_now"
    if publish_now:
        # The time field plays no part: "publish now" is its own explicit choice.
        form.fields["scheduled_at"].required = False
    if request.method == "POST":
        # A time in the past is refused by the service, with a message naming it.
        post = submit_form(
            request,
            form,
            post_services.post_create,
            success=_("Post published now.") if publish_now else _("Post scheduled."),
            data=lambda cleaned: {**cleaned, **(_create_kwargs_publish_now() if publish_now else {})},
            actor=request.user,
        )
        if post:
            return redirect(_week_url(post))
    context = {
        "form": form,
        "post": None,
        "editable": True,
        "time_zone": timezone.get_current_timezone_name(),
    }
    # A POST that did not redirect was refused (by the form or by the service): 400.
    return render(request, "web/post_form.html", context, status=400 if request.method == "POST" else 200)


@calendar_access
def calendar_post_edit(request, post_id):
    post = get_object_or_404(Post.objects.select_related("account"), pk=post_id)
    initial = {
        "account": post.account_id,
        "body": post.body,
        "scheduled_at": timezone.localtime(post.scheduled_at),
    }
    form = PostForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            if call_service(
                request,
                post_services.post_cancel,
                success=_("Post cancelled."),
                actor=request.user,
                post=post,
            ):
                return redirect(_week_url(post))
        elif not post_is_editable(post, request.user):
            messages.error(request, _("This post can no longer be edited: nothing was changed."))
        elif (form.is_valid() and not _changes(post, form.cleaned_data)) or submit_form(
            request,
            form,
            post_services.post_update,
            success=_("Post updated."),
            data=lambda cleaned: {"data": _changes(post, cleaned)},
            actor=request.user,
            post=post,
        ):
            return redirect(_week_url(post))
        post.refresh_from_db()
    frozen = post_is_frozen(post=post)
    post.state_label = PostStatus.FROZEN.label if frozen else post.get_status_display()
    crisis = crisis_open() if frozen else None
    context = {
        "form": form,
        "post": post,
        "frozen": frozen,
        "crisis": crisis,
        "decision_choices": DecisionsForm.DECISIONS,
        "editable": post_is_editable(post, request.user),
        "actions": post_page_actions(user=request.user, post=post),
        # A frozen post's fate is the crisis review's: offered as the crises services allow.
        "crisis_actions": crisis_allowed_actions(user=request.user, crisis=crisis) if crisis else frozenset(),
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "web/post_form.html", context, status=400 if form.errors else 200)


def _changes(post, cleaned):
    """Only what the form changed goes to the service (its audit entry lists the fields)."""
    return {k: v for k, v in cleaned.items() if v != getattr(post, k)}


def _week_url(post):
    day = timezone.localtime(post.scheduled_at).date()
    return f"{redirect('web:calendar').url}?week={day.isoformat()}"
