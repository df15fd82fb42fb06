"""Fixtures shared by every app's tests."""

import shutil
import socket
import threading

import pytest
from django.conf import settings
from django.core.management import call_command

from hubs.local import PROXY

pytest_plugins = ["quantsite.tests.browser"]


def pytest_runtest_setup(item):
    """Skip what this environment cannot run, saying what it needs (the markers are listed in
    pyproject.toml; ``make test-fast`` deselects ``live`` and ``browser`` altogether)."""
    if item.get_closest_marker("postgres") and not settings.DATABASES["default"]["ENGINE"].endswith(
        "postgresql"
    ):
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL)")
    if item.get_closest_marker("live") and not PROXY.exists():
        pytest.skip("needs configurable-http-proxy (npm ci)")
    if item.get_closest_marker("browser") and not shutil.which("chromium"):
        pytest.skip("needs Chromium (apt-get install -y chromium)")


@pytest.fixture(scope="session", autouse=True)
def _oidc_signing_key():
    # The embedded default's ID-token key, made as `make run` makes it (once per state
    # directory); the settings read it on first use, and site processes tests start find it too.
    call_command("create_oidc_key", verbosity=0)


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
