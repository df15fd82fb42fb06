"""Embedded defaults and the production guard rails."""

import json
import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings

from quantsite.keys import rsa_private_key_pem


def run_site(code: str, **env_overrides) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the given environment on top of a clean one."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "OIDC_RSA_PRIVATE_KEY",
            "DEBUG",
            "EMAIL_HOST",
            "EMAIL_BACKEND",
        }
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


CHECK = (
    "import django; django.setup(); "
    "from django.core.management import call_command; call_command('check')"
)


def test_production_refuses_to_start_without_secret_key_database_and_oidc_key(tmp_path):
    result = run_site(
        CHECK,
        DJANGO_SETTINGS_MODULE="quantsite.settings",
        PRODUCTION="1",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    for check_id in ["quantsite.E001", "quantsite.E002", "quantsite.E004"]:
        assert check_id in result.stderr
    assert not (tmp_path / "oidc-rsa-key.pem").exists()  # production never generates a key


def test_production_refuses_debug(tmp_path):
    result = run_site(
        CHECK,
        DJANGO_SETTINGS_MODULE="quantsite.settings",
        PRODUCTION="1",
        DEBUG="1",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert "quantsite.E003" in result.stderr


def production(tmp_path, **overrides) -> dict[str, str]:
    """The environment of a production site configured as the README says."""
    env = {
        "DJANGO_SETTINGS_MODULE": "quantsite.settings",
        "PRODUCTION": "1",
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "OIDC_RSA_PRIVATE_KEY": rsa_private_key_pem(tmp_path / "key.pem"),
        "EMAIL_HOST": "smtp.example.org",
        "QUANTSITE_VAR_DIR": str(tmp_path),
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def test_production_starts_when_configured(tmp_path):
    result = run_site(CHECK, **production(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "quantsite.E0" not in result.stderr


def test_production_refuses_to_start_without_an_email_host(tmp_path):
    result = run_site(CHECK, **production(tmp_path, EMAIL_HOST=None))

    assert result.returncode != 0
    assert "quantsite.E006" in result.stderr
    assert "console.EmailBackend sends no email" in result.stderr


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_production_refuses_an_email_backend_that_sends_nothing(tmp_path, backend):
    result = run_site(
        CHECK,
        **production(tmp_path, EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend"),
    )

    assert "quantsite.E006" in result.stderr


def test_production_refuses_smtp_without_a_host(tmp_path):
    result = run_site(
        CHECK,
        **production(
            tmp_path, EMAIL_HOST=None, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"
        ),
    )

    assert "quantsite.E007" in result.stderr


SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; import json; "
    "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
    "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_REDIRECT_EXEMPT, s.SESSION_COOKIE_SECURE, "
    "s.CSRF_COOKIE_SECURE]))"
)


def test_production_redirects_to_https_and_sends_hsts_by_default(tmp_path):
    result = run_site(SECURITY, **production(tmp_path))

    assert json.loads(result.stdout) == [
        True,
        31536000,
        True,
        ["^healthz$", "^readyz$"],
        True,
        True,
    ]


def test_hsts_and_the_https_redirect_are_settings(tmp_path):
    result = run_site(
        SECURITY,
        **production(
            tmp_path,
            SECURE_SSL_REDIRECT="0",
            SECURE_HSTS_SECONDS="600",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        ),
    )

    assert json.loads(result.stdout)[:3] == [False, 600, False]


def test_wsgi_server_refuses_to_load_unsafe_production_settings(tmp_path):
    result = run_site(
        "import quantsite.wsgi",
        PRODUCTION="1",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "quantsite.E001" in result.stderr


def test_embedded_default_runs_on_sqlite_with_inline_tasks(tmp_path):
    result = run_site(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)",
        DJANGO_SETTINGS_MODULE="quantsite.settings",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True"]


def test_redis_url_switches_celery_to_the_broker(tmp_path):
    result = run_site(
        "import django; django.setup(); from quantsite.celery import app; "
        "print(app.conf.broker_url, app.conf.task_always_eager)",
        DJANGO_SETTINGS_MODULE="quantsite.settings",
        QUANTSITE_VAR_DIR=str(tmp_path),
        REDIS_URL="redis://127.0.0.1:6379/3",
    )

    assert result.stdout.split() == ["redis://127.0.0.1:6379/3", "False"]


def test_the_embedded_signing_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "key.pem"

    first = rsa_private_key_pem(path)
    second = rsa_private_key_pem(path)

    assert first == second
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]


@pytest.mark.parametrize("name", ["var/", ".venv/"])
def test_generated_state_is_git_ignored(name):
    ignored = (settings.BASE_DIR / ".gitignore").read_text().split()

    assert name in ignored


@pytest.mark.django_db
def test_with_the_https_redirect_only_health_checks_answer_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    home = client.get("/")
    health = client.get("/healthz")
    secure = client.get("/", secure=True)

    assert home.status_code == 301
    assert home["Location"].startswith("https://")
    assert health.status_code != 301
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_embedded_state_directory_is_this_accounts_only(tmp_path):
    made, loose = tmp_path / "new" / "var", tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)

    for var_dir in (made, loose):
        result = run_site(
            "import os; os.umask(0o022); import django; django.setup()",
            DJANGO_SETTINGS_MODULE="quantsite.settings",
            QUANTSITE_VAR_DIR=str(var_dir),
        )
        assert result.returncode == 0, result.stderr

    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
