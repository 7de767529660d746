"""The one function that writes the audit trail. Every service calls it inside its own
transaction, so the entry commits or rolls back with the change it records.

Each entry's hash is an HMAC-SHA256 keyed with CRISISCOMM_AUDIT_KEY, which lives in the
environment, never in the database: a database login that rewrites rows (even one that can
switch the append-only trigger off) cannot produce a chain that verifies. Each entry names its
key by a fingerprint (`key_id`), so that after a rotation the older entries still verify with the
retired keys listed in CRISISCOMM_AUDIT_OLD_KEYS (README: key rotation)."""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .actions import audit_action_check
from .models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64


def canonical_json(*, value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _key_bytes(value: str) -> bytes:
    return value.encode()


def audit_key_id(*, key: bytes) -> str:
    """A fingerprint naming a key without revealing it (domain-separated from the chain's HMACs)."""
    return hashlib.sha256(b"crisiscomm-audit-key-id:" + key).hexdigest()[:16]


def audit_current_key() -> tuple[str, bytes]:
    """(key_id, key) that new entries are sealed with. Without CRISISCOMM_AUDIT_KEY (local runs),
    a key derived from SECRET_KEY, which is not in the database either."""
    configured = getattr(settings, "CRISISCOMM_AUDIT_KEY", "")
    if configured:
        key = _key_bytes(configured)
    else:
        key = hmac.new(_key_bytes(settings.SECRET_KEY), b"crisiscomm-audit-chain", hashlib.sha256).digest()
    return audit_key_id(key=key), key


def audit_keys() -> dict[str, bytes]:
    """Every key an entry may have been sealed with: the current one and the retired ones."""
    keys = dict([audit_current_key()])
    for old in getattr(settings, "CRISISCOMM_AUDIT_OLD_KEYS", []) or []:
        if old:
            keys.setdefault(audit_key_id(key=_key_bytes(old)), _key_bytes(old))
    return keys


# What an entry's hash covers: (name in the hashed payload, AuditEntry attribute). The one
# spelling used to seal (audit_record_many), to verify (selectors) and to reseal (migration 0004):
# a field left out of one of them would make every entry read as broken.
HASHED_FIELDS = (
    ("prev", "prev_hash"),
    ("seq", "sequence"),
    ("at", "created_at"),
    ("actor", "actor_id"),
    ("actor_repr", "actor_repr"),
    ("action", "action"),
    ("type", "object_type"),
    ("id", "object_id"),
    ("details", "details"),
)


def hash_payload(*, entry) -> str:
    """The canonical text an entry's hash is computed over (`entry`: an AuditEntry, or any object
    with its attributes, such as a migration's historical model)."""
    values = {name: getattr(entry, attr) for name, attr in HASHED_FIELDS}
    values["at"] = values["at"].isoformat()
    return canonical_json(value=values)


def entry_hash(*, key: bytes, entry) -> str:
    return hmac.new(key, hash_payload(entry=entry).encode(), hashlib.sha256).hexdigest()


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
    other than `actor`. Must run inside the caller's transaction. An action or details key not
    declared in actions.py is refused (ValueError) before anything is written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must be called inside the action's transaction")
    if not entries:
        return []
    for item in entries:
        audit_action_check(action=item["action"], details=item.get("details"))
    actor_id = getattr(actor, "pk", None) if actor is not None and actor.is_authenticated else None
    actor_repr = actor.get_username() if actor_id else "system"

    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # first entry ever (or after a test flush); concurrent creators collapse
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    created_at = timezone.now()
    key_id, key = audit_current_key()
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
        details = json.loads(canonical_json(value=item.get("details") or {}))
        sequence += 1
        row = AuditEntry(
            sequence=sequence,
            created_at=created_at,
            actor_id=actor_id,
            actor_repr=actor_repr,
            action=item["action"],
            object_type=object_type,
            object_id=object_id,
            details=details,
            prev_hash=prev_hash,
            key_id=key_id,
        )
        row.hash = digest = entry_hash(key=key, entry=row)
        rows.append(row)
        prev_hash = digest
    AuditEntry.objects.bulk_create(rows, batch_size=1000)
    head.sequence, head.hash = sequence, prev_hash
    head.save(update_fields=["sequence", "hash"])
    return rows
