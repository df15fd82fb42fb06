"""Fixtures shared by every app's tests."""

import socket
import threading

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


@pytest.fixture
def hung_port():
    """A loopback port whose server accepts connections and never answers: a frozen service
    (stopped with SIGSTOP, or behind a black-holed network) as its clients see it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()
