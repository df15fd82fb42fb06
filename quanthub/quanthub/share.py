"""The single-user server's side of *Share*: a jupyter_server extension whose handler takes the
share request from JupyterLab and forwards it to the site with this server's own credential
(scope ``notebooks``; quanthub's site client renews it when refused), so the browser never
holds a site token.

``POST {base_url}quanthub/share`` ``{"path", "title", "description", "tags", "showcase_cell"}``
→ the site's answer (``201 {"id", "version", "url"}``), or its error with its status (503 when
this server has no site to share with). ``description`` and ``tags`` are forwarded only when
sent: the site keeps a post's own when they are absent.

``GET {base_url}quanthub/share?path=<path>`` → the site's answer for the user's post shared
from that path (``200 {"id", "title", "description", "tags", "url", "version"}``, 404 when
there is none), what JupyterLab's Share dialog starts from; errors as for a share.

Two more things JupyterLab needs from this server, set when the extension loads:

- the page config option ``quanthubSiteOrigin``, the origin (``scheme://host[:port]``) of the
  site URL: the lab extension talks by message with the site page framing it, and only with
  that origin (no site URL, no option: the lab talks to no one);
- long caching of the prebuilt lab extensions' files. jupyterlab_server marks their
  ``static`` directories immutable (their names are hashed) by URL prefixes that lack the
  server's base URL, so behind JupyterHub (``/user/<name>/``) none of them matched and each
  page load revalidated every file; the same prefixes with the base URL are added.

``ShareApp`` is an ``ExtensionApp``, as JupyterHub's own single-user extension is: its settings
are traits (``c.ShareApp.*``, defaults from the environment the hub's spawn hook sets), read
once when the server loads the extension. The package's ``jupyter_server_config.d/quanthub.json``
enables it (``ServerApp.jpserver_extensions``).
"""

import json
import os
from glob import escape as glob_escape
from glob import glob
from os.path import relpath
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from jupyterlab_server import LabServerApp
from tornado import web
from traitlets import Float, Instance, Unicode, default

from quanthub.client import Credential, ServerCredential, SiteClient, SiteError
from quanthub.contents import QuantsiteContentsManager

FIELDS = ("path", "title", "description", "tags", "showcase_cell")
DEFAULT_PORTS = {"http": 80, "https": 443}


def site_origin(site_url: str) -> str:
    """The origin of ``site_url`` as a browser writes it (``event.origin``): lowercase scheme
    and host, the port only when it is not the scheme's default, no user, path or query.
    ``""`` for anything but an absolute http(s) URL with a host."""
    parts = urlsplit(site_url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return ""
    if scheme not in DEFAULT_PORTS or not host:
        return ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


class ShareHandler(ExtensionHandlerMixin, APIHandler):
    """Forwards one share, or one read of the user's post for a path, to the site; the answer
    is the site's, status and body."""

    @web.authenticated
    async def get(self):
        path = self.get_query_argument("path", None)
        if not path:
            raise web.HTTPError(400, "Which post: path is missing.")
        # A read: the site client may send it again after a failure.
        await self._forward("GET", params={"path": path})

    @web.authenticated
    async def post(self):
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The body must be JSON.") from None
        if not isinstance(body, dict) or not all(k in body for k in ("path", "title")):
            raise web.HTTPError(400, "A share needs at least path and title.")
        # Not idempotent (each share makes a version): sent again only if never sent.
        await self._forward("POST", json={k: body[k] for k in FIELDS if k in body})

    async def _forward(self, method: str, **kwargs) -> None:
        """Send the call to the site's shares API; answer with its status and body, or with
        its error's (502 when no answer came, ``Retry-After`` kept)."""
        app: ShareApp = self.extensionapp
        if app.site is None:
            raise web.HTTPError(503, "This server has no site to share with.")
        try:
            response = await app.site.send(
                method, "/api/community/shares", timeout=app.request_timeout, **kwargs
            )
        except SiteError as error:
            self.set_status(error.status or 502)
            if error.retry_after:
                self.set_header("Retry-After", str(int(error.retry_after)))
            self.finish(error.body or json.dumps({"detail": error.detail}))
            return
        self.set_status(response.status_code)
        self.finish(response.content)


class ShareApp(ExtensionApp):
    """The Share extension: one route, one site client, settings read once at load."""

    name = "quanthub_share"
    description = "Forwards JupyterLab's share requests to the site with this server's credential."
    load_other_extensions = True

    site_url = Unicode(
        config=True,
        help="The site's base URL (QUANTHUB_SITE_URL, set by the hub at spawn); its origin is "
        "the one JupyterLab talks to by message. Unset: every share is answered 503, this "
        "server has no site to share with, and the lab talks to no page.",
    )
    request_timeout = Float(
        60.0,
        config=True,
        help="Seconds before a share sent to the site fails (the site renders nothing while "
        "it answers, but stores the notebook and makes the forum post).",
    )
    site = Instance(SiteClient, allow_none=True, help="The client shares go through.")

    @default("site_url")
    def _site_url_default(self):
        return os.environ.get("QUANTHUB_SITE_URL", "")

    def initialize_settings(self) -> None:
        site_url = self.site_url.strip().rstrip("/")
        self.site = SiteClient(site_url, self._credential()) if site_url else None
        # self.settings starts as a copy of the web application's settings and is merged back
        # into them (ExtensionApp._prepare_settings), as JupyterLab's own are: whichever of
        # the two loads first, both see and keep what the other set.
        origin = site_origin(site_url)
        if origin:
            self.settings.setdefault("page_config_data", {})["quanthubSiteOrigin"] = origin
        immutable = set(self.settings.get("static_immutable_cache", []))
        self.settings["static_immutable_cache"] = sorted(
            immutable | self._labextension_static_urls()
        )

    def initialize_handlers(self) -> None:
        self.handlers.append(("/quanthub/share", ShareHandler))

    def _labextension_static_urls(self) -> set[str]:
        """The URL prefixes, with this server's base URL, of every prebuilt lab extension's
        ``static`` directory, for each JupyterLab-based application of this server: the
        prefixes jupyterlab_server marks immutable, as its handlers serve them."""
        base_url = self.serverapp.base_url
        urls = set()
        for apps in self.serverapp.extension_manager.extension_apps.values():
            for app in apps:
                if not isinstance(app, LabServerApp):
                    continue
                for root in app.extra_labextensions_path + app.labextensions_path:
                    for static in glob(f"{glob_escape(root)}/**/static", recursive=True):
                        path = relpath(static, root).replace(os.sep, "/")
                        urls.add(url_path_join(base_url, app.labextensions_url, path) + "/")
        return urls

    def _credential(self) -> Credential:
        """The server's one credential: its QuantsiteContentsManager's, so a renewal by either
        serves both; with another contents manager, one of its own from the environment."""
        manager = self.serverapp.contents_manager if self.serverapp else None
        if isinstance(manager, QuantsiteContentsManager):
            return manager.credential
        return ServerCredential.from_environment()


def _jupyter_server_extension_points():
    return [{"module": "quanthub.share", "app": ShareApp}]
