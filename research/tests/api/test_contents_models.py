"""Jupyter's contents models over the store: saves from models, models from entries."""

import base64

import nbformat
import pytest

from quantsite.api import error_status
from research.api.contents_models import model_get, model_new, model_save
from research.exceptions import NotebookStoreError
from research.models import ContentEntry, ContentUploadChunk
from research.services.notebooks import entry_rename

pytestmark = pytest.mark.django_db


def notebook(text: str = "hello") -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    return {"type": "notebook", "format": "json", "content": nb}


def text(body: str) -> dict:
    return {"type": "file", "format": "text", "content": body}


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


@pytest.fixture
def bob(make_user):
    return make_user(username="bob")


def test_save_then_get_a_notebook(ada):
    model, created = model_save(user=ada, path="a.ipynb", model=notebook("one\ntwo"))

    got = model_get(user=ada, path="a.ipynb", require_hash=True)

    assert created
    assert model["type"] == "notebook" and model["content"] is None
    assert got["content"]["cells"][0]["source"] == "one\ntwo"
    assert got["format"] == "json"
    assert got["hash_algorithm"] == "sha256" and len(got["hash"]) == 64
    assert got["size"] == ContentEntry.objects.get(path="a.ipynb").size


def test_text_and_binary_files(ada):
    model_save(user=ada, path="t.txt", model=text("héllo"))
    blob = base64.b64encode(b"\x00\xffdata").decode()
    model_save(user=ada, path="b.bin", model={"type": "file", "format": "base64", "content": blob})

    assert model_get(user=ada, path="t.txt")["content"] == "héllo"
    assert model_get(user=ada, path="b.bin")["format"] == "base64"
    with pytest.raises(NotebookStoreError) as error:
        model_get(user=ada, path="b.bin", format="text")
    assert error_status(error.value) == 400


def test_users_never_see_each_others_files(ada, bob):
    model_save(user=ada, path="secret.ipynb", model=notebook())

    with pytest.raises(NotebookStoreError) as error:
        model_get(user=bob, path="secret.ipynb")

    assert error_status(error.value) == 404
    assert model_get(user=bob, path="")["content"] == []


@pytest.mark.parametrize(
    "model",
    [
        {"type": "notebook", "content": "not a dict"},
        {"type": "notebook", "content": {"cells": "nope", "nbformat": 4}},
        {"type": "notebook", "content": {"cells": [], "nbformat": 3}},
        {"type": "file", "content": 12},
        {"type": "file", "format": "hex", "content": "00"},
        {"type": "spreadsheet", "content": ""},
        {"content": "no type"},
    ],
)
def test_malformed_models_are_refused_and_the_stored_version_stays(ada, model):
    model_save(user=ada, path="keep.ipynb", model=notebook("original"))

    with pytest.raises(NotebookStoreError) as error:
        model_save(user=ada, path="keep.ipynb", model=model)

    assert error_status(error.value) == 400
    kept = model_get(user=ada, path="keep.ipynb")
    assert kept["content"]["cells"][0]["source"] == "original"


def test_a_chunked_upload_answers_with_the_whole_file_at_its_last_chunk(ada):
    parts = [(1, "Zmlyc3Qt"), (2, "c2Vjb25kLQ=="), (-1, "bGFzdA==")]  # first-, second-, last

    answers = [
        model_save(
            user=ada,
            path="up.bin",
            model={"type": "file", "format": "base64", "content": body, "chunk": chunk},
        )
        for chunk, body in parts
    ]

    assert [created for _, created in answers] == [True, False, False]
    assert answers[-1][0]["size"] == len(b"first-second-last")
    assert model_get(user=ada, path="up.bin")["content"] == "first-second-last"  # UTF-8: text
    assert not ContentUploadChunk.objects.exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda user: model_save(
            user=user, path="t.txt", model={"type": "file", "content": "a\udc80"}
        ),
        lambda user: model_save(
            user=user, path="t\udc80.txt", model={"type": "file", "content": ""}
        ),
        lambda user: entry_rename(user=user, old_path="a.txt", new_path="b\udc80.txt"),
        lambda user: model_new(user=user, path="", model={"copy_from": "a\udc80.txt"}),
        lambda user: model_new(user=user, path="", model={"type": "file", "ext": ".\ud800"}),
    ],
)
def test_lone_surrogates_are_refused_wherever_text_is_encoded(call, make_user):
    user = make_user()
    model_save(user=user, path="a.txt", model={"type": "file", "content": "a"})

    with pytest.raises(NotebookStoreError) as refused:
        call(user)

    assert error_status(refused.value) == 400
    assert "surrogate" in refused.value.message
