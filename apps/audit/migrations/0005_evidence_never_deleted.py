"""Evidence is never deleted, by any door: a BEFORE DELETE trigger refuses the deletion of crises,
their decisions, notice events, notices, acknowledgements, statements, their revisions, approval
requests and approval decisions (the audit entries have theirs since 0002). The admin has no
delete action for them and their foreign keys PROTECT; this stops raw SQL and cascades too.
TRUNCATE (test teardown, run by the owner) stays possible."""

from django.db import migrations

EVIDENCE = [
    ("crises", "Crisis"),
    ("crises", "PostDecision"),
    ("notifications", "NoticeEvent"),
    ("notifications", "Notice"),
    ("notifications", "Acknowledgement"),
    ("statements", "Statement"),
    ("statements", "StatementRevision"),
    ("statements", "ApprovalRequest"),
    ("statements", "Decision"),
]

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION evidence_never_deleted() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'evidence is never deleted (%% refused on %%)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _tables(apps):
    return [apps.get_model(app, model)._meta.db_table for app, model in EVIDENCE]


def install(apps, schema_editor):
    schema_editor.execute(FUNCTION_SQL)
    for table in _tables(apps):
        name = schema_editor.quote_name(f"{table}_never_deleted")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {schema_editor.quote_name(table)}")
        schema_editor.execute(
            f"CREATE TRIGGER {name} BEFORE DELETE ON {schema_editor.quote_name(table)} "
            "FOR EACH ROW EXECUTE FUNCTION evidence_never_deleted()"
        )


def drop(apps, schema_editor):
    for table in _tables(apps):
        name = schema_editor.quote_name(f"{table}_never_deleted")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {schema_editor.quote_name(table)}")
    schema_editor.execute("DROP FUNCTION IF EXISTS evidence_never_deleted()")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_keyed_chain"),
        ("crises", "0003_crisis_end_eligible_approvers_and_more"),
        ("notifications", "0003_acknowledgements_message_key_cancelled"),
        ("statements", "0003_statement_publishing"),
    ]

    operations = [migrations.RunPython(install, drop)]
