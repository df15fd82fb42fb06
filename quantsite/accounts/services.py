from django.conf import settings
from django.db import transaction
from oauth2_provider.models import AbstractApplication, Grant, clear_expired

from quantsite.accounts.models import ApplicationPolicy, User


@transaction.atomic
def user_create(*, username: str, email: str, password: str, name: str = "") -> User:
    """Create an active, non-staff user with a hashed password.

    Inputs are expected validated (``SignupForm`` does it); the database still refuses a
    duplicate username or email with ``IntegrityError``.
    """
    user = User(username=username, email=email, name=name)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def user_profile_update(*, user: User, name: str, email: str) -> User:
    """Change a user's display name and email address."""
    user.name = name
    user.email = email
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name", "email"])
    return user


def oauth_tokens_clear() -> None:
    """Delete expired and revoked access tokens, refresh tokens, grants and ID tokens.

    Idempotent, and safe to run twice at once: the library deletes in batches by expiry.
    """
    clear_expired()


@transaction.atomic
def application_enabled_set(*, application: AbstractApplication, enabled: bool) -> bool:
    """Enable or disable an OAuth application; returns whether that changed anything.

    A disabled application gets nothing by any grant (no code, token or refresh), authorizes
    nobody, and its remaining tokens are refused (``quantsite.accounts.oauth.OAuth2Validator``);
    its pending authorization codes are deleted. Existing tokens are not deleted here: the
    caller decides (the hub services revoke a disabled hub's). Idempotent.
    """
    policy, _ = ApplicationPolicy.objects.select_for_update().get_or_create(
        application=application,
        defaults={"allowed_scopes": " ".join(settings.OAUTH_DEFAULT_ALLOWED_SCOPES)},
    )
    if not enabled:
        Grant.objects.filter(application=application).delete()
    if policy.enabled == enabled:
        return False
    policy.enabled = enabled
    policy.save(update_fields=["enabled"])
    return True
