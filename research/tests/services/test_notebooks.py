"""The notebook store: files, directories, limits, isolation, copies, uploads, encryption."""

import datetime as dt
import hashlib
import threading

import nbformat
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quantsite.api import error_status
from research.exceptions import (
    BadNotebook,
    CopyTooLarge,
    EntryExists,
    InvalidModel,
    InvalidPath,
    NoSuchEntry,
    NotebookStoreError,
    TooLarge,
)
from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk
from research.selectors.notebooks import (
    checkpoint_list,
    directory_list,
    entry_get,
    file_get,
    file_read,
    notebook_read,
)
from research.services.checkpoints import checkpoint_create, checkpoint_restore
from research.services.notebooks import (
    directory_create,
    entry_copy,
    entry_delete,
    entry_rename,
    file_save,
    notebook_file_save,
    notebook_save,
    untitled_create,
    upload_chunk_save,
)

pytestmark = pytest.mark.django_db


def notebook(text: str = "hello") -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


@pytest.fixture
def bob(make_user):
    return make_user(username="bob")


def test_users_never_see_each_others_files(ada, bob):
    notebook_save(user=ada, path="secret.ipynb", notebook=notebook())

    with pytest.raises(NoSuchEntry) as error:
        notebook_read(user=bob, path="secret.ipynb")

    assert error_status(error.value) == 404
    assert directory_list(user=bob, path="") == []


@pytest.mark.parametrize(
    "path",
    ["../bob/x.ipynb", "a/../../x", "./x", "a\x00b", "a\x01b", "x" * 256, "/".join(["d"] * 600)],
)
def test_bad_paths_are_refused_and_nothing_is_written(ada, path):
    with pytest.raises(InvalidPath) as error:
        file_save(user=ada, path=path, data=b"x")

    assert error_status(error.value) == 400
    assert not ContentEntry.objects.exists()


def test_a_file_over_the_limit_is_refused_with_413_and_the_old_version_kept(ada, settings):
    settings.NOTEBOOK_MAX_FILE_BYTES = 1000
    file_save(user=ada, path="f.txt", data=b"small")

    with pytest.raises(TooLarge) as error:
        file_save(user=ada, path="f.txt", data=b"x" * 1001)

    assert error_status(error.value) == 413
    assert "1000 bytes" in error.value.message
    assert file_read(user=ada, path="f.txt") == ("f.txt", b"small")


def test_directories_listing_rename_and_delete(ada):
    directory_create(user=ada, path="d")
    directory_create(user=ada, path="d/sub")
    notebook_save(user=ada, path="d/sub/n.ipynb", notebook=notebook())
    file_save(user=ada, path="d/.hidden", data=b"h")
    checkpoint_create(user=ada, path="d/sub/n.ipynb")

    listing = directory_list(user=ada, path="d")
    entry_rename(user=ada, old_path="d", new_path="e")
    moved = entry_get(user=ada, path="e/sub/n.ipynb")
    checkpoints_after_move = checkpoint_list(user=ada, path="e/sub/n.ipynb")
    entry_delete(user=ada, path="e")

    assert [c.name for c in listing] == ["sub"]
    assert moved.path == "e/sub/n.ipynb"
    assert len(checkpoints_after_move) == 2  # the first save's, and ours
    assert not ContentEntry.objects.filter(user=ada).exists()
    assert not ContentCheckpoint.objects.exists()


def test_rename_onto_an_existing_file_is_a_conflict(ada):
    file_save(user=ada, path="a.txt", data=b"a")
    file_save(user=ada, path="b.txt", data=b"b")

    with pytest.raises(EntryExists) as error:
        entry_rename(user=ada, old_path="a.txt", new_path="b.txt")

    assert error_status(error.value) == 409
    assert file_read(user=ada, path="b.txt") == ("b.txt", b"b")


def test_untitled_names_and_copies_follow_jupyter(ada):
    first = untitled_create(user=ada, directory="", kind="notebook")
    second = untitled_create(user=ada, directory="", kind="notebook")
    folder = untitled_create(user=ada, directory="", kind="directory")
    folder2 = untitled_create(user=ada, directory="", kind="directory")
    copy = entry_copy(user=ada, from_path="Untitled.ipynb", to_path="")

    assert [first.name, second.name] == ["Untitled.ipynb", "Untitled1.ipynb"]
    assert [folder.name, folder2.name] == ["Untitled Folder", "Untitled Folder 1"]
    assert copy.name == "Untitled-Copy1.ipynb"


