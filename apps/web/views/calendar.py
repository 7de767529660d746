"""The post calendar: a week per page, one row per official account. The DCO edits it through
the posts services; a frozen post is decided through the crisis review instead."""

from datetime import date, datetime, time, timedelta

from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.crises.selectors import crisis_for_closure
from apps.posts import services as post_services
from apps.posts.models import Post, PostStatus, SocialAccount

from ..forms import DecisionsForm, PostForm
from ..helpers import call_service, form_errors_to_messages, roles_required
from ..selectors import calendar_week as calendar_grid

calendar_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))


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
    context = {
        "days": days,
        "rows": rows,
        "monday": monday,
        "prev_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "accounts": SocialAccount.objects.filter(is_active=True),
        "account_id": account_id,
        "is_dco": has_role(request.user, DCO),
        "frozen_count": sum(
            1 for _acc, cells in grid for cell in cells for p in cell if p.status == "frozen"
        ),
    }
    return render(request, "web/calendar.html", context)


@calendar_access
def calendar_post_new(request):
    form = PostForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            post = call_service(
                request,
                post_services.post_create,
                success=_("Post scheduled."),
                actor=request.user,
                **form.cleaned_data,
            )
            if post:
                return redirect(_week_url(post))
        else:
            form_errors_to_messages(request, form)
    return render(
        request, "web/post_form.html", {"form": form, "post": None}, status=400 if form.errors else 200
    )


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
        elif form.is_valid():
            changes = {k: v for k, v in form.cleaned_data.items() if v != getattr(post, k)}
            if not changes:
                return redirect(_week_url(post))
            if call_service(
                request,
                post_services.post_update,
                success=_("Post updated."),
                actor=request.user,
                post=post,
                **changes,
            ):
                return redirect(_week_url(post))
        else:
            form_errors_to_messages(request, form)
        post.refresh_from_db()
    frozen = post.status == PostStatus.FROZEN
    context = {
        "form": form,
        "post": post,
        "frozen": frozen,
        "crisis": crisis_for_closure(post.frozen_by) if frozen else None,
        "decision_choices": DecisionsForm.DECISIONS,
    }
    return render(request, "web/post_form.html", context, status=400 if form.errors else 200)


def _week_url(post):
    day = timezone.localtime(post.scheduled_at).date()
    return f"{redirect('web:calendar').url}?week={day.isoformat()}"
