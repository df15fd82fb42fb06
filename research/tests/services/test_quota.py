"""The per-user storage quota (NOTEBOOK_USER_QUOTA_BYTES): what counts, what is refused."""

import threading

import nbformat
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quantsite.api import error_status
from research.exceptions import QuotaExceeded
from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk
from research.notebook_format import notebook_bytes
from research.selectors.notebooks import checkpoint_list, file_read
from research.services.checkpoints import checkpoint_create, checkpoint_restore
from research.services.notebooks import (
    directory_create,
    entry_copy,
    entry_delete,
    file_save,
    notebook_save,
    upload_chunk_save,
)
from research.services.quota import stored_sizes

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


def used(user) -> int:
    return stored_sizes(user=user, used=True)["used"]


def sums(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SUM(" in q["sql"]]


def reads_content(queries) -> bool:
    return any(
        q["sql"].startswith("SELECT") and '"content"' in q["sql"] for q in queries.captured_queries
    )


def test_files_checkpoints_and_staged_chunks_all_count(ada, make_user):
    file_save(user=ada, path="f.txt", data=b"f" * 100)
    checkpoint_create(user=ada, path="f.txt")
    upload_chunk_save(user=ada, path="big.bin", data=b"1" * 10, chunk=1)
    upload_chunk_save(user=ada, path="big.bin", data=b"2" * 20, chunk=2)
    directory_create(user=ada, path="d")
    file_save(user=make_user(username="bob"), path="f.txt", data=b"b" * 999)

    assert used(ada) == 100 + 100 + 10 + 20


def test_a_save_over_the_quota_is_a_413_naming_both_sizes_and_changes_nothing(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    file_save(user=ada, path="a.txt", data=b"a" * 900)

    with pytest.raises(QuotaExceeded) as error:
        file_save(user=ada, path="b.txt", data=b"b" * 101)

    assert error_status(error.value) == 413
    assert error.value.message == (
        "Not enough storage space: this needs 101 bytes more, and you use 900 bytes of your "
        "1,000 bytes. Delete files or checkpoints to make room."
    )
    assert (error.value.used, error.value.needed, error.value.quota) == (900, 101, 1000)
    assert list(ContentEntry.objects.values_list("path", flat=True)) == ["a.txt"]


def test_a_save_that_fills_the_quota_exactly_is_taken(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    file_save(user=ada, path="a.txt", data=b"a" * 900)

    file_save(user=ada, path="b.txt", data=b"b" * 100)

    assert used(ada) == 1000


def test_overwriting_a_file_counts_the_difference_not_the_sum(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    file_save(user=ada, path="a.txt", data=b"a" * 600)

    file_save(user=ada, path="a.txt", data=b"A" * 1000)
    with pytest.raises(QuotaExceeded) as error:
        file_save(user=ada, path="b.txt", data=b"b")

    assert error.value.needed == 1
    assert file_read(user=ada, path="a.txt") == ("a.txt", b"A" * 1000)


def test_a_write_that_frees_space_is_taken_from_a_user_over_the_quota(ada, settings):
    file_save(user=ada, path="a.txt", data=b"a" * 800)
    settings.NOTEBOOK_USER_QUOTA_BYTES = 500  # lowered since

    file_save(user=ada, path="a.txt", data=b"a" * 700)
    with pytest.raises(QuotaExceeded):
        file_save(user=ada, path="a.txt", data=b"a" * 701)

    assert file_read(user=ada, path="a.txt")[1] == b"a" * 700


def test_a_new_notebook_counts_its_first_checkpoint_too(ada, settings):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hello")])
    size = len(notebook_bytes(nb))
    settings.NOTEBOOK_USER_QUOTA_BYTES = 2 * size - 1

    with pytest.raises(QuotaExceeded) as error:
        notebook_save(user=ada, path="n.ipynb", notebook=nb)
    settings.NOTEBOOK_USER_QUOTA_BYTES = 2 * size
    notebook_save(user=ada, path="n.ipynb", notebook=nb)

    assert error.value.needed == 2 * size
    assert used(ada) == 2 * size
    assert len(checkpoint_list(user=ada, path="n.ipynb")) == 1


def test_a_chunked_upload_is_refused_at_the_chunk_that_crosses(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    upload_chunk_save(user=ada, path="big.bin", data=b"a" * 400, chunk=1)
    upload_chunk_save(user=ada, path="big.bin", data=b"b" * 400, chunk=2)

    with CaptureQueriesContext(connection) as queries, pytest.raises(QuotaExceeded) as error:
        upload_chunk_save(user=ada, path="big.bin", data=b"c" * 400, chunk=-1)

    assert error_status(error.value) == 413
    assert (error.value.used, error.value.needed) == (800, 400)
    assert len(sums(queries)) == 1  # the file's staged bytes and the user's, in one query
    assert not reads_content(queries)
    assert list(ContentUploadChunk.objects.values_list("size", flat=True)) == [400]
    assert file_read(user=ada, path="big.bin")[1] == b"a" * 400


def test_a_new_first_chunk_counts_the_abandoned_chunks_it_drops(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    upload_chunk_save(user=ada, path="big.bin", data=b"a" * 400, chunk=1)
    upload_chunk_save(user=ada, path="big.bin", data=b"b" * 400, chunk=2)  # then abandoned

    upload_chunk_save(user=ada, path="big.bin", data=b"n" * 1000, chunk=1)

    assert used(ada) == 1000
    assert not ContentUploadChunk.objects.exists()


def test_a_copy_over_the_quota_is_refused_by_one_sum_and_creates_nothing(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    directory_create(user=ada, path="d")
    file_save(user=ada, path="d/a.bin", data=b"a" * 300)
    file_save(user=ada, path="d/b.bin", data=b"b" * 300)

    with CaptureQueriesContext(connection) as queries, pytest.raises(QuotaExceeded) as error:
        entry_copy(user=ada, from_path="d", to_path="e")

    assert (error.value.used, error.value.needed) == (600, 600)
    assert len(sums(queries)) == 1  # the copy's size and the user's total, in one query
    assert not reads_content(queries)
    assert sorted(ContentEntry.objects.values_list("path", flat=True)) == [
        "d",
        "d/a.bin",
        "d/b.bin",
    ]


def test_a_checkpoint_over_the_quota_is_refused_and_a_capped_one_needs_no_room(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    file_save(user=ada, path="a.txt", data=b"a" * 500)
    first = checkpoint_create(user=ada, path="a.txt")

    with pytest.raises(QuotaExceeded):
        checkpoint_create(user=ada, path="a.txt")
    settings.NOTEBOOK_MAX_CHECKPOINTS = 1  # the new one replaces the old: no room needed
    second = checkpoint_create(user=ada, path="a.txt")

    assert [c.pk for c in checkpoint_list(user=ada, path="a.txt")] == [second.pk]
    assert second.pk != first.pk
    assert used(ada) == 1000


def test_restoring_a_larger_checkpoint_counts_the_difference(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    file_save(user=ada, path="a.txt", data=b"a" * 400)
    checkpoint = checkpoint_create(user=ada, path="a.txt")
    file_save(user=ada, path="a.txt", data=b"b" * 100)
    file_save(user=ada, path="c.txt", data=b"c" * 401)

    with pytest.raises(QuotaExceeded) as error:
        checkpoint_restore(user=ada, path="a.txt", checkpoint_id=str(checkpoint.pk))
    entry_delete(user=ada, path="c.txt")
    checkpoint_restore(user=ada, path="a.txt", checkpoint_id=str(checkpoint.pk))

    assert (error.value.used, error.value.needed) == (901, 300)
    assert file_read(user=ada, path="a.txt")[1] == b"a" * 400


def test_a_save_sums_once_and_never_reads_content(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 10_000
    file_save(user=ada, path="a.txt", data=b"a" * 100)
    checkpoint_create(user=ada, path="a.txt")

    with CaptureQueriesContext(connection) as queries:
        file_save(user=ada, path="a.txt", data=b"b" * 200)

    assert len(sums(queries)) == 1
    assert not reads_content(queries)
    assert used(ada) == 300


def test_no_quota_when_it_is_zero_and_no_query_for_it(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 0
    file_save(user=ada, path="a.txt", data=b"a" * 100)

    with CaptureQueriesContext(connection) as queries:
        file_save(user=ada, path="b.txt", data=b"b" * 5000)

    assert sums(queries) == []
    assert used(ada) == 5100


def test_the_quota_defaults_to_one_gib(settings):
    assert settings.NOTEBOOK_USER_QUOTA_BYTES == 1024**3


def test_the_message_reads_large_sizes_in_binary_units(ada, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1024**3
    settings.NOTEBOOK_MAX_FILE_BYTES = 2 * 1024**3
    ContentEntry.objects.create(
        user=ada,
        path="huge.bin",
        name="huge.bin",
        type=ContentEntry.Type.FILE,
        content=b"",
        size=1024**3 - 1024,
        created="2026-01-01T00:00Z",
        last_modified="2026-01-01T00:00Z",
    )

    with pytest.raises(QuotaExceeded) as error:
        file_save(user=ada, path="more.bin", data=b"m" * 1536)

    assert error.value.message == (
        "Not enough storage space: this needs 1,536 bytes (1.5 KiB) more, and you use "
        "1,073,740,800 bytes (1.0 GiB) of your 1,073,741,824 bytes (1.0 GiB). Delete files "
        "or checkpoints to make room."
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_different_files_never_pass_the_quota_together(make_user, settings):
    settings.NOTEBOOK_USER_QUOTA_BYTES = 1000
    user = make_user(username="cy")
    paths = [f"f{i}.txt" for i in range(6)]
    refused = []
    barrier = threading.Barrier(len(paths))

    def save(path):
        try:
            barrier.wait()
            file_save(user=user, path=path, data=b"x" * 400)
        except QuotaExceeded:
            refused.append(path)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(refused) == 4
    assert ContentEntry.objects.filter(user=user).count() == 2
    assert used(user) == 800
    assert not ContentCheckpoint.objects.exists()
