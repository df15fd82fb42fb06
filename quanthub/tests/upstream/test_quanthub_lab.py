"""What JupyterLab gets from quanthub on a single-user server: the site's origin in the page
config (from quanthub.share), the page config and server extensions of quanthub's Jupyter
config, and the prebuilt extension's files cached for good under a base URL, as behind
JupyterHub. A real jupyter_server with JupyterLab (pytest-jupyter, base URL ``/a%40b/``), on
the Jupyter paths that ``quanthub.configure`` gives servers."""

import json
import re
import sys
from pathlib import Path

import pytest
import tornado

from quanthub.config import JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR
from quanthub.share import site_origin

EXTENSION = JUPYTER_DATA_DIR / "labextensions" / "quanthub-share"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def site_url():
    return "https://Research.Example.org:443/quantsite/"


@pytest.fixture
def jp_server_config(site_url, monkeypatch, jp_env_config_path):
    # As the jupyter-lsp package enables itself, in the environment's config (which
    # JUPYTER_CONFIG_PATH, quanthub's, takes precedence over).
    enabling = Path(jp_env_config_path) / "jupyter_server_config.d" / "jupyter_lsp.json"
    enabling.parent.mkdir(parents=True, exist_ok=True)
    enabling.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_lsp": True}}}))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(JUPYTER_CONFIG_DIR))
    monkeypatch.setenv("JUPYTER_PATH", str(JUPYTER_DATA_DIR))
    if site_url:
        monkeypatch.setenv("QUANTHUB_SITE_URL", site_url)
    else:
        monkeypatch.delenv("QUANTHUB_SITE_URL", raising=False)
    # quanthub's jupyter_server_config.d/quanthub.json enables quanthub.share itself.
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterlab": True}},
        # The installed lab's assets (pytest-jupyter points the other Jupyter paths at
        # temporary directories).
        "LabApp": {"app_dir": str(Path(sys.prefix) / "share" / "jupyter" / "lab")},
    }


async def page_config(jp_fetch) -> dict:
    response = await jp_fetch("lab", method="GET")
    html = response.body.decode()
    data = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(data[1])


async def test_the_lab_knows_the_site_origin(jp_fetch):
    config = await page_config(jp_fetch)

    assert config["quanthubSiteOrigin"] == "https://research.example.org"


@pytest.mark.parametrize("site_url", [""])
async def test_without_a_site_the_lab_has_no_site_origin(jp_fetch):
    config = await page_config(jp_fetch)

    assert "quanthubSiteOrigin" not in config
    assert config["store_id"] == 0  # the page config itself is there


async def test_the_lab_runs_without_what_the_platform_does_not_use(jp_fetch, jp_serverapp):
    config = await page_config(jp_fetch)

    assert config["buildAvailable"] is False
    assert config["buildCheck"] is False
    assert set(config["disabledExtensions"]) == {
        "@jupyterlab/apputils-extension:announcements",
        "@jupyterlab/extensionmanager-extension:plugin",
        "@jupyterlab/pluginmanager-extension:plugin",
        "@jupyterlab/lsp-extension:plugin",
        "@jupyterlab/lsp-extension:feature",
        "@jupyterlab/lsp-extension:settings",
        "@jupyterlab/lsp-extension:code-extractor-manager",
        "@jupyterlab/lsp-extension:tracker",
        "@jupyterlab/notebook-extension:language-server",
        "@jupyterlab/fileeditor-extension:language-server",
    }
    # The language-server extension's server half is off too: no /lsp/status.
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await jp_fetch("lsp", "status", method="GET")
    assert error.value.code == 404
    assert jp_serverapp.extension_manager.extensions["jupyter_lsp"].enabled is False


async def test_prebuilt_extension_files_are_cached_for_good(jp_fetch):
    entry = json.loads((EXTENSION / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    assert entry.startswith("static/remoteEntry.")

    response = await jp_fetch("lab", "extensions", "quanthub-share", *entry.split("/"))
    metadata = await jp_fetch("lab", "extensions", "quanthub-share", "package.json")

    assert response.code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    # Only the hashed files of static/: the extension's package.json is revalidated.
    assert metadata.headers["Cache-Control"] == "no-cache"


async def test_the_lab_loads_the_prebuilt_extension(jp_fetch):
    config = await page_config(jp_fetch)

    names = {extension["name"]: extension for extension in config["federated_extensions"]}
    assert names["quanthub-share"]["load"].startswith("static/remoteEntry.")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("https://Quantsite.Example.com/base/path?q=1#x", "https://quantsite.example.com"),
        ("https://quantsite.example.com:443/", "https://quantsite.example.com"),
        ("http://quantsite.example.com:80", "http://quantsite.example.com"),
        ("http://quantsite.example.com:8443", "http://quantsite.example.com:8443"),
        ("https://user:secret@quantsite.example.com/", "https://quantsite.example.com"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("  http://127.0.0.1:8000  ", "http://127.0.0.1:8000"),
        ("", ""),
        ("quantsite.example.com", ""),
        ("ftp://quantsite.example.com", ""),
        ("http://127.0.0.1:port/", ""),
        ("file:///etc/passwd", ""),
    ],
)
def test_site_origin(url, origin):
    assert site_origin(url) == origin
