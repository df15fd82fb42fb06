import django.db.models.deletion
import quantsite.accounts.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    # Separate from 0001: the OAuth tables depend on the user model, this one on them.

    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApplicationPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('allowed_scopes', models.CharField(help_text='Space-separated scopes this application may be granted.', max_length=255, validators=[quantsite.accounts.models.validate_scopes])),
                ('application', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='policy', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL)),
            ],
            options={
                'verbose_name': 'scope policy',
                'verbose_name_plural': 'scope policies',
            },
        ),
    ]
