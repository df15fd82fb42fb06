"""System checks that keep an unsafe configuration from serving in production.

They run with every management command (``migrate``, ``runserver``, ``check``) and, because WSGI
servers run no checks, from ``wsgi.py``/``asgi.py`` before the first request.

Each check is a function of a settings object (``django.conf.settings``, or a settings module
read apart, as the tests read it under another environment) registered once for the site.
"""

from types import ModuleType

from django.conf import LazySettings, settings
from django.core import checks
from django.core.management.base import SystemCheckError

from quantsite.keys import CREATE_COMMAND

TAG = "quantsite"

Settings = LazySettings | ModuleType


@checks.register(TAG, checks.Tags.security)
def production_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return production_errors(settings)


@checks.register(TAG)
def notebook_keys_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return notebook_key_errors(settings)


@checks.register(TAG)
def oidc_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return oidc_key_warnings(settings)


def production_errors(config: Settings) -> list[checks.CheckMessage]:
    """With ``PRODUCTION`` set: errors for a missing secret key, SQLite, DEBUG, an OIDC
    signing key that does not come from the environment, or an email backend that sends
    nothing. Without it: nothing."""
    if not config.PRODUCTION:
        return []
    errors = []
    if not config.SECRET_KEY_FROM_ENV:
        errors.append(
            checks.Error(
                "SECRET_KEY is not set.",
                hint="Set the SECRET_KEY environment variable to a long random string.",
                id="quantsite.E001",
            )
        )
    if config.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        errors.append(
            checks.Error(
                "Production cannot run on SQLite.",
                hint="Set DATABASE_URL to a PostgreSQL database.",
                id="quantsite.E002",
            )
        )
    if config.DEBUG:
        errors.append(
            checks.Error("DEBUG is on in production.", hint="Unset DEBUG.", id="quantsite.E003")
        )
    if not config.OIDC_KEY_FROM_ENV:
        errors.append(
            checks.Error(
                "OIDC_RSA_PRIVATE_KEY is not set.",
                hint="Set it to the PEM text of the RSA key that signs ID tokens.",
                id="quantsite.E004",
            )
        )
    errors.extend(_email_errors(config))
    return errors


# Backends that send nothing: password-reset and sign-up links would go to logs or files.
NON_SENDING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


def _email_errors(config: Settings) -> list[checks.CheckMessage]:
    backend = config.EMAIL_BACKEND
    if backend in NON_SENDING_EMAIL_BACKENDS:
        return [
            checks.Error(
                f"EMAIL_BACKEND {backend} sends no email.",
                hint="Set EMAIL_HOST (SMTP) or EMAIL_BACKEND to a backend that delivers mail: "
                "password-reset and sign-up links must reach people, not logs.",
                id="quantsite.E006",
            )
        ]
    if backend == "django.core.mail.backends.smtp.EmailBackend" and not config.EMAIL_HOST:
        return [
            checks.Error(
                "EMAIL_HOST is not set for the SMTP email backend.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
                id="quantsite.E007",
            )
        ]
    return []


def refuse_unsafe_production() -> None:
    """Raise ``SystemCheckError`` (and so stop the server) if the production checks fail."""
    errors = [m for m in checks.run_checks(tags=[TAG]) if m.level >= checks.ERROR]
    if errors:
        raise SystemCheckError(
            "Refusing to start:\n" + "\n".join(f"{m.id}: {m.msg} {m.hint}" for m in errors)
        )


def notebook_key_errors(config: Settings) -> list[checks.CheckMessage]:
    """NOTEBOOK_ENCRYPTION_KEYS must be Fernet keys, or nothing could be stored or read."""
    from cryptography.fernet import Fernet

    errors = []
    for index, key in enumerate(config.NOTEBOOK_ENCRYPTION_KEYS):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"NOTEBOOK_ENCRYPTION_KEYS entry {index + 1} is not a Fernet key.",
                    hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="quantsite.E005",
                )
            )
    return errors


def oidc_key_warnings(config: Settings) -> list[checks.CheckMessage]:
    """Outside production, a warning while the embedded default's signing key is not made yet:
    the site starts (``make run`` makes the key after ``migrate``), and signing an ID token
    without it fails with the same advice. Production requires the key from the environment
    (``production_errors``)."""
    if config.PRODUCTION or config.OIDC_KEY_FROM_ENV or config.OIDC_KEY_PATH.exists():
        return []
    return [
        checks.Warning(
            f"There is no OIDC signing key at {config.OIDC_KEY_PATH}.",
            hint=f"Run `{CREATE_COMMAND}` (`make run` does), or set OIDC_RSA_PRIVATE_KEY.",
            id="quantsite.W001",
        )
    ]
