"""The audit chain becomes keyed: each entry's hash an HMAC with CRISISCOMM_AUDIT_KEY (from the
environment), and each entry names its key's fingerprint (key_id).

Entries written before this migration carry unkeyed SHA-256 hashes. The migration first checks
that chain as it stands (a broken chain stops the migration: it must be investigated, not
resealed), then reseals every entry with the current key. It runs with the owner role, the only
one allowed to switch the append-only triggers off for the time of the reseal."""

import hashlib
import json

from django.db import migrations, models

ENTRY_TRIGGER = "audit_entry_no_update_delete"
HEAD_TRIGGER = "audit_chain_head_guard"


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _payload(e, prev_hash):
    return _canonical(
        {
            "prev": prev_hash,
            "seq": e.sequence,
            "at": e.created_at.isoformat(),
            "actor": e.actor_id,
            "actor_repr": e.actor_repr,
            "action": e.action,
            "type": e.object_type,
            "id": e.object_id,
            "details": e.details,
        }
    )


def reseal(apps, schema_editor):
    from apps.audit.services import audit_current_key, entry_hash

    AuditEntry = apps.get_model("audit", "AuditEntry")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    entries = list(AuditEntry.objects.order_by("sequence"))
    if not entries:
        return
    prev, expected = "0" * 64, 1
    for e in entries:
        unkeyed = hashlib.sha256(_payload(e, e.prev_hash).encode()).hexdigest()
        if e.sequence != expected or e.prev_hash != prev or e.hash != unkeyed:
            raise RuntimeError(
                f"audit chain broken at entry #{min(e.sequence, expected)} before keying: "
                "investigate (verify_audit) before migrating"
            )
        prev, expected = e.hash, e.sequence + 1

    key_id, key = audit_current_key()
    quoted = schema_editor.quote_name
    entry_table, head_table = AuditEntry._meta.db_table, AuditChainHead._meta.db_table
    schema_editor.execute(f"ALTER TABLE {quoted(entry_table)} DISABLE TRIGGER {ENTRY_TRIGGER}")
    schema_editor.execute(f"ALTER TABLE {quoted(head_table)} DISABLE TRIGGER {HEAD_TRIGGER}")
    prev = "0" * 64
    for e in entries:
        digest = entry_hash(
            key=key,
            prev_hash=prev,
            sequence=e.sequence,
            created_at=e.created_at,
            actor_id=e.actor_id,
            actor_repr=e.actor_repr,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            details=e.details,
        )
        # The model's queryset refuses updates; the historical one does not carry that guard.
        AuditEntry.objects.filter(pk=e.pk).update(prev_hash=prev, hash=digest, key_id=key_id)
        prev = digest
    AuditChainHead.objects.filter(pk=1).update(hash=prev)
    schema_editor.execute(f"ALTER TABLE {quoted(entry_table)} ENABLE TRIGGER {ENTRY_TRIGGER}")
    schema_editor.execute(f"ALTER TABLE {quoted(head_table)} ENABLE TRIGGER {HEAD_TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_head_guard")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(blank=True, editable=False, max_length=16),
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop),
    ]
