"""A crisis ends, with four eyes: one dco requests the lift (after the freeze, every frozen post
decided, the checklist confirmed) or the stand-down (declared in error), another approves it;
the approval applies the review and opens the gate."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, require_role
from apps.notifications.services import notify_event, notify_users
from apps.posts.listeners import posts_content_changing
from apps.posts.locks import gate_lock_exclusive
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import posts_frozen
from apps.posts.services import gate_open, local_time

from .checklist import checklist_codes, checklist_items
from .common import MIN_FREEZE, locked, notice_context, require_open
from .models import Crisis, CrisisStatus, EndKind, PostDecision, PostFate
from .selectors import crisis_end_blockers, crisis_resume_plan, crisis_undecided_posts


def withdraw_end_request(*, crisis, actor, why):
    if crisis.status != CrisisStatus.LIFTING:
        return
    kind = crisis.end_kind
    crisis.status, crisis.end_kind, crisis.end_requested_by, crisis.end_requested_at = (
        CrisisStatus.ACTIVE,
        "",
        None,
        None,
    )
    crisis.end_comment, crisis.checklist_confirmed, crisis.end_eligible_approvers = "", {}, []
    crisis.save(
        update_fields=[
            "status",
            "end_kind",
            "end_requested_by",
            "end_requested_at",
            "end_comment",
            "checklist_confirmed",
            "end_eligible_approvers",
        ]
    )
    audit_record(actor=actor, action="crisis.end_withdraw", obj=crisis, details={"kind": kind, "why": why})


def crisis_check_request_end(*, actor, crisis) -> None:
    """Who may ask for a lift or a stand-down, and when (before its own input is read): a dco,
    the crisis open and no end already pending. Raises the service's error."""
    require_role(actor, DCO)
    require_open(crisis=crisis)
    if crisis.status != CrisisStatus.ACTIVE:
        raise ConflictError(_("An end of this crisis is already awaiting approval."), code="lifting")


def crisis_check_approve_end(*, actor, crisis, now) -> None:
    """Who may approve the pending end, and when: a dco other than the requester who held the
    role when it was requested (four eyes), the 24 h minimum and freeze_until passed for a lift,
    nothing blocking (crisis_end_blockers). Raises the service's error."""
    require_role(actor, DCO)
    require_open(crisis=crisis)
    if crisis.status != CrisisStatus.LIFTING:
        raise ConflictError(_("No lift or stand-down is awaiting approval."), code="not_lifting")
    if crisis.end_requested_by_id == actor.pk:
        raise NotAllowedError(
            _("Four eyes: a second dco must approve; you made this request yourself."), code="four_eyes"
        )
    if actor.pk not in (crisis.end_eligible_approvers or []):
        raise NotAllowedError(
            _(
                "Four eyes: only a person who already held the dco role when the end was requested "
                "may approve it."
            ),
            code="four_eyes_not_eligible",
        )
    if crisis.end_kind == EndKind.LIFT and (
        now < crisis.declared_at + MIN_FREEZE or now < crisis.freeze_until
    ):
        raise ConflictError(
            _("The freeze lasts until %(until)s.")
            % {"until": local_time(value=max(crisis.freeze_until, crisis.declared_at + MIN_FREEZE))},
            code="freeze_in_force",
        )
    _refuse_if_blocked(crisis, kind=crisis.end_kind, now=now)


def _refuse_if_blocked(crisis, *, kind, now):
    reasons = crisis_end_blockers(crisis=crisis, kind=kind, now=now)
    if reasons:
        code = reasons[0][0]
        raise ConflictError(" ".join(m for _c, m in reasons), code=code)


def _eligible_approvers(actor) -> list[int]:
    """Who may approve an end requested now: the people holding `dco` at this moment, but the
    requester. A dco made after the request (a puppet) is not among them."""
    users = get_user_model().objects.filter(is_active=True, groups__name=DCO).exclude(pk=actor.pk)
    return sorted(set(users.values_list("pk", flat=True)))


