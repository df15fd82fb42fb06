"""Checkpoints: many per file, restorable, capped per file (NOTEBOOK_MAX_CHECKPOINTS)."""

import datetime as dt

import nbformat
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quantsite.api import error_status
from research.exceptions import IsADirectory, NoSuchEntry
from research.models import ContentCheckpoint
from research.selectors.notebooks import checkpoint_list, notebook_read
from research.services.checkpoints import checkpoint_create, checkpoint_delete, checkpoint_restore
from research.services.notebooks import directory_create, notebook_save

pytestmark = pytest.mark.django_db


def notebook(text: str = "hello") -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])


@pytest.fixture
def ada(make_user):
    return make_user(username="ada")


def test_checkpoints_create_list_restore_delete(ada, settings):
    notebook_save(user=ada, path="n.ipynb", notebook=notebook("v1"))
    first = checkpoint_list(user=ada, path="n.ipynb")[0]  # made by the first save
    notebook_save(user=ada, path="n.ipynb", notebook=notebook("v2"))
    second = checkpoint_create(user=ada, path="n.ipynb")
    notebook_save(user=ada, path="n.ipynb", notebook=notebook("v3"))

    checkpoint_restore(user=ada, path="n.ipynb", checkpoint_id=str(first.pk))
    restored = notebook_read(user=ada, path="n.ipynb")["cells"][0]["source"]
    checkpoint_delete(user=ada, path="n.ipynb", checkpoint_id=str(second.pk))

    assert restored == "v1"
    assert [c.pk for c in checkpoint_list(user=ada, path="n.ipynb")] == [first.pk]
    with pytest.raises(NoSuchEntry) as error:
        checkpoint_restore(user=ada, path="n.ipynb", checkpoint_id=str(second.pk))
    assert error_status(error.value) == 404


def test_checkpoints_are_pruned_to_the_newest_n(ada, settings):
    settings.NOTEBOOK_MAX_CHECKPOINTS = 2
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    made = [checkpoint_create(user=ada, path="n.ipynb").pk for _ in range(3)]

    assert [c.pk for c in checkpoint_list(user=ada, path="n.ipynb")] == made[1:]


def test_a_file_keeps_twenty_checkpoints_by_default_the_newest(ada, settings):
    assert settings.NOTEBOOK_MAX_CHECKPOINTS == 20
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    first = checkpoint_list(user=ada, path="n.ipynb")[0]  # made by the first save
    made = [checkpoint_create(user=ada, path="n.ipynb").pk for _ in range(21)]

    kept = [c.pk for c in checkpoint_list(user=ada, path="n.ipynb")]

    assert kept == made[-20:]
    assert first.pk not in kept
    assert ContentCheckpoint.objects.count() == 20


def test_the_cap_drops_the_oldest_in_the_checkpoints_own_transaction(ada, settings):
    settings.NOTEBOOK_MAX_CHECKPOINTS = 2
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    kept = checkpoint_create(user=ada, path="n.ipynb")

    with CaptureQueriesContext(connection) as queries:
        newest = checkpoint_create(user=ada, path="n.ipynb")

    # The test's transaction is open, so checkpoint_create's own is a savepoint around both.
    sql = [q["sql"] for q in queries.captured_queries]
    opened = next(i for i, q in enumerate(sql) if q.startswith("SAVEPOINT"))
    insert = next(i for i, q in enumerate(sql) if q.startswith('INSERT INTO "research_content'))
    delete = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "research_content'))
    released = next(i for i, q in enumerate(sql) if q.startswith("RELEASE SAVEPOINT"))
    assert opened < insert < delete < released
    assert [c.pk for c in checkpoint_list(user=ada, path="n.ipynb")] == [kept.pk, newest.pk]


def test_the_new_checkpoint_is_kept_even_behind_a_faster_clock(ada, settings):
    # Checkpoints another copy of the site stamped an hour ahead stay older than the new one.
    settings.NOTEBOOK_MAX_CHECKPOINTS = 2
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    older = [checkpoint_create(user=ada, path="n.ipynb").pk for _ in range(2)]
    ContentCheckpoint.objects.update(created=timezone.now() + dt.timedelta(hours=1))

    newest = checkpoint_create(user=ada, path="n.ipynb")

    kept = set(ContentCheckpoint.objects.values_list("pk", flat=True))
    assert newest.pk in kept
    assert len(kept) == 2 and kept & set(older)


def test_no_cap_keeps_every_checkpoint(ada, settings):
    settings.NOTEBOOK_MAX_CHECKPOINTS = 0
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    for _ in range(25):
        checkpoint_create(user=ada, path="n.ipynb")

    assert len(checkpoint_list(user=ada, path="n.ipynb")) == 26


def test_the_cap_counts_each_file_on_its_own(ada, settings):
    settings.NOTEBOOK_MAX_CHECKPOINTS = 1
    notebook_save(user=ada, path="a.ipynb", notebook=notebook())
    notebook_save(user=ada, path="b.ipynb", notebook=notebook())
    checkpoint_create(user=ada, path="a.ipynb")

    assert len(checkpoint_list(user=ada, path="a.ipynb")) == 1
    assert len(checkpoint_list(user=ada, path="b.ipynb")) == 1


def test_directories_have_no_checkpoints(ada):
    directory_create(user=ada, path="d")

    with pytest.raises(IsADirectory) as error:
        checkpoint_create(user=ada, path="d")

    assert error_status(error.value) == 400
    assert error.value.message == "d is a directory: directories have no checkpoints"
