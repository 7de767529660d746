"""Issue 16: the guide's new rules (a disclosed secret is blocked, relaying the statement lifts the
freeze), its passages and advice on every seeded rule, and the two reworked password rules.

A rule the DCO has edited is left as it is: the two reworked rules are replaced only while they still
hold the values first installed (compared by fingerprint), and passages and advice are only filled
where empty.
"""

import hashlib
import json

from django.db import migrations

# sha256 of [severity, patterns, message_fr, message_en] as first seeded (0002).
FIRST_SEEDED = {
    "confidential.password_mention": "6865fa4768087a93b7de82b6c7edef47b2646db76d45a7ef2a9ec3bf3d8c6124",
    "confidential.credential": "eeb78b66acf572eaa9103999b7688f25444b011372fe58acd6434ac354ef6fda",
}
REWORKED = ("severity", "patterns", "message_fr", "message_en", "guide")
# On a fresh database 0002 already created the new rules, with the fields it knew: these fill the rest.
EXPLAINED = ("passage_fr", "passage_en", "advice_fr", "advice_en", "suppresses")


def _fingerprint(rule) -> str:
    values = [rule.severity, rule.patterns, rule.message_fr, rule.message_en]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def upgrade(apps, schema_editor):
    from apps.policy.guide import GUIDE_RULES, seed_rules

    PolicyRule = apps.get_model("policy", "PolicyRule")
    by_code = {rule["code"]: rule for rule in GUIDE_RULES}
    for code, fingerprint in FIRST_SEEDED.items():
        rule = PolicyRule.objects.filter(code=code).first()
        if rule is not None and _fingerprint(rule) == fingerprint:
            for name in REWORKED:
                value = by_code[code][name]
                setattr(rule, name, "\n".join(value) if isinstance(value, list) else value)
            rule.save(update_fields=list(REWORKED))
    for rule in PolicyRule.objects.filter(code__in=list(by_code)):
        changed = [name for name in EXPLAINED if not getattr(rule, name) and by_code[rule.code].get(name)]
        for name in changed:
            setattr(rule, name, by_code[rule.code][name])
        if changed:
            rule.save(update_fields=changed)
    seed_rules(PolicyRule)


class Migration(migrations.Migration):
    dependencies = [("policy", "0004_rulings_and_explanations")]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop)]
