"""Statements: writing, revising, submitting, deciding and withdrawing them.

Concurrency: a statement's changes all lock the statement row first (SELECT … FOR UPDATE), then
re-read its state; so two reviewers deciding the same step at the same moment are serialised:
the second re-checks after the lock and gets 409."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, has_role, require_role
from apps.crises.selectors import crisis_open
from apps.notifications.services import notify_users
from apps.posts.models import Post, PostStatus, SocialAccount
from apps.posts.services import post_cancel

from .chain import (
    AUDIT_VERB,
    CLOCK_SKEW,
    _clean_verdict,
    _decision_text,
    _notify_reviewers,
    _run_decide,
    _run_start,
    _title,
    run_check_decide,
)
from .mandates import _require_mandate
from .models import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    Statement,
    StatementRevision,
    StatementStatus,
    ValidationChain,
)

UNSET = object()


def _clean_accounts(accounts) -> list[SocialAccount]:
    accounts = list(accounts or [])
    if not accounts:
        raise ServiceError(_("Choose at least one official account."), field="accounts")
    inactive = [a.pk for a in accounts if not a.is_active]
    if inactive:
        raise ServiceError(_("These accounts are not active: %(ids)s.") % {"ids": inactive}, field="accounts")
    return sorted({a.pk: a for a in accounts}.values(), key=lambda a: a.pk)


def _clean_planned_at(planned_at):
    if planned_at is not None and planned_at < timezone.now() - CLOCK_SKEW:
        raise ServiceError(_("The planned time is already past."), field="planned_at")
    return planned_at


def _lock_statement(statement) -> Statement:
    # No joins under the lock: after waiting, PostgreSQL re-checks only the locked row, so a joined
    # row could come back stale (or NULL); related rows are read after the lock instead.
    return Statement.objects.select_for_update().get(pk=statement.pk)


def _pending_run(statement) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.select_for_update()
        .filter(statement=statement, status=ApprovalStatus.PENDING)
        .first()
    )


def _new_revision(*, actor, statement, accounts) -> StatementRevision:
    return StatementRevision.objects.create(
        statement=statement,
        number=statement.revision,
        body=statement.body,
        account_ids=[a.pk for a in accounts],
        planned_at=statement.planned_at,
        author=actor,
    )


def _revision_details(rev: StatementRevision) -> dict:
    return {
        "revision": rev.number,
        "body": rev.body,
        "accounts": rev.account_ids,
        "planned_at": rev.planned_at,
    }


def statement_check_create(*, actor, crisis, accounts=()) -> None:
    """Who may write a statement, and when (403/409): a mandate holder, for the crisis in force
    (and, once chosen, for networks the mandate covers). The page asks the same (actions.py)."""
    current = crisis_open()
    if crisis is None or current is None or current.pk != crisis.pk:
        raise ConflictError(_("Statements are written only for the crisis in force."), field="crisis")
    _require_mandate(actor=actor, crisis=crisis, accounts=accounts)


@transaction.atomic
def statement_create(*, actor, crisis, body: str, accounts, planned_at=None) -> Statement:
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("The statement needs a text."), field="body")
    accounts = _clean_accounts(accounts)
    statement_check_create(actor=actor, crisis=crisis, accounts=accounts)
    planned_at = _clean_planned_at(planned_at)
    statement = Statement.objects.create(
        crisis=crisis, author=actor, body=body, revision=1, planned_at=planned_at
    )
    statement.accounts.set(accounts)
    rev = _new_revision(actor=actor, statement=statement, accounts=accounts)
    audit_record(
        actor=actor,
        action="statement.create",
        obj=statement,
        details={"crisis": crisis.pk, **_revision_details(rev)},
    )
    return statement


def statement_check_edit(*, actor, statement) -> None:
    """Who may revise a statement, and when (403/409). The page asks the same (actions.py)."""
    if actor.pk != statement.author_id:
        raise NotAllowedError(_("Only the author edits a statement."))
    if statement.status not in EDITABLE:
        raise ConflictError(
            _("A %(status)s statement cannot be edited.") % {"status": statement.get_status_display()}
        )


EDITABLE = {
    StatementStatus.DRAFT,
    StatementStatus.IN_REVIEW,
    StatementStatus.CHANGES_REQUESTED,
    StatementStatus.APPROVED,
    StatementStatus.REJECTED,
}


@transaction.atomic
def statement_edit(*, actor, statement, body=None, accounts=None, planned_at=UNSET) -> Statement:
    """A new immutable revision. Any pending or finished approval was for the old revision: it is
    voided and the statement goes back to draft, to be submitted again."""
    statement = _lock_statement(statement)
    statement_check_edit(actor=actor, statement=statement)
    new_body = statement.body if body is None else (body or "").strip()
    if not new_body:
        raise ServiceError(_("The statement needs a text."), field="body")
    current_accounts = sorted(statement.accounts.all(), key=lambda a: a.pk)
    new_accounts = current_accounts if accounts is None else _clean_accounts(accounts)
    _require_mandate(actor=actor, crisis=statement.crisis, accounts=new_accounts)
    new_planned = statement.planned_at if planned_at is UNSET else _clean_planned_at(planned_at)
    if (
        new_body == statement.body
        and [a.pk for a in new_accounts] == [a.pk for a in current_accounts]
        and new_planned == statement.planned_at
    ):
        return statement  # nothing changed: no revision, approvals stand

    voided = list(
        ApprovalRequest.objects.select_for_update().filter(
            statement=statement, status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
        )
    )
    now = timezone.now()
    for run in voided:
        run.status, run.finished_at = ApprovalStatus.VOIDED, now
        run.save(update_fields=["status", "finished_at"])
    old_status = statement.status
    statement.body, statement.planned_at = new_body, new_planned
    statement.revision += 1
    statement.status = StatementStatus.DRAFT
    statement.updated_at = now
    statement.save(update_fields=["body", "planned_at", "revision", "status", "updated_at"])
    statement.accounts.set(new_accounts)
    rev = _new_revision(actor=actor, statement=statement, accounts=new_accounts)
    audit_record(
        actor=actor,
        action="statement.edit",
        obj=statement,
        details={
            **_revision_details(rev),
            "previous_status": old_status,
            "voided_requests": [r.pk for r in voided],
        },
    )
    return statement


def statement_check_submit(*, actor, statement) -> None:
    """The author submits a draft, under a mandate covering its accounts, for the crisis in force."""
    if actor.pk != statement.author_id:
        raise NotAllowedError(_("Only the author submits a statement."))
    if statement.status != StatementStatus.DRAFT:
        raise ConflictError(
            _("Only a draft is submitted; this statement is %(status)s.")
            % {"status": statement.get_status_display()}
        )
    accounts = list(statement.accounts.all())
    _require_mandate(actor=actor, crisis=statement.crisis, accounts=accounts)
    _require_crisis_in_force(statement)


def _require_crisis_in_force(statement):
    # A statement speaks for its crisis: once that crisis is over, nothing more of it goes out.
    current = crisis_open()
    if current is None or current.pk != statement.crisis_id:
        raise ConflictError(_("This statement's crisis is no longer in force."), field="crisis")


@transaction.atomic
def statement_submit(*, actor, statement, chain: ValidationChain | None = None) -> Statement:
    statement = _lock_statement(statement)
    statement_check_submit(actor=actor, statement=statement)
    rev = StatementRevision.objects.get(statement=statement, number=statement.revision)
    run = _run_start(
        actor=actor,
        chain=chain,
        kind=ApprovalKind.STATEMENT,
        subject={"statement": statement, "revision": rev},
        author_id=statement.author_id,
    )
    statement.status, statement.updated_at = StatementStatus.IN_REVIEW, timezone.now()
    statement.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="statement.submit",
        obj=statement,
        details={"revision": rev.number, "request": run.pk, "chain": run.chain.name},
    )
    _notify_reviewers(run=run, author_id=statement.author_id, statement=statement)
    return statement


WITHDRAW_STOPPABLE = (PostStatus.SCHEDULED, PostStatus.FAILED, PostStatus.CANCELLED)


def statement_check_withdraw(*, actor, statement, posts=None) -> None:
    """The author or the DCO stops a statement; once it is being published, only the DCO, and
    only while none of its posts (`posts`, when the caller read them) has left."""
    if actor.pk != statement.author_id and not has_role(actor, DCO):
        raise NotAllowedError(_("Only the author or the DCO withdraws a statement."))
    if statement.status == StatementStatus.WITHDRAWN:
        raise ConflictError(_("This statement is already withdrawn."))
    if statement.status == StatementStatus.PUBLISHED:
        raise ConflictError(_("Every post of this statement is out; retract them instead."))
    if statement.status == StatementStatus.PUBLISHING:
        require_role(actor, DCO, message=_("Only the DCO withdraws a statement being published."))
        if posts is not None and any(p.status not in WITHDRAW_STOPPABLE for p in posts):
            raise ConflictError(
                _("A post of this statement is already out (or on its way); retract it instead.")
            )


@transaction.atomic
def statement_withdraw(*, actor, statement, reason: str = "") -> Statement:
    """Stop a statement. One being published can still be withdrawn by the DCO while none of its
    posts has left (nor is on its way or a to-do by hand): they are cancelled. Once one is out,
    retracting it is the posts' business."""
    # Posts before the statement: the order the publisher takes them in (post, then the
    # statement in statement_sync_published), so the two never deadlock.
    posts = list(
        Post.objects.select_for_update(of=("self",))
        .filter(statement_link__statement_id=statement.pk)
        .order_by("pk")
    )
    statement = _lock_statement(statement)
    statement_check_withdraw(actor=actor, statement=statement, posts=posts)
    cancelled_posts = []
    if statement.status == StatementStatus.PUBLISHING:
        for post in posts:
            if post.status != PostStatus.CANCELLED:
                post_cancel(actor=actor, post=post)
                cancelled_posts.append(post.pk)
    now = timezone.now()
    cancelled = []
    for run in ApprovalRequest.objects.select_for_update().filter(
        statement=statement, status=ApprovalStatus.PENDING
    ):
        run.status, run.finished_at = ApprovalStatus.CANCELLED, now
        run.save(update_fields=["status", "finished_at"])
        cancelled.append(run.pk)
    statement.status, statement.updated_at = StatementStatus.WITHDRAWN, now
    statement.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="statement.withdraw",
        obj=statement,
        details={
            "revision": statement.revision,
            "reason": reason or "",
            "cancelled_requests": cancelled,
            "cancelled_posts": cancelled_posts,
        },
    )
    return statement


