"""Against a site one release behind (it knows the contents API's JSON models, not notebook
files), quanthub's manager still saves and reads notebooks: a rolling release may upgrade hubs
before the site. The site is a stub on loopback that answers as that release did."""

import json

import nbformat
import pytest
from quanthub_stubs import Loopback
from tornado import web

from quanthub.contents import QuantsiteContentsManager

pytestmark = pytest.mark.anyio

MODEL = {
    "name": "a.ipynb",
    "path": "a.ipynb",
    "type": "notebook",
    "format": None,
    "mimetype": None,
    "content": None,
    "created": "2026-12-02T10:00:00Z",
    "last_modified": "2026-12-02T10:00:00Z",
    "size": 10,
    "writable": True,
    "hash": None,
    "hash_algorithm": None,
}


class PreviousContentsHandler(web.RequestHandler):
    """The previous release's ``/api/contents/<path>``: JSON models only; any other body type
    is DRF's 415, and ``Accept`` is not looked at."""

    def initialize(self, stored: dict) -> None:
        self.stored = stored

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated only."""

    def put(self, path):
        if self.request.headers.get("Content-Type") != "application/json":
            self.set_status(415)
            self.finish({"detail": 'Unsupported media type "application/x-ipynb+json".'})
            return
        self.stored[path] = json.loads(self.request.body)["content"]
        self.finish(MODEL)

    def get(self, path):
        self.finish({**MODEL, "format": "json", "content": self.stored[path]})


@pytest.fixture
async def previous_site():  # async: the server serves on the test's event loop
    stored: dict = {}
    site = Loopback([(r"/api/contents/(.+)", PreviousContentsHandler, {"stored": stored})])
    site.start()
    yield site, stored
    site.stop()


async def test_a_notebook_is_saved_and_read_as_a_json_model(previous_site):
    site, stored = previous_site
    manager = QuantsiteContentsManager(site_url=site.url, api_token="server-token")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])

    saved = await manager.save({"type": "notebook", "content": nb}, "a.ipynb")
    read = await manager.get("a.ipynb")

    assert saved["path"] == "a.ipynb"
    assert stored["a.ipynb"]["cells"][0]["source"] == "1 + 1"
    assert read["content"].cells[0].source == "1 + 1"
    assert isinstance(read["content"], nbformat.NotebookNode)
