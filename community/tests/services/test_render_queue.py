"""Queueing renders: after a share commits, and again by the sweep for versions left pending."""

import datetime as dt

import nbformat
import pytest
from django.utils import timezone

from community.models import SharedNotebookVersion
from community.services.render_queue import shared_notebook_render_sweep
from community.services.sharing import shared_notebook_share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def pending_version(user, path: str, *, age: dt.timedelta) -> SharedNotebookVersion:
    """A version of ``user``'s notebook at ``path`` shared ``age`` ago, its render task lost
    (the share's on-commit queueing never runs in this test's transaction)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Momentum")])
    notebook_save(user=user, path=path, notebook=nb)
    version = shared_notebook_share(user=user, path=path, title=path, description="")
    SharedNotebookVersion.objects.filter(pk=version.pk).update(created=timezone.now() - age)
    return version


def states() -> dict[str, str]:
    versions = SharedNotebookVersion.objects.select_related("shared")
    return {v.shared.source_path: v.render_state for v in versions}


def test_a_share_queues_its_render_after_commit(ada, django_capture_on_commit_callbacks):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Momentum")])
    notebook_save(user=ada, path="s.ipynb", notebook=nb)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shared_notebook_share(user=ada, path="s.ipynb", title="M", description="")
    before = states()
    for callback in callbacks:
        callback()

    assert before == {"s.ipynb": "pending"}
    assert states() == {"s.ipynb": "ready"}


def test_the_sweep_renders_versions_pending_over_a_minute_only(ada):
    pending_version(ada, "lost.ipynb", age=dt.timedelta(minutes=2))
    pending_version(ada, "fresh.ipynb", age=dt.timedelta(seconds=10))

    queued = shared_notebook_render_sweep()

    assert queued == 1
    assert states() == {"lost.ipynb": "ready", "fresh.ipynb": "pending"}


def test_a_second_sweep_finds_nothing_left(ada):
    pending_version(ada, "lost.ipynb", age=dt.timedelta(minutes=2))
    shared_notebook_render_sweep()

    assert shared_notebook_render_sweep() == 0
