"""State changes for mandates, statements and validation runs.

Every function takes the actor first, runs in one transaction, checks rights on the server and
writes its audit entry (and its notices) in that same transaction.

Concurrency: a statement's changes all lock the statement row first (SELECT … FOR UPDATE), then
re-read its state; a post run locks its ApprovalRequest row. So two reviewers deciding the same
step at the same moment are serialised: the second re-checks after the lock and gets 409.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.crises.selectors import crisis_open
from apps.notifications.services import notify_users
from apps.posts.models import Network, Post, PostStatus, SocialAccount
from apps.posts.services import post_cancel, post_create, post_mark_published, post_set_hold, post_update

from .models import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    ChainStep,
    Decision,
    Mandate,
    Statement,
    StatementPost,
    StatementRevision,
    StatementStatus,
    StepRule,
    ValidationChain,
    Verdict,
)
from .selectors import chain_default, mandates_covering, plain_error, step_allows, step_people_ids

# A time "now" sent by a client whose clock is slightly behind is still "now".
CLOCK_SKEW = timedelta(seconds=60)
UNSET = object()


# --------------------------------------------------------------------------------------------
# Mandates


def _clean_list(values, *, field, allowed=None) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ServiceError(_("Give a list."), field=field)
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ServiceError(_("Each item must be a non-empty text."), field=field)
        v = v.strip()
        if allowed is not None and v.lower() not in allowed:
            raise ServiceError(_("Unknown network: %(n)s.") % {"n": v}, field=field)
        if v.lower() not in {o.lower() for o in out}:
            out.append(v.lower() if allowed is not None else v)
    return out


@transaction.atomic
def mandate_grant(*, actor, user, topics=(), networks=(), valid_from=None, valid_until) -> Mandate:
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only a communication directorate officer (dco) grants mandates."))
    if not user.is_active:
        raise ServiceError(_("This person's account is not active."), field="user")
    topics = _clean_list(list(topics), field="topics")
    networks = _clean_list(list(networks), field="networks", allowed=set(Network.values))
    valid_from = valid_from or timezone.now()
    if valid_until <= valid_from:
        raise ServiceError(_("The end of validity must come after its start."), field="valid_until")
    if valid_until <= timezone.now():
        raise ServiceError(_("The end of validity is already past."), field="valid_until")
    mandate = Mandate.objects.create(
        user=user,
        topics=topics,
        networks=networks,
        valid_from=valid_from,
        valid_until=valid_until,
        granted_by=actor,
    )
    audit_record(
        actor=actor,
        action="mandate.grant",
        obj=mandate,
        details={
            "user": user.pk,
            "username": user.get_username(),
            "topics": topics,
            "networks": networks,
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
    )
    return mandate


@transaction.atomic
def mandate_revoke(*, actor, mandate: Mandate, reason: str = "") -> Mandate:
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only a communication directorate officer (dco) revokes mandates."))
    mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
    if mandate.revoked_at is not None:
        raise ConflictError(_("This mandate is already revoked."))
    mandate.revoked_at = timezone.now()
    mandate.revoked_by = actor
    mandate.revoke_reason = reason or ""
    mandate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(
        actor=actor,
        action="mandate.revoke",
        obj=mandate,
        details={"user": mandate.user_id, "reason": mandate.revoke_reason},
    )
    return mandate


def _require_mandate(*, actor, crisis, accounts) -> list[Mandate]:
    """403 unless the actor holds an active mandate covering the crisis and every account's
    network (checked now: expiry and revocation need no job)."""
    mandates = mandates_covering(user=actor, crisis=crisis)
    if not mandates:
        raise NotAllowedError(
            _("You need an active spokesperson mandate covering this crisis."), code="no_mandate"
        )
    allowed: set[str] | None = set()
    for m in mandates:
        nets = m.allowed_networks()
        if nets is None:
            allowed = None
            break
        allowed |= nets
    if allowed is not None:
        outside = sorted({a.network for a in accounts if a.network not in allowed})
        if outside:
            raise NotAllowedError(
                _("Your mandate does not cover these networks: %(n)s.") % {"n": ", ".join(outside)},
                field="accounts",
                code="no_mandate",
            )
    return mandates


# --------------------------------------------------------------------------------------------
# Statements: writing


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


@transaction.atomic
def statement_create(*, actor, crisis, body: str, accounts, planned_at=None) -> Statement:
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("The statement needs a text."), field="body")
    accounts = _clean_accounts(accounts)
    current = crisis_open()
    if current is None or current.pk != crisis.pk:
        raise ConflictError(_("Statements are written only for the crisis in force."), field="crisis")
    _require_mandate(actor=actor, crisis=crisis, accounts=accounts)
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
    if actor.pk != statement.author_id:
        raise NotAllowedError(_("Only the author edits a statement."))
    if statement.status not in EDITABLE:
        raise ConflictError(
            _("A %(status)s statement cannot be edited.") % {"status": statement.get_status_display()}
        )
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


@transaction.atomic
def statement_submit(*, actor, statement, chain: ValidationChain | None = None) -> Statement:
    statement = _lock_statement(statement)
    if actor.pk != statement.author_id:
        raise NotAllowedError(_("Only the author submits a statement."))
    if statement.status != StatementStatus.DRAFT:
        raise ConflictError(
            _("Only a draft is submitted; this statement is %(status)s.")
            % {"status": statement.get_status_display()}
        )
    accounts = list(statement.accounts.all())
    _require_mandate(actor=actor, crisis=statement.crisis, accounts=accounts)
    current = crisis_open()
    if current is None or current.pk != statement.crisis_id:
        raise ConflictError(_("This statement's crisis is no longer in force."), field="crisis")
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
    if actor.pk != statement.author_id and not has_role(actor, DCO):
        raise NotAllowedError(_("Only the author or the DCO withdraws a statement."))
    if statement.status == StatementStatus.WITHDRAWN:
        raise ConflictError(_("This statement is already withdrawn."))
    if statement.status == StatementStatus.PUBLISHED:
        raise ConflictError(_("Every post of this statement is out; retract them instead."))
    cancelled_posts = []
    if statement.status == StatementStatus.PUBLISHING:
        if not has_role(actor, DCO):
            raise NotAllowedError(_("Only the DCO withdraws a statement being published."))
        stoppable = (PostStatus.SCHEDULED, PostStatus.FAILED, PostStatus.CANCELLED)
        if any(p.status not in stoppable for p in posts):
            raise ConflictError(
                _("A post of this statement is already out (or on its way); retract it instead.")
            )
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


# --------------------------------------------------------------------------------------------
# Validation runs: one machinery for statements and calendar posts


def _chain_steps(chain: ValidationChain) -> list[ChainStep]:
    return list(chain.steps.order_by("order"))


def _run_start(*, actor, chain, kind, subject: dict, author_id, snapshot=None) -> ApprovalRequest:
    chain = chain or chain_default()
    if chain is None:
        raise ConflictError(_("No validation chain is configured; the DCO defines one."), field="chain")
    steps = _chain_steps(chain)
    if not steps:
        raise ConflictError(_("This validation chain has no step."), field="chain")
    try:
        with transaction.atomic():
            return ApprovalRequest.objects.create(
                kind=kind,
                chain=chain,
                current_step=steps[0],
                requested_by=actor,
                post_snapshot=snapshot or {},
                **subject,
            )
    except IntegrityError as exc:  # the conditional unique constraint: one pending run
        raise ConflictError(_("An approval is already pending for this.")) from exc


def _reviewer_ids(*, run, step, author_id) -> list[int]:
    """Who may decide `step` of this run: those the step names, minus the author and anyone who
    already decided another step of this run."""
    used = set(Decision.objects.filter(request=run).exclude(step=step).values_list("actor_id", flat=True))
    return sorted(step_people_ids(step) - used - {author_id})


def _title(body: str) -> str:
    body = " ".join((body or "").split())
    return body if len(body) <= 60 else body[:57] + "…"


def _decision_text(verdict, step_name, comment) -> str:
    words = {
        Verdict.APPROVE: _("approved at step “%(step)s”"),
        Verdict.REJECT: _("rejected at step “%(step)s”"),
        Verdict.REQUEST_CHANGES: _("changes requested at step “%(step)s”"),
    }[verdict] % {"step": step_name}
    return f"{words} — {comment}" if comment else words


def _notify_reviewers(*, run, author_id, statement=None, post=None):
    ids = _reviewer_ids(run=run, step=run.current_step, author_id=author_id)
    if not ids:
        return  # nobody can decide this step: the run waits (visible in the API) for the chain to be fixed
    if statement is not None:
        notify_users(
            event="statement.submitted",
            user_ids=ids,
            context={
                "statement": statement.pk,
                "title": _title(statement.body),
                "revision": run.revision.number,
                "step": run.current_step.name,
                "chain": run.chain.name,
                "body": statement.body[:500],
            },
            crisis_id=statement.crisis_id,
            actor=run.requested_by,
        )
    else:
        notify_users(
            event="post.approval_requested",
            user_ids=ids,
            context={
                "post": post.pk,
                "request": run.pk,
                "step": run.current_step.name,
                "chain": run.chain.name,
                "body": post.body[:500],
                # No dedicated template for post runs: the generic one shows subject and message.
                "subject": _("A post awaits your review"),
                "message": _("A calendar post (“%(title)s”) awaits your decision at step “%(step)s”.")
                % {"title": _title(post.body), "step": run.current_step.name},
            },
            actor=run.requested_by,
        )


@dataclass
class Outcome:
    decision: Decision
    finished: bool  # the run is over (approved, rejected or changes requested)
    advanced: bool  # a step was completed and the run moved to the next one


def _run_decide(*, actor, run: ApprovalRequest, verdict, comment, author_id, step=None) -> Outcome:
    """The decision rules, shared by statement and post runs. `run` is locked and pending."""
    current = run.current_step
    if step is not None and int(step) != current.order:
        raise ConflictError(
            _("Step %(step)s is no longer the current one; reload.") % {"step": step}, field="step"
        )
    if actor.pk == author_id:
        raise NotAllowedError(_("You cannot decide on your own text."), code="own_text")
    mine = list(Decision.objects.filter(request=run, actor=actor).select_related("step"))
    if any(d.step_id == current.pk for d in mine):
        raise ConflictError(_("You already decided on this step."))
    if mine:
        raise NotAllowedError(
            _("You already decided at step “%(step)s”; one person does not fill two steps.")
            % {"step": mine[0].step.name},
            code="two_steps",
        )
    if not step_allows(current, actor):
        earlier = [s for s in _chain_steps(run.chain) if s.order < current.order]
        if any(step_allows(s, actor) for s in earlier):
            # The step this reviewer was looking at has just been decided by someone else.
            raise ConflictError(_("This step has already been decided; reload."))
        raise NotAllowedError(
            _("You are not among the people who decide step “%(step)s”.") % {"step": current.name},
            code="not_reviewer",
        )
    decision = Decision.objects.create(
        request=run,
        step=current,
        revision=run.revision,
        actor=actor,
        verdict=verdict,
        comment=comment or "",
    )
    now = timezone.now()
    if verdict == Verdict.REJECT:
        run.status, run.finished_at = ApprovalStatus.REJECTED, now
    elif verdict == Verdict.REQUEST_CHANGES:
        run.status, run.finished_at = ApprovalStatus.CHANGES_REQUESTED, now
    else:
        if current.rule == StepRule.ALL:
            approvers = set(
                Decision.objects.filter(request=run, step=current, verdict=Verdict.APPROVE).values_list(
                    "actor_id", flat=True
                )
            )
            if set(_reviewer_ids(run=run, step=current, author_id=author_id)) - approvers:
                # Nothing moves: others named by this step still have to approve.
                return Outcome(decision, finished=False, advanced=False)
        following = [s for s in _chain_steps(run.chain) if s.order > current.order]
        if following:
            run.current_step = following[0]
            run.save(update_fields=["current_step"])
            return Outcome(decision, finished=False, advanced=True)
        run.status, run.finished_at = ApprovalStatus.APPROVED, now
    run.save(update_fields=["status", "finished_at"])
    return Outcome(decision, finished=True, advanced=False)


def _clean_verdict(verdict, comment):
    if verdict not in Verdict.values:
        raise ServiceError(_("Unknown decision."), field="verdict")
    if verdict != Verdict.APPROVE and not (comment or "").strip():
        raise ServiceError(_("Say why in a comment."), field="comment")


RUN_TO_STATEMENT = {
    ApprovalStatus.APPROVED: StatementStatus.APPROVED,
    ApprovalStatus.REJECTED: StatementStatus.REJECTED,
    ApprovalStatus.CHANGES_REQUESTED: StatementStatus.CHANGES_REQUESTED,
}
AUDIT_VERB = {
    Verdict.APPROVE: "approve",
    Verdict.REJECT: "reject",
    Verdict.REQUEST_CHANGES: "request_changes",
}


@transaction.atomic
def statement_decide(
    *, actor, statement, verdict: str, comment: str = "", revision=None, step=None
) -> Statement:
    _clean_verdict(verdict, comment)
    statement = _lock_statement(statement)  # serialises deciders and editors of this statement
    if statement.status != StatementStatus.IN_REVIEW:
        raise ConflictError(
            _("This statement is %(status)s, not in review.") % {"status": statement.get_status_display()}
        )
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
    if statement.status == StatementStatus.APPROVED:
        # The plan the author chose: no time → out on approval; a time still ahead → out then;
        # a time that passed during the review → it waits for someone to give a new time
        # (publish/), never bursts out late. Only for the crisis in force.
        current = crisis_open()
        now = timezone.now()
        in_force = current is not None and current.pk == statement.crisis_id
        if in_force and statement.planned_at is None:
            _publish(actor=actor, statement=statement, at=now, auto=True)
        elif in_force and statement.planned_at > now:
            _publish(actor=actor, statement=statement, at=statement.planned_at, auto=True)
    return statement


# --------------------------------------------------------------------------------------------
# Publishing


def _publish(*, actor, statement: Statement, at, auto=False) -> list[Post]:
    """Create the exempt posts and mark the statement `publishing`: it becomes `published`
    only when every one of them is out (statement_sync_published)."""
    run = (
        ApprovalRequest.objects.filter(statement=statement, status=ApprovalStatus.APPROVED)
        .select_related("revision")
        .order_by("-finished_at")
        .first()
    )
    # The approval is bound to a revision: only that exact text, and only if it is still current.
    if run is None or run.revision.number != statement.revision:
        raise ConflictError(_("The current revision is not approved."))
    rev = run.revision
    accounts = list(SocialAccount.objects.filter(pk__in=rev.account_ids, is_active=True).order_by("pk"))
    if len(accounts) != len(rev.account_ids):
        raise ConflictError(_("An account of this statement is no longer active."), field="accounts")
    posts = []
    for account in accounts:
        # Exempt for this statement's crisis only: a later crisis's closed gate holds it back.
        post = post_create(
            actor=actor, account=account, body=rev.body, scheduled_at=at, exempt=statement.crisis
        )
        StatementPost.objects.create(statement=statement, revision=rev, post=post)
        posts.append(post)
    statement.status = StatementStatus.PUBLISHING
    statement.published_at = None
    statement.updated_at = timezone.now()
    statement.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(
        actor=actor,
        action="statement.publish",
        obj=statement,
        details={
            "revision": rev.number,
            "request": run.pk,
            "at": at,
            "posts": [p.pk for p in posts],
            "accounts": [a.pk for a in accounts],
            "automatic": auto,
        },
    )
    return posts


@transaction.atomic
def statement_publish(*, actor, statement, at=None) -> list[Post]:
    """Exempt posts on the chosen accounts, now or at `at`, only for the crisis in force."""
    statement = _lock_statement(statement)
    if not has_role(actor, DCO):
        if actor.pk != statement.author_id:
            raise NotAllowedError(_("Only the DCO or the author publishes a statement."))
        _require_mandate(actor=actor, crisis=statement.crisis, accounts=list(statement.accounts.all()))
    if statement.status != StatementStatus.APPROVED:
        raise ConflictError(
            _("Only an approved statement is published; this one is %(status)s.")
            % {"status": statement.get_status_display()}
        )
    current = crisis_open()
    if current is None or current.pk != statement.crisis_id:
        raise ConflictError(_("This statement's crisis is no longer in force."), field="crisis")
    now = timezone.now()
    if at is None:
        at = now
    elif at < now - CLOCK_SKEW:
        raise ServiceError(_("Give a time that is not past."), field="at")
    return _publish(actor=actor, statement=statement, at=max(at, now))


@transaction.atomic
def statement_sync_published(*, post_id: int) -> Statement | None:
    """A statement post was saved as out: once every post of its statement is out, the statement
    is `published`. Runs in the transaction that published the post (publisher or a person),
    through the post_save hook in guards.py. The statement row lock serialises two posts of one
    statement going out at the same moment: the second re-reads after the first commits."""
    statement_id = (
        StatementPost.objects.filter(post_id=post_id).values_list("statement_id", flat=True).first()
    )
    if statement_id is None:
        return None
    statement = Statement.objects.select_for_update().get(pk=statement_id)
    if statement.status != StatementStatus.PUBLISHING:
        return statement
    posts = list(
        Post.objects.filter(statement_link__statement_id=statement_id).values_list(
            "pk", "status", "published_at"
        )
    )
    if not posts or any(status != PostStatus.PUBLISHED for _pk, status, _at in posts):
        return statement
    statement.status = StatementStatus.PUBLISHED
    statement.published_at = max((at for _pk, _s, at in posts if at), default=timezone.now())
    statement.updated_at = timezone.now()
    statement.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(
        actor=None,
        action="statement.published",
        obj=statement,
        details={
            "revision": statement.revision,
            "posts": sorted(pk for pk, _s, _at in posts),
            "published_at": statement.published_at,
        },
    )
    return statement


@transaction.atomic
def statement_post_needs_person(*, post, told_by=None) -> None:
    """A statement post now waits for a person (post_save hook, in the saving transaction): a
    to-do by hand → its assignee is told; a post the network refused for good → every DCO is
    told (in-app and e-mail), since nothing else will send it. At 2 a.m. nobody reads a page."""
    link = StatementPost.objects.filter(post_id=post.pk).select_related("statement").first()
    if link is None:
        return
    statement = link.statement
    context = {
        "statement": statement.pk,
        "post": post.pk,
        "account": str(post.account),
        "body": post.body[:500],
    }
    if post.status == PostStatus.PUBLISHING and post.assignee_id:
        if told_by is not None and told_by.pk == post.assignee_id:
            return  # took it on themselves
        notify_users(
            event="statement.post_by_hand",
            user_ids=[post.assignee_id],
            context={
                **context,
                "subject": _("A statement post to publish by hand"),
                "message": _("Publish statement #%(id)s on %(account)s by hand, then press “I published it”.")
                % {"id": statement.pk, "account": post.account},
            },
            crisis_id=statement.crisis_id,
            actor=told_by,
        )
    elif post.status == PostStatus.FAILED:
        dcos = list(
            get_user_model()
            .objects.filter(is_active=True, groups__name=DCO)
            .values_list("pk", flat=True)
            .distinct()
        )
        if dcos:
            notify_users(
                event="statement.post_failed",
                user_ids=dcos,
                context={
                    **context,
                    "subject": _("A statement post failed"),
                    "message": _(
                        "Statement #%(id)s did not go out on %(account)s: %(error)s "
                        "Retry it or publish it by hand from the statement's page."
                    )
                    % {"id": statement.pk, "account": post.account, "error": plain_error(post.last_error)},
                },
                crisis_id=statement.crisis_id,
                actor=None,
            )


def _require_crisis_in_force(statement):
    # A statement speaks for its crisis: once that crisis is over, nothing more of it goes out
    # (its failing posts are cancelled by withdrawing it).
    current = crisis_open()
    if current is None or current.pk != statement.crisis_id:
        raise ConflictError(_("This statement's crisis is no longer in force."), field="crisis")


def _statement_post(statement, post) -> Post:
    post_id = getattr(post, "pk", post)
    if not isinstance(post_id, int) or not 0 < post_id < 2**31:  # a bigger id is no post (and no 500)
        raise ServiceError(_("This post is not one of this statement's posts."), field="post")
    link = StatementPost.objects.filter(statement_id=statement.pk, post_id=post_id).first()
    if link is None:
        raise ServiceError(_("This post is not one of this statement's posts."), field="post")
    return Post.objects.select_for_update(of=("self",)).select_related("account").get(pk=post_id)


@transaction.atomic
def statement_post_mark_published(*, actor, statement, post, external_url: str = "") -> Post:
    """“I published it”: the person the post was handed to, or any DCO, says it is out (the posts
    service checks who and in what state). The statement follows (statement_sync_published)."""
    post = _statement_post(statement, post)
    post = post_mark_published(actor=actor, post=post, external_url=(external_url or "").strip())
    audit_record(
        actor=actor,
        action="statement.post_mark_published",
        obj=statement,
        details={"post": post.pk, "account": post.account_id, "external_url": post.external_url},
    )
    return post


@transaction.atomic
def statement_post_retry(*, actor, statement, post) -> Post:
    """A failed post of the statement is sent again now (DCO only)."""
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only the DCO retries a statement's post."))
    post = _statement_post(statement, post)
    _require_crisis_in_force(statement)
    if post.status != PostStatus.FAILED:
        raise ConflictError(
            _("Only a failed post is retried; this one is %(status)s.")
            % {"status": post.get_status_display()}
        )
    attempts, error = post.attempts, post.last_error
    post = post_update(actor=actor, post=post, scheduled_at=timezone.now())
    audit_record(
        actor=actor,
        action="statement.post_retry",
        obj=statement,
        details={"post": post.pk, "account": post.account_id, "attempts": attempts, "error": error[:500]},
    )
    return post


@transaction.atomic
def statement_post_by_hand(*, actor, statement, post, assignee=None) -> Post:
    """A failing post of the statement becomes a to-do for a person (the DCO by default), who
    publishes it by hand and then says so: what the manual connector does for networks without
    an API. The publisher no longer touches it (it skips posts with an assignee)."""
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only the DCO hands a statement's post to a person."))
    post = _statement_post(statement, post)
    _require_crisis_in_force(statement)
    retrying = post.status == PostStatus.PUBLISHING and not post.assignee_id and post.last_error
    if post.status != PostStatus.FAILED and not retrying:
        raise ConflictError(
            _("Only a failing post is handed to a person; this one is %(status)s.")
            % {"status": post.get_status_display()}
        )
    if isinstance(assignee, int):
        assignee = get_user_model().objects.filter(pk=assignee, is_active=True).first()
        if assignee is None:
            raise ServiceError(_("No active person has this id."), field="assignee")
    assignee = assignee or actor
    if not assignee.is_active:
        raise ServiceError(_("This person's account is not active."), field="assignee")
    previous = post.status
    post.status, post.assignee, post.claimed_at = PostStatus.PUBLISHING, assignee, timezone.now()
    # The assignee is told by the post_save hook (statement_post_needs_person), unless it is us.
    post._told_by = actor
    post.save(update_fields=["status", "assignee", "claimed_at", "updated_at"])
    audit_record(
        actor=actor,
        action="post.assign",
        obj=post,
        details={"assignee": assignee.pk, "by_hand": True, "previous_status": previous},
    )
    audit_record(
        actor=actor,
        action="statement.post_by_hand",
        obj=statement,
        details={
            "post": post.pk,
            "account": post.account_id,
            "assignee": assignee.pk,
            "error": post.last_error[:500],
        },
    )
    return post


# --------------------------------------------------------------------------------------------
# Calendar posts in normal times


def _post_snapshot(post: Post) -> dict:
    """What a calendar post's approval covers: its text, its account and its time."""
    return {"body": post.body, "account": post.account_id, "scheduled_at": post.scheduled_at.isoformat()}


