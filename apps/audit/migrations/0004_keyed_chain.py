"""The audit chain becomes keyed: each entry's hash an HMAC with CRISISCOMM_AUDIT_KEY (from the
environment), and each entry names its key's fingerprint (key_id).

Entries written before this migration carry unkeyed SHA-256 hashes. The migration first checks
that chain as it stands (a broken chain stops the migration: it must be investigated, not
resealed), then reseals every entry with the current key. It runs with the owner role, the only
one allowed to switch the append-only triggers off for the time of the reseal."""

import hashlib

from django.db import migrations, models

ENTRY_TRIGGER = "audit_entry_no_update_delete"
HEAD_TRIGGER = "audit_chain_head_guard"


def reseal(apps, schema_editor):
    # The hashed fields are spelled once, in services.HASHED_FIELDS (the old unkeyed hash was a
    # plain SHA-256 of the same payload).
    from apps.audit.services import audit_current_key, entry_hash, hash_payload

    AuditEntry = apps.get_model("audit", "AuditEntry")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    entries = list(AuditEntry.objects.order_by("sequence"))
    if not entries:
        return
    prev, expected = "0" * 64, 1
    for e in entries:
        unkeyed = hashlib.sha256(hash_payload(entry=e).encode()).hexdigest()
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
        e.prev_hash = prev
        digest = entry_hash(key=key, entry=e)
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
