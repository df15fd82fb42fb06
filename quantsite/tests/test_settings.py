"""Embedded defaults and the production guard rails.

The settings module is read afresh, in this process, under the environment each test gives
(``read_settings``), and the checks of ``quantsite.checks`` run on what it read. One test
starts a real site process, to prove that a production server refuses to start at all.
"""

import importlib.util
import os
import stat
import subprocess
import sys
from types import ModuleType

import pytest
from celery import Celery
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from quantsite.checks import notebook_key_errors, oidc_key_warnings, production_errors
from quantsite.keys import rsa_private_key_create

# What a developer's shell may have set that would change the answers below.
CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "OIDC_RSA_PRIVATE_KEY",
    "DEBUG",
    "PRODUCTION",
    "EMAIL_HOST",
    "EMAIL_BACKEND",
)


@pytest.fixture
def read_settings(monkeypatch):
    """``read_settings(**env)``: quantsite/settings.py executed as a new module, under this
    process's environment less ``CLEARED``, plus ``env`` (a value of None unsets it)."""

    def read(**env: str | None) -> ModuleType:
        for name in CLEARED:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location(
            "settings_under_test", settings.BASE_DIR / "quantsite" / "settings.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return read


def check_ids(config: ModuleType) -> list[str]:
    """The ids of every message quantsite's system checks give for ``config``."""
    messages = production_errors(config) + notebook_key_errors(config) + oidc_key_warnings(config)
    return [message.id for message in messages]


def production(tmp_path, **overrides: str | None) -> dict[str, str | None]:
    """The environment of a production site configured as the README says."""
    return {
        "PRODUCTION": "1",
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "OIDC_RSA_PRIVATE_KEY": settings.OIDC_KEY_PATH.read_text(),
        "EMAIL_HOST": "smtp.example.org",
        "QUANTSITE_VAR_DIR": str(tmp_path),
        **overrides,
    }


# -- production refuses an unsafe configuration ---------------------------------------------


def test_a_production_server_refuses_to_start_without_secret_key_database_and_oidc_key(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in CLEARED}
    result = subprocess.run(
        [sys.executable, "-c", "import quantsite.wsgi"],
        env={**environment, "PRODUCTION": "1", "QUANTSITE_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )

    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    for check_id in ["quantsite.E001", "quantsite.E002", "quantsite.E004"]:
        assert check_id in result.stderr
    assert not (tmp_path / "oidc-rsa-key.pem").exists()  # production never makes a key


def test_production_checks_refuse_without_secret_key_database_and_oidc_key(read_settings, tmp_path):
    config = read_settings(PRODUCTION="1", QUANTSITE_VAR_DIR=str(tmp_path))

    assert check_ids(config) == [
        "quantsite.E001",
        "quantsite.E002",
        "quantsite.E004",
        "quantsite.E006",
    ]
    assert config.OIDC_RSA_PRIVATE_KEY == ""


def test_management_commands_run_the_production_checks(settings):
    settings.PRODUCTION = True
    settings.SECRET_KEY_FROM_ENV = False

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "quantsite.E001" in str(refused.value)


def test_production_refuses_debug(read_settings, tmp_path):
    config = read_settings(**production(tmp_path, DEBUG="1"))

    assert check_ids(config) == ["quantsite.E003"]


def test_production_starts_when_configured(read_settings, tmp_path):
    config = read_settings(**production(tmp_path))

    assert check_ids(config) == []


def test_production_refuses_to_start_without_an_email_host(read_settings, tmp_path):
    config = read_settings(**production(tmp_path, EMAIL_HOST=None))

    errors = production_errors(config)
    assert [error.id for error in errors] == ["quantsite.E006"]
    assert "console.EmailBackend sends no email" in errors[0].msg


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_production_refuses_an_email_backend_that_sends_nothing(read_settings, tmp_path, backend):
    config = read_settings(
        **production(tmp_path, EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend")
    )

    assert check_ids(config) == ["quantsite.E006"]


def test_production_refuses_smtp_without_a_host(read_settings, tmp_path):
    config = read_settings(
        **production(
            tmp_path, EMAIL_HOST=None, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"
        )
    )

    assert check_ids(config) == ["quantsite.E007"]


def security(config: ModuleType) -> list:
    return [
        config.SECURE_SSL_REDIRECT,
        config.SECURE_HSTS_SECONDS,
        config.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        config.SECURE_REDIRECT_EXEMPT,
        config.SESSION_COOKIE_SECURE,
        config.CSRF_COOKIE_SECURE,
    ]


def test_production_redirects_to_https_and_sends_hsts_by_default(read_settings, tmp_path):
    config = read_settings(**production(tmp_path))

    assert security(config) == [True, 31536000, True, ["^healthz$", "^readyz$"], True, True]


def test_hsts_and_the_https_redirect_are_settings(read_settings, tmp_path):
    config = read_settings(
        **production(
            tmp_path,
            SECURE_SSL_REDIRECT="0",
            SECURE_HSTS_SECONDS="600",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        )
    )

    assert security(config)[:3] == [False, 600, False]


# -- the embedded default and what the environment switches -----------------------------------


def test_embedded_default_runs_on_sqlite_with_inline_tasks(read_settings, tmp_path):
    config = read_settings(QUANTSITE_VAR_DIR=str(tmp_path))

    assert config.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert config.DATABASES["default"]["NAME"] == tmp_path / "db.sqlite3"
    assert config.DATABASES["default"]["TEST"] == {"NAME": tmp_path / "test-db.sqlite3"}
    assert config.CELERY_TASK_ALWAYS_EAGER is True
    assert config.DEBUG is True


def test_database_url_switches_to_postgresql_with_persistent_checked_connections(
    read_settings, tmp_path
):
    config = read_settings(
        DATABASE_URL="postgres://quant:secret@db.example:5433/quantsite",
        DATABASE_CONN_MAX_AGE="0",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert config.DATABASES["default"] == {
        "ENGINE": "quantsite.db.postgresql",
        "NAME": "quantsite",
        "USER": "quant",
        "PASSWORD": "secret",
        "HOST": "db.example",
        "PORT": 5433,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "DISABLE_SERVER_SIDE_CURSORS": False,
        "OPTIONS": {"server_side_binding": True, "prepare_threshold": 5},
    }


def test_prepared_statements_can_be_turned_off_for_a_pooler(read_settings, tmp_path):
    config = read_settings(
        DATABASE_URL="postgres://quant@db.example/quantsite",
        DATABASE_PREPARE_THRESHOLD="off",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert config.DATABASES["default"]["OPTIONS"]["prepare_threshold"] is None


def test_a_transaction_pooler_turns_server_side_cursors_off(read_settings, tmp_path):
    config = read_settings(
        DATABASE_URL="postgres://quant@db.example/quantsite",
        DATABASE_DISABLE_SERVER_SIDE_CURSORS="1",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    assert config.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_a_pool_size_switches_to_djangos_pool_without_persistent_connections(
    read_settings, tmp_path
):
    config = read_settings(
        DATABASE_URL="postgres://quant@db.example/quantsite",
        DATABASE_POOL_SIZE="4",
        QUANTSITE_VAR_DIR=str(tmp_path),
    )

    database = config.DATABASES["default"]
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    assert database["CONN_MAX_AGE"] == 0


def test_redis_url_switches_celery_to_the_broker(read_settings, tmp_path):
    config = read_settings(QUANTSITE_VAR_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/3")
    app = Celery("quantsite")  # configured as quantsite/celery.py configures its app
    app.config_from_object(config, namespace="CELERY")

    assert [app.conf.broker_url, app.conf.task_always_eager] == ["redis://127.0.0.1:6379/3", False]


def test_variables_are_read_literally_and_empty_ones_count_as_unset(read_settings, tmp_path):
    config = read_settings(
        QUANTSITE_VAR_DIR=str(tmp_path),
        SECRET_KEY="$not-a-variable-name",
        DEBUG="",
        ALLOWED_HOSTS="quantsite.example, www.quantsite.example,",
    )

    assert config.SECRET_KEY == "$not-a-variable-name"
    assert config.DEBUG is True
    assert config.ALLOWED_HOSTS == ["quantsite.example", "www.quantsite.example"]


def test_the_body_limits_derive_from_the_api_limit_and_the_file_limit(read_settings, tmp_path):
    small = read_settings(QUANTSITE_VAR_DIR=str(tmp_path), NOTEBOOK_MAX_FILE_BYTES="1000")
    large = read_settings(QUANTSITE_VAR_DIR=str(tmp_path), NOTEBOOK_MAX_FILE_BYTES="3000000")

    assert [small.API_MAX_BODY_BYTES, small.NOTEBOOK_MAX_BODY_BYTES] == [2097152, 66869]
    assert small.DATA_UPLOAD_MAX_MEMORY_SIZE == 2097152
    assert large.NOTEBOOK_MAX_BODY_BYTES == 4065536
    assert large.DATA_UPLOAD_MAX_MEMORY_SIZE == 4065536


# -- the OIDC signing key of the embedded default ----------------------------------------------


def test_the_embedded_signing_key_is_made_once_and_kept_private(settings, tmp_path, capsys):
    path = settings.OIDC_KEY_PATH = tmp_path / "var" / "key.pem"

    call_command("create_oidc_key")
    first = path.read_text()
    call_command("create_oidc_key")

    assert path.read_text() == first
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]
    assert capsys.readouterr().out.splitlines() == [  # where it is, never the key itself
        f"Made the OIDC signing key {path}.",
        f"The OIDC signing key {path} is there already.",
    ]


def test_production_makes_no_key_file(settings, tmp_path):
    settings.PRODUCTION = True
    settings.OIDC_KEY_PATH = tmp_path / "key.pem"

    with pytest.raises(CommandError, match="comes from OIDC_RSA_PRIVATE_KEY"):
        call_command("create_oidc_key")

    assert not settings.OIDC_KEY_PATH.exists()


def test_the_settings_sign_with_the_key_the_command_made(read_settings, tmp_path):
    rsa_private_key_create(tmp_path / "oidc-rsa-key.pem")

    config = read_settings(QUANTSITE_VAR_DIR=str(tmp_path))

    pem = (tmp_path / "oidc-rsa-key.pem").read_text()
    assert str(config.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]) == pem
    assert check_ids(config) == []


def test_without_a_key_the_site_warns_and_signing_names_the_command(read_settings, tmp_path):
    config = read_settings(QUANTSITE_VAR_DIR=str(tmp_path))

    assert check_ids(config) == ["quantsite.W001"]
    with pytest.raises(ImproperlyConfigured, match=r"run `manage\.py create_oidc_key`"):
        str(config.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])


def test_a_key_from_the_environment_is_used_as_it_is(read_settings, tmp_path):
    pem = settings.OIDC_KEY_PATH.read_text()

    config = read_settings(QUANTSITE_VAR_DIR=str(tmp_path), OIDC_RSA_PRIVATE_KEY=pem)

    assert config.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"] == pem
    assert config.OIDC_KEY_FROM_ENV is True
    assert not (tmp_path / "oidc-rsa-key.pem").exists()


# -- local state --------------------------------------------------------------------------------


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


def test_the_embedded_state_directory_is_this_accounts_only(read_settings, tmp_path):
    made, loose = tmp_path / "new" / "var", tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)

    umask = os.umask(0o022)
    try:
        for var_dir in (made, loose):
            read_settings(QUANTSITE_VAR_DIR=str(var_dir))
    finally:
        os.umask(umask)

    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
