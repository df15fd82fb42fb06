"""``quanthub.configure(Config())``: the JupyterHub configuration a hub gets, trait by trait."""

import hashlib
import sys

import pytest
from quanthub_stubs import MockSpawner
from traitlets.config import Config

from quanthub.config import JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, TEMPLATES_DIR, configure
from quanthub.logs import hub_log_request

SITE = "http://127.0.0.1:8000"
HUB = "http://127.0.0.1:8101"
SERVICE = "http://127.0.0.1:8190"
VALUES = dict(
    site_url=SITE,
    hub_url=HUB,
    client_id="hub-client",
    client_secret="hub-secret",
    service_url=SERVICE,
)
CSP = "frame-ancestors 'self' http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def no_quanthub_environment(monkeypatch):
    for name in [
        "QUANTHUB_ALLOW_ROOT",
        "QUANTHUB_CAPACITY",
        "QUANTHUB_CULL_IDLE_TIMEOUT",
        "QUANTHUB_MAX_HEARTBEAT_FAILURES",
        "QUANTHUB_READONLY_DIR",
        "QUANTHUB_READONLY_MOUNT",
        "QUANTHUB_CONTENTS_COMPRESS_MIN_BYTES",
        "QUANTHUB_SERVER_LOGIN_CHECK_INTERVAL",
        "JUPYTERHUB_CRYPT_KEY",
    ]:
        monkeypatch.delenv(name, raising=False)


def configured(**values) -> Config:
    c = Config()
    c.JupyterHub.spawner_class = MockSpawner
    configure(c, **{**VALUES, **values})
    return c


def test_login_goes_through_the_sites_openid_provider():
    auth = configured().GenericOAuthenticator

    assert (auth.client_id, auth.client_secret) == ("hub-client", "hub-secret")
    assert auth.oauth_callback_url == "http://127.0.0.1:8101/hub/oauth_callback"
    assert auth.authorize_url == "http://127.0.0.1:8000/o/authorize/"
    assert auth.token_url == "http://127.0.0.1:8000/o/token/"
    assert auth.userdata_url == "http://127.0.0.1:8000/o/userinfo/"
    assert auth.scope == ["openid", "profile", "email"]
    assert auth.username_claim == "preferred_username"
    assert (auth.enable_pkce, auth.auto_login, auth.allow_all) == (True, True, True)
    assert (auth.enable_auth_state, auth.auth_refresh_age) == (True, 1)
    # No userinfo call at spawn: the site checks the user when it issues the server's token.
    assert auth.refresh_pre_spawn is False


def test_the_hub_logs_in_with_generic_oauth_and_logs_out_on_the_site():
    c = configured()

    assert c.JupyterHub.authenticator_class == "generic-oauth"
    # oauthenticator's option; JupyterHub ignores one of its own name.
    assert c.GenericOAuthenticator.logout_redirect_url == (
        "http://127.0.0.1:8000/accounts/logout/hub/"
    )
    assert "logout_redirect_url" not in c.JupyterHub
    # Without JUPYTERHUB_CRYPT_KEY, auth state is encrypted with a key from the hub's secret.
    assert c.CryptKeeper["keys"] == [hashlib.sha256(b"quanthub auth state hub-secret").digest()]


def test_hub_and_servers_may_be_framed_by_the_site_only():
    c = configured()

    assert c.JupyterHub.tornado_settings["headers"] == {"Content-Security-Policy": CSP}
    assert c.Spawner.args[0] == (
        "--ServerApp.tornado_settings={'headers': "
        "{'Content-Security-Policy': \"frame-ancestors 'self' http://127.0.0.1:8000\"}}"
    )


def test_servers_run_jupyterlab_and_store_notebooks_on_the_site():
    c = configured()

    assert c.Spawner.args[1:] == [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--HubOAuth.cache_max_age=60",
        "--ServerApp.contents_manager_class=quanthub.contents.QuantsiteContentsManager",
    ]
    assert c.Spawner.default_url == "/lab"
    assert c.Spawner.environment == {
        "JUPYTER_CONFIG_PATH": str(JUPYTER_CONFIG_DIR),
        "JUPYTER_PATH": str(JUPYTER_DATA_DIR),
    }


def test_servers_ask_the_hub_about_a_browsers_login_as_often_as_set(monkeypatch):
    monkeypatch.setenv("QUANTHUB_SERVER_LOGIN_CHECK_INTERVAL", "5")

    assert "--HubOAuth.cache_max_age=5" in configured().Spawner.args
    assert "--HubOAuth.cache_max_age=30" in configured(server_login_check_interval=30).Spawner.args


