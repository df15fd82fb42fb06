"""/api/contents with notebooks as their files' bytes (application/x-ipynb+json), the way
quanthub's manager saves and reads them; and the JSON contract beside it, unchanged."""

import gzip
import hashlib
import json

import nbformat
import pytest
from cryptography.fernet import Fernet

from research.models import ContentCheckpoint, ContentEntry

pytestmark = pytest.mark.django_db

IPYNB = "application/x-ipynb+json"


def notebook_file(text="hello", **changes) -> bytes:
    """A notebook's bytes as Jupyter's file manager writes them to disk."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)], **changes)
    return (nbformat.writes(nb, version=nbformat.NO_CONVERT) + "\n").encode()


def put_file(client, path, data, **extra):
    return client.put(f"/api/contents/{path}", data=data, content_type=IPYNB, **extra)


def get_file(client, path, **params):
    return client.get(f"/api/contents/{path}", params, HTTP_ACCEPT=f"{IPYNB}, application/json")


@pytest.fixture
def ada_session(client, make_user):
    client.force_login(make_user(username="ada"))
    return client


def test_a_saved_notebook_file_reads_back_as_the_same_bytes_with_its_model(ada_session):
    data = notebook_file("first")

    saved = put_file(ada_session, "n.ipynb", data)
    got = get_file(ada_session, "n.ipynb")

    assert saved.status_code == 201
    assert saved.headers["Location"] == "/api/contents/n.ipynb"
    assert saved.json()["type"] == "notebook"
    assert saved.json()["size"] == len(data)
    assert saved.json()["content"] is None
    assert got.status_code == 200
    assert got.headers["Content-Type"] == IPYNB
    assert "Accept" in got.headers["Vary"]
    assert got.content == data
    model = json.loads(got.headers["Contents-Model"])
    assert {k: model[k] for k in ("name", "path", "type", "size", "writable", "content")} == {
        "name": "n.ipynb",
        "path": "n.ipynb",
        "type": "notebook",
        "size": len(data),
        "writable": True,
        "content": None,
    }
    assert model["last_modified"] == saved.json()["last_modified"]


def test_the_bytes_are_stored_as_sent_not_as_the_site_would_write_them(ada_session):
    # Compact JSON, keys unsorted: a JSON model's save would store nbformat's indent=1 form.
    body = {"nbformat_minor": 5, "nbformat": 4, "metadata": {}, "cells": []}
    data = json.dumps(body, separators=(",", ":")).encode()

    replaced = [
        put_file(ada_session, "c.ipynb", notebook_file()),
        put_file(ada_session, "c.ipynb", data),
    ]

    assert [r.status_code for r in replaced] == [201, 200]
    assert get_file(ada_session, "c.ipynb").content == data
    assert bytes(ContentEntry.objects.get(path="c.ipynb").content) == data


def test_a_hash_asked_for_is_the_sha256_of_the_bytes(ada_session):
    data = notebook_file("hashed")
    put_file(ada_session, "h.ipynb", data)

    model = json.loads(get_file(ada_session, "h.ipynb", hash="1").headers["Contents-Model"])

    assert model["hash"] == hashlib.sha256(data).hexdigest()
    assert model["hash_algorithm"] == "sha256"


def test_with_encryption_the_bytes_are_sealed_at_rest_and_read_back_the_same(ada_session, settings):
    settings.NOTEBOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    data = notebook_file("sealed words")

    put_file(ada_session, "s.ipynb", data)
    got = get_file(ada_session, "s.ipynb")

    row = ContentEntry.objects.get(path="s.ipynb")
    assert b"sealed words" not in bytes(row.content)
    assert row.key_id != ""
    assert got.content == data
    assert ada_session.get("/api/contents/s.ipynb").json()["content"]["cells"][0]["source"] == (
        "sealed words"
    )


def test_a_notebook_saved_as_a_file_reads_as_the_same_notebook_through_json(ada_session):
    data = notebook_file("both ways")
    put_file(ada_session, "j.ipynb", data)

    model = ada_session.get("/api/contents/j.ipynb").json()

    assert model["format"] == "json"
    assert model["content"] == json.loads(json.dumps(nbformat.reads(data, as_version=4)))


def test_a_notebook_saved_as_json_reads_as_nbformats_file(ada_session):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    ada_session.put(
        "/api/contents/m.ipynb",
        data=json.dumps({"type": "notebook", "format": "json", "content": nb}),
        content_type="application/json",
    )

    got = get_file(ada_session, "m.ipynb")

    assert got.headers["Content-Type"] == IPYNB
    assert got.content == nbformat.writes(nb, version=nbformat.NO_CONVERT).encode()


def test_the_first_save_makes_the_checkpoint_a_restore_goes_back_to(ada_session):
    first, second = notebook_file("v1"), notebook_file("v2")
    put_file(ada_session, "k.ipynb", first)
    put_file(ada_session, "k.ipynb", second)
    checkpoint = ada_session.get("/api/contents/k.ipynb/checkpoints").json()

    restored = ada_session.post(f"/api/contents/k.ipynb/checkpoints/{checkpoint[0]['id']}")

    assert len(checkpoint) == 1
    assert restored.status_code == 204
    assert get_file(ada_session, "k.ipynb").content == first


def test_a_gzipped_notebook_file_is_inflated_and_stored_as_its_bytes(ada_session):
    data = notebook_file("zipped")

    saved = put_file(ada_session, "z.ipynb", gzip.compress(data), HTTP_CONTENT_ENCODING="gzip")

    assert saved.status_code == 201
    assert get_file(ada_session, "z.ipynb").content == data


def test_another_content_encoding_is_a_415(ada_session):
    response = put_file(ada_session, "z.ipynb", notebook_file(), HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    assert not ContentEntry.objects.filter(path="z.ipynb").exists()


def test_a_notebook_file_over_the_size_limit_is_a_413_and_keeps_the_notebook(ada_session, settings):
    kept = notebook_file("kept")
    put_file(ada_session, "big.ipynb", kept)
    settings.NOTEBOOK_MAX_FILE_BYTES = len(kept) + 10

    response = put_file(ada_session, "big.ipynb", notebook_file("x" * 100))

    assert response.status_code == 413
    assert get_file(ada_session, "big.ipynb").content == kept


def _bad(**cell) -> bytes:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    return json.dumps(nb).encode()


# What is no notebook file: not JSON, not UTF-8, no object, not nbformat 4, or a notebook of
# the wrong shape where the JSON model's save would refuse it too.
NOT_NOTEBOOKS = {
    "empty": b"",
    "not json": b"{not json",
    "a list": b"[]",
    "a string": b'"notebook"',
    "invalid UTF-8": b'{"nbformat": 4, "cells": [], "metadata": {"a": "\xff"}}',
    "a lone surrogate": b'{"nbformat": 4, "cells": [], "metadata": {"a": "\\ud800"}}',
    "a byte order mark": b'\xef\xbb\xbf{"nbformat": 4, "cells": []}',
    "NaN": b'{"nbformat": 4, "cells": [], "metadata": {"a": NaN}}',
    "trailing bytes": b'{"nbformat": 4, "cells": []} x',
    "nbformat 3": b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}',
    "nbformat a string": b'{"nbformat": "4", "cells": []}',
    "cells an object": b'{"nbformat": 4, "cells": {}}',
    "metadata a list": b'{"nbformat": 4, "cells": [], "metadata": []}',
    "a cell a number": b'{"nbformat": 4, "cells": [5]}',
    "no cell_type": _bad(source="x"),
    "source a number": _bad(cell_type="markdown", source=5),
    "outputs an object": _bad(cell_type="code", source="", outputs={}),
    "an output without output_type": _bad(cell_type="code", source="", outputs=[{}]),
    "nested too deep": b'{"nbformat": 4, "cells": [], "metadata": {"a": '
    + b"[" * 100
    + b"]" * 100
    + b"}}",
}


@pytest.mark.parametrize("data", NOT_NOTEBOOKS.values(), ids=NOT_NOTEBOOKS.keys())
def test_what_is_no_notebook_file_is_a_400_and_changes_nothing(ada_session, data):
    kept = notebook_file("kept")
    put_file(ada_session, "kept.ipynb", kept)
    stamp = ContentEntry.objects.get(path="kept.ipynb").last_modified

    over = put_file(ada_session, "kept.ipynb", data)
    new = put_file(ada_session, "new.ipynb", data)

    assert (over.status_code, new.status_code) == (400, 400)
    assert "detail" in over.json()
    assert get_file(ada_session, "kept.ipynb").content == kept
    assert ContentEntry.objects.get(path="kept.ipynb").last_modified == stamp
    assert not ContentEntry.objects.filter(path="new.ipynb").exists()
    assert ContentCheckpoint.objects.count() == 1


def test_a_notebook_nested_to_the_limit_saves(ada_session):
    data = b'{"nbformat": 4, "cells": [], "metadata": {"a": ' + b"[" * 98 + b"]" * 98 + b"}}"

    assert put_file(ada_session, "deep.ipynb", data).status_code == 201


@pytest.mark.parametrize(
    ("path", "status"),
    [("", 400), ("missing/n.ipynb", 404), ("dir", 400)],
)
def test_a_notebook_file_where_none_can_be_saved_is_refused(ada_session, path, status):
    ada_session.put(
        "/api/contents/dir", data=json.dumps({"type": "directory"}), content_type="application/json"
    )
    url = f"/api/contents/{path}" if path else "/api/contents"

    response = ada_session.put(url, data=notebook_file(), content_type=IPYNB)

    assert response.status_code == status


def test_what_is_not_a_notebook_answers_its_json_model_to_a_notebook_file_reader(ada_session):
    ada_session.put(
        "/api/contents/d.ipynb",
        data=json.dumps({"type": "directory"}),
        content_type="application/json",
    )
    ada_session.put(
        "/api/contents/t.txt",
        data=json.dumps({"type": "file", "format": "text", "content": "words"}),
        content_type="application/json",
    )
    data = notebook_file()
    put_file(ada_session, "n.ipynb", data)

    directory = ada_session.get("/api/contents/d.ipynb", HTTP_ACCEPT=IPYNB)  # Accept: only that
    text = get_file(ada_session, "t.txt")
    as_file = get_file(ada_session, "n.ipynb", type="file")
    no_content = get_file(ada_session, "n.ipynb", content="0")
    root = get_file(ada_session, "")

    assert directory.status_code == 200
    assert directory.json()["type"] == "directory"
    assert text.json()["content"] == "words"
    assert as_file.json()["type"] == "file"
    assert as_file.json()["content"] == data.decode()
    assert no_content.json()["content"] is None
    assert no_content.headers["Content-Type"] == "application/json"
    assert [c["name"] for c in root.json()["content"]] == ["d.ipynb", "n.ipynb", "t.txt"]


def test_errors_answer_json_to_a_notebook_file_reader(ada_session):
    missing = get_file(ada_session, "missing.ipynb")
    bad_type = get_file(ada_session, "n.ipynb", type="spreadsheet")

    assert missing.status_code == 404
    assert missing.json()["detail"] == "No such file or directory: missing.ipynb"
    assert bad_type.status_code == 400


def test_stored_bytes_that_are_no_notebook_are_given_as_they_are(ada_session):
    # Saved as a text file; the reader parses it and says it is unreadable, as from a disk.
    ada_session.put(
        "/api/contents/bad.ipynb",
        data=json.dumps({"type": "file", "format": "text", "content": "not a notebook"}),
        content_type="application/json",
    )

    got = get_file(ada_session, "bad.ipynb")
    as_json = ada_session.get("/api/contents/bad.ipynb")

    assert got.content == b"not a notebook"
    assert as_json.status_code == 400


def test_the_model_header_carries_any_path_as_ascii_json(ada_session):
    ada_session.put(
        "/api/contents/%C3%A9t%C3%A9",
        data=json.dumps({"type": "directory"}),
        content_type="application/json",
    )
    put_file(ada_session, "%C3%A9t%C3%A9/r%C3%A9sum%C3%A9%20%E2%82%AC.ipynb", notebook_file())

    got = get_file(ada_session, "%C3%A9t%C3%A9/r%C3%A9sum%C3%A9%20%E2%82%AC.ipynb")

    assert got.headers["Contents-Model"].isascii()
    model = json.loads(got.headers["Contents-Model"])
    assert (model["path"], model["name"]) == ("été/résumé €.ipynb", "résumé €.ipynb")


def test_a_server_token_saves_and_reads_notebook_files(client, make_user):
    user = make_user(username="grace")
    token = _notebooks_token(user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    data = notebook_file("token")

    saved = put_file(client, "t.ipynb", data, **headers)
    got = client.get("/api/contents/t.ipynb", HTTP_ACCEPT=IPYNB, **headers)
    anonymous = client.put("/api/contents/t.ipynb", data=data, content_type=IPYNB)

    assert saved.status_code == 201
    assert got.content == data
    assert anonymous.status_code == 401


def _notebooks_token(user) -> str:
    import datetime as dt

    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    token = AccessToken(
        user=user, scope="notebooks", expires=timezone.now() + dt.timedelta(hours=1)
    )
    raw = f"notebook-files-{user.username}-0123456789abcdef"
    set_token_value(token, raw)
    token.save()
    return raw
