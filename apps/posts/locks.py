"""The gate lock: what makes "no post leaves after the gate closes" hold.

Closing or opening the gate takes it exclusively; every send takes it shared right before
writing its request and keeps it until its transaction ends, i.e. across the exchange (bounded
by the send deadline). So the closing transaction is granted the lock only once every in-flight
send is finished, and every later send sees the closed gate. Claims and post creations take it
shared too, so none of them straddles a lift or a stand-down.

A transaction-level PostgreSQL advisory lock. Heavyweight locks queue fairly: a waiting exclusive
request holds back new shared requests, so busy publishers cannot starve a declaration (row-level
FOR SHARE would let new readers overtake a waiting FOR UPDATE writer).
"""

from django.db import OperationalError, connection
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError

from .connectors import send_deadline_seconds

# PostgreSQL's lock_not_available.
LOCK_NOT_AVAILABLE = "55P03"


class GateBusyError(ServiceError):
    """Sends in flight held the gate longer than their deadline allows (a fault, not a load)."""

    status_code = 503

    def __init__(self, message, *, field=None, code="gate_busy"):
        super().__init__(message, field=field, code=code)


# Arbitrary but fixed: "gate" in ASCII.
GATE_LOCK_KEY = 0x67617465


def _assert_atomic():
    if not connection.in_atomic_block:
        raise RuntimeError("the gate lock is transaction-scoped: call it inside transaction.atomic()")


def gate_lock_shared():
    """Held by senders (and claims, post creations) until their transaction ends."""
    _assert_atomic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [GATE_LOCK_KEY])


def gate_lock_holders() -> int:
    """How many sessions hold the gate lock shared right now: the sends in flight."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND objsubid = 1 AND mode = 'ShareLock' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [GATE_LOCK_KEY >> 32, GATE_LOCK_KEY & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]


def gate_lock_exclusive():
    """Held by whoever closes or opens the gate until their transaction ends. Waits at most the
    send deadline plus a margin (every holder is a send bounded by that deadline, or a short
    claim); beyond it the database raises (lock_timeout) rather than hang the request.
    Returns the database's clock when the lock was granted: no send is in flight from then on."""
    _assert_atomic()
    # The margin covers recording the outcome after the exchange.
    wait_ms = int((send_deadline_seconds() + 5) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
        try:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GATE_LOCK_KEY])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise GateBusyError(
                _("Sends in flight did not finish within %(seconds)d s: nothing was changed, try again.")
                % {"seconds": wait_ms // 1000}
            ) from exc
        cursor.execute("SELECT set_config('lock_timeout', '0', true), clock_timestamp()")
        return cursor.fetchone()[1]


def pin_session():
    """A send's session must not be ended under it while it holds the lock: no idle-in-transaction
    timeout for this transaction (the connection's keepalives are set in settings.DATABASES)."""
    _assert_atomic()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
