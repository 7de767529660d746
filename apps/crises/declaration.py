"""A crisis begins: declare it (close the gate, in the same transaction) and extend its freeze."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role
from apps.notifications.services import notify_event
from apps.posts.services import gate_close, local_time

from .common import aware, crisis_check_change, locked, notice_context
from .ending import withdraw_end_request
from .gate_answer import gate_answer_abandoned, gate_answer_changed, gate_answer_declared
from .models import Crisis
from .selectors import crisis_open


def crisis_check_declare(*, actor) -> None:
    """Who may declare, and when: a dco, with no crisis in force (the unique `is_open`
    constraint holds it against a race too). Raises the service's error."""
    require_role(actor, DCO)
    if crisis_open() is not None:
        raise ConflictError(_("A crisis is already in force."), code="crisis_in_force")


def crisis_declare(*, actor, title, summary, severity, topics=()) -> Crisis:
    """Create the crisis and close the gate, in one transaction: the closure, the crisis,
    the audit entry and the notification outbox row. No post row is touched (the freeze is
    derived from the closed gate), so this costs the same at any calendar size; it waits at most
    the send deadline for the sends in flight, and says how many there were. A second
    declaration while one is open gets 409; the unique `is_open` constraint holds that even
    against a race. A declaration that fails, even at its commit, leaves no closed answer in the
    gate's mirror (it would read closed for 30 s while the gate is open)."""
    try:
        return _declare_in_one_transaction(
            actor=actor, title=title, summary=summary, severity=severity, topics=topics
        )
    except BaseException:
        gate_answer_abandoned()
        raise


# Durable: the declaration commits when it returns (the gate closed, the staff told); a caller's
# transaction wrapping it would hold the closure back, so nesting it raises RuntimeError.
@transaction.atomic(durable=True)
def _declare_in_one_transaction(*, actor, title, summary, severity, topics) -> Crisis:
    crisis_check_declare(actor=actor)
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
    notify_event(
        event="crisis.declared", crisis_id=crisis.pk, context=notice_context(crisis=crisis), actor=actor
    )
    crisis.sends_in_flight = in_flight
    gate_answer_declared(crisis=crisis)  # last, just before the commit (apps.posts.gate_mirror)
    return crisis


@transaction.atomic
def crisis_extend(*, actor, crisis, freeze_until) -> Crisis:
    """Move freeze_until later; never earlier. Withdraws a pending lift or stand-down."""
    require_role(actor, DCO)
    crisis = locked(crisis=crisis)
    crisis_check_change(actor=actor, crisis=crisis)
    freeze_until = aware(value=freeze_until, field="freeze_until")
    if freeze_until <= crisis.freeze_until:
        raise ServiceError(
            _("The freeze can only be extended: give a time after %(current)s.")
            % {"current": local_time(value=crisis.freeze_until)},
            field="freeze_until",
        )
    previous = crisis.freeze_until
    crisis.freeze_until = freeze_until
    crisis.save(update_fields=["freeze_until"])
    gate_answer_changed()  # the gate's answer shows freeze_until
    audit_record(
        actor=actor,
        action="crisis.extend",
        obj=crisis,
        details={"from": previous.isoformat(), "to": freeze_until.isoformat()},
    )
    notify_event(
        event="crisis.extended", crisis_id=crisis.pk, context=notice_context(crisis=crisis), actor=actor
    )
    # The situation changed: a pending lift or stand-down must be asked for again.
    withdraw_end_request(crisis=crisis, actor=actor, why="freeze extended")
    return crisis
