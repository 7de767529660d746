"""What a person may do with a statement or a calendar-post run, asked by the pages, the API and
the tests (Wagtail's `get_actions(obj, user)`). Each answer runs the very check the service runs
(`statement_check_*`, `run_check_decide`...), so a page never offers what the service refuses.
The names are the audit trail's verbs."""

from apps.core.errors import ServiceError
from apps.core.roles import DCO, has_role

from .chain import run_check_decide
from .drafting import (
    statement_check_create,
    statement_check_decide,
    statement_check_edit,
    statement_check_submit,
    statement_check_withdraw,
)
from .mandates import mandate_check_grant, mandate_check_revoke
from .models import ApprovalRequest, ApprovalStatus, Mandate, StatementPost, Verdict
from .post_approvals import post_approval_check_release, post_approval_check_request
from .publishing import statement_check_publish

VERDICT_VERBS = {
    Verdict.APPROVE: "approve",
    Verdict.REJECT: "reject",
    Verdict.REQUEST_CHANGES: "request_changes",
}


def _passes(check, **kwargs) -> bool:
    try:
        check(**kwargs)
    except ServiceError:
        return False
    return True


def statement_pending_run(*, statement) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.filter(statement=statement, status=ApprovalStatus.PENDING)
        .select_related("current_step", "chain", "revision")
        .first()
    )


def statement_allowed_actions(*, user, statement, run=None, account_states=None) -> frozenset[str]:
    """`statement.edit`, `statement.submit`, `statement.approve|reject|request_changes`,
    `statement.publish`, `statement.withdraw`, and for its posts `statement.post_mark_published`,
    `statement.post_retry`, `statement.post_by_hand` (each post's own flags: account_states).
    `run`: the pending run when the caller read it; `account_states`: the states when read."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    out = set()
    if _passes(statement_check_edit, actor=user, statement=statement):
        out.add("statement.edit")
    if _passes(statement_check_submit, actor=user, statement=statement):
        out.add("statement.submit")
    if statement.status == "in_review":
        run = run if run is not None else statement_pending_run(statement=statement)
        if _passes(statement_check_decide, actor=user, statement=statement, run=run):
            out |= {f"statement.{verb}" for verb in VERDICT_VERBS.values()}
    if _passes(statement_check_publish, actor=user, statement=statement):
        out.add("statement.publish")
    if _passes(statement_check_withdraw, actor=user, statement=statement):
        out.add("statement.withdraw")
    if account_states is None and StatementPost.objects.filter(statement=statement).exists():
        from .account_states import statement_account_states

        account_states = statement_account_states(statement=statement, user=user)
    for state in account_states or ():
        for flag, action in POST_ACTIONS.items():
            if state.get(flag):
                out.add(action)
    return frozenset(out)


# A statement post's flags (account_states.post_state) and the action each offers.
POST_ACTIONS = {
    "can_mark_published": "statement.post_mark_published",
    "can_retry": "statement.post_retry",
    "can_publish_by_hand": "statement.post_by_hand",
}


def approval_allowed_actions(*, user, request: ApprovalRequest) -> frozenset[str]:
    """For a calendar post's run: `post_approval.approve|reject|request_changes` (its current
    step), `post_approval.release` (approved after its time: a new time), `post_approval.request`
    (voided by an edit: ask again)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    out = set()
    post = request.post
    if request.status == ApprovalStatus.PENDING and _passes(
        run_check_decide, actor=user, run=request, author_id=post.created_by_id
    ):
        out |= {f"post_approval.{verb}" for verb in VERDICT_VERBS.values()}
    if request.status == ApprovalStatus.APPROVED and _passes(
        post_approval_check_release, actor=user, run=request, post=post
    ):
        out.add("post_approval.release")
    if (
        request.status == ApprovalStatus.VOIDED
        and has_role(user, DCO)
        and not ApprovalRequest.objects.filter(post_id=post.pk, pk__gt=request.pk).exists()
        and _passes(post_approval_check_request, actor=user, post=post)
    ):
        out.add("post_approval.request")
    return frozenset(out)


def statements_page_actions(*, user) -> frozenset[str]:
    """The actions about no existing object: `statement.create` (a mandate holder while a crisis
    is in force) and `mandate.grant` (the DCO)."""
    from apps.crises.selectors import crisis_open

    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    out = set()
    if _passes(mandate_check_grant, actor=user):
        out.add("mandate.grant")
    if _passes(statement_check_create, actor=user, crisis=crisis_open()):
        out.add("statement.create")
    return frozenset(out)


def mandate_allowed_actions(*, user, mandate: Mandate) -> frozenset[str]:
    """`mandate.revoke` for the DCO while the mandate is not revoked."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if _passes(mandate_check_revoke, actor=user, mandate=mandate):
        return frozenset({"mandate.revoke"})
    return frozenset()
