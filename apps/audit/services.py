"""The one function that writes the audit trail. Every service calls it inside its own
transaction, so the entry commits or rolls back with the change it records."""

import hashlib
import json

from django.db import transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *, prev_hash, sequence, created_at, actor_id, actor_repr, action, object_type, object_id, details
) -> str:
    payload = canonical_json(
        {
            "prev": prev_hash,
            "seq": sequence,
            "at": created_at.isoformat(),
            "actor": actor_id,
            "actor_repr": actor_repr,
            "action": action,
            "type": object_type,
            "id": object_id,
            "details": details,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def audit_record(
    *, actor, action: str, obj=None, object_type: str = "", object_id="", details: dict | None = None
) -> AuditEntry:
    """Append one entry. `actor` is a user or None (the system); `obj` a model instance, or
    give `object_type`/`object_id`. Must run inside the caller's transaction."""
    return audit_record_many(
        actor=actor,
        entries=[
            {
                "action": action,
                "obj": obj,
                "object_type": object_type,
                "object_id": object_id,
                "details": details,
            }
        ],
    )[0]


def audit_record_many(*, actor, entries: list[dict]) -> list[AuditEntry]:
    """Append several entries for one action (e.g. a staff import), in order, with one lock of
    the chain head and one INSERT. Each item takes the keyword arguments of `audit_record`
    other than `actor`. Must run inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must be called inside the action's transaction")
    if not entries:
        return []
    actor_id = getattr(actor, "pk", None) if actor is not None and actor.is_authenticated else None
    actor_repr = actor.get_username() if actor_id else "system"

    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # first entry ever (or after a test flush); concurrent creators collapse
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    created_at = timezone.now()
    sequence, prev_hash = head.sequence, head.hash
    rows = []
    for item in entries:
        obj = item.get("obj")
        object_type = item.get("object_type") or ""
        object_id = item.get("object_id", "")
        if obj is not None:
            object_type = object_type or obj._meta.label_lower
            object_id = obj.pk
        object_id = str(object_id if object_id is not None else "")
        # Round-trip through JSON so that what we hash is exactly what the database gives back.
        details = json.loads(canonical_json(item.get("details") or {}))
        sequence += 1
        digest = entry_hash(
            prev_hash=prev_hash,
            sequence=sequence,
            created_at=created_at,
            actor_id=actor_id,
            actor_repr=actor_repr,
            action=item["action"],
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
        rows.append(
            AuditEntry(
                sequence=sequence,
                created_at=created_at,
                actor_id=actor_id,
                actor_repr=actor_repr,
                action=item["action"],
                object_type=object_type,
                object_id=object_id,
                details=details,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    AuditEntry.objects.bulk_create(rows, batch_size=1000)
    head.sequence, head.hash = sequence, prev_hash
    head.save(update_fields=["sequence", "hash"])
    return rows