def test_a_directory_copy_takes_its_tree_with_the_stored_bytes_as_they_are(ada):
    directory_create(user=ada, path="d")
    directory_create(user=ada, path="d/sub")
    file_save(user=ada, path="d/sub/t.txt", data=b"deep")

    copy = entry_copy(user=ada, from_path="d", to_path="e/f")

    assert copy.path == "e/f/d"
    assert sorted(
        ContentEntry.objects.filter(path__startswith="e").values_list("path", "parent")
    ) == [
        ("e", ""),
        ("e/f", "e"),
        ("e/f/d", "e/f"),
        ("e/f/d/sub", "e/f/d"),
        ("e/f/d/sub/t.txt", "e/f/d/sub"),
    ]
    assert file_read(user=ada, path="e/f/d/sub/t.txt") == ("t.txt", b"deep")


def test_a_copy_too_large_is_refused_by_the_sizes_before_any_bytes_are_read(ada, settings):
    directory_create(user=ada, path="d")
    file_save(user=ada, path="d/a.bin", data=b"a" * 600)
    file_save(user=ada, path="d/b.bin", data=b"b" * 600)
    settings.NOTEBOOK_MAX_COPY_BYTES = 1000

    with CaptureQueriesContext(connection) as queries, pytest.raises(CopyTooLarge) as error:
        entry_copy(user=ada, from_path="d", to_path="")

    assert error_status(error.value) == 400
    assert error.value.message == "d is too large to copy (1200 bytes)."
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert any("SUM(" in sql for sql in selects)
    assert not any('"content"' in sql for sql in selects)
    assert ContentEntry.objects.filter(user=ada).count() == 3


@pytest.mark.parametrize(
    "change",
    [
        lambda user: file_save(user=user, path="f.txt", data=b"b"),
        lambda user: entry_rename(user=user, old_path="f.txt", new_path="g.txt"),
        lambda user: checkpoint_restore(
            user=user, path="f.txt", checkpoint_id=checkpoint_list(user=user, path="f.txt")[0].pk
        ),
    ],
)
def test_last_modified_never_goes_backwards_behind_a_faster_clock(change, make_user):
    # Another copy of the site, whose clock runs an hour ahead, wrote the file last.
    user = make_user()
    file_save(user=user, path="f.txt", data=b"a")
    checkpoint_create(user=user, path="f.txt")
    ahead = timezone.now() + dt.timedelta(hours=1)
    ContentEntry.objects.filter(user=user).update(last_modified=ahead)

    change(user)

    assert ContentEntry.objects.get(user=user).last_modified >= ahead


# -- chunked uploads ---------------------------------------------------------------------------


def _chunks(user, path: str, parts: list[bytes]) -> list:
    numbers = [*range(1, len(parts)), -1]
    return [
        upload_chunk_save(user=user, path=path, data=part, chunk=number)
        for part, number in zip(parts, numbers, strict=True)
    ]


def test_a_chunked_upload_joins_its_chunks_in_order(ada):
    _chunks(ada, "big.bin", [b"one-", b"two-", b"three-", b"end"])

    entry = ContentEntry.objects.get(user=ada, path="big.bin")
    assert file_read(user=ada, path="big.bin") == ("big.bin", b"one-two-three-end")
    assert (entry.size, len(entry.hash)) == (17, 64)
    assert not ContentUploadChunk.objects.exists()


def test_a_chunk_stages_its_own_bytes_and_never_rewrites_the_earlier_ones(ada):
    first, second = b"A" * 50_000, b"B" * 50_000
    upload_chunk_save(user=ada, path="big.bin", data=first, chunk=1)

    with CaptureQueriesContext(connection) as queries:
        upload_chunk_save(user=ada, path="big.bin", data=second, chunk=2)

    written = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))
    ]
    assert len(written) == 1 and written[0].startswith('INSERT INTO "research_contentuploadchunk"')
    # The queries carry this chunk's bytes once (shown as hex, two characters a byte), not the
    # first chunk's too: re-sending both would take four characters a byte.
    assert sum(len(q["sql"]) for q in queries.captured_queries) < 3 * len(second)
    assert list(ContentUploadChunk.objects.values_list("size", flat=True)) == [50_000]
    assert file_read(user=ada, path="big.bin")[1] == first  # the file as the first chunk left it


