"""``quanthub.configure(c)``: make a stock JupyterHub one of a Quantsite's hubs.

Call it from ``jupyterhub_config.py``::

    import quanthub
    quanthub.configure(c)  # values from QUANTHUB_* environment variables or c.Quanthub.*

It sets up login through the site (oauthenticator's GenericOAuthenticator), framing by the
site only, the hub's pages in the site's look, the single-user servers (notebooks stored on the
site, the Share extension, each server's credential at spawn), the discovery service
(registration, heartbeats, stop), the idle culler, and an access log without the heartbeat's
routine lines. Each of those is one ``setup_*`` function below, applied in that order by
``configure``.
"""

import hashlib
import os
import secrets
import sys
from pathlib import Path

from quanthub.client import SiteClient
from quanthub.isolation import (
    refuse_unisolated_spawner,
    refusing_unisolated_spawner,
    spawner_class_of,
)
from quanthub.logs import hub_log_request
from quanthub.sessions import make_refresh_user_hook, remember_login
from quanthub.settings import DISCOVERY_SERVICE, SERVICE_SECRET_ENV, Quanthub
from quanthub.spawn import make_pre_spawn_hook

__all__ = ["Quanthub", "configure"]

# Jupyter configuration the single-user servers read (labconfig/page_config.json).
JUPYTER_CONFIG_DIR = Path(__file__).resolve().parent / "jupyter_config"
# Jupyter data the single-user servers read (labextensions/quanthub-share, prebuilt).
JUPYTER_DATA_DIR = Path(__file__).resolve().parent / "jupyter_data"
# The hub's own page templates: JupyterHub's, in the site's look (``setup_pages``).
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# What a server's environment takes over from the hub's, when set there.
PASSED_TO_SERVERS = (
    "QUANTHUB_READONLY_DIR",
    "QUANTHUB_READONLY_MOUNT",
    "QUANTHUB_CONTENTS_COMPRESS_MIN_BYTES",
)


def configure(c, **values) -> Quanthub:
    """Apply the site's settings to the JupyterHub config ``c``; return the settings used.

    ``values`` override ``c.Quanthub`` and the environment (``site_url=...``, ...). Raises
    ``ValueError`` if the site URL, hub URL or client credentials are missing, and
    ``UnisolatedSpawnerError`` for a spawner that does not give each user an OS account of
    their own (unless opted in). Values already in ``c`` that lists and dicts extend
    (``Spawner.args``, ``Spawner.environment``, ``JupyterHub.services``, ...) are kept.
    """
    for name, value in values.items():
        setattr(c.Quanthub, name, value)
    settings = Quanthub(config=c)
    settings.check()
    # Between the hub process and its discovery service only (a new one at each hub start).
    service_secret = secrets.token_urlsafe(32)
    service = service_client(settings, service_secret)
    setup_isolation_check(c, settings)
    setup_login(c, settings, service=service)
    setup_framing(c, settings)
    setup_pages(c, settings)
    setup_servers(c, settings)
    setup_spawn_credential(c, settings, service=service)
    setup_discovery_service(c, settings, service_secret=service_secret)
    setup_idle_culler(c, settings)
    setup_access_log(c)
    return settings


def service_client(settings: Quanthub, secret: str) -> SiteClient:
    """The hub process's one client of its discovery service (the refresh and spawn hooks),
    with the secret that service knows it by. No retries: the refresh hook must not hold up
    the user's request, and a failed spawn says to try again."""
    return SiteClient(
        _service_base(settings),
        None,
        headers={"Authorization": f"token {secret}"},
        retries=0,
    )


def setup_isolation_check(c, settings: Quanthub) -> None:
    """Refuse (``UnisolatedSpawnerError``) a spawner already set in ``c`` that runs users'
    servers under one OS account, or under the machine's accounts named like them, unless the
    operator opted in by name. ``setup_spawn_credential`` checks again at every spawn, for a
    spawner set after ``configure``."""
    spawner_class = c.JupyterHub.get("spawner_class") if "JupyterHub" in c else None
    refuse_unisolated_spawner(spawner_class_of(spawner_class), **_isolation_opt_ins(settings))


