"""Sharing a notebook from one's store to the forum, and cloning a shared one back."""

import posixpath

import nbformat
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max

from community.exceptions import NotShareable, ShareTooLarge
from community.models import Clone, SharedNotebook, SharedNotebookVersion, Topic
from community.sanitize import markdown_to_html
from community.selectors import clone_origin
from community.services.forum import edit_check, topic_tags_set
from community.services.render_queue import shared_notebook_render_enqueue
from community.storage import store_immutable, stored_bytes
from quantsite.accounts.models import User
from research.paths import path_normalize
from research.selectors.notebooks import name_increment, notebook_read
from research.services.notebooks import directory_create, notebook_save


def _showcase_index(nb, showcase_cell) -> int:
    """The showcase cell's index: as asked (an index or a cell id), else the cell JupyterLab's
    Share marked in its metadata, else the first cell."""
    cells = nb.get("cells", [])
    if not cells:
        raise NotShareable("An empty notebook cannot be shared.")
    if showcase_cell is None:
        marked = (
            i
            for i, cell in enumerate(cells)
            if cell.get("metadata", {}).get("quanthub", {}).get("showcase") is True
        )
        return next(marked, 0)
    if isinstance(showcase_cell, bool) or not isinstance(showcase_cell, (int, str)):
        raise NotShareable("showcase_cell must be a cell index or a cell id.")
    if isinstance(showcase_cell, int):
        if not 0 <= showcase_cell < len(cells):
            raise NotShareable(
                f"showcase_cell {showcase_cell} is out of range (the notebook has "
                f"{len(cells)} cells).",
            )
        return showcase_cell
    for index, cell in enumerate(cells):
        if cell.get("id") == showcase_cell:
            return index
    raise NotShareable(f"No cell with id {showcase_cell!r} in the notebook.")


def shared_notebook_share(
    *,
    user: User,
    path: str,
    title: str,
    description: str | None = None,
    showcase_cell=None,
    tags: list[str] | None = None,
) -> SharedNotebookVersion:
    """Share the notebook at ``path`` of ``user``'s store: a new version of its shared notebook
    (the first share also opens its forum topic). Rendering is queued after commit; a broker
    that is down leaves the version pending for the sweep, and the share stands.

    A re-share edits the topic (its title, description and tags, and the notebook readers
    see), so the forum's one rule applies (``forum.may_edit``): a topic the moderators locked
    or hid is refused whole, no version added and no text changed, unless the sharer is staff.
    Lineage (``cloned_from``) comes from the server's ``Clone`` record of the sharer's own
    file, never from the notebook's metadata.

    ``title`` replaces the topic's title. ``description`` (Markdown) replaces its text, and
    ``tags`` (cleaned names) its tags; None keeps either as it is (a first share starts with
    no text and no tags), so that a re-share that changes neither (JupyterLab sends only what
    the user changed in its Share dialog) keeps them. A hub one release behind sends both on
    every share, an empty text and no tags when the user typed none, and those replace them,
    as they always did.

    Raises ``NoSuchEntry`` (404) for no such notebook, ``BadNotebook`` or ``NotShareable``
    (400) for a file that is not a valid notebook or a bad showcase cell, ``ShareTooLarge``
    (413) over the size limit; ``ForumPermissionDenied`` (403) for a locked or
    hidden topic; ``StorageUnavailable`` (503) when the file store fails.
    """
    path = path_normalize(path)
    nb = notebook_read(user=user, path=path)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        raise NotShareable(f"Not a valid notebook: {error.message}") from None
    index = _showcase_index(nb, showcase_cell)
    data = nbformat.writes(nb).encode()
    if len(data) > settings.NOTEBOOK_MAX_FILE_BYTES:
        raise ShareTooLarge("The notebook is over the size limit.")
    existing = Topic.objects.filter(
        shared_notebook__author=user, shared_notebook__source_path=path
    ).first()
    if existing is not None:  # refused before anything is stored
        edit_check(user, author_id=existing.author_id, topic=existing)
    key = store_immutable(data, ".ipynb")
    origin = clone_origin(user=user, path=path)
    with transaction.atomic():
        shared, _ = SharedNotebook.objects.get_or_create(author=user, source_path=path)
        shared = SharedNotebook.objects.select_for_update().get(pk=shared.pk)
        topic = Topic.objects.filter(shared_notebook=shared).first()
        if topic is not None:  # again under the lock: moderators may have acted meanwhile
            edit_check(user, author_id=topic.author_id, topic=topic)
        if origin is not None and origin.shared_id != shared.pk and shared.cloned_from is None:
            shared.cloned_from = origin
            shared.save(update_fields=["cloned_from"])
        number = (shared.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = SharedNotebookVersion.objects.create(
            shared=shared, number=number, ipynb_key=key, showcase_cell=index
        )
        text = {}
        if description is not None or topic is None:
            description = description or ""
            text = {"body": description, "body_html": markdown_to_html(description)}
        topic, _ = Topic.objects.update_or_create(
            shared_notebook=shared, defaults={"author": user, "title": title, **text}
        )
        if tags is not None:
            topic_tags_set(topic, tags)
        shared_notebook_render_enqueue(version_id=version.pk)
    return version


@transaction.atomic
def shared_notebook_clone(*, version: SharedNotebookVersion, reader: User) -> str:
    """Copy the version's notebook into ``reader``'s store under ``cloned/`` (a free name);
    return the new path.

    The server records the clone (``Clone``: reader, version, the new file's row), which is
    what lineage is read from should the reader share the file in turn. The copy's metadata
    also names the version, for the reader's information only.

    Raises ``StoredFileMissing`` (404), ``StorageUnavailable`` (503).
    """
    data = stored_bytes(version.ipynb_key)
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    nb.metadata["quantsite"] = {
        "cloned_from": {"shared": version.shared_id, "version": version.number}
    }
    directory_create(user=reader, path="cloned")
    source_name = posixpath.basename(version.shared.source_path)
    path = f"cloned/{name_increment(user=reader, directory='cloned', filename=source_name)}"
    entry, _ = notebook_save(user=reader, path=path, notebook=nb)
    Clone.objects.create(user=reader, version=version, entry=entry)
    Topic.objects.filter(shared_notebook_id=version.shared_id).update(
        clone_count=F("clone_count") + 1
    )
    return path
