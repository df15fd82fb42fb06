"""jupyter_server's test_api.py (the REST contents API), unchanged, served by a real
jupyter_server whose contents manager is QuantsiteContentsManager."""

import pytest
from tests.services.contents.test_api import *  # noqa: F403


@pytest.fixture
def jp_argv(quantsite, site_user):
    return [
        "--ServerApp.contents_manager_class=quanthub.contents.QuantsiteContentsManager",
        f"--QuantsiteContentsManager.site_url={quantsite}",
        f"--QuantsiteContentsManager.api_token={site_user[1]}",
    ]


@pytest.fixture
def contents_dir(tmp_path):
    # Upstream passes this to _check_created below; nothing is on disk here.
    return tmp_path


@pytest.fixture
def _check_created(jp_base_url, site_user):
    """Upstream's check, with the file looked for in the user's store instead of on disk."""
    import json as _json

    import tornado.escape

    from research.selectors.notebooks import entry_get

    def _inner(r, contents_dir, path, name, type="notebook"):
        fpath = path + "/" + name
        assert r.code == 201
        location = jp_base_url + "api/contents/" + tornado.escape.url_escape(fpath, plus=False)
        assert r.headers["Location"] == location
        model = _json.loads(r.body.decode())
        assert model["name"] == name
        assert model["path"] == fpath
        assert model["type"] == type
        stored = entry_get(user=site_user[0], path=fpath)
        assert (stored.type == "directory") == (type == "directory")

    return _inner
