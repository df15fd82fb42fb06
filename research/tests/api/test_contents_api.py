"""/api/contents (Jupyter's REST contents API) and the servers' credentials."""

import gzip
import json

import nbformat
import pytest
from oauth2_provider.models import AccessToken

from research.services.assignment import assignment_locate
from research.services.hubs import hub_stop
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db


def nb_body(text="hello"):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    return {"type": "notebook", "format": "json", "content": nb}


def call(client, method, path, body=None, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(
        f"/api/contents/{path}", data=data, content_type="application/json", **headers, **extra
    )


@pytest.fixture
def ada_session(client, make_user):
    user = make_user(username="ada")
    client.force_login(user)
    return client


def test_put_get_patch_delete_with_the_session(ada_session):
    created = call(ada_session, "put", "n.ipynb", nb_body())
    updated = call(ada_session, "put", "n.ipynb", nb_body("again"))
    got = ada_session.get("/api/contents/n.ipynb")
    renamed = call(ada_session, "patch", "n.ipynb", {"path": "m.ipynb"})
    deleted = ada_session.delete("/api/contents/m.ipynb")

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.headers["Location"] == "/api/contents/n.ipynb"
    assert got.json()["content"]["cells"][0]["source"] == "again"
    assert renamed.json()["path"] == "m.ipynb"
    assert deleted.status_code == 204
    assert ada_session.get("/api/contents/m.ipynb").status_code == 404


def test_format_and_type_query_parameters(ada_session):
    call(ada_session, "put", "t.txt", {"type": "file", "format": "text", "content": "x"})

    as_b64 = ada_session.get("/api/contents/t.txt", {"format": "base64"})
    as_dir = ada_session.get("/api/contents/t.txt", {"type": "directory"})
    root = ada_session.get("/api/contents")

    assert as_b64.json()["format"] == "base64"
    assert as_dir.status_code == 400
    assert [c["name"] for c in root.json()["content"]] == ["t.txt"]


def test_checkpoints_over_http(ada_session):
    call(ada_session, "put", "n.ipynb", nb_body("v1"))
    made = ada_session.post("/api/contents/n.ipynb/checkpoints")
    call(ada_session, "put", "n.ipynb", nb_body("v2"))

    restore = ada_session.post(f"/api/contents/n.ipynb/checkpoints/{made.json()['id']}")
    listing = ada_session.get("/api/contents/n.ipynb/checkpoints")

    assert made.status_code == 201
    assert restore.status_code == 204
    assert len(listing.json()) == 2
    assert ada_session.get("/api/contents/n.ipynb").json()["content"]["cells"][0]["source"] == "v1"


@pytest.mark.parametrize(
    ("raw", "status"),
    [("{not json", 400), ('"a string"', 400), ("[]", 400), ('{"type": "notebook"}', 400)],
)
def test_malformed_bodies_get_a_clear_400(ada_session, raw, status):
    response = ada_session.put("/api/contents/x.ipynb", data=raw, content_type="application/json")

    assert response.status_code == status
    assert "detail" in response.json()


def test_gzipped_request_bodies_are_accepted(ada_session):
    body = gzip.compress(json.dumps(nb_body("zipped")).encode())

    response = ada_session.put(
        "/api/contents/z.ipynb",
        data=body,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 201
    stored = ada_session.get("/api/contents/z.ipynb").json()
    assert stored["content"]["cells"][0]["source"] == "zipped"


def test_a_broken_gzip_body_is_a_400(ada_session):
    response = ada_session.put(
        "/api/contents/z.ipynb",
        data=b"not gzip",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 400


def test_the_size_limit_answers_413_and_keeps_the_file(ada_session, settings):
    settings.NOTEBOOK_MAX_FILE_BYTES = 2000
    call(ada_session, "put", "f.txt", {"type": "file", "format": "text", "content": "keep"})

    response = call(
        ada_session, "put", "f.txt", {"type": "file", "format": "text", "content": "y" * 2001}
    )

    assert response.status_code == 413
    assert ada_session.get("/api/contents/f.txt").json()["content"] == "keep"


def test_anonymous_is_refused(client):
    assert client.get("/api/contents").status_code == 401


# -- the servers' credentials ----------------------------------------------------------------


@pytest.fixture
def hub_with_users(client, make_hub, make_user):
    hub = make_hub("hub-1")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=ada)
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    return hub, token, ada, bob


def server_token(client, hub_discovery_token, username):
    return client.post(
        "/api/discovery/tokens",
        data=json.dumps({"user": username}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {hub_discovery_token}",
    )


def test_a_hub_gets_a_server_token_for_its_user_that_reaches_their_files_only(
    client, hub_with_users
):
    _hub, discovery, _ada, bob = hub_with_users
    client.force_login(bob)
    call(client, "put", "bobs.ipynb", nb_body("bob's"))
    client.logout()

    issued = server_token(client, discovery, "ada")
    token = issued.json()["token"]
    own = call(client, "put", "adas.ipynb", nb_body("ada's"), token=token)
    other = client.get("/api/contents/bobs.ipynb", HTTP_AUTHORIZATION=f"Bearer {token}")
    listing = client.get("/api/contents", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert issued.status_code == 201
    assert set(issued.json()) == {"token", "expires_at"}
    assert own.status_code == 201
    assert other.status_code == 404
    assert [c["name"] for c in listing.json()["content"]] == ["adas.ipynb"]


def test_a_hub_cannot_get_tokens_for_users_placed_elsewhere(client, hub_with_users, make_hub):
    _hub, discovery, _ada, bob = hub_with_users
    other = make_hub("hub-2")
    assignment_locate(user=bob)  # bob goes to hub-2, the emptier one

    response = server_token(client, discovery, "bob")
    nobody = server_token(client, discovery, "nobody")

    assert other.name == "hub-2"
    assert response.status_code == 403
    assert nobody.status_code == 403


def test_a_server_token_stops_working_when_the_assignment_ends(client, hub_with_users):
    hub, discovery, _ada, _bob = hub_with_users
    token = server_token(client, discovery, "ada").json()["token"]
    assert client.get("/api/contents", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    hub_stop(hub=hub)

    assert client.get("/api/contents", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert not AccessToken.objects.filter(scope="notebooks").exists()


def test_a_users_session_cannot_ask_for_server_tokens(client, hub_with_users):
    _hub, _discovery, ada, _bob = hub_with_users
    client.force_login(ada)

    response = client.post(
        "/api/discovery/tokens", data=json.dumps({"user": "ada"}), content_type="application/json"
    )

    assert response.status_code == 403


# -- the site's pages ------------------------------------------------------------------------


def test_my_notebooks_lists_and_downloads(ada_session):
    call(ada_session, "put", "d", {"type": "directory"})
    call(ada_session, "put", "d/n.ipynb", nb_body("mine"))
    call(ada_session, "put", "notes.txt", {"type": "file", "format": "text", "content": "x"})

    page = ada_session.get("/research/notebooks")
    download = ada_session.get("/research/notebooks/download/d/n.ipynb")
    missing = ada_session.get("/research/notebooks/download/d/none.ipynb")

    html = page.content.decode()
    assert "d/n.ipynb" in html and "notes.txt" not in html
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="n.ipynb"'
    assert "".join(json.loads(download.content)["cells"][0]["source"]) == "mine"
    assert missing.status_code == 404


def test_large_responses_are_gzipped_for_clients_that_accept_it(ada_session):
    body = {"type": "file", "format": "text", "content": "word " * 40_000}
    call(ada_session, "put", "big.txt", body)

    zipped = ada_session.get("/api/contents/big.txt", HTTP_ACCEPT_ENCODING="gzip")
    plain = ada_session.get("/api/contents/big.txt")

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.content))["content"] == body["content"]
    assert "Content-Encoding" not in plain.headers
    assert plain.json()["content"] == body["content"]


def test_a_notebook_larger_than_the_general_api_cap_saves(ada_session):
    # The site's pages save through the session; a 3 MB notebook is over the 2 MB API cap.
    nb = nb_body("big")
    nb["content"]["cells"][0]["source"] = "x" * 3_000_000

    response = call(ada_session, "put", "big.ipynb", nb)

    assert response.status_code == 201
    assert response.json()["size"] > 3_000_000


def _nb(**changes):
    content = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    content.update(changes)
    return content


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("method", "path", "raw", "detail"),
    [
        ("put", "d.ipynb", '{"type": "file", "content": ' + _deep(500) + "}", "nested deeper"),
        ("put", "d.ipynb", _deep(100_000), "nested deeper"),
        ("patch", "d.ipynb", '{"path": ' + _deep(2000) + "}", "nested deeper"),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(nbformat=5)}),
            "nbformat 4",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(nbformat=99)}),
            "nbformat 4",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(nbformat="4")}),
            "nbformat 4",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(nbformat_minor="x")}),
            "nbformat_minor",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(cells=[{"source": "x"}])}),
            "cell_type",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps(
                {
                    "type": "notebook",
                    "content": _nb(cells=[{"cell_type": "code", "source": "", "outputs": {}}]),
                }
            ),
            "'outputs' must be a list",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps(
                {
                    "type": "notebook",
                    "content": _nb(
                        cells=[
                            {
                                "cell_type": "code",
                                "source": "",
                                "outputs": [{"output_type": "stream", "text": 5}],
                            }
                        ]
                    ),
                }
            ),
            "text",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps(
                {
                    "type": "notebook",
                    "content": _nb(cells=[{"cell_type": "code", "source": ["a", 1]}]),
                }
            ),
            "source",
        ),
        (
            "put",
            "n.ipynb",
            json.dumps({"type": "notebook", "content": _nb(metadata=[])}),
            "metadata",
        ),
        ("put", "n.ipynb", json.dumps({"type": "notebook", "content": _nb(cells=["x"])}), "cell 0"),
        ("put", "x", '{"type": ["a"]}', "'type' must be a string"),
        ("post", "", '{"type": ["a"]}', "'type' must be a string"),
        ("post", "", '{"type": "file", "ext": ["a"]}', "'ext' must be a string"),
        ("put", "x", '{"type": "file", "format": {"a": 1}, "content": ""}', "'format' must be"),
        (
            "put",
            "x",
            '{"type": "file", "content": "a", "chunk": true}',
            "'chunk' must be an integer",
        ),
        (
            "put",
            "x",
            '{"type": "file", "content": "a", "chunk": 1.5}',
            "'chunk' must be an integer",
        ),
        ("put", "x", '{"type": "file", "format": "text", "content": "\\udc80"}', "lone surrogate"),
        ("put", "x", '{"type": "file", "content": {"\\ud800": 1}}', "lone surrogate"),
        ("patch", "a.txt", '{"path": "b\\udc80.txt"}', "lone surrogate"),
        ("post", "", '{"copy_from": "a\\udc80.txt"}', "lone surrogate"),
        (
            "put",
            "n.ipynb",
            (
                '{"type": "notebook", "content": {"nbformat": 4, "nbformat_minor": 5,'
                ' "metadata": {}, "cells": [{"cell_type": "markdown", "metadata": {},'
                ' "source": "\\udc80"}]}}'
            ),
            "lone surrogate",
        ),
    ],
)
def test_malformed_models_are_a_clear_400_never_a_500(ada_session, method, path, raw, detail):
    call(ada_session, "put", "a.txt", {"type": "file", "format": "text", "content": "a"})

    response = getattr(ada_session, method)(
        f"/api/contents/{path}", data=raw, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    "checkpoint_id", ["²", "\u0661", "1²", "99999999999999999999999", "-1", "0x1"]
)
def test_checkpoint_ids_that_are_not_ascii_digits_are_404(ada_session, checkpoint_id):
    call(ada_session, "put", "n.ipynb", nb_body())

    restore = ada_session.post(f"/api/contents/n.ipynb/checkpoints/{checkpoint_id}")
    delete = ada_session.delete(f"/api/contents/n.ipynb/checkpoints/{checkpoint_id}")

    assert (restore.status_code, delete.status_code) == (404, 404)
    assert restore.json() == {"detail": f"No such checkpoint: {checkpoint_id}"}


