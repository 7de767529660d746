"""The gate lock: what makes "no post leaves after the freeze commits" hold.

Closing the gate takes it exclusively; every send (and every claim) takes it shared and keeps it
until its transaction ends, i.e. across the network call. So a declaration commits only once every
in-flight send is finished, and every later send sees the closed gate.

A transaction-level PostgreSQL advisory lock. Heavyweight locks queue fairly: a waiting exclusive
request holds back new shared requests, so busy publishers cannot starve a declaration (row-level
FOR SHARE would let new readers overtake a waiting FOR UPDATE writer).
"""

from django.db import connection

# Arbitrary but fixed: "gate" in ASCII.
GATE_LOCK_KEY = 0x67617465


def _assert_atomic():
    if not connection.in_atomic_block:
        raise RuntimeError("the gate lock is transaction-scoped: call it inside transaction.atomic()")


def gate_lock_shared():
    """Held by senders until their transaction ends."""
    _assert_atomic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [GATE_LOCK_KEY])


def gate_lock_exclusive():
    """Held by whoever closes or opens the gate until their transaction ends."""
    _assert_atomic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GATE_LOCK_KEY])
