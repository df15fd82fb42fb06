"""Writes to a user's notebook store: files, notebooks, directories, uploads, copies, moves.

The store is rows, bytes and locks (PGContents' design): every entry is a ``ContentEntry``
of one user, its bytes sealed by ``research.crypto``. Each function is scoped to one user,
owns its transaction (on any error the store is as it was) and returns the entry it wrote;
the contents API presents it as a Jupyter model. Errors are the store's own
(``research.exceptions``): ``InvalidPath``, ``InvalidModel``, ``BadNotebook``, ``NoSuchEntry``,
``EntryExists``, ``IsADirectory``, ``NotADirectory``, ``DirectoryNotEmpty``, ``TooLarge``,
``CopyTooLarge``, ``QuotaExceeded`` (a save, upload or copy that would take the user past
``NOTEBOOK_USER_QUOTA_BYTES``: see ``research.services.quota``).
"""

import datetime as dt
import hashlib
import re

import nbformat
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from quantsite.accounts.models import User
from research import crypto
from research.exceptions import (
    CopyTooLarge,
    DirectoryNotEmpty,
    EntryExists,
    InvalidModel,
    InvalidPath,
    IsADirectory,
    NoSuchEntry,
    NotADirectory,
    TooLarge,
)
from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk
from research.notebook_format import notebook_bytes, notebook_file_check
from research.paths import path_join, path_normalize, path_split
from research.selectors.notebooks import directory_exists, entry_get, name_increment
from research.services.quota import quota_check, quota_lock, stored_sizes

DIRECTORY, FILE = ContentEntry.Type.DIRECTORY, ContentEntry.Type.FILE
UNTITLED = {"notebook": "Untitled", "file": "untitled", "directory": "Untitled Folder"}
_COPY = re.compile(r"\-Copy\d*\.")

# -- saving ------------------------------------------------------------------------------------


@transaction.atomic
def directory_create(*, user: User, path: str) -> tuple[ContentEntry, bool]:
    """The directory at ``path``, made if absent: ``(entry, created)``. Idempotent.
    ``NoSuchEntry`` without a parent directory, ``NotADirectory`` where a file is."""
    path, parent, entry = _save_target(user, path)
    if entry is not None:
        if entry.type != DIRECTORY:
            raise NotADirectory(f"Not a directory: {path}")
        return entry, False
    now = timezone.now()
    entry = ContentEntry.objects.create(
        user=user,
        path=path,
        parent=parent,
        name=path_split(path)[1],
        type=DIRECTORY,
        created=now,
        last_modified=now,
    )
    return entry, True


@transaction.atomic
def file_save(*, user: User, path: str, data: bytes) -> tuple[ContentEntry, bool]:
    """Create or replace the file at ``path`` with ``data``: ``(entry, created)``.
    ``TooLarge`` past ``NOTEBOOK_MAX_FILE_BYTES``; ``QuotaExceeded`` past the user's quota
    (by what the save adds: the new size less the old); ``NoSuchEntry`` without a parent
    directory; ``IsADirectory``; ``EntryExists`` when a concurrent save created it first."""
    return _file_write(user, path, data, checkpoint=False)


@transaction.atomic
def notebook_save(*, user: User, path: str, notebook: dict) -> tuple[ContentEntry, bool]:
    """Create or replace the notebook at ``path`` (nbformat 4, stored as Jupyter writes it):
    ``(entry, created)``. As Jupyter's own manager does, a notebook always has a checkpoint to
    go back to: its first save makes one. ``BadNotebook`` for anything but an nbformat 4
    notebook, and the errors of ``file_save``."""
    return _file_write(user, path, notebook_bytes(notebook), checkpoint=True)


