"""``Quanthub``: how a hub reaches its Quantsite, as traitlets (``c.Quanthub.*``), every value
with a default from the environment (``QUANTHUB_*``), as JupyterHub configures itself.

``quanthub.configure`` reads it in the hub process; the discovery service reads the same class
in its own process, from the environment the hub gives it.
"""

import os
import socket
from urllib.parse import urlsplit

from traitlets import Bool, Integer, Unicode, default, validate
from traitlets.config import Configurable

# The name the hub runs its discovery service under (its URL prefix, role and hub token).
DISCOVERY_SERVICE = "quanthub-discovery"
# The environment variable that gives the discovery service the secret the hub process calls it
# with (a new one at every hub start, from ``quanthub.configure``; nothing else knows it).
SERVICE_SECRET_ENV = "QUANTHUB_SERVICE_SECRET"  # noqa: S105 (a variable name, not a secret)


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
    server_login_check_interval = Integer(
        60,
        config=True,
        help="Seconds a user's server trusts a browser's hub login before asking the hub again "
        "(the servers' HubOAuth.cache_max_age; JupyterHub's default is 300) "
        "(QUANTHUB_SERVER_LOGIN_CHECK_INTERVAL). A login the site ended (logout, stop) stops "
        "working on the server within about twice this, once a request reaches it.",
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

    @default("server_login_check_interval")
    def _server_login_check_interval_default(self):
        return int(_env("QUANTHUB_SERVER_LOGIN_CHECK_INTERVAL", "60"))

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
        """Raise ``ValueError`` naming every required value that is missing."""
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(name: str, fallback: str = "") -> str:
    return os.environ.get(name, fallback)
