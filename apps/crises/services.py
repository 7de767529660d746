"""Crisis life: declare (close the gate, freeze), extend, review frozen posts, request the lift
or a stand-down, and a second dco approves it (four eyes). Each is one transaction with its audit
entry and its notification (notify_event records notices in the same transaction)."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record
from apps.notifications.services import notify_event
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import posts_frozen_by
from apps.posts.services import gate_close, gate_open
from crisiscomm.api import ConflictError, NotAllowedError, ServiceError

from .checklist import checklist_codes, checklist_items
from .models import Crisis, CrisisStatus, Decision, EndKind, PostDecision
from .selectors import crisis_end_blockers


def _require_dco(actor):
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only a communication directorate officer (dco) may do this."))


def _aware(value, field):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None or timezone.is_naive(value):
        raise ServiceError(_("A date and time with a time zone is required."), field=field)
    return value


def notice_context(crisis: Crisis) -> dict:
    """What staff notices may say. Never the internal summary."""
    return {
        "title": crisis.title,
        "severity": crisis.severity,
        "declared_at": crisis.declared_at.isoformat(),
        "freeze_until": crisis.freeze_until.isoformat(),
        "topics": list(crisis.topics),
    }


def _locked(crisis) -> Crisis:
    return Crisis.objects.select_for_update().get(pk=crisis.pk)


def _require_open(crisis):
    if not crisis.is_open:
        raise ConflictError(_("This crisis is closed."), code="crisis_closed")


@transaction.atomic
def crisis_declare(*, actor, title, summary, severity, topics=()) -> Crisis:
    """Create the crisis, close the gate and freeze every scheduled non-exempt post (one UPDATE),
    all in this one transaction. A second declaration while one is open gets 409; the unique
    `is_open` constraint holds that even against a race."""
    _require_dco(actor)
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("A title is required."), field="title")
    if len(title) > 200:
        raise ServiceError(_("The title is too long (200 characters at most)."), field="title")
    if isinstance(severity, bool) or severity not in (1, 2, 3):
        raise ServiceError(_("Severity is 1, 2 or 3 (3 the gravest)."), field="severity")
    if isinstance(topics, str) or not all(isinstance(t, str) and t.strip() for t in topics):
        raise ServiceError(_("Topics are a list of non-empty words."), field="topics")
    topics = sorted({t.strip().lower() for t in topics})
    try:
        with transaction.atomic():  # a savepoint, so a lost race is a clean 409
            closure, frozen = gate_close(actor=actor, reason=_("Crisis: %(title)s") % {"title": title})
            declared_at = closure.closed_at
            crisis = Crisis.objects.create(
                title=title,
                summary=summary or "",
                severity=severity,
                topics=topics,
                declared_by=actor,
                declared_at=declared_at,
                freeze_until=declared_at + settings.CRISIS_MIN_FREEZE,
                gate_closure=closure,
            )
    except (IntegrityError, ConflictError) as exc:
        raise ConflictError(_("A crisis is already in force."), code="crisis_in_force") from exc
    audit_record(
        actor=actor,
        action="crisis.declare",
        obj=crisis,
        details={
            "title": title,
            "severity": severity,
            "topics": topics,
            "freeze_until": crisis.freeze_until.isoformat(),
            "frozen_posts": frozen,
        },
    )
    notify_event(event="crisis.declared", crisis_id=crisis.pk, context=notice_context(crisis), actor=actor)
    crisis.frozen_count = frozen
    return crisis


@transaction.atomic
def crisis_extend(*, actor, crisis, freeze_until) -> Crisis:
    """Move freeze_until later; never earlier. Withdraws a pending lift or stand-down."""
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    freeze_until = _aware(freeze_until, "freeze_until")
    if freeze_until <= crisis.freeze_until:
        raise ServiceError(
            _("The freeze can only be extended: give a time after %(current)s.")
            % {"current": crisis.freeze_until.isoformat()},
            field="freeze_until",
        )
    previous = crisis.freeze_until
    crisis.freeze_until = freeze_until
    crisis.save(update_fields=["freeze_until"])
    audit_record(
        actor=actor,
        action="crisis.extend",
        obj=crisis,
        details={"from": previous.isoformat(), "to": freeze_until.isoformat()},
    )
    notify_event(event="crisis.extended", crisis_id=crisis.pk, context=notice_context(crisis), actor=actor)
    # The situation changed: a pending lift or stand-down must be asked for again.
    _withdraw_end_request(crisis, actor, "freeze extended")
    return crisis


def _withdraw_end_request(crisis, actor, why):
    if crisis.status != CrisisStatus.LIFTING:
        return
    kind = crisis.end_kind
    crisis.status, crisis.end_kind, crisis.end_requested_by, crisis.end_requested_at = (
        CrisisStatus.ACTIVE,
        "",
        None,
        None,
    )
    crisis.end_comment, crisis.checklist_confirmed = "", {}
    crisis.save(
        update_fields=[
            "status",
            "end_kind",
            "end_requested_by",
            "end_requested_at",
            "end_comment",
            "checklist_confirmed",
        ]
    )
    audit_record(actor=actor, action="crisis.end_withdraw", obj=crisis, details={"kind": kind, "why": why})


@transaction.atomic
def crisis_decide_post(
    *, actor, crisis, post, decision, scheduled_at=None, publish_now=False
) -> PostDecision:
    """Decide the fate of one frozen post (applied when the crisis ends): release (keeps its
    time; if that time passed during the freeze, only with publish_now), reschedule (a new
    future time) or cancel. Changing a decision while a lift is pending withdraws the request."""
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    if decision not in Decision.values:
        raise ServiceError(_("The decision is release, reschedule or cancel."), field="decision")
    post = Post.objects.filter(pk=getattr(post, "pk", post)).first()
    if post is None:
        raise ServiceError(_("Unknown post."), field="post")
    if post.status != PostStatus.FROZEN or post.frozen_by_id != crisis.gate_closure_id:
        raise ConflictError(_("This post is not frozen by this crisis."), field="post", code="not_frozen")
    now = timezone.now()
    publish_now = bool(publish_now)
    if decision == Decision.RESCHEDULE:
        if scheduled_at is None:
            raise ServiceError(_("Rescheduling needs a new time."), field="scheduled_at")
        scheduled_at = _aware(scheduled_at, "scheduled_at")
        if scheduled_at <= now:
            raise ServiceError(_("The new time must be in the future."), field="scheduled_at")
        if publish_now:
            raise ServiceError(_("Reschedule or publish now, not both."), field="publish_now")
    elif scheduled_at is not None:
        raise ServiceError(_("Only a reschedule takes a new time."), field="scheduled_at")
    if decision == Decision.RELEASE and post.scheduled_at <= now and not publish_now:
        raise ConflictError(
            _(
                "This post's time (%(at)s) passed during the freeze: reschedule it, or release it "
                "with publish_now."
            )
            % {"at": post.scheduled_at.isoformat()},
            field="decision",
            code="time_passed",
        )
    if decision == Decision.CANCEL and publish_now:
        raise ServiceError(_("A cancelled post is not published."), field="publish_now")
    row, _created = PostDecision.objects.update_or_create(
        crisis=crisis,
        post=post,
        defaults={
            "decision": decision,
            "scheduled_at": scheduled_at,
            "publish_now": publish_now,
            "decided_by": actor,
            "decided_at": now,
        },
    )
    audit_record(
        actor=actor,
        action="crisis.decide",
        obj=crisis,
        details={
            "post": post.pk,
            "decision": decision,
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "publish_now": publish_now,
        },
    )
    _withdraw_end_request(crisis, actor, "decision changed")
    return row


def _refuse_if_blocked(crisis, *, kind, now):
    reasons = crisis_end_blockers(crisis, kind=kind, now=now)
    if reasons:
        code = reasons[0][0]
        raise ConflictError(" ".join(m for _c, m in reasons), code=code)


@transaction.atomic
def crisis_request_lift(*, actor, crisis, comment, checklist) -> Crisis:
    """First half of the four-eyes lift. Refused (409) before freeze_until, while a frozen post
    has no decision, or with a checklist item unconfirmed."""
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    if crisis.status != CrisisStatus.ACTIVE:
        raise ConflictError(_("An end of this crisis is already awaiting approval."), code="lifting")
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
    crisis.status, crisis.end_kind = CrisisStatus.LIFTING, EndKind.LIFT
    crisis.end_requested_by, crisis.end_requested_at = actor, now
    crisis.end_comment = (comment or "").strip()
    crisis.checklist_confirmed = {code: {"by": actor.pk, "at": now.isoformat()} for code in checklist_codes()}
    crisis.save(
        update_fields=[
            "status",
            "end_kind",
            "end_requested_by",
            "end_requested_at",
            "end_comment",
            "checklist_confirmed",
        ]
    )
    audit_record(
        actor=actor,
        action="crisis.lift_request",
        obj=crisis,
        details={"comment": crisis.end_comment, "checklist": checklist_codes()},
    )
    notify_event(
        event="crisis.lift_requested", crisis_id=crisis.pk, context=notice_context(crisis), actor=actor
    )
    return crisis


@transaction.atomic
def crisis_request_stand_down(*, actor, crisis, reason) -> Crisis:
    """First half of ending a crisis declared in error, at any time, with a reason. Undecided
    frozen posts go back to the calendar as they were, unless their time has passed."""
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    if crisis.status != CrisisStatus.ACTIVE:
        raise ConflictError(_("An end of this crisis is already awaiting approval."), code="lifting")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the crisis is stood down."), field="reason")
    now = timezone.now()
    _refuse_if_blocked(crisis, kind=EndKind.STAND_DOWN, now=now)
    crisis.status, crisis.end_kind = CrisisStatus.LIFTING, EndKind.STAND_DOWN
    crisis.end_requested_by, crisis.end_requested_at, crisis.end_comment = actor, now, reason
    crisis.save(update_fields=["status", "end_kind", "end_requested_by", "end_requested_at", "end_comment"])
    audit_record(actor=actor, action="crisis.stand_down_request", obj=crisis, details={"reason": reason})
    return crisis


@transaction.atomic
def crisis_approve_lift(*, actor, crisis) -> Crisis:
    """Second half (another dco): apply the decisions, open the gate, close the crisis."""
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    if crisis.status != CrisisStatus.LIFTING:
        raise ConflictError(_("No lift or stand-down is awaiting approval."), code="not_lifting")
    if crisis.end_requested_by_id == actor.pk:
        raise NotAllowedError(
            _("Four eyes: a second dco must approve; you made this request yourself."), code="four_eyes"
        )
    now = timezone.now()
    kind = crisis.end_kind
    _refuse_if_blocked(crisis, kind=kind, now=now)

    frozen = posts_frozen_by(crisis.gate_closure)
    decisions = PostDecision.objects.filter(crisis=crisis)

    def decided(**kw):
        return frozen.filter(pk__in=decisions.filter(**kw).values("post"))

    fates = {
        "published_now": decided(decision=Decision.RELEASE, publish_now=True).update(
            status=PostStatus.SCHEDULED, scheduled_at=now
        ),
        "released": decided(decision=Decision.RELEASE, publish_now=False).update(status=PostStatus.SCHEDULED),
        "rescheduled": decided(decision=Decision.RESCHEDULE).update(
            status=PostStatus.SCHEDULED,
            scheduled_at=Subquery(decisions.filter(post=OuterRef("pk")).values("scheduled_at")[:1]),
        ),
        "cancelled": decided(decision=Decision.CANCEL).update(status=PostStatus.CANCELLED),
    }
    if kind == EndKind.STAND_DOWN:
        fates["restored"] = frozen.update(status=PostStatus.SCHEDULED)
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
        context=notice_context(crisis),
        actor=actor,
    )
    return crisis