@transaction.atomic
def notebook_file_save(*, user: User, path: str, data: bytes) -> tuple[ContentEntry, bool]:
    """Create or replace the notebook at ``path`` with a notebook file's bytes, as a Jupyter
    manager wrote them (``nbformat.writes`` and a newline, as Jupyter's file manager writes to
    disk): ``(entry, created)``. The bytes are checked (``notebook_file_check``: a notebook of
    the shape ``notebook_save`` takes) and stored as they are, never parsed into a tree and
    written again, so what is read back is what was sent. The size limit is on these bytes.
    ``BadNotebook`` if they are not a notebook, and the errors of ``notebook_save``."""
    _size_check(len(data))  # before the parse: a body past the limit is not read as JSON
    notebook_file_check(data)
    return _file_write(user, path, data, checkpoint=True)


@transaction.atomic
def upload_chunk_save(
    *, user: User, path: str, data: bytes, chunk: int, notebook: bool = False
) -> tuple[ContentEntry, bool]:
    """One chunk of a large upload (JupyterLab's: 1, 2, ..., -1 for the last): ``(entry,
    created)``.

    Chunk 1 saves the file as ``file_save`` does (``notebook_save``'s checkpoint if
    ``notebook``); later chunks are staged (``ContentUploadChunk``), each sealed on its own, so
    no chunk reads or rewrites the ones before it; the last joins them into the file in one
    write. The size limit and the user's quota are checked on every chunk, by the sizes
    already stored (one query), before any bytes are read: the chunk that would cross either
    is refused, and the chunks before it stay staged. ``InvalidModel`` for chunk 0 or a chunk
    without a first one.
    """
    if not isinstance(chunk, int) or chunk == 0:
        raise InvalidModel("chunk must be 1, 2, ... or -1 for the last.")
    if chunk == 1:
        return _file_write(user, path, data, checkpoint=notebook)
    quota = quota_lock(user=user)
    path, _, entry = _save_target(user, path)
    if entry is not None and entry.type == DIRECTORY:
        raise IsADirectory(f"{path} is a directory")
    if entry is None:
        raise InvalidModel(f"No first chunk for {path}")
    sizes = stored_sizes(user=user, used=quota, staged=entry.upload_chunks.all())
    size = entry.size + sizes["staged"] + len(data)
    _size_check(size)
    if quota:
        # The last chunk of a notebook without a checkpoint also makes its first one.
        first = chunk == -1 and notebook and not entry.has_checkpoint
        quota_check(used=sizes["used"], needed=len(data) + (size if first else 0))
    if chunk != -1:
        stored, key = crypto.seal(user.pk, data)
        ContentUploadChunk.objects.create(
            entry=entry, content=stored, size=len(data), key_id=key, created=timezone.now()
        )
        return entry, False
    _upload_finish(entry, data)
    if notebook:
        _first_checkpoint(entry)
    return entry, False


def _save_target(user: User, path: str) -> tuple[str, str, ContentEntry | None]:
    """``(path, parent, entry or None)`` for a save: the path normalized, its parent directory
    checked, the entry's row locked (without its bytes) if it exists, with whether it has a
    checkpoint (``has_checkpoint``) and staged upload chunks (``has_upload_chunks``), read in
    the same query: a save of a file that has both needs neither query again."""
    path = path_normalize(path)
    if path == "":
        raise InvalidPath("The root directory cannot be saved over.")
    parent = _parent_require(user, path)
    entry = (
        ContentEntry.objects.select_for_update()
        .filter(user=user, path=path)
        .defer("content")
        .annotate(
            has_checkpoint=Exists(ContentCheckpoint.objects.filter(entry=OuterRef("pk"))),
            has_upload_chunks=Exists(ContentUploadChunk.objects.filter(entry=OuterRef("pk"))),
        )
    ).first()
    return path, parent, entry


def _parent_require(user: User, path: str) -> str:
    parent = path_split(path)[0]
    if parent and not ContentEntry.objects.filter(user=user, path=parent, type=DIRECTORY).exists():
        raise NoSuchEntry(f"No such directory: {parent}")
    return parent