def test_the_hubs_pages_are_quanthubs_templates_shown_at_once():
    c = Config()
    c.JupyterHub.spawner_class = MockSpawner
    c.JupyterHub.template_paths = ["/srv/hub-templates"]
    c.JupyterHub.template_vars = {"announcement": "Maintenance at noon"}
    configure(c, **VALUES)

    assert c.JupyterHub.template_paths == [str(TEMPLATES_DIR), "/srv/hub-templates"]
    assert c.JupyterHub.template_vars == {
        "announcement": "Maintenance at noon",
        "site_url": "http://127.0.0.1:8000",
    }
    # The spawn-pending page at once, not a request held up to 10 s first.
    assert c.JupyterHub.tornado_settings["slow_spawn_timeout"] == 0
    assert sorted(path.name for path in TEMPLATES_DIR.iterdir()) == [
        "page.html",
        "quanthub-site.css",
        "spawn_pending.html",
    ]


def test_allow_root_and_a_readonly_dir_reach_the_servers(monkeypatch):
    monkeypatch.setenv("QUANTHUB_READONLY_DIR", "/srv/examples")

    c = configured(allow_root=True)

    assert "--allow-root" in c.Spawner.args
    assert c.Spawner.environment["QUANTHUB_READONLY_DIR"] == "/srv/examples"


def test_what_the_config_already_held_is_kept_first():
    c = Config()
    c.JupyterHub.spawner_class = MockSpawner
    c.Spawner.args = ["--debug"]
    c.Spawner.environment = {"JUPYTER_PATH": "/opt/jupyter", "LANG": "C.UTF-8"}
    c.JupyterHub.services = [{"name": "grafana", "url": "http://127.0.0.1:3000"}]

    configure(c, **VALUES)

    assert c.Spawner.args[0] == "--debug"
    assert c.Spawner.environment["JUPYTER_PATH"] == f"{JUPYTER_DATA_DIR}:/opt/jupyter"
    assert c.Spawner.environment["LANG"] == "C.UTF-8"
    assert [s["name"] for s in c.JupyterHub.services] == [
        "grafana",
        "quanthub-discovery",
        "idle-culler",
    ]


def test_the_discovery_service_runs_with_the_hub_and_its_own_role():
    c = configured(capacity=40, max_heartbeat_failures=5)
    service, role = c.JupyterHub.services[0], c.JupyterHub.load_roles[0]

    assert service["name"] == "quanthub-discovery"
    assert service["command"] == [sys.executable, "-m", "quanthub.discovery"]
    assert service["url"] == SERVICE
    assert {k: v for k, v in service["environment"].items() if k != "QUANTHUB_SERVICE_SECRET"} == {
        "QUANTHUB_SITE_URL": SITE,
        "QUANTHUB_HUB_URL": HUB,
        "QUANTHUB_CLIENT_ID": "hub-client",
        "QUANTHUB_CLIENT_SECRET": "hub-secret",
        "QUANTHUB_CAPACITY": "40",
        "QUANTHUB_MAX_HEARTBEAT_FAILURES": "5",
    }
    # The hub process's secret with its service: new at every hub start.
    assert len(service["environment"]["QUANTHUB_SERVICE_SECRET"]) == 43
    assert (
        service["environment"]["QUANTHUB_SERVICE_SECRET"]
        != (configured().JupyterHub.services[0]["environment"]["QUANTHUB_SERVICE_SECRET"])
    )
    assert (role["name"], role["services"]) == ("quanthub-discovery", ["quanthub-discovery"])
    assert role["scopes"] == ["list:users", "read:servers", "delete:servers", "shutdown"]


def test_idle_servers_are_culled_after_the_timeout():
    c = configured(cull_idle_timeout=600)
    service, role = c.JupyterHub.services[1], c.JupyterHub.load_roles[1]

    assert service["command"] == [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=600"]
    assert role["scopes"] == ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def test_a_cull_timeout_of_zero_runs_no_culler():
    c = configured(cull_idle_timeout=0)

    assert [s["name"] for s in c.JupyterHub.services] == ["quanthub-discovery"]
    assert [r["name"] for r in c.JupyterHub.load_roles] == ["quanthub-discovery"]


def test_the_access_log_is_quanthubs_unless_the_operator_set_one():
    def own_log(handler):
        return None

    c = Config()
    c.JupyterHub.spawner_class = MockSpawner
    c.JupyterHub.tornado_settings = {"log_function": own_log}
    configure(c, **VALUES)

    assert configured().JupyterHub.tornado_settings["log_function"] is hub_log_request
    assert c.JupyterHub.tornado_settings["log_function"] is own_log


def test_missing_values_are_named():
    with pytest.raises(ValueError) as error:
        configure(Config(), site_url=SITE, hub_url=HUB, client_id="", client_secret="")

    assert str(error.value) == (
        "quanthub needs Quanthub.client_id (QUANTHUB_CLIENT_ID), "
        "Quanthub.client_secret (QUANTHUB_CLIENT_SECRET)"
    )
