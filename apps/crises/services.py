"""Crisis life: declare (close the gate: the freeze is logical, no post is written), extend,
review frozen posts, request the lift or a stand-down, and a second dco approves it (four eyes).
Each is one transaction with its audit entry and its notification (notify_event records notices
in the same transaction)."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.notifications.services import notify_event, notify_users
from apps.posts.locks import gate_lock_exclusive
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import post_is_frozen, posts_frozen
from apps.posts.services import gate_close, gate_open, local_time

from .checklist import checklist_codes, checklist_items
from .models import Crisis, CrisisStatus, Decision, EndKind, PostDecision
from .selectors import crisis_end_blockers, crisis_resume_plan

# The database holds the same minimum (constraint crisis_freeze_at_least_24h).
MIN_FREEZE = timedelta(hours=24)


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
    """Create the crisis and close the gate, in this one transaction: the closure, the crisis,
    the audit entry and the notification outbox row. No post row is touched (the freeze is
    derived from the closed gate), so this costs the same at any calendar size; it waits at most
    the send deadline for the sends in flight, and says how many there were. A second
    declaration while one is open gets 409; the unique `is_open` constraint holds that even
    against a race."""
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
            closure, in_flight = gate_close(actor=actor, reason=_("Crisis: %(title)s") % {"title": title})
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
            "sends_in_flight": in_flight,
        },
    )
    notify_event(event="crisis.declared", crisis_id=crisis.pk, context=notice_context(crisis), actor=actor)
    crisis.sends_in_flight = in_flight
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
            % {"current": local_time(crisis.freeze_until)},
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


def _check_decision(*, crisis, post, decision, scheduled_at, publish_now, now):
    """Validate one decision; returns (scheduled_at, publish_now) cleaned."""
    if decision not in Decision.values:
        raise ServiceError(_("The decision is release, reschedule or cancel."), field="decision")
    if not post_is_frozen(post, crisis.gate_closure if crisis.gate_closure.is_current else None):
        raise ConflictError(_("This post is not frozen by this crisis."), field="post", code="not_frozen")
    publish_now = bool(publish_now)
    if decision == Decision.RESCHEDULE:
        if scheduled_at is None:
            raise ServiceError(_("Rescheduling needs a new time."), field="scheduled_at")
        scheduled_at = _aware(scheduled_at, "scheduled_at")
        if scheduled_at <= now:
            raise ServiceError(
                _("The new time (%(at)s) must be in the future.") % {"at": local_time(scheduled_at)},
                field="scheduled_at",
            )
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
            % {"at": local_time(post.scheduled_at)},
            field="decision",
            code="time_passed",
        )
    if decision == Decision.CANCEL and publish_now:
        raise ServiceError(_("A cancelled post is not published."), field="publish_now")
    return scheduled_at, publish_now


def _open_for_decisions(actor, crisis):
    _require_dco(actor)
    crisis = _locked(crisis)
    _require_open(crisis)
    return crisis


@transaction.atomic
def crisis_decide_post(
    *, actor, crisis, post, decision, scheduled_at=None, publish_now=False
) -> PostDecision:
    """Decide the fate of one frozen post (applied when the crisis ends): release (keeps its
    time; if that time passed during the freeze, only with publish_now), reschedule (a new
    future time) or cancel. Changing a decision while a lift is pending withdraws the request."""
    crisis = _open_for_decisions(actor, crisis)
    post = Post.objects.filter(pk=getattr(post, "pk", post)).first()
    if post is None:
        raise ServiceError(_("Unknown post."), field="post")
    now = timezone.now()
    scheduled_at, publish_now = _check_decision(
        crisis=crisis,
        post=post,
        decision=decision,
        scheduled_at=scheduled_at,
        publish_now=publish_now,
        now=now,
    )
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


@transaction.atomic
def crisis_decide_posts(*, actor, crisis, decisions: list[dict]) -> list[PostDecision]:
    """Several decisions in one transaction (all or none): [{post, decision, scheduled_at?,
    publish_now?}, …]. An error names the item (`decisions[3].post`)."""
    crisis = _open_for_decisions(actor, crisis)
    if not isinstance(decisions, list) or not decisions:
        raise ServiceError(_("Give a list of decisions."), field="decisions")
    now = timezone.now()
    posts = Post.objects.in_bulk([getattr(d.get("post"), "pk", d.get("post")) for d in decisions])
    rows = []
    for index, item in enumerate(decisions):
        post = posts.get(getattr(item.get("post"), "pk", item.get("post")))
        if post is None:
            raise ServiceError(_("Unknown post."), field=f"decisions[{index}].post")
        try:
            scheduled_at, publish_now = _check_decision(
                crisis=crisis,
                post=post,
                decision=item.get("decision"),
                scheduled_at=item.get("scheduled_at"),
                publish_now=item.get("publish_now", False),
                now=now,
            )
        except ServiceError as exc:
            exc.field = f"decisions[{index}].{exc.field or 'post'}"
            raise
        rows.append(
            PostDecision(
                crisis=crisis,
                post=post,
                decision=item["decision"],
                scheduled_at=scheduled_at,
                publish_now=publish_now,
                decided_by=actor,
                decided_at=now,
            )
        )
    saved = _upsert_decisions(rows)
    audit_record(
        actor=actor,
        action="crisis.decide_many",
        obj=crisis,
        details={"count": len(saved), "posts": [r.post_id for r in saved][:1000]},
    )
    _withdraw_end_request(crisis, actor, "decision changed")
    return saved


def _upsert_decisions(rows):
    return PostDecision.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["crisis", "post"],
        update_fields=["decision", "scheduled_at", "publish_now", "decided_by", "decided_at"],
    )


@transaction.atomic
def crisis_decide_matching(
    *,
    actor,
    crisis,
    decision,
    account=None,
    network=None,
    scheduled_from=None,
    scheduled_to=None,
    scheduled_at=None,
    publish_now=False,
) -> int:
    """One decision for every post this crisis holds frozen that matches the filter (account,
    network, scheduled time range), in one transaction, audited once with the count. A release
    of a post whose time has passed needs publish_now, as one by one: the whole call is refused
    naming the first such post. Returns how many posts were decided."""
    crisis = _open_for_decisions(actor, crisis)
    if decision not in Decision.values:
        raise ServiceError(_("The decision is release, reschedule or cancel."), field="decision")
    matching = posts_frozen(crisis.gate_closure).order_by("scheduled_at", "id")
    if account is not None:
        matching = matching.filter(account=account)
    if network:
        matching = matching.filter(account__network=network)
    if scheduled_from is not None:
        matching = matching.filter(scheduled_at__gte=_aware(scheduled_from, "scheduled_from"))
    if scheduled_to is not None:
        matching = matching.filter(scheduled_at__lte=_aware(scheduled_to, "scheduled_to"))
    now = timezone.now()
    rows = []
    for post in matching.only("id", "status", "scheduled_at", "exempt_closure_id"):
        cleaned_at, cleaned_now = _check_decision(
            crisis=crisis,
            post=post,
            decision=decision,
            scheduled_at=scheduled_at,
            publish_now=publish_now,
            now=now,
        )
        rows.append(
            PostDecision(
                crisis=crisis,
                post=post,
                decision=decision,
                scheduled_at=cleaned_at,
                publish_now=cleaned_now,
                decided_by=actor,
                decided_at=now,
            )
        )
    if not rows:
        return 0
    _upsert_decisions(rows)
    audit_record(
        actor=actor,
        action="crisis.decide_matching",
        obj=crisis,
        details={
            "decision": decision,
            "count": len(rows),
            "filter": {
                "account": getattr(account, "pk", account),
                "network": network,
                "scheduled_from": scheduled_from.isoformat() if scheduled_from else None,
                "scheduled_to": scheduled_to.isoformat() if scheduled_to else None,
            },
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "publish_now": bool(publish_now),
        },
    )
    _withdraw_end_request(crisis, actor, "decision changed")
    return len(rows)


def _refuse_if_blocked(crisis, *, kind, now):
    reasons = crisis_end_blockers(crisis, kind=kind, now=now)
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
        event="crisis.lift_requested", crisis_id=crisis.pk, context=notice_context(crisis), actor=actor
    )
    crisis.resume_plan = crisis_resume_plan(crisis, at=now)
    return crisis


@transaction.atomic
def crisis_request_stand_down(*, actor, crisis, reason) -> Crisis:
    """First half of ending a crisis declared in error, at any time, with a reason. Undecided
    frozen posts go back to the calendar as they were, unless their time has passed. Every other
    dco is told at once (in-app and e-mail): a crisis declared in error must not wait for a call."""
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
                **notice_context(crisis),
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
    crisis.resume_plan = crisis_resume_plan(crisis, at=now)
    return crisis


def _apply_resume(crisis, *, actor, now) -> dict:
    """The lift applies the review: cancelled posts are cancelled, the others go back to the
    calendar at the time the resume plan gives them (paced per account when due at once).
    A stand-down first records "release" for the undecided ones (the decisions stay the record
    of what the crisis held)."""
    closure = crisis.gate_closure
    frozen = posts_frozen(closure)
    if crisis.end_kind == EndKind.STAND_DOWN:
        undecided = frozen.exclude(pk__in=PostDecision.objects.filter(crisis=crisis).values("post"))
        PostDecision.objects.bulk_create(
            [
                PostDecision(
                    crisis=crisis, post_id=pk, decision=Decision.RELEASE, decided_by=actor, decided_at=now
                )
                for pk in undecided.values_list("pk", flat=True)
            ]
        )
    decisions = PostDecision.objects.filter(crisis=crisis)

    def decided(**kw):
        return frozen.filter(pk__in=decisions.filter(**kw).values("post"))

    fates = {"cancelled": decided(decision=Decision.CANCEL).update(status=PostStatus.CANCELLED)}
    back = {"status": PostStatus.SCHEDULED, "assignee": None, "claimed_at": None, "send_started_at": None}
    fates["rescheduled"] = decided(decision=Decision.RESCHEDULE).update(
        scheduled_at=Subquery(decisions.filter(post=OuterRef("pk")).values("scheduled_at")[:1]), **back
    )
    fates["released"] = decided(decision=Decision.RELEASE).update(**back)
    # Due at once (publish now, or a time that passed since the decision): paced per account.
    paced = [item for item in crisis_resume_plan(crisis, at=now, limit=None) if item["paced"]]
    rows = Post.objects.in_bulk([item["post"] for item in paced])
    for item in paced:
        rows[item["post"]].scheduled_at = item["leaves_at"]
    Post.objects.bulk_update(list(rows.values()), ["scheduled_at"], batch_size=1000)
    fates["paced"] = len(paced)
    return fates


@transaction.atomic
def crisis_approve_lift(*, actor, crisis) -> Crisis:
    """Second half (another dco, who held `dco` when the end was requested): apply the
    decisions, open the gate, close the crisis. Takes the exclusive gate lock FIRST, so no claim,
    send or post creation is half-way through while the gate opens; the 24 h minimum is checked
    again here (and held by the database)."""
    _require_dco(actor)
    gate_lock_exclusive()
    crisis = _locked(crisis)
    _require_open(crisis)
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
    now = timezone.now()
    kind = crisis.end_kind
    if kind == EndKind.LIFT and (now < crisis.declared_at + MIN_FREEZE or now < crisis.freeze_until):
        raise ConflictError(
            _("The freeze lasts until %(until)s.")
            % {"until": local_time(max(crisis.freeze_until, crisis.declared_at + MIN_FREEZE))},
            code="freeze_in_force",
        )
    _refuse_if_blocked(crisis, kind=kind, now=now)
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
        context=notice_context(crisis),
        actor=actor,
    )
    return crisis