def _stamp(entry: ContentEntry | None) -> dt.datetime:
    # Read under the row lock: a save that waited for another's lock must not stamp the file
    # with the earlier time it arrived at (last_modified would go backwards). Never before the
    # stored stamp either, whatever the clock of the site copy that wrote it.
    now = timezone.now()
    return now if entry is None else max(now, entry.last_modified)


def _size_check(size: int) -> None:
    if size > settings.NOTEBOOK_MAX_FILE_BYTES:
        raise TooLarge(size)


def _file_write(
    user: User, path: str, data: bytes, *, checkpoint: bool
) -> tuple[ContentEntry, bool]:
    quota = quota_lock(user=user)
    path, parent, entry = _save_target(user, path)
    if entry is not None and entry.type == DIRECTORY:
        raise IsADirectory(f"{path} is a directory")
    _size_check(len(data))
    if quota:
        _quota_check_write(user, entry, len(data), checkpoint=checkpoint)
    if entry is None:
        entry = _file_create(user, path, parent, data)
        created = True
    else:
        _content_replace(entry, data)
        # A whole save (or a new first chunk) ends any upload the file was in the middle of.
        if entry.has_upload_chunks:
            entry.upload_chunks.all().delete()
        created = False
    if checkpoint:
        _first_checkpoint(entry, created=created)
    return entry, created


def _quota_check_write(
    user: User, entry: ContentEntry | None, size: int, *, checkpoint: bool
) -> None:
    """``QuotaExceeded`` unless the user's quota has room for what this write adds: the new
    bytes less the file's old ones and any abandoned upload chunks it drops, plus the first
    checkpoint a notebook without one gets."""
    parts = {}
    if entry is not None and entry.has_upload_chunks:
        parts["staged"] = entry.upload_chunks.all()
    sizes = stored_sizes(user=user, used=True, **parts)
    old = (entry.size or 0) if entry is not None else 0
    needed = size - old - sizes.get("staged", 0)
    if checkpoint and (entry is None or not entry.has_checkpoint):
        needed += size
    quota_check(used=sizes["used"], needed=needed)


def _file_create(user: User, path: str, parent: str, data: bytes) -> ContentEntry:
    stored, key = crypto.seal(user.pk, data)
    now = timezone.now()
    try:
        # A savepoint: the unique path may have been taken since our (empty) row lock.
        with transaction.atomic():
            return ContentEntry.objects.create(
                user=user,
                path=path,
                parent=parent,
                name=path_split(path)[1],
                type=FILE,
                content=stored,
                size=len(data),
                hash=hashlib.sha256(data).hexdigest(),
                key_id=key,
                created=now,
                last_modified=now,
            )
    except IntegrityError:
        raise EntryExists(f"{path} was created by another save; try again.") from None


def _content_replace(entry: ContentEntry, data: bytes) -> None:
    """Write ``data`` as the locked ``entry``'s bytes (sealed), and keep the instance in step."""
    stored, key = crypto.seal(entry.user_id, data)
    fields = {
        "content": stored,
        "size": len(data),
        "hash": hashlib.sha256(data).hexdigest(),
        "key_id": key,
        "last_modified": _stamp(entry),
    }
    ContentEntry.objects.filter(pk=entry.pk).update(**fields)
    for name, value in fields.items():
        setattr(entry, name, value)


def _upload_finish(entry: ContentEntry, last: bytes) -> None:
    """Join the file's first chunk, its staged chunks and ``last`` into the file."""
    user_id = entry.user_id
    first = ContentEntry.objects.values_list("content", "key_id").get(pk=entry.pk)
    staged = entry.upload_chunks.order_by("pk").values_list("content", "key_id")
    parts = [crypto.unseal(user_id, *first)]
    parts.extend(crypto.unseal(user_id, content, key) for content, key in staged)
    parts.append(last)
    _content_replace(entry, b"".join(parts))
    entry.upload_chunks.all().delete()