def _snapshot_matches(post: Post, snapshot: dict) -> bool:
    if snapshot.get("body") != post.body or snapshot.get("account") != post.account_id:
        return False
    # Runs asked before the time was part of the snapshot bind text and account only.
    return "scheduled_at" not in snapshot or parse_datetime(snapshot["scheduled_at"]) == post.scheduled_at


def post_runs_void_if_changed(*, post: Post) -> list[int]:
    """Called before a calendar post is saved (guards.guard_approved_post), in the saving
    transaction: a pending or approved run whose snapshot no longer matches is voided and the
    post is held again, so nothing goes out that the chain did not approve. Returns the voided
    runs' ids."""
    runs = list(
        ApprovalRequest.objects.select_for_update().filter(
            post_id=post.pk, status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
        )
    )
    changed = [run for run in runs if not _snapshot_matches(post, run.post_snapshot)]
    if not changed:
        return []
    now = timezone.now()
    for run in changed:
        was = run.status
        run.status, run.finished_at = ApprovalStatus.VOIDED, now
        run.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=None,
            action="post_approval.void",
            obj=run,
            details={"post": post.pk, "reason": "post changed", "was": was},
        )
    # The save under way may not list this field: set it on the row and on the instance.
    post.awaiting_approval = True
    Post.objects.filter(pk=post.pk).update(awaiting_approval=True)
    return [run.pk for run in changed]


