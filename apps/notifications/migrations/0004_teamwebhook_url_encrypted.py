"""outbound (issue 10): a team webhook's URL (which carries its token) encrypted at rest. The
column becomes text holding a Fernet token; existing plaintext URLs are encrypted."""

from django.db import migrations

import apps.core.fields


def encrypt(apps, schema_editor):
    # The field reads legacy plaintext as is and writes a token.
    TeamWebhook = apps.get_model("notifications", "TeamWebhook")
    for hook in TeamWebhook.objects.all().iterator():
        hook.save(update_fields=["url"])


def decrypt(apps, schema_editor):
    from apps.core import crypto

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, url FROM notifications_teamwebhook")
        rows = [(crypto.unseal(value), pk) for pk, value in cursor.fetchall() if value]
        cursor.executemany("UPDATE notifications_teamwebhook SET url = %s WHERE id = %s", rows)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_acknowledgements_message_key_cancelled"),
    ]

    operations = [
        migrations.AlterField(
            model_name="teamwebhook",
            name="url",
            field=apps.core.fields.EncryptedURLField(max_length=500, verbose_name="URL"),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
