import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from quantsite.exceptions import ApplicationError
from research.services.hubs import hub_register


class Command(BaseCommand):
    help = (
        "Create or update a hub and its own trusted OAuth application, and print one JSON "
        "object with what the hub needs. The client secret is printed only when the "
        "application is created or with --rotate-secret (it is stored hashed)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Hub name: lowercase letters, digits, inner hyphens.")
        parser.add_argument("--url", required=True, help="The hub's public base URL.")
        parser.add_argument("--capacity", type=int, help="Users the hub can hold.")
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="Issue a new client secret and revoke the hub's tokens.",
        )

    def handle(self, *args, name: str, url: str, capacity: int | None, rotate_secret: bool, **kw):
        try:
            registration = hub_register(
                name=name, url=url, capacity=capacity, rotate_secret=rotate_secret
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        hub = registration.hub
        site = settings.SITE_URL
        self.stdout.write(
            json.dumps(
                {
                    "name": hub.name,
                    "url": hub.url,
                    "capacity": hub.capacity,
                    "client_id": hub.application.client_id,
                    "client_secret": registration.client_secret,
                    "authorize_url": site + reverse("oauth2_provider:authorize"),
                    "token_url": site + reverse("oauth2_provider:token"),
                    "userdata_url": site + reverse("oauth2_provider:user-info"),
                    "discovery_url": site + "/api/discovery/",
                }
            )
        )
