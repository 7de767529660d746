"""On PostgreSQL, the chain head only moves forward, onto an entry that exists with that hash,
and is never deleted: cutting entries off the end of the trail and winding the head back to
match is refused too (the ORM path, audit_record_many, always satisfies this)."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_chain_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain head cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.sequence <= OLD.sequence OR NOT EXISTS (
        SELECT 1 FROM audit_auditentry WHERE sequence = NEW.sequence AND hash = NEW.hash
    ) THEN
        RAISE EXCEPTION 'the audit chain head only moves forward onto an existing entry'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_auditchainhead;
CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS audit_chain_head_guard ON audit_auditchainhead;
DROP FUNCTION IF EXISTS audit_chain_head_forward_only();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(install, drop)]