def setup_login(c, settings: Quanthub, *, service: SiteClient) -> None:
    """Login through the site, its OpenID Connect provider (no hand-written authenticator),
    automatic and without a consent page; a user's hub login ends when the site says so, and
    logging out of the hub logs out of the site."""
    site = settings.site_url
    auth = c.GenericOAuthenticator
    c.JupyterHub.authenticator_class = "generic-oauth"
    auth.client_id = settings.client_id
    auth.client_secret = settings.client_secret
    auth.oauth_callback_url = f"{settings.hub_url}/hub/oauth_callback"
    auth.authorize_url = f"{site}/o/authorize/"
    auth.token_url = f"{site}/o/token/"
    auth.userdata_url = f"{site}/o/userinfo/"
    auth.scope = ["openid", "profile", "email"]
    auth.username_claim = "preferred_username"
    auth.login_service = "Quantsite"
    auth.allow_all = True
    auth.enable_pkce = True
    auth.auto_login = True
    # No second check with the site at spawn (oauthenticator turns it on with auth state): the
    # server's credential comes from the site only for an active user assigned to this hub,
    # and the refresh hook has checked the login within session_check_interval.
    auth.refresh_pre_spawn = False
    # A user's hub login ends when the site says so: the discovery service records it (the
    # heartbeat's stop and logout lists), and the refresh hook, run on the user's hub requests
    # every session_check_interval, sends them to log in again and ends their sessions on
    # their server (quanthub.sessions); every auth_refresh_age the user's stored token is
    # checked with the site (refresh_user needs auth state, kept encrypted with a key derived
    # from the hub's secret unless JUPYTERHUB_CRYPT_KEY is set).
    auth.enable_auth_state = True
    if not os.environ.get("JUPYTERHUB_CRYPT_KEY"):
        c.CryptKeeper.keys = [
            hashlib.sha256(f"quanthub auth state {settings.client_secret}".encode()).digest()
        ]
    auth.auth_refresh_age = settings.session_check_interval
    auth.refresh_user_hook = make_refresh_user_hook(
        service=service, site_check_age=settings.auth_refresh_age
    )
    auth.post_auth_hook = remember_login
    # After the hub's own logout (JupyterLab's File > Log Out): the site's page that ends the
    # site's login too, at the top of the tab. An option of oauthenticator's, not JupyterHub's
    # (which ignores c.JupyterHub.logout_redirect_url).
    auth.logout_redirect_url = f"{site}/accounts/logout/hub/"


def setup_framing(c, settings: Quanthub) -> None:
    """The hub's pages and the servers may be framed by the site's origin (and the hub's own
    pages) only: JupyterHub's default is 'none'; never '*'."""
    csp = {"Content-Security-Policy": settings.frame_ancestors}
    tornado_settings = _dict(c.JupyterHub.tornado_settings)
    tornado_settings["headers"] = {**tornado_settings.get("headers", {}), **csp}
    c.JupyterHub.tornado_settings = tornado_settings
    # A Python literal, not JSON: the server reads this option with literal_eval.
    _add_server_args(c, f"--ServerApp.tornado_settings={{'headers': {csp!r}}}")


def setup_pages(c, settings: Quanthub) -> None:
    """The hub's pages in the site's look, without JupyterHub's navigation bar (the site's bar,
    above the frame, has the one Logout): quanthub's templates (``templates/``) extend
    JupyterHub's. The wait for a server is its spawn-pending page, shown at once: JupyterHub's
    default first holds the request up to 10 s, a blank frame."""
    c.JupyterHub.template_paths = [str(TEMPLATES_DIR), *_list(c.JupyterHub.template_paths)]
    c.JupyterHub.template_vars = {
        **_dict(c.JupyterHub.template_vars),
        "site_url": settings.site_url,
    }
    tornado_settings = _dict(c.JupyterHub.tornado_settings)
    tornado_settings.setdefault("slow_spawn_timeout", 0)
    c.JupyterHub.tornado_settings = tornado_settings


def setup_servers(c, settings: Quanthub) -> None:
    """The single-user servers: JupyterLab without news or update checks (the site speaks for
    the platform), the prebuilt Share extension and quanthub's Jupyter config on their paths,
    and every notebook stored on the site through quanthub's ContentsManager."""
    args = ["--allow-root"] if settings.allow_root else []
    # The news pop-up's plugin is disabled by a page config on the servers' config path.
    args += [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # How long a server trusts a browser's hub login before asking the hub again: a login
        # the site ended stops working on the server within this (quanthub.sessions).
        f"--HubOAuth.cache_max_age={settings.server_login_check_interval}",
    ]
    environment = _dict(c.Spawner.environment)
    # labconfig/page_config.json, and jupyter_server_config.d/quanthub.json, which enables the
    # server extension quanthub.share (JupyterLab's share requests, forwarded to the site).
    environment["JUPYTER_CONFIG_PATH"] = _path(
        JUPYTER_CONFIG_DIR, environment, "JUPYTER_CONFIG_PATH"
    )
    # The prebuilt JupyterLab extension (the Share button) ships in the package: no Node.js
    # on hubs. JupyterLab finds it on the Jupyter data path.
    environment["JUPYTER_PATH"] = _path(JUPYTER_DATA_DIR, environment, "JUPYTER_PATH")
    # A read-only directory of this machine shown to every user (shared examples), if set.
    for name in PASSED_TO_SERVERS:
        if os.environ.get(name):
            environment[name] = os.environ[name]
    c.Spawner.environment = environment
    # Notebooks live on the site: every server stores through it, with its own credential.
    args.append("--ServerApp.contents_manager_class=quanthub.contents.QuantsiteContentsManager")
    _add_server_args(c, *args)
    c.Spawner.default_url = "/lab"


