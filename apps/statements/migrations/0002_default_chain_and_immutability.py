"""The default validation chain ("expert review then DCO approval"), and on PostgreSQL triggers
that refuse UPDATE and DELETE of statement revisions and decisions, whoever runs them (the ORM
already refuses). TRUNCATE stays possible: test teardown needs it."""

from django.db import migrations

TABLES = ["statements_statementrevision", "statements_decision"]

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION statements_immutable_row() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%% rows are immutable (%% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(TRIGGER_SQL)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION statements_immutable_row()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS statements_immutable_row()")


DEFAULT_CHAIN = "Expert review then DCO approval"


def create_default_chain(apps, schema_editor):
    Chain = apps.get_model("statements", "ValidationChain")
    Step = apps.get_model("statements", "ChainStep")
    if Chain.objects.filter(is_default=True).exists():
        return
    chain, _ = Chain.objects.get_or_create(
        name=DEFAULT_CHAIN,
        defaults={
            "description": "A thematic expert reviews, then a DCO approves.",
            "is_default": True,
        },
    )
    Step.objects.get_or_create(chain=chain, order=1, defaults={"name": "Expert review", "role": "expert"})
    Step.objects.get_or_create(chain=chain, order=2, defaults={"name": "DCO approval", "role": "dco"})


class Migration(migrations.Migration):
    dependencies = [("statements", "0001_initial")]

    operations = [
        migrations.RunPython(install_triggers, drop_triggers),
        migrations.RunPython(create_default_chain, migrations.RunPython.noop),
    ]