RUN_TO_STATEMENT = {
    ApprovalStatus.APPROVED: StatementStatus.APPROVED,
    ApprovalStatus.REJECTED: StatementStatus.REJECTED,
    ApprovalStatus.CHANGES_REQUESTED: StatementStatus.CHANGES_REQUESTED,
}


def _require_in_review(statement):
    if statement.status != StatementStatus.IN_REVIEW:
        raise ConflictError(
            _("This statement is %(status)s, not in review.") % {"status": statement.get_status_display()}
        )


def statement_check_decide(*, actor, statement, run) -> None:
    """May `actor` decide the current step of `run` (the statement's pending run)? The same rules
    the decision applies (chain.run_check_decide); asked by the pages through actions.py."""
    _require_in_review(statement)
    if run is None:
        raise ConflictError(_("Nothing is awaiting a decision on this statement."))
    run_check_decide(actor=actor, run=run, author_id=statement.author_id)


@transaction.atomic
def statement_decide(
    *, actor, statement, verdict: str, comment: str = "", revision=None, step=None
) -> Statement:
    _clean_verdict(verdict, comment)
    statement = _lock_statement(statement)  # serialises deciders and editors of this statement
    _require_in_review(statement)
    if revision is not None and int(revision) != statement.revision:
        raise ConflictError(
            _("Revision %(r)s is not the current one (%(c)s); reload.")
            % {"r": revision, "c": statement.revision},
            field="revision",
        )
    run = _pending_run(statement)
    if run is None:  # in review always has a run; a lost race shows here
        raise ConflictError(_("Nothing is awaiting a decision on this statement."))
    outcome = _run_decide(
        actor=actor, run=run, verdict=verdict, comment=comment, author_id=statement.author_id, step=step
    )
    if outcome.finished:
        statement.status = RUN_TO_STATEMENT[run.status]
        statement.updated_at = timezone.now()
        statement.save(update_fields=["status", "updated_at"])
    d = outcome.decision
    audit_record(
        actor=actor,
        action=f"statement.{AUDIT_VERB[verdict]}",
        obj=statement,
        details={
            "revision": run.revision.number,
            "request": run.pk,
            "step": d.step.name,
            "step_order": d.step.order,
            "comment": d.comment,
            "decision": d.pk,
            "final": outcome.finished,
            "status": statement.status,
        },
    )
    notify_users(
        event="statement.decided",
        user_ids=[statement.author_id],
        context={
            "statement": statement.pk,
            "title": _title(statement.body),
            "revision": run.revision.number,
            "verdict": verdict,
            "decision": _decision_text(verdict, d.step.name, d.comment),
            "step": d.step.name,
            "comment": d.comment,
            "status": statement.status,
        },
        crisis_id=statement.crisis_id,
        actor=actor,
    )
    if outcome.advanced:
        _notify_reviewers(run=run, author_id=statement.author_id, statement=statement)
    # The decision publishes nothing itself: its caller, seeing `approved`, calls
    # publishing.statement_publish_planned (in the same transaction), so the step is visible.
    return statement
