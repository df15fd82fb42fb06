from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from quantsite.accounts.models import User

DEMO_USERS = [
    # username, password, staff
    ("demo", "demo-password", False),
    ("ops", "ops-password", True),
]


class Command(BaseCommand):
    help = (
        "Create the demo user 'demo' and the staff user 'ops' for a local run, if they do not "
        "exist. Refused in production."
    )

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("Demo users are for local runs only, not with PRODUCTION set.")
        for username, password, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@quantsite.local",
                    "is_staff": staff,
                    "is_superuser": staff,
                },
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
            state = "created" if created else "exists"
            self.stdout.write(f"{username} / {password} ({state}{', staff' if staff else ''})")
