"""Spokesperson pages: draft, revise and submit crisis statements; reviewers decide; each step's
decision and comment is shown. Rights: the statements services decide (mandates, chain steps);
the pages are open to the roles that take part, and to holders of an active mandate."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.core.roles import AUDITOR, DCO, EXPERT, SPOKESPERSON, has_role
from apps.crises.selectors import crisis_open
from apps.statements import selectors as st_selectors
from apps.statements import services as st_services
from apps.statements.models import ApprovalRequest, Mandate, StatementPost, StatementStatus

from ..forms import PublishForm, StatementForm, VerdictForm
from ..helpers import call_service, submit_form

# What really happens (on the final approval the decide view calls statement_publish_planned).
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


@statements_access
def statement_list(request):
    crisis = crisis_open()
    statements = st_selectors.statements_with_states(
        statements=st_selectors.statement_list(user=request.user)[:100], user=request.user
    )
    mine = [s for s in statements if s.author_id == request.user.pk]
    others = [s for s in statements if s.author_id != request.user.pk]
    to_review = [s for s in others if s.status == StatementStatus.IN_REVIEW]
    context = {
        "crisis": crisis,
        "page_actions": st_services.statements_page_actions(user=request.user),
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
        else:
            statement = submit_form(
                request,
                form,
                st_services.statement_create,
                success=_("Draft saved. Submit it for validation when it is ready."),
                actor=request.user,
                crisis=crisis,
            )
            if statement:
                return redirect("web:statement", statement_id=statement.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "crisis": crisis,
        "page_actions": st_services.statements_page_actions(user=request.user),
    }
    return render(request, "web/statement_form.html", context, status=status)


@statements_access
def statement_detail(request, statement_id):
    statement = _visible(request, statement_id)
    user = request.user
    run = st_services.statement_pending_run(statement=statement)
    states = st_selectors.statement_account_states(statement=statement, user=user)
    context = {
        "statement": statement,
        "revisions": list(st_selectors.statement_revisions(statement=statement))[::-1],
        "decisions": list(st_selectors.statement_decisions(statement=statement)),
        "run": run,
        # What this person may do here: the services' own checks (statements/actions.py).
        "actions": st_services.statement_allowed_actions(
            user=user, statement=statement, run=run, account_states=states
        ),
        "object_ref": f"statements.statement:{statement.pk}",
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


def _statement_action(service, *, success=None, form=None, data=None, extra=None, on_post=False):
    """One POST view per statement action: the statement the reader may see (else 404), its
    form validated (each error named), the service called with the actor, back to the page.
    `extra(request)`: more arguments read from the request; `on_post`: the URL names a post."""

    @statements_access
    @require_POST
    def view(request, statement_id, post_id=None):
        statement = _visible(request, statement_id)
        kwargs = {"actor": request.user, "statement": statement, **(extra(request) if extra else {})}
        if on_post:
            kwargs["post"] = int(post_id)
        if form is None:
            call_service(request, service, success=success, **kwargs)
        else:
            submit_form(request, form(request.POST), service, success=success, data=data, **kwargs)
        return redirect("web:statement", statement_id=statement.pk)

    return view


def _decide_and_publish(*, actor, statement, verdict, comment, revision):
    """The decision, then what a final approval leads to (the author's plan), visibly and in one
    transaction: an approval that cannot publish (an account deactivated) is not recorded."""
    with transaction.atomic():
        decided = st_services.statement_decide(
            actor=actor, statement=statement, verdict=verdict, comment=comment, revision=revision
        )
        st_services.statement_publish_planned(actor=actor, statement=decided)
    decided.refresh_from_db(fields=["status"])
    return decided


@statements_access
@require_POST
def statement_decide(request, statement_id):
    statement = _visible(request, statement_id)
    decided = submit_form(
        request,
        VerdictForm(request.POST),
        _decide_and_publish,
        actor=request.user,
        statement=statement,
        # Bound to the revision the reviewer read: an edit in between gives a conflict.
        revision=request.POST.get("revision") or None,
    )
    if decided:
        messages.success(request, DECIDED.get(decided.status, DECIDED[None]))
    return redirect("web:statement", statement_id=statement.pk)


statement_revise = _statement_action(
    st_services.statement_edit,
    success=gettext_lazy("New revision saved. Submit it again for validation."),
    form=_statement_form,
)
statement_submit = _statement_action(
    st_services.statement_submit,
    success=gettext_lazy("Submitted for validation. The reviewers are notified."),
)
statement_withdraw = _statement_action(
    st_services.statement_withdraw,
    success=gettext_lazy("Statement withdrawn."),
    extra=lambda request: {"reason": request.POST.get("reason", "")},
)
statement_publish = _statement_action(
    st_services.statement_publish,
    success=gettext_lazy("Publishing: one post per chosen account. Each account's state is shown below."),
    form=PublishForm,
)

# Each account's post, once the statement is being published. Rights and states: the services.
statement_post_mark_published = _statement_action(
    st_services.statement_post_mark_published,
    success=gettext_lazy("Recorded: this account's post is out."),
    extra=lambda request: {"external_url": (request.POST.get("external_url") or "").strip()},
    on_post=True,
)
statement_post_retry = _statement_action(
    st_services.statement_post_retry,
    success=gettext_lazy("The post will be sent again now."),
    on_post=True,
)
statement_post_by_hand = _statement_action(
    st_services.statement_post_by_hand,
    success=gettext_lazy("It is now yours to publish by hand: publish it, then press “I published it”."),
    on_post=True,
)
