import django.db.models.deletion
from django.db import migrations, models


def content_storage_external(apps, schema_editor):
    # As for files and checkpoints (0002): large values out of line, not compressed.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE research_contentuploadchunk ALTER COLUMN content SET STORAGE EXTERNAL"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0003_discovery_clock"),
    ]

    operations = [
        migrations.CreateModel(
            name="ContentUploadChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("content", models.BinaryField()),
                ("size", models.BigIntegerField()),
                ("key_id", models.CharField(blank=True, max_length=16)),
                ("created", models.DateTimeField()),
                (
                    "entry",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="upload_chunks",
                        to="research.contententry",
                    ),
                ),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.RunPython(content_storage_external, migrations.RunPython.noop),
    ]