@transaction.atomic
def post_approval_request(*, actor, post: Post, chain: ValidationChain | None = None) -> ApprovalRequest:
    """Hold a calendar post until the chain approves it (the publisher never claims it meanwhile)."""
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only the DCO requires an approval for a post."))
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.exempt or StatementPost.objects.filter(post=post).exists():
        raise ConflictError(_("A statement's post was approved with its statement."), field="post")
    if post.status != PostStatus.SCHEDULED:
        raise ConflictError(
            _("A %(status)s post cannot wait for approval.") % {"status": post.get_status_display()},
            field="post",
        )
    run = _run_start(
        actor=actor,
        chain=chain,
        kind=ApprovalKind.POST,
        subject={"post": post},
        author_id=post.created_by_id,
        snapshot=_post_snapshot(post),
    )
    post_set_hold(actor=actor, post=post, awaiting_approval=True)
    audit_record(
        actor=actor,
        action="post_approval.request",
        obj=run,
        details={"post": post.pk, "chain": run.chain.name, **_post_snapshot(post)},
    )
    _notify_reviewers(run=run, author_id=post.created_by_id, post=post)
    return run


def _lock_post_run(approval) -> tuple[ApprovalRequest, Post]:
    """Lock the post, then its run: the order a post edit takes them in (post_update locks the
    post, then its save hook locks the runs), so an edit racing a decision never deadlocks.
    No joins under the locks (see _lock_statement): current_step is read fresh after them."""
    post_id = (
        ApprovalRequest.objects.filter(pk=approval.pk, kind=ApprovalKind.POST)
        .values_list("post_id", flat=True)
        .get()
    )
    post = Post.objects.select_for_update().get(pk=post_id)
    run = ApprovalRequest.objects.select_for_update().get(pk=approval.pk, kind=ApprovalKind.POST)
    return run, post


