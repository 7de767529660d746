"""The guide's rule crisis.relay_addition (own words after relaying the statement), installed where
missing; existing rules are left as they are."""

from django.db import migrations


def seed(apps, schema_editor):
    from apps.policy.guide import seed_rules

    seed_rules(apps.get_model("policy", "PolicyRule"))


class Migration(migrations.Migration):
    dependencies = [("policy", "0005_guide_principles")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
