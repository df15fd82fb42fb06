"""``quanthub.configure(c)``: make a stock JupyterHub one of a Quantsite's hubs.

Call it from ``jupyterhub_config.py``::

    import quanthub
    quanthub.configure(c)  # values from QUANTHUB_* environment variables or c.Quanthub.*

It sets up login through the site (oauthenticator's GenericOAuthenticator), framing by the
site only, the discovery service (registration, heartbeats, stop) and the idle culler.
"""

import hashlib
import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from traitlets import Bool, Integer, Unicode, default, validate
from traitlets.config import Configurable

from quanthub.isolation import (
    refuse_unisolated_spawner,
    refusing_unisolated_spawner,
    spawner_class_of,
)
from quanthub.sessions import make_refresh_user_hook, remember_login
from quanthub.spawn import make_pre_spawn_hook

# Jupyter configuration the single-user servers read (labconfig/page_config.json).
JUPYTER_CONFIG_DIR = Path(__file__).resolve().parent / "jupyter_config"
# Jupyter data the single-user servers read (labextensions/quanthub-share, prebuilt).
JUPYTER_DATA_DIR = Path(__file__).resolve().parent / "jupyter_data"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _http_url(value: str, name: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"Quanthub.{name} must be an http(s) URL, not {value!r}")
    return value