def test_a_chunked_upload_over_the_limit_is_refused_by_the_sizes_already_stored(ada, settings):
    settings.NOTEBOOK_MAX_FILE_BYTES = 1000
    upload_chunk_save(user=ada, path="big.bin", data=b"a" * 400, chunk=1)
    upload_chunk_save(user=ada, path="big.bin", data=b"b" * 400, chunk=2)

    with CaptureQueriesContext(connection) as queries, pytest.raises(TooLarge) as error:
        upload_chunk_save(user=ada, path="big.bin", data=b"c" * 400, chunk=-1)

    assert error_status(error.value) == 413
    assert error.value.message.startswith("The file is 1200 bytes")
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not any('"content"' in sql for sql in selects)
    assert file_read(user=ada, path="big.bin")[1] == b"a" * 400


def test_a_chunk_without_a_first_one_or_numbered_zero_is_refused(ada):
    with pytest.raises(InvalidModel) as orphan:
        upload_chunk_save(user=ada, path="big.bin", data=b"x", chunk=2)
    file_save(user=ada, path="big.bin", data=b"x")
    with pytest.raises(InvalidModel) as zero:
        upload_chunk_save(user=ada, path="big.bin", data=b"x", chunk=0)

    assert orphan.value.message == "No first chunk for big.bin"
    assert zero.value.message == "chunk must be 1, 2, ... or -1 for the last."


def test_a_new_first_chunk_or_a_whole_save_drops_an_abandoned_uploads_chunks(ada):
    upload_chunk_save(user=ada, path="a.bin", data=b"1", chunk=1)
    upload_chunk_save(user=ada, path="a.bin", data=b"2", chunk=2)  # then abandoned
    upload_chunk_save(user=ada, path="a.bin", data=b"new-", chunk=1)
    upload_chunk_save(user=ada, path="a.bin", data=b"end", chunk=-1)
    upload_chunk_save(user=ada, path="b.bin", data=b"1", chunk=1)
    upload_chunk_save(user=ada, path="b.bin", data=b"2", chunk=2)  # then abandoned
    file_save(user=ada, path="b.bin", data=b"whole")

    assert file_read(user=ada, path="a.bin")[1] == b"new-end"
    assert file_read(user=ada, path="b.bin")[1] == b"whole"
    assert not ContentUploadChunk.objects.exists()


def test_a_chunked_upload_with_encryption_seals_each_chunk_and_the_joined_file(ada, settings):
    settings.NOTEBOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    upload_chunk_save(user=ada, path="s.txt", data=b"secret one ", chunk=1)
    upload_chunk_save(user=ada, path="s.txt", data=b"secret two ", chunk=2)
    staged = bytes(ContentUploadChunk.objects.get().content)

    upload_chunk_save(user=ada, path="s.txt", data=b"secret end", chunk=-1)

    assert b"secret" not in staged
    assert b"secret" not in bytes(ContentEntry.objects.get(path="s.txt").content)
    assert file_read(user=ada, path="s.txt")[1] == b"secret one secret two secret end"


# -- encryption at rest ------------------------------------------------------------------------


