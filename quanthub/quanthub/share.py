"""The single-user server's side of *Share*: a jupyter_server extension whose handler takes the
share request from JupyterLab and forwards it to the site with this server's own credential
(scope ``notebooks``; quanthub's site client renews it when refused), so the browser never
holds a site token.

``POST {base_url}quanthub/share`` ``{"path", "title", "description", "tags", "showcase_cell"}``
→ the site's answer (``201 {"id", "version", "url"}``), or its error with its status.
"""

import json
import os

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from quanthub.client import SiteClient, SiteError, server_credential

FIELDS = ("path", "title", "description", "tags", "showcase_cell")


class ShareHandler(APIHandler):
    @web.authenticated
    async def post(self):
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The body must be JSON.") from None
        if not isinstance(body, dict) or not all(k in body for k in ("path", "title")):
            raise web.HTTPError(400, "A share needs at least path and title.")
        site = self.settings.get("quanthub_site")
        if site is None:
            raise web.HTTPError(503, "This server has no site to share with.")
        try:
            # Not idempotent (each share makes a version): sent again only if never sent.
            response = await site.send(
                "POST",
                "/api/community/shares",
                json={k: body[k] for k in FIELDS if k in body},
                timeout=60,
            )
        except SiteError as error:
            self.set_status(error.status or 502)
            if error.retry_after:
                self.set_header("Retry-After", str(int(error.retry_after)))
            self.finish(error.body or json.dumps({"detail": error.detail}))
            return
        self.set_status(response.status_code)
        self.finish(response.content)


def _load_jupyter_server_extension(server_app) -> None:
    web_app = server_app.web_app
    site_url = os.environ.get("QUANTHUB_SITE_URL", "").rstrip("/")
    if site_url:
        web_app.settings["quanthub_site"] = SiteClient(site_url, server_credential())
    route = url_path_join(web_app.settings["base_url"], "quanthub", "share")
    web_app.add_handlers(".*$", [(route, ShareHandler)])


def _jupyter_server_extension_points():
    return [{"module": "quanthub.share"}]
