"""outbound (issue 10): official accounts' configuration (tokens, webhook secrets) encrypted at
rest. The column becomes text holding a Fernet token; existing plaintext values are encrypted."""

from django.db import migrations

import apps.core.fields


def encrypt(apps, schema_editor):
    # The field reads legacy plaintext as is and writes a token.
    SocialAccount = apps.get_model("posts", "SocialAccount")
    for account in SocialAccount.objects.all().iterator():
        account.save(update_fields=["config"])


def decrypt(apps, schema_editor):
    from apps.core import crypto

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, config FROM posts_socialaccount")
        rows = [(crypto.unseal(value), pk) for pk, value in cursor.fetchall() if value]
        cursor.executemany("UPDATE posts_socialaccount SET config = %s WHERE id = %s", rows)


class Migration(migrations.Migration):
    dependencies = [
        ("posts", "0004_remove_post_frozen_by_post_exempt_closure_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="socialaccount",
            name="config",
            field=apps.core.fields.EncryptedJSONField(blank=True, default=dict, verbose_name="configuration"),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