def test_encryption_at_rest_and_key_rotation(ada, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.NOTEBOOK_ENCRYPTION_KEYS = [old]
    notebook_save(user=ada, path="n.ipynb", notebook=notebook("sealed words"))
    file_save(user=ada, path="plain.txt", data=b"plain words")
    stored = bytes(ContentEntry.objects.get(path="n.ipynb").content)

    settings.NOTEBOOK_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_notebook_keys", "--batch-size", "1", "--limit", "1", stdout=None)
    halfway = set(ContentEntry.objects.exclude(type="directory").values_list("key_id", flat=True))
    call_command("rotate_notebook_keys", stdout=None)
    settings.NOTEBOOK_ENCRYPTION_KEYS = [new]

    assert b"sealed words" not in stored
    assert len(halfway) == 2  # stopped after one row: one row on each key, both readable
    assert notebook_read(user=ada, path="n.ipynb")["cells"][0]["source"] == "sealed words"
    assert file_read(user=ada, path="plain.txt")[1] == b"plain words"
    assert set(ContentCheckpoint.objects.values_list("key_id", flat=True)) == {
        ContentEntry.objects.get(path="n.ipynb").key_id
    }


def test_key_rotation_reseals_the_staged_chunks_of_an_upload_in_progress(ada, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.NOTEBOOK_ENCRYPTION_KEYS = [old]
    upload_chunk_save(user=ada, path="up.txt", data=b"up ", chunk=1)
    upload_chunk_save(user=ada, path="up.txt", data=b"load ", chunk=2)

    settings.NOTEBOOK_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_notebook_keys", stdout=None)
    settings.NOTEBOOK_ENCRYPTION_KEYS = [new]  # the old key is gone mid-upload
    upload_chunk_save(user=ada, path="up.txt", data=b"done", chunk=-1)

    assert file_read(user=ada, path="up.txt")[1] == b"up load done"


# -- notebooks as their files' bytes ------------------------------------------------------------


def notebook_file(text: str = "hello") -> bytes:
    return (nbformat.writes(notebook(text), version=nbformat.NO_CONVERT) + "\n").encode()


def test_a_notebook_file_is_stored_as_its_bytes_sized_hashed_and_checkpointed(ada):
    data = notebook_file("as sent")

    entry, created = notebook_file_save(user=ada, path="n.ipynb", data=data)

    row = ContentEntry.objects.get(pk=entry.pk)
    assert created
    assert bytes(row.content) == data
    assert (row.size, row.hash) == (len(data), hashlib.sha256(data).hexdigest())
    assert [bytes(c.content) for c in ContentCheckpoint.objects.filter(entry=row)] == [data]
    assert notebook_read(user=ada, path="n.ipynb").cells[0].source == "as sent"


def test_a_notebook_file_that_is_no_notebook_writes_nothing(ada):
    with pytest.raises(BadNotebook):
        notebook_file_save(user=ada, path="n.ipynb", data=b'{"nbformat": 4, "cells": [7]}')

    assert not ContentEntry.objects.exists()


def test_a_notebook_file_over_the_limit_is_refused_before_it_is_parsed(ada, settings):
    settings.NOTEBOOK_MAX_FILE_BYTES = 10

    with pytest.raises(TooLarge):
        notebook_file_save(user=ada, path="n.ipynb", data=b"not even JSON, and too long")


def test_bytes_read_back_are_the_bytes_stored_all_256_values(ada):
    data = bytes(range(256)) * 1000
    file_save(user=ada, path="all.bin", data=data)

    assert entry_get(user=ada, path="all.bin", with_content=True).content == data
    assert file_read(user=ada, path="all.bin") == ("all.bin", data)
    with transaction.atomic():
        locked = file_get(user=ada, path="all.bin", with_content=True, lock=True)
    assert (locked.content, locked.size, locked.user_id) == (data, len(data), ada.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # outside the test's own transaction
def test_a_row_lock_with_the_bytes_needs_a_transaction(ada):
    file_save(user=ada, path="f.txt", data=b"x")

    with pytest.raises(TransactionManagementError):
        file_get(user=ada, path="f.txt", with_content=True, lock=True)


def test_encryption_off_stores_plain_bytes(ada):
    file_save(user=ada, path="p.txt", data=b"visible")

    entry = ContentEntry.objects.get(path="p.txt")

    assert entry.key_id == ""
    assert bytes(entry.content) == b"visible"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_file_leave_one_whole_version(make_user):
    user = make_user(username="cy")
    versions = [f"version {i} ".encode() * 1000 for i in range(8)]
    errors = []
    barrier = threading.Barrier(len(versions))

    def save(data):
        try:
            barrier.wait()
            file_save(user=user, path="race.txt", data=data)
        except NotebookStoreError as error:
            errors.append(error_status(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    final = file_read(user=user, path="race.txt")[1]
    assert final in versions
    assert ContentEntry.objects.filter(user=user, path="race.txt").count() == 1
    assert set(errors) <= {409}
