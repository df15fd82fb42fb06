"""quanthub's own test of the share handler, in a real jupyter_server (pytest-jupyter) whose
share requests go to the running site with the server's credential."""

import json

import nbformat
import pytest
import tornado


@pytest.fixture
def jp_server_config(quantsite, site_user, monkeypatch):
    monkeypatch.setenv("QUANTHUB_SITE_URL", quantsite)
    monkeypatch.setenv("QUANTHUB_CONTENTS_TOKEN", site_user[1])
    return {
        "ServerApp": {
            "jpserver_extensions": {"quanthub.share": True},
            "contents_manager_class": "quanthub.contents.QuantsiteContentsManager",
        },
        "QuantsiteContentsManager": {"site_url": quantsite, "api_token": site_user[1]},
    }


async def test_share_is_forwarded_to_the_site(jp_fetch, jp_serverapp, site_user):
    from community.models import SharedNotebookVersion

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Shared")])
    await jp_serverapp.contents_manager.save({"type": "notebook", "content": nb}, "s.ipynb")

    response = await jp_fetch(
        "quanthub",
        "share",
        method="POST",
        body=json.dumps({"path": "s.ipynb", "title": "From the lab", "showcase_cell": 0}),
    )

    body = json.loads(response.body)
    assert response.code == 201
    assert body["version"] == 1 and body["url"].startswith("/community/topics/")
    assert SharedNotebookVersion.objects.get(shared__author=site_user[0]).number == 1


async def test_site_errors_come_back_with_their_status(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await jp_fetch(
            "quanthub",
            "share",
            method="POST",
            body=json.dumps({"path": "missing.ipynb", "title": "Nope", "showcase_cell": 0}),
        )

    assert error.value.code == 404