def _record_end_request(crisis, *, actor, kind, comment, now, checklist=None):
    crisis.status, crisis.end_kind = CrisisStatus.LIFTING, kind
    crisis.end_requested_by, crisis.end_requested_at = actor, now
    crisis.end_comment = comment
    crisis.end_eligible_approvers = _eligible_approvers(actor)
    fields = [
        "status",
        "end_kind",
        "end_requested_by",
        "end_requested_at",
        "end_comment",
        "end_eligible_approvers",
    ]
    if checklist is not None:
        crisis.checklist_confirmed = checklist
        fields.append("checklist_confirmed")
    crisis.save(update_fields=fields)


@transaction.atomic
def crisis_request_lift(*, actor, crisis, comment, checklist) -> Crisis:
    """First half of the four-eyes lift. Refused (409) before freeze_until, while a frozen post
    has no decision, or with a checklist item unconfirmed. The crisis comes back with its
    `resume_plan`: when each released post will leave if approved now."""
    require_role(actor, DCO)
    crisis = locked(crisis=crisis)
    crisis_check_request_end(actor=actor, crisis=crisis)
    if not isinstance(checklist, dict):
        raise ServiceError(_("The checklist is an object {code: true, …}."), field="checklist")
    unknown = sorted(set(checklist) - set(checklist_codes()))
    if unknown:
        raise ServiceError(
            _("Unknown checklist item(s): %(codes)s.") % {"codes": ", ".join(unknown)}, field="checklist"
        )
    now = timezone.now()
    _refuse_if_blocked(crisis, kind=EndKind.LIFT, now=now)
    missing = [item["label"] for item in checklist_items() if checklist.get(item["code"]) is not True]
    if missing:
        raise ConflictError(
            _("The resumption checklist is incomplete: %(items)s.") % {"items": "; ".join(missing)},
            field="checklist",
            code="checklist_incomplete",
        )
    _record_end_request(
        crisis,
        actor=actor,
        kind=EndKind.LIFT,
        comment=(comment or "").strip(),
        now=now,
        checklist={code: {"by": actor.pk, "at": now.isoformat()} for code in checklist_codes()},
    )
    audit_record(
        actor=actor,
        action="crisis.lift_request",
        obj=crisis,
        details={
            "comment": crisis.end_comment,
            "checklist": checklist_codes(),
            "eligible_approvers": crisis.end_eligible_approvers,
        },
    )
    notify_event(
        event="crisis.lift_requested", crisis_id=crisis.pk, context=notice_context(crisis=crisis), actor=actor
    )
    crisis.resume_plan = crisis_resume_plan(crisis=crisis, at=now)
    return crisis


@transaction.atomic
def crisis_request_stand_down(*, actor, crisis, reason) -> Crisis:
    """First half of ending a crisis declared in error, at any time, with a reason. Undecided
    frozen posts go back to the calendar as they were, unless their time has passed. Every other
    dco is told at once (in-app and e-mail): a crisis declared in error must not wait for a call."""
    require_role(actor, DCO)
    crisis = locked(crisis=crisis)
    crisis_check_request_end(actor=actor, crisis=crisis)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the crisis is stood down."), field="reason")
    now = timezone.now()
    _refuse_if_blocked(crisis, kind=EndKind.STAND_DOWN, now=now)
    _record_end_request(crisis, actor=actor, kind=EndKind.STAND_DOWN, comment=reason, now=now)
    audit_record(
        actor=actor,
        action="crisis.stand_down_request",
        obj=crisis,
        details={"reason": reason, "eligible_approvers": crisis.end_eligible_approvers},
    )
    if crisis.end_eligible_approvers:
        notify_users(
            event="crisis.stand_down_requested",
            user_ids=crisis.end_eligible_approvers,
            crisis_id=crisis.pk,
            context={
                **notice_context(crisis=crisis),
                "reason": reason,
                "requested_by": actor.get_username(),
                # The generic template's subject and text until the event has its own.
                "subject": _("A crisis stand-down awaits your approval"),
                "message": _(
                    'A stand-down of the crisis "%(title)s" (declared in error) was requested by '
                    "%(who)s and needs a second DCO's approval. Reason: %(reason)s"
                )
                % {"title": crisis.title, "who": actor.get_username(), "reason": reason},
            },
            actor=actor,
        )
    crisis.resume_plan = crisis_resume_plan(crisis=crisis, at=now)
    return crisis


