"""The DCO control room: the gate, the crisis, the frozen-post review, the lift, live figures.

Every write goes through apps.crises.services; the service checks rights and state again and
its errors are shown as messages."""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.crises import services as crisis_services
from apps.crises.actions import APPROVE_ACTIONS
from apps.crises.checklist import checklist_items
from apps.crises.models import Crisis, CrisisStatus, EndKind, PostFate
from apps.crises.selectors import (
    crisis_end_blockers,
    crisis_matching_posts,
    crisis_open,
    crisis_posts,
    crisis_report,
    crisis_review_posts,
    crisis_timeline,
    crisis_undecided_posts,
)
from apps.crises.services import crisis_allowed_actions
from apps.notifications.selectors import COUNTED_WITH_STAFF_NOTICE, notice_figures, staff_count
from apps.posts import services as post_services
from apps.posts.models import Post
from apps.posts.selectors import gate_state, posts_to_freeze
from apps.posts.services import post_allowed_actions
from apps.statements.models import Statement

from ..charts import ack_chart_svg
from ..forms import (
    DecisionsForm,
    DeclareForm,
    ExtendForm,
    LiftForm,
    MatchingDecisionForm,
    ReasonForm,
    ReviewFilterForm,
)
from ..helpers import call_service, form_errors_to_messages, roles_required, submit_form
from ..selectors import ack_series, waiting_for

# Readers: the DCO and auditors; writers: the DCO only (403 for anyone else).
control_access = roles_required(DCO, AUDITOR, write_roles=(DCO,))


REVIEW_PAGE_SIZE = 50
FILTER_KEYS = ("account", "network", "scheduled_from", "scheduled_to", "undecided")


def _day_start(day):
    """Local midnight of `day`, aware (the service's time zone)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _review_filtered(crisis, data):
    """The crisis's frozen posts matching a cleaned ReviewFilterForm, with their decisions."""
    posts = crisis_review_posts(crisis=crisis, undecided=bool(data.get("undecided")))
    if data.get("account"):
        posts = posts.filter(account=data["account"])
    if data.get("network"):
        posts = posts.filter(account__network=data["network"])
    if data.get("scheduled_from"):
        posts = posts.filter(scheduled_at__gte=_day_start(data["scheduled_from"]))
    if data.get("scheduled_to"):
        posts = posts.filter(scheduled_at__lte=_day_end(data["scheduled_to"]))
    return posts


def _matching_filter(data) -> dict:
    """The review filter as "decide all matching" takes it (local days, inclusive)."""
    start, end = data.get("scheduled_from"), data.get("scheduled_to")
    return {
        "account": data.get("account") or None,
        "network": data.get("network") or None,
        "scheduled_from": _day_start(start) if start else None,
        "scheduled_to": _day_end(end) if end else None,
    }


def _bulk_matching(crisis, data):
    """The posts "decide all matching" decides: the crises service's own selector."""
    return crisis_matching_posts(crisis=crisis, **_matching_filter(data))


def _day_end(day):
    """The last instant of `day`, local (the service's filter is inclusive)."""
    return _day_start(day + timedelta(days=1)) - timedelta(microseconds=1)


def _review_counts(crisis):
    return {
        "frozen_total": crisis_posts(crisis=crisis).count(),
        "undecided": crisis_undecided_posts(crisis=crisis).count(),
    }


def _review_context(request, crisis, *, matching_form=None):
    """One page of the review, the filter that chose it, and the counts over all the posts."""
    filter_form = ReviewFilterForm(request.GET)
    data = filter_form.cleaned_data if filter_form.is_valid() else {}
    matching = _review_filtered(crisis, data)
    page = Paginator(matching.order_by("scheduled_at", "id"), REVIEW_PAGE_SIZE).get_page(
        request.GET.get("page") or 1
    )
    now = timezone.now()
    posts = list(page.object_list)
    labels = dict(PostFate.choices)
    for post in posts:
        post.time_passed = post.scheduled_at <= now
        post.decision_label = labels.get(post.decision, post.decision)
    # The filter without the page number: for the pager links and the redirect after a decision.
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "crisis": crisis,
        "is_dco": has_role(request.user, DCO),
        "actions": crisis_allowed_actions(user=request.user, crisis=crisis),
        "filter_form": filter_form,
        "filter_query": query.urlencode(),
        "filter_pairs": [(key, query[key]) for key in FILTER_KEYS if query.get(key)],
        "matching_count": page.paginator.count,
        "bulk_count": _bulk_matching(crisis, data).count(),
        "frozen_posts": posts,
        "review_page": page,
        "decisions_form": DecisionsForm(),
        "matching_form": matching_form or MatchingDecisionForm(initial={**data}),
        **_review_counts(crisis),
    }


