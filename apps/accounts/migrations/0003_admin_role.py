"""The `admin` role (user administrator): a group like the other roles. Its model permissions
are set after every migration run (signals.sync_role_group_permissions), as the dco group's."""

from django.db import migrations


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="admin")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_role_groups")]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