def _first_checkpoint(entry: ContentEntry, *, created: bool = False) -> None:
    """A file's first checkpoint, when it has none (``has_checkpoint``, when it was read with
    its lock, or a query)."""
    has_checkpoint = False if created else getattr(entry, "has_checkpoint", None)
    if has_checkpoint is None:
        has_checkpoint = entry.checkpoints.exists()
    if not has_checkpoint:
        ContentCheckpoint.objects.create(
            entry=entry,
            content=entry.content,
            size=entry.size,
            key_id=entry.key_id,
            created=entry.last_modified,
        )


# -- new entries and copies ----------------------------------------------------------------------


@transaction.atomic
def untitled_create(
    *, user: User, directory: str, kind: str, ext: str | None = None
) -> ContentEntry:
    """A new "Untitled.ipynb", "untitled.txt" or "Untitled Folder" (the first free name, as
    Jupyter numbers them) in ``directory``: an empty notebook, an empty file or a directory.
    ``ext`` defaults to ".ipynb" for a notebook and "" for a file. ``NoSuchEntry`` without
    the directory, ``InvalidModel`` for an unknown kind or an invalid extension."""
    directory = path_normalize(directory)
    if not directory_exists(user=user, path=directory):
        raise NoSuchEntry(f"No such directory: {directory}")
    if kind not in UNTITLED:
        raise InvalidModel(f"Unknown type {kind!r}")
    if ext is None:
        ext = ".ipynb" if kind == "notebook" else ""
    if not isinstance(ext, str) or "/" in ext or len(ext) > 32:
        raise InvalidModel("Invalid extension.")
    if kind == "directory":
        name = name_increment(user=user, directory=directory, filename=UNTITLED[kind], insert=" ")
        return directory_create(user=user, path=path_join(directory, name))[0]
    name = name_increment(user=user, directory=directory, filename=UNTITLED[kind] + ext)
    target = path_join(directory, name)
    if kind == "notebook":
        return notebook_save(user=user, path=target, notebook=nbformat.v4.new_notebook())[0]
    return file_save(user=user, path=target, data=b"")[0]


@transaction.atomic
def entry_copy(*, user: User, from_path: str, to_path: str | None) -> ContentEntry:
    """Copy a file or a directory tree, as Jupyter's file manager does; the new entry.

    ``to_path`` an existing directory (or None: the source's own): into it, as
    "name-Copy1.ext" if the name is taken; for a file, any other ``to_path`` is the new
    file's path (its parent must exist); for a directory, it is created. The stored bytes are
    copied as they are (same user, same key), never decoded and encoded again, and only once
    the sizes, summed in the database, are known to be within ``NOTEBOOK_MAX_COPY_BYTES`` and
    the user's quota (checkpoints are not copied: the copy adds its files' sizes).
    ``NoSuchEntry``, ``EntryExists``, ``CopyTooLarge``, ``QuotaExceeded``.
    """
    quota = quota_lock(user=user)
    source_path = path_normalize(from_path)
    source = entry_get(user=user, path=source_path)
    target = _copy_target(user, source, to_path)
    if ContentEntry.objects.filter(user=user, path=target).exists():
        raise EntryExists(f"File already exists: {target}")
    tree = ContentEntry.objects.filter(
        Q(pk=source.pk) | Q(user=user, path__startswith=source_path + "/")
    )
    sizes = stored_sizes(user=user, used=quota, tree=tree)  # one query for both limits
    total = sizes["tree"]
    if total > settings.NOTEBOOK_MAX_COPY_BYTES:
        raise CopyTooLarge(source_path, total)
    if quota:
        quota_check(used=sizes["used"], needed=total)
    return _tree_copy(source, tree, target)


