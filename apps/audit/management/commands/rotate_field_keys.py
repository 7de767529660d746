"""Re-encrypt every stored secret with the first key of CRISISCOMM_FIELD_KEYS.

Rotation: put the new key first (CRISISCOMM_FIELD_KEYS=new,old), restart, run this command, then
drop the old key. Values still in plaintext (from before encryption) are encrypted too. Running
it again changes nothing. One audit entry (`core.field_keys_rotate`) gives the counts.

It lives in audit, not core: it writes an audit entry, and core imports nothing above itself.
"""

import json

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from apps.audit.services import audit_record
from apps.core import crypto


def encrypted_columns():
    """(model, [column, …]) for every model with encrypted fields."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.column for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]
        if columns:
            yield model, columns


def _resealed(stored):
    if stored in (None, "") or crypto.sealed_with_first_key(stored):
        return stored
    return crypto.reseal(stored)


def rotate() -> dict[str, int]:
    """Re-encrypt what is not yet under the first key; {model label: rows changed}. Runs in the
    caller's transaction; locks the rows it reads. Raw SQL: the stored tokens themselves, not the
    models' decrypted values. Identifiers come from the models' metadata, quoted."""
    changed = {}
    qn = connection.ops.quote_name
    for model, columns in encrypted_columns():
        table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
        selected = ", ".join(qn(c) for c in columns)
        assignments = ", ".join(f"{qn(c)} = %s" for c in columns)
        select_sql = f"SELECT {pk}, {selected} FROM {table} ORDER BY {pk} FOR UPDATE"  # noqa: S608
        update_sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(select_sql)
            updates = []
            for pk_value, *values in cursor.fetchall():
                new = [_resealed(v) for v in values]
                if new != list(values):
                    updates.append([*new, pk_value])
            if updates:
                cursor.executemany(update_sql, updates)
        changed[model._meta.label] = len(updates)
    return changed


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of CRISISCOMM_FIELD_KEYS (idempotent, audited)."

    def handle(self, *args, **options):
        with transaction.atomic():
            changed = rotate()
            audit_record(
                actor=None,
                action="core.field_keys_rotate",
                object_type="core.field_keys",
                details={"changed": changed, "keys": len(crypto.configured_keys())},
            )
        self.stdout.write(json.dumps({"changed": changed}))
