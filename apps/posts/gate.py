"""The publishing gate: closed by a declaration, opened by an approved end.

Closing writes one GateClosure row and no post: the freeze is derived (apps.posts.selectors).
The gate lock (apps.posts.locks) orders a closure against every send in flight.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError

from .gate_mirror import mirror_forget
from .locks import gate_lock_exclusive, gate_lock_holders
from .models import GateClosure

# --- the gate ----------------------------------------------------------------------------------


@transaction.atomic
def gate_close(*, actor, reason: str) -> tuple[GateClosure, int]:
    """Close the gate: one closure row and its audit entry; no post is written (the freeze is
    derived). Waits, fairly and at most the send deadline, for the sends in flight, so nothing
    leaves once this commits. Returns (closure, sends that were in flight). Must be the first
    lock its transaction takes (the crises service calls it first).

    The closure's `closed_at` is the database's clock when the lock was granted: every request
    that reached a network for a non-exempt post arrived before it."""
    in_flight = gate_lock_holders()
    granted_at = gate_lock_exclusive()
    if GateClosure.objects.filter(is_current=True).exists():
        raise ConflictError(_("The publishing gate is already closed."), code="gate_closed")
    closure = GateClosure.objects.create(reason=reason[:200], closed_at=granted_at)
    mirror_forget()  # polls read the database until the declaration stores its closed answer
    audit_record(
        actor=actor,
        action="gate.close",
        obj=closure,
        details={"reason": reason, "sends_in_flight": in_flight},
    )
    return closure, in_flight


@transaction.atomic
def gate_open(*, actor, closure: GateClosure) -> GateClosure:
    """Open the gate, under the exclusive gate lock: no claim, send or post creation is half-way
    through while the gate changes."""
    gate_lock_exclusive()
    closure = GateClosure.objects.select_for_update().get(pk=closure.pk)
    if not closure.is_current:
        raise ConflictError(_("The publishing gate is already open."))
    closure.opened_at, closure.is_current = timezone.now(), None
    closure.save(update_fields=["opened_at", "is_current"])
    mirror_forget()  # polls read the database (closed until this commits), then the open gate
    audit_record(actor=actor, action="gate.open", obj=closure)
    return closure
