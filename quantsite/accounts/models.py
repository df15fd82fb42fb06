from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from oauth2_provider.settings import oauth2_settings


class UsernameValidator(RegexValidator):
    """Usernames are the stable names hubs use for users and their servers.

    JupyterHub lowercases names and puts them in URLs, so only lowercase letters, digits, ``-``
    and ``_`` are allowed, starting with a letter.
    """

    regex = r"^[a-z][a-z0-9_-]{1,31}\Z"
    message = "Use 2 to 32 characters: lowercase letters, digits, - and _, starting with a letter."


class User(AbstractUser):
    username_validator = UsernameValidator()

    username = models.CharField(
        "username",
        max_length=32,
        unique=True,
        validators=[username_validator],
        help_text="2 to 32 characters: lowercase letters, digits, - and _.",
        error_messages={"unique": "That username is taken."},
    )
    name = models.CharField("display name", max_length=150, blank=True)

    class Meta:
        constraints = [
            # One account per email address, whatever its case; staff-made accounts may have none.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_message="An account with this email address already exists.",
            ),
        ]

    @property
    def display_name(self) -> str:
        return self.name or self.username


def validate_scopes(value: str) -> None:
    unknown = set(value.split()) - set(settings.OAUTH_SCOPES)
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(sorted(unknown))}.")


class ApplicationPolicy(models.Model):
    """What an OAuth application may ask for, beyond the default scopes.

    An application without a policy may ask for ``OAUTH_DEFAULT_ALLOWED_SCOPES`` only; hubs get
    a policy that adds ``discovery`` and the client-credentials grant.
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="policy",
    )
    allowed_scopes = models.CharField(
        max_length=255,
        validators=[validate_scopes],
        help_text="Space-separated scopes this application may be granted.",
    )
    allows_client_credentials = models.BooleanField(
        default=False,
        help_text=(
            "Also allow the client-credentials grant to an authorization-code application "
            "(hubs log users in with the code grant and speak to discovery with this one)."
        ),
    )

    class Meta:
        verbose_name = "scope policy"
        verbose_name_plural = "scope policies"

    def __str__(self) -> str:
        return f"{self.application}: {self.allowed_scopes}"
