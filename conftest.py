"""Fixtures shared by every app's tests."""

import pytest
from django.conf import settings

pytest_plugins = ["quantsite.tests.browser"]


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not settings.DATABASES["default"]["ENGINE"].endswith(
        "postgresql"
    ):
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher (PBKDF2, ~1M iterations) costs ~0.4 s per check; tests log in a lot.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "quantsite.accounts.hashers.ClientSecretHasher",
    ]


@pytest.fixture(autouse=True)
def _oauth_over_plain_http(monkeypatch):
    # oauthlib (in the client library the tests use) refuses http:// unless told; the live
    # test server speaks plain HTTP on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
