"""Checkpoints: many per file, restorable, pruned by policy."""

import nbformat
import pytest

from quantsite.api import error_status
from research.exceptions import IsADirectory, NoSuchEntry
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
    settings.NOTEBOOK_CHECKPOINTS_KEEP = 2
    notebook_save(user=ada, path="n.ipynb", notebook=notebook())
    made = [checkpoint_create(user=ada, path="n.ipynb").pk for _ in range(3)]

    assert [c.pk for c in checkpoint_list(user=ada, path="n.ipynb")] == made[1:]


def test_directories_have_no_checkpoints(ada):
    directory_create(user=ada, path="d")

    with pytest.raises(IsADirectory) as error:
        checkpoint_create(user=ada, path="d")

    assert error_status(error.value) == 400
    assert error.value.message == "d is a directory: directories have no checkpoints"
