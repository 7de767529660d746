"""The DCO control room: the gate, the crisis, the frozen-post review, the lift, live figures.

Every write goes through apps.crises.services; the service checks rights and state again and
its errors are shown as messages."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.crises import services as crisis_services
from apps.crises.checklist import checklist_items
from apps.crises.models import Crisis, CrisisStatus, PostDecision
from apps.crises.selectors import crisis_open, crisis_report
from apps.notifications.selectors import notice_figures
from apps.posts import services as post_services
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import gate_state
from apps.statements.models import Statement

from ..charts import ack_chart_svg
from ..forms import DecisionsForm, DeclareForm, ExtendForm, LiftForm, ReasonForm
from ..helpers import call_service, form_errors_to_messages, roles_required
from ..selectors import ack_series, crisis_timeline

# Readers: the DCO and auditors; writers: the DCO only (403 for anyone else).
control_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))


REVIEW_PAGE_SIZE = 100


def _frozen_review(crisis, *, page_number=1, undecided_only=False):
    """One page of the frozen posts with their decisions, and the counts over all of them."""
    frozen = Post.objects.filter(frozen_by_id=crisis.gate_closure_id, status=PostStatus.FROZEN)
    decided = PostDecision.objects.filter(crisis=crisis).values("post")
    total = frozen.count()
    undecided = frozen.exclude(pk__in=decided).count()
    listed = frozen.exclude(pk__in=decided) if undecided_only else frozen
    page = Paginator(
        listed.select_related("account").order_by("scheduled_at", "id"), REVIEW_PAGE_SIZE
    ).get_page(page_number)
    posts = list(page.object_list)
    decisions = {
        d.post_id: d for d in PostDecision.objects.filter(crisis=crisis, post_id__in=[p.pk for p in posts])
    }
    now = timezone.now()
    for post in posts:
        post.decision = decisions.get(post.pk)
        post.time_passed = post.scheduled_at <= now
    return {"frozen_posts": posts, "frozen_total": total, "undecided": undecided, "review_page": page}


def _figures_context(crisis):
    figures = notice_figures(crisis_id=crisis.pk)
    series = ack_series(crisis_id=crisis.pk)
    people = (figures.get("people") or {}).get("total") or 0
    departments = []
    for name, row in sorted((figures.get("by_department") or {}).items()):
        total = row.get("total") or 0
        acked = row.get("acknowledged") or 0
        departments.append(
            {
                "name": name or _("(no department)"),
                "total": total,
                "sent": row.get("sent", 0),
                "failed": row.get("failed", 0),
                "acknowledged": acked,
                "percent": round(100 * acked / total) if total else 0,
            }
        )
    return {
        "crisis": crisis,
        "figures": figures,
        "departments": departments,
        "channels": sorted((figures.get("by_channel") or {}).items()),
        "ack_people": (figures.get("people") or {}).get("acknowledged") or 0,
        "people_total": people,
        "chart": ack_chart_svg(series, total=people, start=crisis.declared_at, end=crisis.closed_at),
        "updated_at": timezone.now(),
    }


@control_access
@require_GET
def control_room(request):
    return render(request, "web/control.html", _control_context(request))


def _control_context(request, declare_form=None):
    crisis = crisis_open()
    context = {
        "gate": gate_state(),
        "crisis": crisis,
        "is_dco": has_role(request.user, DCO),
        "declare_form": declare_form or DeclareForm(),
        "scheduled_count": Post.objects.filter(status=PostStatus.SCHEDULED, exempt=False).count(),
        "recent": Crisis.objects.filter(status=CrisisStatus.CLOSED).order_by("-declared_at")[:5],
    }
    if crisis:
        review = _frozen_review(
            crisis,
            page_number=request.GET.get("page") or 1,
            undecided_only=request.GET.get("undecided") == "1",
        )
        context.update(
            {
                **review,
                "undecided_only": request.GET.get("undecided") == "1",
                "decisions_form": DecisionsForm(),
                "extend_form": ExtendForm(initial={"freeze_until": timezone.localtime(crisis.freeze_until)}),
                "lift_form": LiftForm(checklist=checklist_items()),
                "stand_down_form": ReasonForm(),
                "freeze_passed": crisis.freeze_until <= timezone.now(),
                "can_approve": crisis.status == CrisisStatus.LIFTING
                and crisis.end_requested_by_id != request.user.pk,
                "statements": _statements_queue(crisis),
                "timeline": crisis_timeline(crisis, limit=30),
                **_figures_context(crisis),
            }
        )
    return context


def _statements_queue(crisis):
    return list(
        Statement.objects.filter(crisis=crisis)
        .select_related("author")
        .prefetch_related("accounts")
        .order_by("-updated_at", "-id")[:50]
    )


@control_access
def control_declare(request):
    """Two steps: the form, then a confirmation page saying exactly what will happen."""
    if request.method != "POST":
        return redirect("web:control")
    form = DeclareForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return render(request, "web/control.html", _control_context(request, form), status=400)
    if request.POST.get("confirm") != "yes":
        scheduled = Post.objects.filter(status=PostStatus.SCHEDULED, exempt=False).count()
        return render(request, "web/declare_confirm.html", {"form": form, "scheduled_count": scheduled})
    data = form.cleaned_data
    crisis = call_service(
        request,
        crisis_services.crisis_declare,
        actor=request.user,
        title=data["title"],
        summary=data["summary"],
        severity=data["severity"],
        topics=data["topics"],
    )
    if crisis:
        messages.success(
            request,
            _("Crisis declared. The gate is closed and every scheduled post is frozen until %(until)s.")
            % {"until": date_format(timezone.localtime(crisis.freeze_until), "DATETIME_FORMAT")},
        )
    return redirect("web:control")


def _crisis_or_404(crisis_id):
    return get_object_or_404(Crisis, pk=crisis_id)


@control_access
@require_POST
def control_extend(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    form = ExtendForm(request.POST)
    if form.is_valid():
        call_service(
            request,
            crisis_services.crisis_extend,
            success=_("The freeze was extended."),
            actor=request.user,
            crisis=crisis,
            freeze_until=form.cleaned_data["freeze_until"],
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:control")


@control_access
@require_POST
def control_decisions(request, crisis_id):
    """Bulk decisions on frozen posts: one service call per post, each reported."""
    crisis = _crisis_or_404(crisis_id)
    # Only the posted ids are looked up (the review may hold 100,000 posts); a post that is not
    # (or no longer) frozen by this crisis is refused by the form, the service checks again.
    posted = [int(v) for v in request.POST.getlist("posts") if v.isdigit()][: REVIEW_PAGE_SIZE * 5]
    frozen_ids = list(
        Post.objects.filter(
            pk__in=posted, frozen_by_id=crisis.gate_closure_id, status=PostStatus.FROZEN
        ).values_list("pk", flat=True)
    )
    form = DecisionsForm(request.POST, post_ids=frozen_ids)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return redirect("web:control")
    data = form.cleaned_data
    decision = data["decision"]
    kwargs = {}
    if decision == "publish_now":
        decision, kwargs = "release", {"publish_now": True}
    elif decision == "reschedule":
        kwargs = {"scheduled_at": data["scheduled_at"]}
    done = 0
    svc = crisis_services
    for post in Post.objects.filter(pk__in=data["posts"]).order_by("scheduled_at", "id"):
        ok = call_service(
            request,
            svc.crisis_decide_post,
            actor=request.user,
            crisis=crisis,
            post=post,
            decision=decision,
            **kwargs,
        )
        done += bool(ok)
    if done:
        messages.success(request, _("Decision recorded for %(n)s post(s).") % {"n": done})
    return redirect("web:control")


@control_access
@require_POST
def control_lift(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    form = LiftForm(request.POST, checklist=checklist_items())
    if form.is_valid():
        call_service(
            request,
            crisis_services.crisis_request_lift,
            success=_("Lift requested. A second DCO officer must now approve it."),
            actor=request.user,
            crisis=crisis,
            comment=form.cleaned_data["comment"],
            checklist=form.checklist(),
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:control")


@control_access
@require_POST
def control_stand_down(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        call_service(
            request,
            crisis_services.crisis_request_stand_down,
            success=_("Stand-down requested. A second DCO officer must now approve it."),
            actor=request.user,
            crisis=crisis,
            reason=form.cleaned_data["reason"],
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:control")


@control_access
@require_POST
def control_approve_lift(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    call_service(
        request,
        crisis_services.crisis_approve_lift,
        success=_("Approved. The crisis is closed and the gate is open again."),
        actor=request.user,
        crisis=crisis,
    )
    return redirect("web:control")


@control_access
@require_POST
def control_retract(request, crisis_id, post_id):
    """Delete from its network a post sent just before the declaration (a retraction candidate)."""
    crisis = _crisis_or_404(crisis_id)
    post = get_object_or_404(Post, pk=post_id)
    call_service(
        request,
        post_services.post_retract,
        success=_("The post was deleted from its network."),
        actor=request.user,
        post=post,
    )
    return redirect("web:report", crisis_id=crisis.pk)


@control_access
@require_GET
def control_figures(request, crisis_id):
    """The live acknowledgement fragment, polled by htmx every few seconds."""
    crisis = _crisis_or_404(crisis_id)
    return render(request, "web/_figures.html", _figures_context(crisis))


@control_access
@require_GET
def control_report(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    report = crisis_report(crisis)
    context = {
        "crisis": crisis,
        "report": report,
        "is_dco": has_role(request.user, DCO),
        "timeline": crisis_timeline(crisis, limit=500)[::-1],
        **_figures_context(crisis),
    }
    return render(request, "web/report.html", context)
