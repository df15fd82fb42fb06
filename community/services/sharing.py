"""Sharing a notebook from one's store to the forum, and cloning a shared one back."""

import hashlib
import posixpath

import nbformat
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F, Max

from community.models import SharedNotebook, SharedNotebookVersion, Topic
from community.sanitize import markdown_to_html
from community.services.forum import topic_tags_set
from quantsite.accounts.models import User
from research.services.contents import (
    ContentsError,
    content_get,
    content_save,
    increment_filename,
)


def storage():
    return storages["default"]


def store_immutable(data: bytes, suffix: str) -> str:
    """Save ``data`` under a key named by its SHA-256 (once; the same bytes share one object)."""
    key = f"shared/{hashlib.sha256(data).hexdigest()}{suffix}"
    if not storage().exists(key):
        storage().save(key, ContentFile(data))
    return key


def _showcase_index(nb, showcase_cell) -> int:
    """The showcase cell's index: as asked (an index or a cell id), else the cell JupyterLab's
    Share marked in its metadata, else the first cell."""
    cells = nb.get("cells", [])
    if not cells:
        raise ContentsError(400, "An empty notebook cannot be shared.")
    if showcase_cell is None:
        marked = (
            i
            for i, cell in enumerate(cells)
            if cell.get("metadata", {}).get("quanthub", {}).get("showcase") is True
        )
        return next(marked, 0)
    if isinstance(showcase_cell, bool) or not isinstance(showcase_cell, (int, str)):
        raise ContentsError(400, "showcase_cell must be a cell index or a cell id.")
    if isinstance(showcase_cell, int):
        if not 0 <= showcase_cell < len(cells):
            raise ContentsError(
                400,
                f"showcase_cell {showcase_cell} is out of range (the notebook has "
                f"{len(cells)} cells).",
            )
        return showcase_cell
    for index, cell in enumerate(cells):
        if cell.get("id") == showcase_cell:
            return index
    raise ContentsError(400, f"No cell with id {showcase_cell!r} in the notebook.")


def _lineage(nb) -> SharedNotebookVersion | None:
    """The shared version this notebook was cloned from, by the mark clone leaves in its
    metadata; None if there is none, it is malformed, or that version is gone."""
    mark = nb.get("metadata", {}).get("quantsite", {})
    origin = mark.get("cloned_from") if isinstance(mark, dict) else None
    if not isinstance(origin, dict):
        return None
    shared, number = origin.get("shared"), origin.get("version")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shared, number)):
        return None
    return SharedNotebookVersion.objects.filter(shared_id=shared, number=number).first()


def shared_notebook_share(
    *,
    user: User,
    path: str,
    title: str,
    description: str,
    showcase_cell=None,
    tags: list[str] | None = None,
) -> SharedNotebookVersion:
    """Share the notebook at ``path`` of ``user``'s store: a new version of its shared notebook
    (the first share also opens its forum topic). Rendering is queued after commit.

    ``tags`` (cleaned names) replace the topic's tags; None keeps them as they are.

    Raises ``ContentsError``: 404 no such notebook, 400 not a valid notebook or a bad
    showcase cell, 413 over the size limit.
    """
    model = content_get(user=user, path=path, type="notebook")
    nb = nbformat.from_dict(model["content"])
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        raise ContentsError(400, f"Not a valid notebook: {error.message}") from None
    index = _showcase_index(nb, showcase_cell)
    data = nbformat.writes(nb).encode()
    if len(data) > settings.NOTEBOOK_MAX_FILE_BYTES:
        raise ContentsError(413, "The notebook is over the size limit.")
    key = store_immutable(data, ".ipynb")
    origin = _lineage(nb)
    with transaction.atomic():
        shared, _ = SharedNotebook.objects.get_or_create(author=user, source_path=model["path"])
        shared = SharedNotebook.objects.select_for_update().get(pk=shared.pk)
        if origin is not None and origin.shared_id != shared.pk and shared.cloned_from is None:
            shared.cloned_from = origin
            shared.save(update_fields=["cloned_from"])
        number = (shared.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = SharedNotebookVersion.objects.create(
            shared=shared, number=number, ipynb_key=key, showcase_cell=index
        )
        topic, _ = Topic.objects.update_or_create(
            shared_notebook=shared,
            defaults={
                "author": user,
                "title": title,
                "body": description,
                "body_html": markdown_to_html(description),
            },
        )
        if tags is not None:
            topic_tags_set(topic, tags)
        from community.tasks import shared_notebook_render

        transaction.on_commit(lambda: shared_notebook_render.delay(version.pk))
    return version


@transaction.atomic
def shared_notebook_clone(*, version: SharedNotebookVersion, reader: User) -> str:
    """Copy the version's notebook into ``reader``'s store under ``cloned/`` (a free name);
    return the new path. The copy's metadata names the version it came from (lineage, should
    the reader share it in turn)."""
    with storage().open(version.ipynb_key, "rb") as handle:
        data = handle.read()
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    nb.metadata["quantsite"] = {
        "cloned_from": {"shared": version.shared_id, "version": version.number}
    }
    content_save(user=reader, path="cloned", model={"type": "directory"})
    name = increment_filename(reader, "cloned", posixpath.basename(version.shared.source_path))
    path = f"cloned/{name}"
    content_save(user=reader, path=path, model={"type": "notebook", "content": nb})
    Topic.objects.filter(shared_notebook_id=version.shared_id).update(
        clone_count=F("clone_count") + 1
    )
    return path
