from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("statements", "0002_default_chain_and_immutability")]

    operations = [
        migrations.AlterField(
            model_name="statement",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "draft"),
                    ("in_review", "in review"),
                    ("changes_requested", "changes requested"),
                    ("approved", "approved"),
                    ("rejected", "rejected"),
                    ("withdrawn", "withdrawn"),
                    ("publishing", "publishing"),
                    ("published", "published"),
                ],
                db_index=True,
                default="draft",
                max_length=20,
            ),
        ),
    ]
