"""Each kind of community page has its Content-Security-Policy: forum pages the site's one policy
(scripts by nonce only, so no user markup runs; the same document lives across soft
navigation), and user content, a document of its own, is sandboxed and inert."""

import re

import nbformat
import pytest

from community.models import SharedNotebookVersion
from community.services.sharing import shared_notebook_share
from community.tests.images import png_b64
from community.tests.policies import directives
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

SITE = {
    "default-src": "'self'",
    "script-src": "'nonce-(the response's own)'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "img-src": "'self' data:",
    "style-src": "'self' 'unsafe-inline'",
    "frame-src": "'self'",
    "frame-ancestors": "'none'",
}
RENDER = {
    "sandbox": "allow-scripts",
    "default-src": "'none'",
    "script-src": "'nonce-(the response's own)'",
    "img-src": "'self' data:",
    "style-src": "'unsafe-inline'",
    "frame-ancestors": "'self'",
}
USER_CONTENT = {"sandbox": "", "default-src": "'none'", "frame-ancestors": "'none'"}
UNAVAILABLE = {"default-src": "'self'", "script-src": "'none'", "frame-ancestors": "'self'"}


@pytest.fixture
def version(ada, django_capture_on_commit_callbacks) -> SharedNotebookVersion:
    """ada's shared notebook with a chart, rendered."""
    chart = nbformat.v4.new_code_cell("plot()")
    chart.outputs = [nbformat.v4.new_output("display_data", {"image/png": png_b64()})]
    notebook_save(user=ada, path="s.ipynb", notebook=nbformat.v4.new_notebook(cells=[chart]))
    with django_capture_on_commit_callbacks(execute=True):
        shared = shared_notebook_share(user=ada, path="s.ipynb", title="M", description="")
    return SharedNotebookVersion.objects.get(pk=shared.pk)


def policy(response) -> dict[str, str]:
    """The response's directives, its nonce (checked to be the one its scripts carry) named."""
    found = directives(response.headers["Content-Security-Policy"])
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9+/=]{24})'", found.get("script-src", ""))
    if nonce:
        assert f'nonce="{nonce[1]}"' in response.content.decode()
        found["script-src"] = "'nonce-(the response's own)'"
    return found


@pytest.mark.parametrize("path", ["/community", "/community/users/ada", "/community/new"])
def test_forum_pages_have_the_sites_policy(client, ada, path):
    assert policy(client.get(path)) == SITE


def test_a_topic_page_has_the_sites_policy(client, version):
    assert policy(client.get(f"/community/topics/{version.shared.topic.pk}")) == SITE


def test_a_rendered_notebook_has_the_render_policy(client, version):
    assert policy(client.get(f"/community/renders/{version.pk}.html")) == RENDER


@pytest.mark.parametrize("name", ["thumbnail.png", "download"])
def test_a_versions_files_are_inert_user_content(client, version, name):
    assert policy(client.get(f"/community/versions/{version.pk}/{name}")) == USER_CONTENT


def test_the_store_unavailable_page_may_show_in_the_forums_frame(
    client, version, settings, tmp_path
):
    (tmp_path / "not-a-folder").write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "not-a-folder" / "media"},
        },
    }

    response = client.get(f"/community/renders/{version.pk}.html")

    assert response.status_code == 503
    assert policy(response) == UNAVAILABLE


def test_a_page_that_is_not_found_has_the_sites_policy(client):
    assert policy(client.get("/community/topics/999")) == SITE
