"""Spokesperson pages: draft, revise and submit crisis statements; reviewers decide; each step's
decision and comment is shown. Rights: the statements services decide (mandates, chain steps);
the pages are open to the roles that take part, and to holders of an active mandate."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.accounts.roles import AUDITOR, DCO, EXPERT, SPOKESPERSON, has_role
from apps.crises.selectors import crisis_open
from apps.statements import selectors as st_selectors
from apps.statements import services as st_services
from apps.statements.models import (
    ApprovalRequest,
    ApprovalStatus,
    Mandate,
    StatementPost,
    StatementStatus,
)

from ..forms import PublishForm, StatementForm, VerdictForm
from ..helpers import call_service, form_errors_to_messages

# What really happens (statement_decide publishes per the chosen plan on the final approval).
PLANNED_HELP = gettext_lazy(
    "Leave empty: it goes out on every chosen account as soon as the last approval is given. "
    "With a time: it goes out then, if approved before; approved after it, it waits for a new time."
)


# What the reviewer's decision did, said plainly (the final approval may publish).
DECIDED = {
    None: gettext_lazy("Decision recorded."),
    StatementStatus.PUBLISHING: gettext_lazy(
        "Approved: it is being published on each account; their states are shown below."
    ),
    StatementStatus.APPROVED: gettext_lazy(
        "Approved after its planned time: nothing went out. Give it a new time to publish it."
    ),
}


def _statement_form(*args, **kwargs) -> StatementForm:
    form = StatementForm(*args, **kwargs)
    form.fields["planned_at"].help_text = PLANNED_HELP
    return form


def _takes_part(user) -> bool:
    return (
        has_role(user, DCO, SPOKESPERSON, EXPERT, AUDITOR)
        or Mandate.objects.active().filter(user=user).exists()
        # Whoever a statement post was handed to, to publish by hand.
        or StatementPost.objects.filter(post__assignee=user).exists()
        # Anyone a chain step names by name.
        or ApprovalRequest.objects.filter(kind="statement", chain__steps__users=user).exists()
    )


def statements_access(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _takes_part(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _visible(request, statement_id):
    """A statement the user may read, else 404 (its existence is not disclosed)."""
    statement = st_selectors.statement_list(user=request.user).filter(pk=statement_id).first()
    if statement is None:
        raise Http404
    return statement


def _can_write(user, crisis) -> bool:
    return bool(crisis) and bool(st_selectors.mandates_covering(user=user, crisis=crisis))


@statements_access
def statement_list(request):
    crisis = crisis_open()
    statements = st_selectors.statements_with_states(
        st_selectors.statement_list(user=request.user)[:100], user=request.user
    )
    mine = [s for s in statements if s.author_id == request.user.pk]
    others = [s for s in statements if s.author_id != request.user.pk]
    to_review = [s for s in others if s.status == StatementStatus.IN_REVIEW]
    context = {
        "crisis": crisis,
        "can_write": _can_write(request.user, crisis),
        "mine": mine,
        "to_review": to_review,
        "others": [s for s in others if s not in to_review],
    }
    return render(request, "web/statements.html", context)


@statements_access
def statement_new(request):
    crisis = crisis_open()
    form = _statement_form(request.POST or None)
    if request.method == "POST":
        if crisis is None:
            messages.error(request, _("Statements are written only while a crisis is in force."))
        elif form.is_valid():
            statement = call_service(
                request,
                st_services.statement_create,
                success=_("Draft saved. Submit it for validation when it is ready."),
                actor=request.user,
                crisis=crisis,
                **form.cleaned_data,
            )
            if statement:
                return redirect("web:statement", statement_id=statement.pk)
        else:
            form_errors_to_messages(request, form)
    status = 400 if request.method == "POST" else 200
    return render(request, "web/statement_form.html", {"form": form, "crisis": crisis}, status=status)


def _pending_run(statement):
    return (
        ApprovalRequest.objects.filter(statement=statement, status=ApprovalStatus.PENDING)
        .select_related("current_step", "chain")
        .first()
    )


@statements_access
def statement_detail(request, statement_id):
    statement = _visible(request, statement_id)
    user = request.user
    run = _pending_run(statement)
    is_author = statement.author_id == user.pk
    can_decide = (
        run is not None
        and not is_author
        and run.current_step is not None
        and st_selectors.step_allows(run.current_step, user)
    )
    editable = is_author and statement.status in {
        StatementStatus.DRAFT,
        StatementStatus.IN_REVIEW,
        StatementStatus.CHANGES_REQUESTED,
        StatementStatus.APPROVED,
        StatementStatus.REJECTED,
    }
    states = st_selectors.statement_account_states(statement, user=user)
    context = {
        "statement": statement,
        "revisions": list(st_selectors.statement_revisions(statement=statement))[::-1],
        "decisions": list(st_selectors.statement_decisions(statement=statement)),
        "run": run,
        "is_author": is_author,
        "editable": editable,
        "can_submit": is_author and statement.status == StatementStatus.DRAFT,
        "can_decide": can_decide,
        "can_publish": statement.status == StatementStatus.APPROVED and (has_role(user, DCO) or is_author),
        "can_withdraw": (
            statement.status not in {StatementStatus.WITHDRAWN, StatementStatus.PUBLISHED}
            and (has_role(user, DCO) or (is_author and statement.status != StatementStatus.PUBLISHING))
        ),
        "account_states": states,
        # Once publishing began: each account's post, what is out, what waits, what fails.
        "show_account_states": any(a["post"] for a in states),
        "form": _statement_form(
            initial={
                "body": statement.body,
                "accounts": list(statement.accounts.all()),
                "planned_at": statement.planned_at,
            }
        ),
        "verdict_form": VerdictForm(),
        "publish_form": PublishForm(),
    }
    return render(request, "web/statement_detail.html", context)


@statements_access
@require_POST
def statement_revise(request, statement_id):
    statement = _visible(request, statement_id)
    form = _statement_form(request.POST)
    if form.is_valid():
        call_service(
            request,
            st_services.statement_edit,
            success=_("New revision saved. Submit it again for validation."),
            actor=request.user,
            statement=statement,
            **form.cleaned_data,
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_submit(request, statement_id):
    statement = _visible(request, statement_id)
    call_service(
        request,
        st_services.statement_submit,
        success=_("Submitted for validation. The reviewers are notified."),
        actor=request.user,
        statement=statement,
    )
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_decide(request, statement_id):
    statement = _visible(request, statement_id)
    form = VerdictForm(request.POST)
    if form.is_valid():
        decided = call_service(
            request,
            st_services.statement_decide,
            actor=request.user,
            statement=statement,
            verdict=form.cleaned_data["verdict"],
            comment=form.cleaned_data["comment"],
            # Bound to the revision the reviewer read: an edit in between gives a conflict.
            revision=request.POST.get("revision") or None,
        )
        if decided:
            messages.success(request, DECIDED.get(decided.status, DECIDED[None]))
    else:
        form_errors_to_messages(request, form)
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_withdraw(request, statement_id):
    statement = _visible(request, statement_id)
    call_service(
        request,
        st_services.statement_withdraw,
        success=_("Statement withdrawn."),
        actor=request.user,
        statement=statement,
        reason=request.POST.get("reason", ""),
    )
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_publish(request, statement_id):
    statement = _visible(request, statement_id)
    form = PublishForm(request.POST)
    if form.is_valid():
        call_service(
            request,
            st_services.statement_publish,
            success=_("Publishing: one post per chosen account. Each account's state is shown below."),
            actor=request.user,
            statement=statement,
            at=form.cleaned_data["at"],
        )
    else:
        form_errors_to_messages(request, form)
    return redirect("web:statement", statement_id=statement.pk)


# Each account's post, once the statement is being published. Rights and states: the services.


def _post_id(post_id) -> int:
    return int(post_id)


@statements_access
@require_POST
def statement_post_mark_published(request, statement_id, post_id):
    statement = _visible(request, statement_id)
    url = (request.POST.get("external_url") or "").strip()
    call_service(
        request,
        st_services.statement_post_mark_published,
        success=_("Recorded: this account's post is out."),
        actor=request.user,
        statement=statement,
        post=_post_id(post_id),
        external_url=url,
    )
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_post_retry(request, statement_id, post_id):
    statement = _visible(request, statement_id)
    call_service(
        request,
        st_services.statement_post_retry,
        success=_("The post will be sent again now."),
        actor=request.user,
        statement=statement,
        post=_post_id(post_id),
    )
    return redirect("web:statement", statement_id=statement.pk)


@statements_access
@require_POST
def statement_post_by_hand(request, statement_id, post_id):
    statement = _visible(request, statement_id)
    call_service(
        request,
        st_services.statement_post_by_hand,
        success=_("It is now yours to publish by hand: publish it, then press “I published it”."),
        actor=request.user,
        statement=statement,
        post=_post_id(post_id),
    )
    return redirect("web:statement", statement_id=statement.pk)
