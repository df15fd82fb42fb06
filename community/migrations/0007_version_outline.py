"""Each version's outline (the headings of its Markdown cells), made when it is rendered.

No data migration: versions rendered before this one keep an empty outline, and their topic
pages show no "Contents" list (computing them would read every notebook from the store
inside a migration); a version rendered from now on has one.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("community", "0006_resanitize_user_html")]

    operations = [
        migrations.AddField(
            model_name="sharednotebookversion",
            name="outline",
            field=models.JSONField(blank=True, default=list),
        )
    ]