def _release(*, actor, run, post, scheduled_at) -> bool:
    """Lift the hold if the post has a time still ahead; else it stays held for a new time."""
    now = timezone.now()
    if scheduled_at is not None and scheduled_at < now - CLOCK_SKEW:
        raise ServiceError(_("Give a time that is not past."), field="scheduled_at")
    when = scheduled_at or post.scheduled_at
    if when < now - CLOCK_SKEW:
        if not run.needs_new_time:
            run.needs_new_time = True
            run.save(update_fields=["needs_new_time"])
        return False
    new_time = max(scheduled_at, now) if scheduled_at else None
    if new_time is not None:
        # The approver gave this time: the approval covers it (the save hook compares with it).
        run.post_snapshot = {**run.post_snapshot, "scheduled_at": new_time.isoformat()}
        run.save(update_fields=["post_snapshot"])
    post_set_hold(actor=actor, post=post, awaiting_approval=False, scheduled_at=new_time)
    if run.needs_new_time:
        run.needs_new_time = False
        run.save(update_fields=["needs_new_time"])
    return True


def post_approval_decide(
    *, actor, approval: ApprovalRequest, verdict: str, comment: str = "", step=None, scheduled_at=None
) -> ApprovalRequest:
    """Decide the current step of a post run. A post changed since approval was asked voids the
    run (kept, then 409), so an approval never covers a text nobody reviewed."""
    with transaction.atomic():
        run, voided = _post_decide(
            actor=actor,
            approval=approval,
            verdict=verdict,
            comment=comment,
            step=step,
            scheduled_at=scheduled_at,
        )
    if voided:
        raise ConflictError(_("The post changed since approval was requested; request it again."))
    return run