def _figures_context(crisis):
    """Acknowledgements of the crisis's current notice (declaration or extension) counted by
    people: headline, per department (number and bar), per channel, the chart. Before the first
    notices exist: how many people are being notified."""
    figures = notice_figures(crisis_id=crisis.pk, include=COUNTED_WITH_STAFF_NOTICE)
    people = figures["people"]["total"]
    event = figures.get("event")
    departments = [
        {"name": name or _("(no department)"), **row}
        for name, row in sorted(figures["by_department"].items())
    ]
    channels = [{"name": name, **row} for name, row in sorted(figures["by_channel"].items())]
    return {
        "crisis": crisis,
        "figures": figures,
        "notifying": staff_count() if not people and crisis.closed_at is None else None,
        "departments": departments,
        "channels": channels,
        "ack_people": figures["people"]["acknowledged"],
        "people_total": people,
        "not_acknowledged": people - figures["people"]["acknowledged"],
        "chart": ack_chart_svg(
            ack_series(crisis_id=crisis.pk, event_id=event["id"] if event else None),
            total=people,
            start=crisis.declared_at,
            end=crisis.closed_at,
        ),
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
        # What the page offers: the crises services' own answer (crisis_allowed_actions).
        "actions": crisis_allowed_actions(user=request.user, crisis=crisis),
        "declare_form": declare_form or DeclareForm(),
        "scheduled_count": posts_to_freeze().count(),
        "recent": Crisis.objects.filter(status=CrisisStatus.CLOSED).order_by("-declared_at")[:5],
    }
    if crisis:
        context.update(
            {
                **_review_counts(crisis),
                # The lift/stand-down approval has its own card right above: not listed twice.
                "waiting": [w for w in waiting_for(user=request.user) if w["kind"] != "end"],
                "extend_form": ExtendForm(initial={"freeze_until": timezone.localtime(crisis.freeze_until)}),
                "lift_form": LiftForm(checklist=checklist_items()),
                "stand_down_form": ReasonForm(),
                "freeze_passed": crisis.freeze_until <= timezone.now(),
                "approve_action": next(
                    (a for a in APPROVE_ACTIONS.values() if a in context["actions"]), None
                ),
                "end_blockers": crisis_end_blockers(crisis=crisis, kind=crisis.end_kind or EndKind.LIFT)
                if crisis.status == CrisisStatus.LIFTING
                else [],
                "statements": _statements_queue(crisis),
                "timeline": crisis_timeline(crisis=crisis, latest=30)[::-1],
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
        context = {"form": form, "scheduled_count": posts_to_freeze().count()}
        return render(request, "web/declare_confirm.html", context)
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
    submit_form(
        request,
        ExtendForm(request.POST),
        crisis_services.crisis_extend,
        success=_("The freeze was extended."),
        actor=request.user,
        crisis=crisis,
    )
    return redirect("web:control")


def _back_to_review(request, crisis):
    """Back to the review with the filter the decision was made under (only known filter keys)."""
    kept = QueryDict(mutable=True)
    sent = QueryDict(request.POST.get("filter_query", ""))
    for key in (*FILTER_KEYS, "page"):
        if sent.get(key):
            kept[key] = sent[key]
    url = reverse("web:review", args=[crisis.pk])
    return redirect(f"{url}?{kept.urlencode()}" if kept else url)


@control_access
@require_GET
def control_review(request, crisis_id):
    """The frozen posts of a crisis on their own paged page: filter, decide the selected ones, or
    decide every post matching the filter at once."""
    crisis = _crisis_or_404(crisis_id)
    return render(request, "web/review.html", _review_context(request, crisis))


@control_access
@require_POST
def control_decisions(request, crisis_id):
    """Decisions on the selected frozen posts: one service call per post, each reported."""
    crisis = _crisis_or_404(crisis_id)
    # Only the posted ids are looked up (the review may hold 100,000 posts); a post that is not
    # (or no longer) frozen by this crisis is refused by the form, the service checks again.
    posted = [int(v) for v in request.POST.getlist("posts") if v.isdigit()][: REVIEW_PAGE_SIZE * 5]
    frozen_ids = list(crisis_posts(crisis=crisis).filter(pk__in=posted).values_list("pk", flat=True))
    form = DecisionsForm(request.POST, post_ids=frozen_ids)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return _back_to_review(request, crisis)
    data = form.cleaned_data
    decision = data["decision"]
    kwargs = {}
    if decision == "publish_now":
        decision, kwargs = "release", {"publish_now": True}
    elif decision == "reschedule":
        kwargs = {"scheduled_at": data["scheduled_at"]}
    done = 0
    for post in Post.objects.filter(pk__in=data["posts"]).order_by("scheduled_at", "id"):
        ok = call_service(
            request,
            crisis_services.crisis_decide_post,
            actor=request.user,
            crisis=crisis,
            post=post,
            decision=decision,
            **kwargs,
        )
        done += bool(ok)
    if done:
        messages.success(request, _("Decision recorded for %(n)s post(s).") % {"n": done})
    return _back_to_review(request, crisis)


@control_access
@require_POST
def control_decide_matching(request, crisis_id):
    """One decision for every frozen post matching the filter, in one transaction (the crises
    service's `crisis_decide_matching`, audited once with the count). The number the DCO saw must
    still be the number matching: otherwise nothing is decided and the page says why."""
    crisis = _crisis_or_404(crisis_id)
    form = MatchingDecisionForm(request.POST)
    if not form.is_valid():
        form_errors_to_messages(request, form)
        return _back_to_review(request, crisis)
    data = form.cleaned_data
    now_matching = _bulk_matching(crisis, data).count()
    if data.get("expected") is not None and data["expected"] != now_matching:
        messages.error(
            request,
            _("The matching posts changed since the page was shown (now %(n)s): check them and apply again.")
            % {"n": now_matching},
        )
        return _back_to_review(request, crisis)
    decision = data["decision"]
    count = call_service(
        request,
        crisis_services.crisis_decide_matching,
        actor=request.user,
        crisis=crisis,
        decision="release" if decision == "publish_now" else decision,
        publish_now=decision == "publish_now",
        scheduled_at=data.get("scheduled_at") if decision == "reschedule" else None,
        **_matching_filter(data),
    )
    if count is not None:
        n = 0 if count is True else count
        messages.success(request, _("Decision recorded for %(n)s post(s).") % {"n": n})
    return _back_to_review(request, crisis)


@control_access
@require_POST
def control_lift(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    form = LiftForm(request.POST, checklist=checklist_items())
    submit_form(
        request,
        form,
        crisis_services.crisis_request_lift,
        success=_("Lift requested. A second DCO officer must now approve it."),
        data=lambda cleaned: {"comment": cleaned["comment"], "checklist": form.checklist()},
        actor=request.user,
        crisis=crisis,
    )
    return redirect("web:control")


@control_access
@require_POST
def control_stand_down(request, crisis_id):
    crisis = _crisis_or_404(crisis_id)
    submit_form(
        request,
        ReasonForm(request.POST),
        crisis_services.crisis_request_stand_down,
        success=_("Stand-down requested. A second DCO officer must now approve it."),
        actor=request.user,
        crisis=crisis,
    )
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
    report = crisis_report(crisis=crisis)
    candidates = Post.objects.select_related("account").in_bulk(
        [c["post"] for c in report["retraction_candidates"]]
    )
    context = {
        "crisis": crisis,
        "report": report,
        # The retract button: offered as the posts services allow (post_allowed_actions).
        "retractable": {
            pk
            for pk, post in candidates.items()
            if "post.retract" in post_allowed_actions(user=request.user, post=post)
        },
        "is_dco": has_role(request.user, DCO),
        "timeline": crisis_timeline(crisis=crisis, latest=500),
        **_figures_context(crisis),
    }
    return render(request, "web/report.html", context)