def _apply_resume(crisis, *, actor, now) -> dict:
    """The lift applies the review: cancelled posts are cancelled, the others go back to the
    calendar at the time the resume plan gives them (paced per account when due at once).
    A stand-down first records "release" for the undecided ones (the decisions stay the record
    of what the crisis held)."""
    closure = crisis.gate_closure
    frozen = posts_frozen(closure=closure)
    if crisis.end_kind == EndKind.STAND_DOWN:
        undecided = crisis_undecided_posts(crisis=crisis)
        PostDecision.objects.bulk_create(
            [
                PostDecision(
                    crisis=crisis, post_id=pk, decision=PostFate.RELEASE, decided_by=actor, decided_at=now
                )
                for pk in undecided.values_list("pk", flat=True)
            ]
        )
    decisions = PostDecision.objects.filter(crisis=crisis)

    def decided(**kw):
        return frozen.filter(pk__in=decisions.filter(**kw).values("post"))

    fates = {"cancelled": decided(decision=PostFate.CANCEL).update(status=PostStatus.CANCELLED)}
    back = {"status": PostStatus.SCHEDULED, "assignee": None, "claimed_at": None, "send_started_at": None}
    new_time = Subquery(decisions.filter(post=OuterRef("pk")).values("scheduled_at")[:1])
    # A new time is a change of what a calendar post's approval covers: posts' listeners are
    # told before the write, the rows locked and the new times on the instances (statements
    # voids such an approval, audited, and holds the post again).
    moving = list(
        decided(decision=PostFate.RESCHEDULE)
        .select_for_update(of=("self",))
        .annotate(new_at=new_time)
        .only("pk", "body", "account_id", "scheduled_at")
        .order_by("pk")
    )
    for post in moving:
        post.scheduled_at = post.new_at
    posts_content_changing(posts=moving)
    fates["rescheduled"] = decided(decision=PostFate.RESCHEDULE).update(scheduled_at=new_time, **back)
    fates["released"] = decided(decision=PostFate.RELEASE).update(**back)
    # Due at once (publish now, or a time that passed since the decision): paced per account.
    paced = [item for item in crisis_resume_plan(crisis=crisis, at=now, limit=None) if item["paced"]]
    rows = Post.objects.select_for_update().in_bulk([item["post"] for item in paced])
    for item in paced:
        rows[item["post"]].scheduled_at = item["leaves_at"]
    posts_content_changing(posts=list(rows.values()))
    Post.objects.bulk_update(list(rows.values()), ["scheduled_at"], batch_size=1000)
    fates["paced"] = len(paced)
    return fates


# Durable: the gate opens when this returns, never inside a caller's transaction.
@transaction.atomic(durable=True)
def crisis_approve_lift(*, actor, crisis) -> Crisis:
    """Second half (another dco, who held `dco` when the end was requested): apply the
    decisions, open the gate, close the crisis. Takes the exclusive gate lock FIRST, so no claim,
    send or post creation is half-way through while the gate opens; the 24 h minimum is checked
    again here (and held by the database)."""
    require_role(actor, DCO)
    gate_lock_exclusive()
    crisis = locked(crisis=crisis)
    now = timezone.now()
    crisis_check_approve_end(actor=actor, crisis=crisis, now=now)
    kind = crisis.end_kind
    fates = _apply_resume(crisis, actor=actor, now=now)
    gate_open(actor=actor, closure=crisis.gate_closure)
    crisis.status, crisis.is_open, crisis.closed_at, crisis.end_approved_by = (
        CrisisStatus.CLOSED,
        None,
        now,
        actor,
    )
    crisis.save(update_fields=["status", "is_open", "closed_at", "end_approved_by"])
    lifted = kind == EndKind.LIFT
    audit_record(
        actor=actor,
        action="crisis.lift" if lifted else "crisis.stand_down",
        obj=crisis,
        details={"requested_by": crisis.end_requested_by_id, "posts": fates},
    )
    notify_event(
        event="crisis.lifted" if lifted else "crisis.stood_down",
        crisis_id=crisis.pk,
        context=notice_context(crisis=crisis),
        actor=actor,
    )
    return crisis
