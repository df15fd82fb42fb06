"""JupyterHub configuration of an isolated hub on one machine: one OS account per user.

Every user's server runs as an account of its own, ``qs-<name>``, made on first spawn by
``quanthub.isolation.IsolatedSpawner`` (uids 70000-79999, group ``quanthub-users``, no
password, no login shell, home 0700 under ``QUANTHUB_HOMES_DIR``), in a mount namespace where
the database's and Redis's Unix sockets are hidden and ``/tmp`` is private. The hub runs as
root (it makes accounts and switches to them). Fence the servers' network with ``fence.py``
beside this file (see README.md here).

Environment: the QUANTHUB_* values of ``quanthub.configure`` (site URL, hub URL, client id and
secret), and optionally QUANTHUB_STATE_DIR (/var/lib/quanthub), QUANTHUB_HOMES_DIR
(/var/lib/quanthub/homes), QUANTSITE_VAR_DIR (the site's state on this machine, hidden from
servers; this repository's var/), QUANTHUB_HUB_API_PORT and QUANTHUB_PROXY_API_PORT
(JupyterHub's defaults), QUANTHUB_PROXY_COMMAND (configurable-http-proxy on PATH, or this
repository's node_modules).
"""

import os
import shutil
from pathlib import Path

import quanthub
from quanthub.isolation import DEFAULT_INACCESSIBLE_PATHS

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

ROOT = Path(__file__).resolve().parent.parent.parent
# The hub's files (its database, cookie secret) are root's alone; the servers inherit the mask.
os.umask(0o077)
state = Path(os.environ.get("QUANTHUB_STATE_DIR", "/var/lib/quanthub"))
state.mkdir(parents=True, exist_ok=True)
state.chmod(0o711)  # the servers reach their homes below it, and list nothing

c.JupyterHub.bind_url = os.environ["QUANTHUB_HUB_URL"]
if os.environ.get("QUANTHUB_HUB_API_PORT"):
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['QUANTHUB_HUB_API_PORT']}"
if os.environ.get("QUANTHUB_PROXY_API_PORT"):
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['QUANTHUB_PROXY_API_PORT']}"
proxy = os.environ.get("QUANTHUB_PROXY_COMMAND") or shutil.which("configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [
    proxy or str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy")
]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

c.JupyterHub.spawner_class = "quanthub.isolation.IsolatedSpawner"
c.IsolatedSpawner.homes_dir = os.environ.get("QUANTHUB_HOMES_DIR", "/var/lib/quanthub/homes")
# The site's state, when the site runs on this machine with its embedded defaults (SQLite
# database, stored notebooks, keys in this repository's var/), is hidden from every server.
c.IsolatedSpawner.inaccessible_paths = [
    *DEFAULT_INACCESSIBLE_PATHS,
    str(ROOT / "var"),
    *([os.environ["QUANTSITE_VAR_DIR"]] if os.environ.get("QUANTSITE_VAR_DIR") else []),
]
# The servers inherit only LocalProcessSpawner's env_keep (PATH, LANG, PYTHONPATH,
# VIRTUAL_ENV, ...) of the hub's environment: never QUANTHUB_CLIENT_SECRET or the proxy's token.
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

c.Quanthub.allow_root = False  # servers never run as root here
quanthub.configure(c)
