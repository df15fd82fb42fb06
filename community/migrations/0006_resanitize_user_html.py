"""Stored user HTML sanitized again under the rules of this release: ids prefixed, classes
the renderer's only, images the site's. Posts are rendered again from their Markdown; previews
are cleaned again (sanitizing sanitized HTML keeps what is allowed). Rendered notebooks in
storage are shown only in a sandboxed frame with ``img-src 'self' data:``, and stay as they are.
"""

from django.db import migrations

BATCH = 500


def resanitize(apps, schema_editor):
    # The sanitizer as it is when this runs: this migration exists to apply today's rules.
    from community.sanitize import clean_html, markdown_to_html

    for name in ("Topic", "Reply"):
        model = apps.get_model("community", name)
        rows = []
        for row in model.objects.only("pk", "body", "body_html").iterator(chunk_size=BATCH):
            row.body_html = markdown_to_html(row.body)
            rows.append(row)
            if len(rows) == BATCH:
                model.objects.bulk_update(rows, ["body_html"])
                rows = []
        model.objects.bulk_update(rows, ["body_html"])
    version = apps.get_model("community", "SharedNotebookVersion")
    rows = []
    for row in (
        version.objects.exclude(preview_html="")
        .only("pk", "preview_html")
        .iterator(chunk_size=BATCH)
    ):
        row.preview_html = clean_html(row.preview_html)
        rows.append(row)
        if len(rows) == BATCH:
            version.objects.bulk_update(rows, ["preview_html"])
            rows = []
    version.objects.bulk_update(rows, ["preview_html"])


class Migration(migrations.Migration):
    dependencies = [("community", "0005_clone_lineage")]

    operations = [migrations.RunPython(resanitize, migrations.RunPython.noop, elidable=True)]
