from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from quantsite.keys import rsa_private_key_create


class Command(BaseCommand):
    help = (
        "Make the RSA key that signs ID tokens in the embedded default (OIDC_KEY_PATH, "
        "var/oidc-rsa-key.pem), readable by this account only, unless it is there already or "
        "OIDC_RSA_PRIVATE_KEY is set. Prints where it is, never the key. Refused in production, "
        "whose key comes from OIDC_RSA_PRIVATE_KEY."
    )
    # It makes what a system check warns is missing, so it does not run the checks first.
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "In production the signing key comes from OIDC_RSA_PRIVATE_KEY, not from a file."
            )
        if settings.OIDC_KEY_FROM_ENV:
            message = "OIDC_RSA_PRIVATE_KEY is set: the site signs with it; no file made."
        elif rsa_private_key_create(settings.OIDC_KEY_PATH):
            message = f"Made the OIDC signing key {settings.OIDC_KEY_PATH}."
        else:
            message = f"The OIDC signing key {settings.OIDC_KEY_PATH} is there already."
        if options["verbosity"] > 0:
            self.stdout.write(message)
