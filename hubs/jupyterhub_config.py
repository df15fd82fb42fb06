"""JupyterHub configuration of the local hubs that `make run` starts (hubs/local.py).

Everything the site needs is in `quanthub.configure(c)`; this file adds what running several
hubs on one machine needs: their own ports, state directories, the proxy from node_modules,
and the `simple` spawner (every user's server runs as the current OS user).

The `simple` spawner gives users no isolation from each other (any user's server can read any
other's credentials), so quanthub refuses it unless opted in: this file does, for one person
developing on their own machine. Hubs for several people use hubs/isolated/jupyterhub_config.py
(one OS account per user) or KubeSpawner.
"""

import os
from pathlib import Path

import quanthub

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

ROOT = Path(__file__).resolve().parent.parent
state = Path(os.environ["QUANTHUB_STATE_DIR"])

c.JupyterHub.bind_url = os.environ["QUANTHUB_HUB_URL"]
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['QUANTHUB_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['QUANTHUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "users" / "{username}")
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
# Development only: every user's server runs as this OS user (see the docstring).
c.Quanthub.allow_shared_identity = True

quanthub.configure(c)
