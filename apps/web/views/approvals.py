"""Normal times: the DCO holds a calendar post until a validation chain approves it; reviewers
decide here; an approved post whose time passed gets a new one (apps.statements services)."""

from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts.roles import AUDITOR, DCO, EXPERT, has_role
from apps.posts.models import Post
from apps.statements import services as st_services
from apps.statements.models import ApprovalRequest, ApprovalStatus
from apps.statements.selectors import post_approval_list, step_allows

from ..forms import PublishForm, VerdictForm
from ..helpers import call_service, form_errors_to_messages, roles_required

approvals_access = roles_required(DCO, EXPERT, AUDITOR, write_roles=(DCO, EXPERT))


@approvals_access
def approvals(request):
    user = request.user
    runs = list(
        post_approval_list(user=user)
        .filter(status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED])
        .select_related("post__account")
        .order_by("-created_at")[:100]
    )
    pending, waiting = [], []
    for run in runs:
        if run.status == ApprovalStatus.PENDING:
            run.can_decide = (
                run.current_step is not None
                and run.post.created_by_id != user.pk
                and step_allows(run.current_step, user)
            )
            pending.append(run)
        elif run.needs_new_time and run.post.awaiting_approval:
            waiting.append(run)
    context = {
        "pending": pending,
        "waiting": waiting,
        "is_dco": has_role(user, DCO),
        "verdict_form": VerdictForm(),
    }
    return render(request, "web/approvals.html", context)


@approvals_access
@require_POST
def approval_decide(request, approval_id):
    run = get_object_or_404(ApprovalRequest, pk=approval_id, kind="post")
    form = VerdictForm(request.POST)
    if form.is_valid():
        call_service(
            request,
            st_services.post_approval_decide,
            success=_("Decision recorded."),
            actor=request.user,
            approval=run,
            verdict=form.cleaned_data["verdict"],
            comment=form.cleaned_data["comment"],
            step=request.POST.get("step") or None,
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:approvals")


@approvals_access
@require_POST
def approval_release(request, approval_id):
    run = get_object_or_404(ApprovalRequest, pk=approval_id, kind="post")
    form = PublishForm(request.POST)
    if form.is_valid():
        call_service(
            request,
            st_services.post_approval_release,
            success=_("The post is scheduled again."),
            actor=request.user,
            approval=run,
            scheduled_at=form.cleaned_data["at"],
        )
    else:
        form_errors_to_messages(request, form)
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
    return redirect("web:post-edit", post_id=post.pk)
