"""The approvals page: everything awaiting the reader — statement steps, calendar posts held for
a validation chain, posts to publish by hand, and for the DCO what needs a new time or a new
approval (apps.statements.selectors.awaiting_user). Reviewers decide held posts here; rights and
states are the statements services' (any signed-in person may read what awaits them)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.roles import AUDITOR, DCO, EXPERT, has_role
from apps.posts.models import Post
from apps.statements import services as st_services
from apps.statements.models import ApprovalRequest, ApprovalStatus
from apps.statements.selectors import awaiting_user, post_approval_list

from ..forms import PublishForm, VerdictForm
from ..helpers import call_service, roles_required, submit_form

# Kinds shown with their own form on this page; the rest are links to where they are acted on.
DECIDED_HERE = {"post_step", "post_new_time", "post_voided"}


@login_required
def approvals(request):
    user = request.user
    items = awaiting_user(user=user)
    decide_ids = [i["object_id"] for i in items if i["kind"] == "post_step"]
    new_time_ids = [i["object_id"] for i in items if i["kind"] == "post_new_time"]
    voided_ids = [i["object_id"] for i in items if i["kind"] == "post_voided"]
    runs = {
        run.pk: run
        for run in ApprovalRequest.objects.filter(
            pk__in=decide_ids + new_time_ids + voided_ids
        ).select_related("post__account", "current_step", "chain")
    }
    for run in runs.values():
        # What this person may do with each run: the services' own checks (statements/actions.py).
        run.actions = st_services.approval_allowed_actions(user=user, request=run)
    pending = [runs[i] for i in decide_ids if i in runs]
    waiting = [runs[i] for i in new_time_ids if i in runs]
    voided = [runs[i] for i in voided_ids if i in runs]
    # For those who follow the chains (DCO, experts, auditors): what is in progress elsewhere.
    in_progress = []
    if has_role(user, DCO, EXPERT, AUDITOR):
        in_progress = list(
            post_approval_list(user=user)
            .filter(status=ApprovalStatus.PENDING)
            .exclude(pk__in=decide_ids)
            .select_related("post__account")
            .order_by("created_at")[:100]
        )
    context = {
        "statement_steps": [i for i in items if i["kind"] == "statement_step"],
        "pending": pending,
        "waiting": waiting,
        "voided": voided,
        "others": [i for i in items if i["kind"] not in DECIDED_HERE and i["kind"] != "statement_step"],
        "in_progress": in_progress,
        "nothing": not items,
        "is_dco": has_role(user, DCO),
        "verdict_form": VerdictForm(),
    }
    return render(request, "web/approvals.html", context)


@login_required
@require_POST
def approval_decide(request, approval_id):
    run = get_object_or_404(ApprovalRequest, pk=approval_id, kind="post")
    decided = submit_form(
        request,
        VerdictForm(request.POST),
        st_services.post_approval_decide,
        actor=request.user,
        approval=run,
        step=request.POST.get("step") or None,
    )
    if decided and decided.status == ApprovalStatus.VOIDED:
        messages.error(request, _("The post changed since approval was requested; request it again."))
    elif decided:
        messages.success(request, _("Decision recorded."))
    return redirect("web:approvals")


@roles_required(DCO)
@require_POST
def approval_release(request, approval_id):
    run = get_object_or_404(ApprovalRequest, pk=approval_id, kind="post")
    submit_form(
        request,
        PublishForm(request.POST),
        st_services.post_approval_release,
        data=lambda cleaned: {"scheduled_at": cleaned["at"]},
        success=_("The post is scheduled again."),
        actor=request.user,
        approval=run,
    )
    return redirect("web:approvals")


@roles_required(DCO)
@require_POST
def post_require_approval(request, post_id):
    post = get_object_or_404(Post, pk=post_id)
    call_service(
        request,
        st_services.post_approval_request,
        success=_("The post is held until the validation chain approves it."),
        actor=request.user,
        post=post,
    )
    if request.POST.get("next") == "approvals":
        return redirect("web:approvals")
    return redirect("web:post-edit", post_id=post.pk)
