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


async def test_the_post_of_a_path_is_read_from_the_site(jp_fetch, jp_serverapp, site_user):
    from community.models import Topic

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Shared")])
    await jp_serverapp.contents_manager.save({"type": "notebook", "content": nb}, "p.ipynb")
    first = {"path": "p.ipynb", "title": "Prefilled", "showcase_cell": 0}
    await jp_fetch(
        "quanthub",
        "share",
        method="POST",
        body=json.dumps({**first, "description": "Keep *me*", "tags": ["kept"]}),
    )
    # What the lab sends when the user changed nothing: no description, no tags.
    await jp_fetch("quanthub", "share", method="POST", body=json.dumps(first))

    response = await jp_fetch("quanthub", "share", params={"path": "p.ipynb"})

    topic = Topic.objects.get(author=site_user[0])
    assert response.code == 200
    assert json.loads(response.body) == {
        "id": topic.shared_notebook_id,
        "title": "Prefilled",
        "description": "Keep *me*",
        "tags": ["kept"],
        "url": f"/community/topics/{topic.pk}",
        "version": 2,
    }


async def test_a_path_never_shared_is_the_sites_404(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await jp_fetch("quanthub", "share", params={"path": "never.ipynb"})

    assert error.value.code == 404
    body = json.loads(error.value.response.body)
    assert body == {"detail": "You have not shared a notebook from this path."}


async def test_a_read_without_path_is_400(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        await jp_fetch("quanthub", "share")

    assert error.value.code == 400
