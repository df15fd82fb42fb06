"""The notebook store: Jupyter semantics, limits, isolation, checkpoints, encryption."""

import base64
import datetime as dt
import threading

import nbformat
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from research.models import ContentCheckpoint, ContentEntry
from research.services.contents import (
    ContentsError,
    checkpoint_create,
    checkpoint_delete,
    checkpoint_list,
    checkpoint_restore,
    content_copy,
    content_delete,
    content_get,
    content_new,
    content_rename,
    content_save,
)

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
    model, created = content_save(user=ada, path="a.ipynb", model=notebook("one\ntwo"))

    got = content_get(user=ada, path="a.ipynb", require_hash=True)

    assert created
    assert model["type"] == "notebook" and model["content"] is None
    assert got["content"]["cells"][0]["source"] == "one\ntwo"
    assert got["format"] == "json"
    assert got["hash_algorithm"] == "sha256" and len(got["hash"]) == 64
    assert got["size"] == ContentEntry.objects.get(path="a.ipynb").size


def test_text_and_binary_files(ada):
    content_save(user=ada, path="t.txt", model=text("héllo"))
    blob = base64.b64encode(b"\x00\xffdata").decode()
    content_save(
        user=ada, path="b.bin", model={"type": "file", "format": "base64", "content": blob}
    )

    assert content_get(user=ada, path="t.txt")["content"] == "héllo"
    assert content_get(user=ada, path="b.bin")["format"] == "base64"
    with pytest.raises(ContentsError) as error:
        content_get(user=ada, path="b.bin", format="text")
    assert error.value.status_code == 400


def test_users_never_see_each_others_files(ada, bob):
    content_save(user=ada, path="secret.ipynb", model=notebook())

    with pytest.raises(ContentsError) as error:
        content_get(user=bob, path="secret.ipynb")

    assert error.value.status_code == 404
    assert content_get(user=bob, path="")["content"] == []


@pytest.mark.parametrize(
    "path",
    ["../bob/x.ipynb", "a/../../x", "./x", "a\x00b", "a\x01b", "x" * 256, "/".join(["d"] * 600)],
)
def test_bad_paths_are_refused_and_nothing_is_written(ada, path):
    with pytest.raises(ContentsError) as error:
        content_save(user=ada, path=path, model=text("x"))

    assert error.value.status_code == 400
    assert not ContentEntry.objects.exists()


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
    content_save(user=ada, path="keep.ipynb", model=notebook("original"))

    with pytest.raises(ContentsError) as error:
        content_save(user=ada, path="keep.ipynb", model=model)

    assert error.value.status_code == 400
    kept = content_get(user=ada, path="keep.ipynb")
    assert kept["content"]["cells"][0]["source"] == "original"


def test_a_file_over_the_limit_is_refused_with_413_and_the_old_version_kept(ada, settings):
    settings.NOTEBOOK_MAX_FILE_BYTES = 1000
    content_save(user=ada, path="f.txt", model=text("small"))

    with pytest.raises(ContentsError) as error:
        content_save(user=ada, path="f.txt", model=text("x" * 1001))

    assert error.value.status_code == 413
    assert "1000 bytes" in error.value.message
    assert content_get(user=ada, path="f.txt")["content"] == "small"


def test_directories_listing_rename_and_delete(ada):
    content_save(user=ada, path="d", model={"type": "directory"})
    content_save(user=ada, path="d/sub", model={"type": "directory"})
    content_save(user=ada, path="d/sub/n.ipynb", model=notebook())
    content_save(user=ada, path="d/.hidden", model=text("h"))
    checkpoint_create(user=ada, path="d/sub/n.ipynb")

    listing = content_get(user=ada, path="d")
    content_rename(user=ada, old_path="d", new_path="e")
    moved = content_get(user=ada, path="e/sub/n.ipynb", content=False)
    checkpoints_after_move = checkpoint_list(user=ada, path="e/sub/n.ipynb")
    content_delete(user=ada, path="e")

    assert [c["name"] for c in listing["content"]] == ["sub"]
    assert moved["path"] == "e/sub/n.ipynb"
    assert len(checkpoints_after_move) == 2  # the first save's, and ours
    assert not ContentEntry.objects.filter(user=ada).exists()
    assert not ContentCheckpoint.objects.exists()


def test_rename_onto_an_existing_file_is_a_conflict(ada):
    content_save(user=ada, path="a.txt", model=text("a"))
    content_save(user=ada, path="b.txt", model=text("b"))

    with pytest.raises(ContentsError) as error:
        content_rename(user=ada, old_path="a.txt", new_path="b.txt")

    assert error.value.status_code == 409
    assert content_get(user=ada, path="b.txt")["content"] == "b"


def test_untitled_names_and_copies_follow_jupyter(ada):
    first = content_new(user=ada, path="", model={"type": "notebook"})
    second = content_new(user=ada, path="", model={"type": "notebook"})
    folder = content_new(user=ada, path="", model={"type": "directory"})
    folder2 = content_new(user=ada, path="", model={"type": "directory"})
    copy = content_copy(user=ada, from_path="Untitled.ipynb", to_path="")

    assert [first["name"], second["name"]] == ["Untitled.ipynb", "Untitled1.ipynb"]
    assert [folder["name"], folder2["name"]] == ["Untitled Folder", "Untitled Folder 1"]
    assert copy["name"] == "Untitled-Copy1.ipynb"


