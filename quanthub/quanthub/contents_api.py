"""The site's contents API (``/api/contents``) as quanthub's ContentsManager calls it.

``ContentsClient`` speaks the API's JSON over quanthub's one ``SiteClient`` (transport,
credential renewal, retries), adds optional gzip, and maps ``SiteError`` to the tornado
``HTTPError`` JupyterLab expects; ``dates`` turns the API's ISO timestamps into the datetimes
of Jupyter's models.
"""

import gzip
import json
from datetime import datetime
from urllib.parse import quote

from tornado import web

from quanthub.client import Credential, SiteClient, SiteError


def _datetime(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


def dates(model: dict) -> dict:
    """``model`` (and a directory's children) with ``created``/``last_modified`` as datetimes."""
    for key in ("created", "last_modified"):
        if key in model:
            model[key] = _datetime(model[key])
    if model.get("type") == "directory" and isinstance(model.get("content"), list):
        for child in model["content"]:
            dates(child)
    return model


class ContentsClient:
    """The manager's calls to the site's ``/api/contents``: JSON in and out, Jupyter errors.

    Transport, credential renewal and retries are quanthub's one ``SiteClient``'s; this adds
    the contents API's paths, optional gzip, and the mapping of ``SiteError`` to the
    ``HTTPError`` JupyterLab expects (a site outage is a 503 that says to try again).
    """

    def __init__(
        self, site_url: str, credential: Credential, timeout: float, compress_min_bytes: int
    ):
        self.base = "/api/contents"
        self.compress_min_bytes = compress_min_bytes
        encoding = "gzip" if compress_min_bytes else "identity"
        self.site = SiteClient(
            site_url, credential, timeout=timeout, headers={"Accept-Encoding": encoding}
        )
        self.http = self.site.http  # the pooled httpx client (its event hooks, for tests)

    def url(self, path: str, *suffix: str) -> str:
        parts = [quote(path.strip("/"))] if path.strip("/") else []
        return "/".join([self.base, *parts, *suffix])

    async def request(self, method: str, url: str, *, params=None, body=None):
        """A JSON call: ``body`` sent as JSON (gzip past ``compress_min_bytes``), the decoded
        answer returned; errors as ``send``'s."""
        headers, content = {}, None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        response = await self.send(method, url, params=params, content=content, headers=headers)
        return response.json() if response.content else None

    async def send(self, method: str, url: str, *, params=None, content=None, headers=None):
        """One call with ``content`` as it is (gzip past ``compress_min_bytes``): the
        ``httpx.Response``, whatever its type. A ``SiteError`` becomes the ``HTTPError``
        JupyterLab expects: a site outage or an unreachable site a 503 that says to try again,
        any other refusal its own status and message."""
        headers = dict(headers or {})
        if (
            content is not None
            and self.compress_min_bytes
            and (len(content) >= self.compress_min_bytes)
        ):
            content = gzip.compress(content, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            return await self.site.send(
                method, url, params=params, content=content, headers=headers
            )
        except SiteError as error:
            if error.status is None:
                raise web.HTTPError(
                    503, f"The notebook store is unreachable: {error.detail}"
                ) from None
            if error.outage:
                wait = f" in {error.retry_after:g} s" if error.retry_after else ""
                raise web.HTTPError(
                    503, f"The notebook store is briefly unavailable; try again{wait}."
                ) from None
            raise web.HTTPError(error.status, error.detail) from None