def _post_decide(*, actor, approval, verdict, comment, step, scheduled_at):
    _clean_verdict(verdict, comment)
    run, post = _lock_post_run(approval)
    if run.status != ApprovalStatus.PENDING:
        raise ConflictError(
            _("This approval is %(status)s; nothing awaits a decision.")
            % {"status": run.get_status_display()}
        )
    if not _snapshot_matches(post, run.post_snapshot):
        # A change that bypassed the save hook (a bulk update): void here too.
        run.status, run.finished_at = ApprovalStatus.VOIDED, timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=actor,
            action="post_approval.void",
            obj=run,
            details={"post": post.pk, "reason": "post changed"},
        )
        return run, True
    outcome = _run_decide(
        actor=actor, run=run, verdict=verdict, comment=comment, author_id=post.created_by_id, step=step
    )
    released = None
    if outcome.finished and run.status == ApprovalStatus.APPROVED:
        released = _release(actor=actor, run=run, post=post, scheduled_at=scheduled_at)
    d = outcome.decision
    audit_record(
        actor=actor,
        action=f"post_approval.{AUDIT_VERB[verdict]}",
        obj=run,
        details={
            "post": post.pk,
            "step": d.step.name,
            "step_order": d.step.order,
            "comment": d.comment,
            "decision": d.pk,
            "final": outcome.finished,
            "status": run.status,
            "released": released,
        },
    )
    recipients = [post.created_by_id] if post.created_by_id else []
    recipients += [run.requested_by_id] if run.requested_by_id not in recipients else []
    notify_users(
        event="post.approval_decided",
        user_ids=[i for i in recipients if i != actor.pk],
        context={
            "post": post.pk,
            "request": run.pk,
            "verdict": verdict,
            "step": d.step.name,
            "status": run.status,
            "subject": _("Decision on a post awaiting approval"),
            "message": _("Post “%(title)s”: %(decision)s.")
            % {"title": _title(post.body), "decision": _decision_text(verdict, d.step.name, d.comment)},
        },
        actor=actor,
    )
    if outcome.advanced:
        _notify_reviewers(run=run, author_id=post.created_by_id, post=post)
    return run, False


@transaction.atomic
def post_approval_release(*, actor, approval: ApprovalRequest, scheduled_at) -> ApprovalRequest:
    """An approved post whose time passed while it waited: the DCO gives it a new time."""
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only the DCO gives a held post a new time."))
    if scheduled_at is None:
        raise ServiceError(_("Give the new time."), field="scheduled_at")
    run, post = _lock_post_run(approval)
    if run.status != ApprovalStatus.APPROVED or not run.needs_new_time:
        raise ConflictError(_("Only an approved post waiting for a new time is released here."))
    if not _snapshot_matches(post, run.post_snapshot):
        raise ConflictError(_("The post changed since it was approved; request approval again."))
    _release(actor=actor, run=run, post=post, scheduled_at=scheduled_at)
    audit_record(
        actor=actor,
        action="post_approval.release",
        obj=run,
        details={"post": post.pk, "scheduled_at": scheduled_at},
    )
    return run