def test_checkpoints_create_list_restore_delete(ada, settings):
    content_save(user=ada, path="n.ipynb", model=notebook("v1"))
    first = checkpoint_list(user=ada, path="n.ipynb")[0]  # made by the first save
    content_save(user=ada, path="n.ipynb", model=notebook("v2"))
    second = checkpoint_create(user=ada, path="n.ipynb")
    content_save(user=ada, path="n.ipynb", model=notebook("v3"))

    checkpoint_restore(user=ada, path="n.ipynb", checkpoint_id=first["id"])
    restored = content_get(user=ada, path="n.ipynb")["content"]["cells"][0]["source"]
    checkpoint_delete(user=ada, path="n.ipynb", checkpoint_id=second["id"])

    assert restored == "v1"
    assert [c["id"] for c in checkpoint_list(user=ada, path="n.ipynb")] == [first["id"]]
    with pytest.raises(ContentsError) as error:
        checkpoint_restore(user=ada, path="n.ipynb", checkpoint_id=second["id"])
    assert error.value.status_code == 404


def test_checkpoints_are_pruned_to_the_newest_n(ada, settings):
    settings.NOTEBOOK_CHECKPOINTS_KEEP = 2
    content_save(user=ada, path="n.ipynb", model=notebook())
    made = [checkpoint_create(user=ada, path="n.ipynb")["id"] for _ in range(3)]

    assert [c["id"] for c in checkpoint_list(user=ada, path="n.ipynb")] == made[1:]


def test_encryption_at_rest_and_key_rotation(ada, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.NOTEBOOK_ENCRYPTION_KEYS = [old]
    content_save(user=ada, path="n.ipynb", model=notebook("sealed words"))
    content_save(user=ada, path="plain.txt", model=text("plain words"))
    stored = bytes(ContentEntry.objects.get(path="n.ipynb").content)

    settings.NOTEBOOK_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_notebook_keys", "--batch-size", "1", "--limit", "1", stdout=None)
    halfway = set(ContentEntry.objects.exclude(type="directory").values_list("key_id", flat=True))
    call_command("rotate_notebook_keys", stdout=None)
    settings.NOTEBOOK_ENCRYPTION_KEYS = [new]

    assert b"sealed words" not in stored
    assert len(halfway) == 2  # stopped after one row: one row on each key, both readable
    assert content_get(user=ada, path="n.ipynb")["content"]["cells"][0]["source"] == "sealed words"
    assert content_get(user=ada, path="plain.txt")["content"] == "plain words"
    assert set(ContentCheckpoint.objects.values_list("key_id", flat=True)) == {
        ContentEntry.objects.get(path="n.ipynb").key_id
    }


def test_encryption_off_stores_plain_bytes(ada):
    content_save(user=ada, path="p.txt", model=text("visible"))

    entry = ContentEntry.objects.get(path="p.txt")

    assert entry.key_id == ""
    assert bytes(entry.content) == b"visible"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_file_leave_one_whole_version(make_user):
    user = make_user(username="cy")
    versions = [text(f"version {i} " * 1000) for i in range(8)]
    errors = []
    barrier = threading.Barrier(len(versions))

    def save(model):
        try:
            barrier.wait()
            content_save(user=user, path="race.txt", model=model)
        except ContentsError as error:
            errors.append(error.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    final = content_get(user=user, path="race.txt")["content"]
    assert final in [v["content"] for v in versions]
    assert ContentEntry.objects.filter(user=user, path="race.txt").count() == 1
    assert set(errors) <= {409}


@pytest.mark.parametrize(
    "call",
    [
        lambda user: content_save(
            user=user, path="t.txt", model={"type": "file", "content": "a\udc80"}
        ),
        lambda user: content_save(
            user=user, path="t\udc80.txt", model={"type": "file", "content": ""}
        ),
        lambda user: content_rename(user=user, old_path="a.txt", new_path="b\udc80.txt"),
        lambda user: content_new(user=user, path="", model={"copy_from": "a\udc80.txt"}),
        lambda user: content_new(user=user, path="", model={"type": "file", "ext": ".\ud800"}),
    ],
)
def test_lone_surrogates_are_refused_wherever_text_is_encoded(call, make_user):
    user = make_user()
    content_save(user=user, path="a.txt", model={"type": "file", "content": "a"})

    with pytest.raises(ContentsError) as refused:
        call(user)

    assert refused.value.status_code == 400
    assert "surrogate" in refused.value.message


@pytest.mark.parametrize(
    "change",
    [
        lambda user: content_save(user=user, path="f.txt", model={"type": "file", "content": "b"}),
        lambda user: content_rename(user=user, old_path="f.txt", new_path="g.txt"),
        lambda user: checkpoint_restore(
            user=user, path="f.txt", checkpoint_id=checkpoint_list(user=user, path="f.txt")[0]["id"]
        ),
    ],
)
def test_last_modified_never_goes_backwards_behind_a_faster_clock(change, make_user):
    # Another copy of the site, whose clock runs an hour ahead, wrote the file last.
    user = make_user()
    content_save(user=user, path="f.txt", model={"type": "file", "content": "a"})
    checkpoint_create(user=user, path="f.txt")
    ahead = timezone.now() + dt.timedelta(hours=1)
    ContentEntry.objects.filter(user=user).update(last_modified=ahead)

    change(user)

    assert ContentEntry.objects.get(user=user).last_modified >= ahead
