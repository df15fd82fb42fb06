from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.deconstruct import deconstructible
from oauth2_provider.settings import oauth2_settings

# Names of system and service accounts. Hubs run each user's server under an OS account named
# after the user (``qs-<name>`` on isolated hubs), log in as the user of that name, and show it
# in paths and URLs: a site user called ``root`` or ``postgres`` would be confused with the
# machine's own accounts in logs, process lists and hub admin pages. Refused at every way in
# (sign-up, admin, createsuperuser) by the username field's validator. README.md lists them.
_RESERVED_WORDS = """
root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats nobody
nogroup systemd-network systemd-resolve systemd-timesync messagebus sshd syslog _apt polkitd
avahi dnsmasq ntp chrony postfix dovecot halt shutdown operator adm wheel sudo staff users kmem
tty disk utmp

postgres postgresql pgbouncer redis celery nginx haproxy apache httpd docker minio node npm git
jupyter jupyterhub jovyan hub spawner notebook lab user

admin administrator quantsite support security superuser webmaster hostmaster postmaster abuse
noreply no-reply info help api static
"""
# Unix system accounts (Debian base-passwd, systemd) and common daemons; the services the
# platform runs on and JupyterHub's; words that read as the site or its staff.
RESERVED_USERNAMES = frozenset(_RESERVED_WORDS.split())


@deconstructible
class ReservedUsernameValidator:
    """Refuses the names in ``RESERVED_USERNAMES`` (whatever their case) and any name that
    starts with ``qs-`` or ``qs_`` (the prefix of the hubs' per-user OS accounts)."""

    message = "That username is reserved for the system. Please choose another."
    code = "reserved"

    def __call__(self, value: str) -> None:
        name = str(value).strip().lower()
        if name in RESERVED_USERNAMES or name.startswith(("qs-", "qs_")):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, ReservedUsernameValidator)


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
        validators=[username_validator, ReservedUsernameValidator()],
        help_text="2 to 32 characters: lowercase letters, digits, - and _.",
        error_messages={"unique": "That username is taken."},
    )
    name = models.CharField("display name", max_length=150, blank=True)
    # Signed up, the confirmation link not followed yet (the account is inactive until then).
    signup_pending = models.BooleanField(default=False, editable=False)

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
    enabled = models.BooleanField(
        default=True,
        help_text=(
            "Unticked, the application gets no tokens or codes by any grant, authorizes "
            "nobody, and its tokens stop working (a disabled hub's application)."
        ),
    )
    resource_server = models.BooleanField(
        "resource server",
        default=False,
        help_text="May ask /o/introspect/ about tokens (RFC 7662). Off for every other client.",
    )

    class Meta:
        verbose_name = "scope policy"
        verbose_name_plural = "scope policies"

    def __str__(self) -> str:
        return f"{self.application}: {self.allowed_scopes}"


class AuthorizationCodeExchange(models.Model):
    """Which tokens an authorization code was exchanged for, so that the code presented again
    revokes them (RFC 6749 4.1.2: a code used twice means it leaked).

    Keyed by the SHA-256 of the code (codes are stored hashed, as tokens are); kept as long as
    the refresh tokens it started can live, then pruned with the expired tokens.
    """

    code_digest = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE)
    # The refresh-token family the exchange started: every later rotation belongs to it.
    token_family = models.UUIDField(null=True)
    access_token = models.ForeignKey(
        oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"code {self.code_digest[:8]}… of {self.application_id}"
