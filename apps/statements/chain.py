"""The validation-chain engine, one machinery for statement and calendar-post runs."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, require_role
from apps.core.updates import model_update
from apps.notifications.services import notify_users

from .models import (
    ApprovalRequest,
    ApprovalStatus,
    ChainStep,
    Decision,
    StepRule,
    ValidationChain,
    Verdict,
)
from .steps import chain_default, step_allows, step_people_ids

# A time "now" sent by a client whose clock is slightly behind is still "now".
CLOCK_SKEW = timedelta(seconds=60)


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
    return sorted(step_people_ids(step=step) - used - {author_id})


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


def run_check_decide(*, actor, run: ApprovalRequest, author_id, step=None) -> None:
    """Who decides the current step of a pending run (403/409): not the author, not someone who
    decided another step of it, only those the step names. The decision applies it and the pages
    ask it (actions.py), so a button is offered exactly when the decision would be taken."""
    current = run.current_step
    if current is None:
        raise ConflictError(_("Nothing is awaiting a decision."))
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
    if not step_allows(step=current, user=actor):
        earlier = [s for s in _chain_steps(run.chain) if s.order < current.order]
        if any(step_allows(step=s, user=actor) for s in earlier):
            # The step this reviewer was looking at has just been decided by someone else.
            raise ConflictError(_("This step has already been decided; reload."))
        raise NotAllowedError(
            _("You are not among the people who decide step “%(step)s”.") % {"step": current.name},
            code="not_reviewer",
        )


def _run_decide(*, actor, run: ApprovalRequest, verdict, comment, author_id, step=None) -> Outcome:
    """The decision rules, shared by statement and post runs. `run` is locked and pending."""
    run_check_decide(actor=actor, run=run, author_id=author_id, step=step)
    current = run.current_step
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


AUDIT_VERB = {
    Verdict.APPROVE: "approve",
    Verdict.REJECT: "reject",
    Verdict.REQUEST_CHANGES: "request_changes",
}


# --------------------------------------------------------------------------------------------
# Editing chains: the DCO only, audited; the admin's forms call these (they write nothing).

CHAIN_FIELDS = ("name", "description", "is_default")
STEP_FIELDS = ("order", "name", "role", "rule")


def _chain_details(chain: ValidationChain) -> dict:
    return {
        "name": chain.name,
        "is_default": chain.is_default,
        "steps": [
            {
                "order": s.order,
                "name": s.name,
                "role": s.role,
                "users": sorted(u.pk for u in s.users.all()),
                "rule": s.rule,
            }
            for s in chain.steps.order_by("order")
        ],
    }


def _chain_used(chain: ValidationChain) -> bool:
    """A chain that ran is part of the record: its decisions point at its steps."""
    return chain.pk is not None and chain.requests.exists()


def _steps_write(*, chain: ValidationChain, steps) -> None:
    """`steps`: dicts {id (an existing step, optional), order, name, role, users, rule, delete}."""
    existing = {s.pk: s for s in chain.steps.all()}
    for item in steps:
        step = existing.get(item.get("id"))
        if item.get("delete"):
            if step is not None:
                if _chain_used(chain):
                    raise ConflictError(_("A step of a chain that ran is kept."), field="steps")
                step.delete()
            continue
        unknown = sorted(set(item) - {*STEP_FIELDS, "id", "users", "delete"})
        if unknown:
            raise ServiceError(
                _("This field cannot be changed here: %(f)s.") % {"f": unknown[0]}, field=unknown[0]
            )
        step = step or ChainStep(chain=chain)
        for field in STEP_FIELDS:
            if field in item:
                setattr(step, field, item[field])
        try:
            step.full_clean(exclude=["chain", "users"], validate_unique=False, validate_constraints=False)
        except DjangoValidationError as invalid:
            field, messages = next(iter(invalid.message_dict.items()))
            raise ServiceError(messages[0], field=f"steps.{field}") from invalid
        step.save()
        step.users.set(item.get("users") or [])


def _one_default(chain: ValidationChain) -> None:
    # One default chain: choosing a new one demotes the old one.
    if chain.is_default:
        ValidationChain.objects.exclude(pk=chain.pk).filter(is_default=True).update(is_default=False)


@transaction.atomic
def chain_create(*, actor, data: dict, steps=()) -> ValidationChain:
    require_role(actor, DCO, message=_("Only the DCO defines validation chains."))
    unknown = sorted(set(data) - set(CHAIN_FIELDS))
    if unknown:
        raise ServiceError(
            _("This field cannot be changed here: %(f)s.") % {"f": unknown[0]}, field=unknown[0]
        )
    chain = ValidationChain(**data)
    try:
        chain.full_clean()
    except DjangoValidationError as invalid:
        field, messages = next(iter(invalid.message_dict.items()))
        raise ServiceError(messages[0], field=field) from invalid
    _one_default(chain)
    chain.save()
    _steps_write(chain=chain, steps=steps)
    audit_record(actor=actor, action="chain.create", obj=chain, details=_chain_details(chain))
    return chain


@transaction.atomic
def chain_update(*, actor, chain: ValidationChain, data: dict, steps=()) -> ValidationChain:
    require_role(actor, DCO, message=_("Only the DCO changes validation chains."))
    chain = ValidationChain.objects.select_for_update().get(pk=chain.pk)
    if data.get("is_default"):
        ValidationChain.objects.exclude(pk=chain.pk).filter(is_default=True).update(is_default=False)
    model_update(instance=chain, fields=CHAIN_FIELDS, data=data)
    _steps_write(chain=chain, steps=steps)
    audit_record(actor=actor, action="chain.change", obj=chain, details=_chain_details(chain))
    return chain


@transaction.atomic
def chain_delete(*, actor, chain: ValidationChain) -> None:
    """Evidence is never deleted: a chain that ran stays (PROTECT refuses it anyway)."""
    require_role(actor, DCO, message=_("Only the DCO deletes validation chains."))
    chain = ValidationChain.objects.select_for_update().get(pk=chain.pk)
    if _chain_used(chain):
        raise ConflictError(_("A chain that ran is part of the record and is kept."))
    audit_record(actor=actor, action="chain.delete", obj=chain, details={"name": chain.name})
    chain.delete()