def _copy_target(user: User, source: ContentEntry, to_path: str | None) -> str:
    """Where a copy of ``source`` goes (see ``entry_copy``); makes a directory copy's parents."""
    from_dir, from_name = path_split(source.path)
    given = to_path is not None
    to_path = path_normalize(to_path) if given else from_dir
    if directory_exists(user=user, path=to_path):
        name = name_increment(
            user=user, directory=to_path, filename=_COPY.sub(".", from_name), insert="-Copy"
        )
        return path_join(to_path, name)
    if source.type == DIRECTORY:
        parts = to_path.split("/")
        for depth in range(1, len(parts) + 1):
            directory_create(user=user, path="/".join(parts[:depth]))
        return f"{to_path}/{_COPY.sub('.', from_name)}"
    if given:
        parent = path_split(to_path)[0]
        if not directory_exists(user=user, path=parent):
            raise NoSuchEntry(f"No such parent directory: {parent} to copy file in")
        return to_path
    raise NoSuchEntry(f"No such directory: {to_path}")


def _tree_copy(source: ContentEntry, tree, target: str) -> ContentEntry:
    now = timezone.now()
    cut = len(source.path)
    parent, name = path_split(target)
    copies = [
        ContentEntry(
            user_id=e.user_id,
            path=target + e.path[cut:],
            parent=parent if e.pk == source.pk else target + e.parent[cut:],
            name=name if e.pk == source.pk else e.name,
            type=e.type,
            content=e.content,
            size=e.size,
            hash=e.hash,
            key_id=e.key_id,
            created=now,
            last_modified=now,
        )
        for e in tree.order_by("path")
    ]
    ContentEntry.objects.bulk_create(copies)
    return next(copy for copy in copies if copy.path == target)


# -- moving and deleting -------------------------------------------------------------------------


@transaction.atomic
def entry_rename(*, user: User, old_path: str, new_path: str) -> ContentEntry:
    """Move a file or directory (with everything under it, and its checkpoints); the moved
    entry. ``InvalidPath`` for the root or a directory into itself, ``NoSuchEntry``,
    ``EntryExists``."""
    old, new = path_normalize(old_path), path_normalize(new_path)
    if not old or not new:
        raise InvalidPath("The root directory cannot be renamed.")
    if old == new:
        return entry_get(user=user, path=new)
    entry = (
        ContentEntry.objects.select_for_update().filter(user=user, path=old).defer("content")
    ).first()
    if entry is None:
        raise NoSuchEntry(f"File or directory does not exist: {old}")
    if ContentEntry.objects.filter(user=user, path=new).exists():
        raise EntryExists(f"File already exists: {new}")
    if entry.type == DIRECTORY and (new + "/").startswith(old + "/"):
        raise InvalidPath("A directory cannot move into itself.")
    moved = {
        "path": new,
        "parent": _parent_require(user, new),
        "name": path_split(new)[1],
        "last_modified": _stamp(entry),  # under the lock, never backwards
    }
    ContentEntry.objects.filter(pk=entry.pk).update(**moved)
    for field, value in moved.items():
        setattr(entry, field, value)
    if entry.type == DIRECTORY:
        under = ContentEntry.objects.filter(user=user, path__startswith=old + "/")
        under.update(
            path=Concat(Value(new + "/"), Substr("path", len(old) + 2)),  # 1-based: after "old/"
            parent=Concat(Value(new), Substr("parent", len(old) + 1)),
        )
    return entry


@transaction.atomic
def entry_delete(*, user: User, path: str, recursive: bool = True) -> None:
    """Delete a file, or a directory with everything under it (unless ``recursive`` is off,
    when a non-empty directory is refused, as Jupyter's file manager does without trash).
    ``InvalidPath`` for the root, ``NoSuchEntry``, ``DirectoryNotEmpty``."""
    path = path_normalize(path)
    if not path:
        raise InvalidPath("The root directory cannot be deleted.")
    entry = ContentEntry.objects.filter(user=user, path=path).defer("content").first()
    if entry is None:
        raise NoSuchEntry(f"File or directory does not exist: {path}")
    if (
        not recursive
        and entry.type == DIRECTORY
        and ContentEntry.objects.filter(user=user, parent=path).exists()
    ):
        raise DirectoryNotEmpty(f"Directory {path} not empty")
    ContentEntry.objects.filter(Q(pk=entry.pk) | Q(user=user, path__startswith=path + "/")).delete()
