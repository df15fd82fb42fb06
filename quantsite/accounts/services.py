from django.db import transaction
from oauth2_provider.models import clear_expired

from quantsite.accounts.models import User


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