class Quanthub(Configurable):
    """How this hub reaches its Quantsite. Every value can come from the environment."""

    site_url = Unicode(
        config=True,
        help="The site's public base URL (QUANTHUB_SITE_URL), e.g. https://quantsite.example.",
    )
    hub_url = Unicode(
        config=True,
        help="This hub's public base URL (QUANTHUB_HUB_URL), as registered with register_hub.",
    )
    client_id = Unicode(config=True, help="The hub's OAuth client id (QUANTHUB_CLIENT_ID).")
    client_secret = Unicode(
        config=True, help="The hub's OAuth client secret (QUANTHUB_CLIENT_SECRET)."
    )
    capacity = Integer(
        0,
        config=True,
        help="Users this hub can hold, told to discovery at start (QUANTHUB_CAPACITY); 0 keeps "
        "the capacity registered on the site.",
    )
    max_heartbeat_failures = Integer(
        10,
        config=True,
        help="Consecutive failed heartbeats after which the hub shuts itself down "
        "(QUANTHUB_MAX_HEARTBEAT_FAILURES).",
    )
    auth_refresh_age = Integer(
        300,
        config=True,
        help="Seconds after which a user's login is checked with the site again, so a user "
        "disabled on the site loses hub access within this time.",
    )
    cull_idle_timeout = Integer(
        3600,
        config=True,
        help="Seconds of inactivity after which a user's server is stopped "
        "(QUANTHUB_CULL_IDLE_TIMEOUT); 0 turns culling off.",
    )
    service_url = Unicode(
        config=True,
        help="Where the hub's discovery service listens, reachable from the hub and its users' "
        "servers (QUANTHUB_SERVICE_URL), e.g. http://hub:8090 on Kubernetes; servers renew "
        "their notebook credential there. Unset: a free port on 127.0.0.1, picked at start.",
    )
    session_check_interval = Integer(
        1,
        config=True,
        help="Seconds between checks, on a user's hub requests, whether the discovery service "
        "ended their login (the site said they must not run here).",
    )
    allow_root = Bool(
        False,
        config=True,
        help="Pass --allow-root to single-user servers (QUANTHUB_ALLOW_ROOT); needed when the "
        "hub runs as root with the simple spawner, or the servers exit at once.",
    )

    allow_shared_identity = Bool(
        False,
        config=True,
        help="Allow a spawner that runs every user's server as one OS account, such as "
        "JupyterHub's `simple` spawner (QUANTHUB_ALLOW_SHARED_IDENTITY=1). Only for one person "
        "developing alone: under one account any user reads any other's notebook credential "
        "from /proc/<pid>/environ. Without it, configure() and every spawn refuse such a "
        "spawner; use quanthub.isolation.IsolatedSpawner (hubs/isolated/) or KubeSpawner.",
    )

    allow_machine_accounts = Bool(
        False,
        config=True,
        help="Allow a spawner that runs hub user x's server as this machine's account x, such "
        "as JupyterHub's default LocalProcessSpawner (QUANTHUB_ALLOW_MACHINE_ACCOUNTS=1). Only "
        "where the machine's accounts are provisioned for exactly the site's users: otherwise "
        "whoever signs up as root, postgres or an administrator's name gets a server running as "
        "that account. Without it, configure() and every spawn refuse such a spawner; use "
        "quanthub.isolation.IsolatedSpawner (qs-<name> accounts) or KubeSpawner.",
    )

    @default("allow_shared_identity")
    def _allow_shared_identity_default(self):
        return _env("QUANTHUB_ALLOW_SHARED_IDENTITY", "").lower() in {"1", "true", "yes"}

    @default("allow_machine_accounts")
    def _allow_machine_accounts_default(self):
        return _env("QUANTHUB_ALLOW_MACHINE_ACCOUNTS", "").lower() in {"1", "true", "yes"}

    @default("site_url")
    def _site_url_default(self):
        return _env("QUANTHUB_SITE_URL")

    @default("hub_url")
    def _hub_url_default(self):
        return _env("QUANTHUB_HUB_URL")

    @default("client_id")
    def _client_id_default(self):
        return _env("QUANTHUB_CLIENT_ID")

    @default("client_secret")
    def _client_secret_default(self):
        return _env("QUANTHUB_CLIENT_SECRET")

    @default("capacity")
    def _capacity_default(self):
        return int(_env("QUANTHUB_CAPACITY", "0"))

    @default("max_heartbeat_failures")
    def _max_failures_default(self):
        return int(_env("QUANTHUB_MAX_HEARTBEAT_FAILURES", "10"))

    @default("cull_idle_timeout")
    def _cull_default(self):
        return int(_env("QUANTHUB_CULL_IDLE_TIMEOUT", "3600"))

    @default("service_url")
    def _service_url_default(self):
        return _env("QUANTHUB_SERVICE_URL") or f"http://127.0.0.1:{_free_port()}"

    @default("allow_root")
    def _allow_root_default(self):
        return _env("QUANTHUB_ALLOW_ROOT", "").lower() in {"1", "true", "yes"}

    @validate("site_url")
    def _valid_site_url(self, proposal):
        return _http_url(proposal["value"], "site_url")

    @validate("hub_url")
    def _valid_hub_url(self, proposal):
        return _http_url(proposal["value"], "hub_url")

    def check(self) -> None:
        missing = [
            name
            for name in ("site_url", "hub_url", "client_id", "client_secret")
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(
                "quanthub needs "
                + ", ".join(f"Quanthub.{m} (QUANTHUB_{m.upper()})" for m in missing)
            )

    @property
    def frame_ancestors(self) -> str:
        """CSP for hub and servers: framed by the site and by the hub's own pages only."""
        return f"frame-ancestors 'self' {_origin(self.site_url)}"


def _dict(value) -> dict:
    # An unset traitlets config value is a LazyConfigValue, not the container itself.
    return dict(value) if isinstance(value, dict) else {}


def _list(value) -> list:
    return list(value) if isinstance(value, list) else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(name: str, fallback: str = "") -> str:
    return os.environ.get(name, fallback)


def configure(c, **values) -> Quanthub:
    """Apply the site's settings to the JupyterHub config ``c``; return the settings used.

    ``values`` override ``c.Quanthub`` and the environment (``site_url=...``, ...). Raises
    ``ValueError`` if the site URL, hub URL or client credentials are missing.
    """
    for name, value in values.items():
        setattr(c.Quanthub, name, value)
    settings = Quanthub(config=c)
    settings.check()
    site = settings.site_url

    # Isolation: each user's server runs as an account of their own (no one account for all,
    # no machine account named like the user) unless the operator opted in by name. Checked
    # here (the spawner set before configure) and at every spawn (set after it).
    isolation_opt_ins = {
        "allow_shared_identity": settings.allow_shared_identity,
        "allow_machine_accounts": settings.allow_machine_accounts,
    }
    spawner_class = c.JupyterHub.get("spawner_class") if "JupyterHub" in c else None
    refuse_unisolated_spawner(spawner_class_of(spawner_class), **isolation_opt_ins)

    # Login: the site is the OpenID Connect provider; no hand-written authenticator.
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.client_id = settings.client_id
    c.GenericOAuthenticator.client_secret = settings.client_secret
    c.GenericOAuthenticator.oauth_callback_url = f"{settings.hub_url}/hub/oauth_callback"
    c.GenericOAuthenticator.authorize_url = f"{site}/o/authorize/"
    c.GenericOAuthenticator.token_url = f"{site}/o/token/"
    c.GenericOAuthenticator.userdata_url = f"{site}/o/userinfo/"
    c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
    c.GenericOAuthenticator.username_claim = "preferred_username"
    c.GenericOAuthenticator.login_service = "Quantsite"
    c.GenericOAuthenticator.allow_all = True
    c.GenericOAuthenticator.enable_pkce = True
    c.GenericOAuthenticator.auto_login = True
    c.GenericOAuthenticator.refresh_pre_spawn = True
    # A user's hub login ends when the site says so: the discovery service records it (the
    # heartbeat's stop list), and the refresh hook, run on the user's hub requests every
    # session_check_interval, sends them to log in again; every auth_refresh_age the user's
    # stored token is checked with the site (refresh_user needs auth state, kept encrypted
    # with a key derived from the hub's secret unless JUPYTERHUB_CRYPT_KEY is set).
    c.GenericOAuthenticator.enable_auth_state = True
    # Between the hub process and its discovery service only (a new one at each hub start).
    sessions_secret = secrets.token_urlsafe(32)
    if not os.environ.get("JUPYTERHUB_CRYPT_KEY"):
        c.CryptKeeper.keys = [
            hashlib.sha256(f"quanthub auth state {settings.client_secret}".encode()).digest()
        ]
    c.GenericOAuthenticator.auth_refresh_age = settings.session_check_interval
    c.GenericOAuthenticator.refresh_user_hook = make_refresh_user_hook(
        sessions_url=f"{settings.service_url}/services/quanthub-discovery/sessions",
        sessions_secret=sessions_secret,
        site_check_age=settings.auth_refresh_age,
    )
    c.GenericOAuthenticator.post_auth_hook = remember_login
    c.JupyterHub.logout_redirect_url = f"{site}/accounts/logout/"

    # Framing: the site's origin only (JupyterHub's default is 'none'; never '*').
    csp = {"Content-Security-Policy": settings.frame_ancestors}
    tornado_settings = _dict(c.JupyterHub.tornado_settings)
    tornado_settings["headers"] = {**tornado_settings.get("headers", {}), **csp}
    c.JupyterHub.tornado_settings = tornado_settings
    # A Python literal, not JSON: the server reads this option with literal_eval.
    args = [f"--ServerApp.tornado_settings={{'headers': {csp!r}}}"]
    if settings.allow_root:
        args.append("--allow-root")
    # No news pop-up or update check inside /research: the site speaks for the platform. The
    # pop-up's plugin is disabled by a page config on the servers' Jupyter config path.
    args += [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    environment = _dict(c.Spawner.environment)
    config_path = [str(JUPYTER_CONFIG_DIR), environment.get("JUPYTER_CONFIG_PATH", "")]
    environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in config_path if p)
    # The prebuilt JupyterLab extension (the Share button) ships in the package: no Node.js
    # on hubs. JupyterLab finds it on the Jupyter data path.
    data_path = [str(JUPYTER_DATA_DIR), environment.get("JUPYTER_PATH", "")]
    environment["JUPYTER_PATH"] = os.pathsep.join(p for p in data_path if p)
    # A read-only directory of this machine shown to every user (shared examples), if set.
    for name in (
        "QUANTHUB_READONLY_DIR",
        "QUANTHUB_READONLY_MOUNT",
        "QUANTHUB_CONTENTS_COMPRESS_MIN_BYTES",
    ):
        if os.environ.get(name):
            environment[name] = os.environ[name]
    c.Spawner.environment = environment
    # Notebooks live on the site: every server stores through it, with its own credential.
    args.append("--ServerApp.contents_manager_class=quanthub.contents.QuantsiteContentsManager")
    # Share: the server extension quanthub.share (enabled by jupyter_server_config.d on the
    # config path below) forwards JupyterLab's share requests to the site.
    c.Spawner.pre_spawn_hook = make_pre_spawn_hook(
        site,
        settings.client_id,
        settings.client_secret,
        credential_url=f"{settings.service_url}/services/quanthub-discovery/server-token",
    )
    # The spawner's check again at every spawn, before the credential is fetched: an operator
    # may set JupyterHub.spawner_class after calling configure.
    c.Spawner.pre_spawn_hook = refusing_unisolated_spawner(
        c.Spawner.pre_spawn_hook, **isolation_opt_ins
    )
    c.Spawner.args = [*_list(c.Spawner.args), *args]
    c.Spawner.default_url = "/lab"

    # Discovery: a hub-managed service registers, heartbeats and stops for this hub.
    service_env = {
        "QUANTHUB_SESSIONS_SECRET": sessions_secret,
        "QUANTHUB_SITE_URL": site,
        "QUANTHUB_HUB_URL": settings.hub_url,
        "QUANTHUB_CLIENT_ID": settings.client_id,
        "QUANTHUB_CLIENT_SECRET": settings.client_secret,
        "QUANTHUB_CAPACITY": str(settings.capacity),
        "QUANTHUB_MAX_HEARTBEAT_FAILURES": str(settings.max_heartbeat_failures),
    }
    services = [
        {
            "name": "quanthub-discovery",
            "command": [sys.executable, "-m", "quanthub.discovery"],
            "environment": service_env,
            "url": settings.service_url,
        }
    ]
    roles = [
        {
            "name": "quanthub-discovery",
            "description": "Report running servers to discovery, stop those the site says "
            "must not run here, identify servers renewing their credential; shut the hub down "
            "when the site refuses it.",
            "scopes": ["list:users", "read:servers", "delete:servers", "shutdown"],
            "services": ["quanthub-discovery"],
        }
    ]
    if settings.cull_idle_timeout:
        services.append(
            {
                "name": "idle-culler",
                "command": [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--timeout={settings.cull_idle_timeout}",
                ],
            }
        )
        roles.append(
            {
                "name": "idle-culler",
                "description": "Stop servers idle longer than the timeout.",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )
    c.JupyterHub.services = [*_list(c.JupyterHub.services), *services]
    c.JupyterHub.load_roles = [*_list(c.JupyterHub.load_roles), *roles]
    return settings