def test_a_stored_nbformat_3_notebook_reads_as_nbformat_4(ada_session):
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": "old"},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "code", "input": "1 + 1", "language": "python", "outputs": []},
                    {"cell_type": "heading", "level": 1, "source": "Title"},
                ]
            }
        ],
    }
    # Uploaded as a file (bytes as they were on some disk), then read as a notebook.
    call(
        ada_session,
        "put",
        "old.ipynb",
        {"type": "file", "format": "text", "content": json.dumps(v3)},
    )

    response = ada_session.get("/api/contents/old.ipynb")

    assert response.status_code == 200
    cells = response.json()["content"]["cells"]
    assert [(c["cell_type"], c["source"]) for c in cells] == [
        ("code", "1 + 1"),
        ("markdown", "# Title"),
    ]


@pytest.mark.parametrize(
    "stored",
    [
        {"nbformat": 3, "worksheets": "x"},
        {"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "heading"}]}]},
        {"nbformat": 2},
        {"nbformat": 4, "cells": {}},
        {"nbformat": 4, "cells": [5]},
        {"nbformat": 99, "cells": []},
        [1, 2],
    ],
)
def test_a_stored_file_that_is_no_readable_notebook_is_a_400(ada_session, stored):
    call(
        ada_session,
        "put",
        "bad.ipynb",
        {"type": "file", "format": "text", "content": json.dumps(stored)},
    )

    response = ada_session.get("/api/contents/bad.ipynb")

    assert response.status_code == 400
    assert response.json() == {"detail": "Unreadable Notebook: bad.ipynb"}
