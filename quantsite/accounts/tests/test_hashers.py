"""Client secrets are stored under a keyed fast hash, checked by django-oauth-toolkit."""

import pytest
from django.contrib.auth.hashers import check_password, make_password

from quantsite.accounts.tests.factories import CLIENT_SECRET, ApplicationFactory

pytestmark = pytest.mark.django_db


def test_client_secrets_are_stored_hashed_with_the_client_secret_hasher():
    app = ApplicationFactory()

    assert app.client_secret.startswith("hmac_sha256$")
    assert CLIENT_SECRET not in app.client_secret
    assert check_password(CLIENT_SECRET, app.client_secret)
    assert not check_password(CLIENT_SECRET + "x", app.client_secret)


def test_the_hash_is_salted():
    assert make_password("same", hasher="hmac_sha256") != make_password(
        "same", hasher="hmac_sha256"
    )


def test_a_rotated_secret_key_keeps_secrets_valid_while_it_is_a_fallback(settings):
    encoded = make_password(CLIENT_SECRET, hasher="hmac_sha256")

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = (
        "new-key-" + "n" * 40,
        [settings.SECRET_KEY],
    )
    still = check_password(CLIENT_SECRET, encoded)
    settings.SECRET_KEY_FALLBACKS = []
    after = check_password(CLIENT_SECRET, encoded)

    assert (still, after) == (True, False)


def test_people_passwords_keep_the_slow_hasher(settings, django_user_model):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "quantsite.accounts.hashers.ClientSecretHasher",
    ]
    user = django_user_model(username="ada")
    user.set_password("violet-otter-meadow-42")

    assert user.password.startswith("pbkdf2_sha256$")
