"""Install the staff guide's rules (apps/policy/guide.py). Existing rules are never overwritten."""

from django.db import migrations


def seed(apps, schema_editor):
    from apps.policy.guide import seed_rules

    seed_rules(apps.get_model("policy", "PolicyRule"))


def unseed(apps, schema_editor):
    from apps.policy.guide import GUIDE_RULES

    apps.get_model("policy", "PolicyRule").objects.filter(code__in=[r["code"] for r in GUIDE_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("policy", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
