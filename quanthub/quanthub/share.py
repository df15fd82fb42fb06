"""The single-user server's side of *Share*: a jupyter_server extension whose handler takes the
share request from JupyterLab and forwards it to the site with this server's own credential
(scope ``notebooks``, from the hub at spawn), so the browser never holds a site token.

``POST {base_url}quanthub/share`` ``{"path", "title", "description", "tags", "showcase_cell"}``
→ the site's answer (``201 {"id", "version", "url"}``), or its error with its status.
"""

import json
import os

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

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
        site = os.environ.get("QUANTHUB_SITE_URL", "").rstrip("/")
        token = os.environ.get("QUANTHUB_CONTENTS_TOKEN", "")
        if not site or not token:
            raise web.HTTPError(503, "This server has no site credential to share with.")
        request = HTTPRequest(
            f"{site}/api/community/shares",
            method="POST",
            body=json.dumps({k: body[k] for k in FIELDS if k in body}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            request_timeout=60,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            self.set_status(error.code if error.response is not None else 502)
            self.finish(
                error.response.body
                if error.response is not None
                else json.dumps({"detail": "The site did not answer."})
            )
            return
        self.set_status(response.code)
        self.finish(response.body)


def _load_jupyter_server_extension(server_app) -> None:
    web_app = server_app.web_app
    route = url_path_join(web_app.settings["base_url"], "quanthub", "share")
    web_app.add_handlers(".*$", [(route, ShareHandler)])


def _jupyter_server_extension_points():
    return [{"module": "quanthub.share"}]