def setup_spawn_credential(c, settings: Quanthub, *, service: SiteClient) -> None:
    """At every spawn: refuse an unisolated spawner (it may be set after ``configure``), then
    get the user's server its notebook credential from the site, through the discovery
    service (``quanthub.spawn``)."""
    hook = make_pre_spawn_hook(
        site_url=settings.site_url,
        service=service,
        credential_url=f"{_service_base(settings)}/server-token",
    )
    c.Spawner.pre_spawn_hook = refusing_unisolated_spawner(hook, **_isolation_opt_ins(settings))


def setup_discovery_service(c, settings: Quanthub, *, service_secret: str) -> None:
    """A hub-managed service (``quanthub.discovery``) registers, heartbeats and stops for this
    hub, stops the servers the site says must not run here, records the logins the site ended,
    issues servers' credentials (at spawn, and renewals), and shuts the hub down when the site
    refuses it."""
    environment = {
        SERVICE_SECRET_ENV: service_secret,
        "QUANTHUB_SITE_URL": settings.site_url,
        "QUANTHUB_HUB_URL": settings.hub_url,
        "QUANTHUB_CLIENT_ID": settings.client_id,
        "QUANTHUB_CLIENT_SECRET": settings.client_secret,
        "QUANTHUB_CAPACITY": str(settings.capacity),
        "QUANTHUB_MAX_HEARTBEAT_FAILURES": str(settings.max_heartbeat_failures),
    }
    if os.environ.get("QUANTHUB_LOG_LEVEL"):  # DEBUG: every heartbeat in the hub's log
        environment["QUANTHUB_LOG_LEVEL"] = os.environ["QUANTHUB_LOG_LEVEL"]
    _add_service(
        c,
        {
            "name": DISCOVERY_SERVICE,
            "command": [sys.executable, "-m", "quanthub.discovery"],
            "environment": environment,
            "url": settings.service_url,
        },
        description="Report running servers to discovery, stop those the site says must not "
        "run here, identify servers renewing their credential; shut the hub down when the "
        "site refuses it.",
        scopes=["list:users", "read:servers", "delete:servers", "shutdown"],
    )


def setup_idle_culler(c, settings: Quanthub) -> None:
    """jupyterhub-idle-culler stops servers idle for ``cull_idle_timeout`` seconds (0: none)."""
    if not settings.cull_idle_timeout:
        return
    _add_service(
        c,
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={settings.cull_idle_timeout}",
            ],
        },
        description="Stop servers idle longer than the timeout.",
        scopes=["list:users", "read:users:activity", "read:servers", "delete:servers"],
    )


def setup_access_log(c) -> None:
    """JupyterHub's access log with the discovery service's per-heartbeat reads at debug level
    (``quanthub.logs``), unless the operator set a log function of their own."""
    tornado_settings = _dict(c.JupyterHub.tornado_settings)
    tornado_settings.setdefault("log_function", hub_log_request)
    c.JupyterHub.tornado_settings = tornado_settings


def _isolation_opt_ins(settings: Quanthub) -> dict[str, bool]:
    return {
        "allow_shared_identity": settings.allow_shared_identity,
        "allow_machine_accounts": settings.allow_machine_accounts,
    }


def _service_base(settings: Quanthub) -> str:
    return f"{settings.service_url}/services/{DISCOVERY_SERVICE}"


def _add_server_args(c, *args: str) -> None:
    c.Spawner.args = [*_list(c.Spawner.args), *args]


def _add_service(c, service: dict, *, description: str, scopes: list[str]) -> None:
    """Run ``service`` with the hub, with a role of its own granting ``scopes``."""
    role = {
        "name": service["name"],
        "description": description,
        "scopes": scopes,
        "services": [service["name"]],
    }
    c.JupyterHub.services = [*_list(c.JupyterHub.services), service]
    c.JupyterHub.load_roles = [*_list(c.JupyterHub.load_roles), role]


def _path(first: Path, environment: dict, name: str) -> str:
    """A search path with ``first`` ahead of what ``environment[name]`` already held."""
    return os.pathsep.join(p for p in (str(first), environment.get(name, "")) if p)


def _dict(value) -> dict:
    # An unset traitlets config value is a LazyConfigValue, not the container itself.
    return dict(value) if isinstance(value, dict) else {}


def _list(value) -> list:
    return list(value) if isinstance(value, list) else []
