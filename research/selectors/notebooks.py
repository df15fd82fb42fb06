"""Reads of a user's notebook store: entries, their bytes, notebooks, listings, checkpoints.

Every read is scoped to one user (no path reaches another user's entries) and takes paths in
any form the API gives (normalized here). Results are model instances and small dataclasses;
the contents API presents them as Jupyter models. Errors: ``InvalidPath``, ``NoSuchEntry``,
``IsADirectory``, ``BadNotebook``.
"""

import datetime as dt
import functools
from dataclasses import dataclass

import nbformat
import psycopg
from django.db import connection
from django.db.models import Count, QuerySet
from django.db.transaction import TransactionManagementError

from quantsite.accounts.models import User
from quantsite.db.rows import column_names, concrete_names, instance_from_row
from research import crypto
from research.exceptions import EntryExists, IsADirectory, NoSuchEntry
from research.models import ContentCheckpoint, ContentEntry
from research.notebook_format import notebook_parse
from research.paths import path_normalize

DIRECTORY = ContentEntry.Type.DIRECTORY


@dataclass(frozen=True, slots=True)
class EntrySummary:
    """An entry as a directory listing shows it (no bytes)."""

    path: str
    name: str
    type: str
    size: int | None
    created: dt.datetime
    last_modified: dt.datetime


def entry_get(*, user: User, path: str, with_content: bool = False) -> ContentEntry:
    """The file or directory at ``path`` (not the root, which has no row); its sealed bytes
    loaded only ``with_content`` (a notebook can be tens of megabytes).
    ``NoSuchEntry`` ("No such file or directory: path") if there is none."""
    path = path_normalize(path)
    entry = _entry_or_none(user, path, with_content=with_content) if path else None
    if entry is None:
        raise NoSuchEntry(f"No such file or directory: {path}")
    return entry


def entry_exists(*, user: User, path: str) -> bool:
    return ContentEntry.objects.filter(user=user, path=path_normalize(path)).exists()


def directory_exists(*, user: User, path: str) -> bool:
    """Is ``path`` a directory? The root always is."""
    path = path_normalize(path)
    return path == "" or ContentEntry.objects.filter(user=user, path=path, type=DIRECTORY).exists()


def entry_data(*, entry: ContentEntry) -> bytes:
    """The plain bytes of a file ``entry`` loaded with its content (unsealed)."""
    return crypto.unseal(entry.user_id, entry.content, entry.key_id)


def file_get(
    *, user: User, path: str, with_content: bool = False, lock: bool = False
) -> ContentEntry:
    """The file at ``path`` (its sealed bytes only ``with_content``); ``lock``, inside a
    writer's transaction, takes its row lock. ``NoSuchEntry`` ("No such file: path"),
    ``IsADirectory`` for a directory (directories have no checkpoints)."""
    path = path_normalize(path)
    if with_content:
        entry = _entry_with_content(user, path, lock=lock)
    else:
        entries = ContentEntry.objects.filter(user=user, path=path).defer("content")
        entry = (entries.select_for_update() if lock else entries).first()
    if entry is None:
        raise NoSuchEntry(f"No such file: {path}")
    if entry.type == DIRECTORY:
        raise IsADirectory(f"{path} is a directory: directories have no checkpoints")
    return entry


def file_read(*, user: User, path: str) -> tuple[str, bytes]:
    """A file's name and plain bytes, for downloads. ``NoSuchEntry`` ("No such file: path"),
    ``IsADirectory`` ("path is a directory")."""
    path = path_normalize(path)
    entry = _entry_or_none(user, path, with_content=True) if path else None
    if entry is None:
        raise NoSuchEntry(f"No such file: {path}")
    if entry.type == DIRECTORY:
        raise IsADirectory(f"{path} is a directory")
    return entry.name, entry_data(entry=entry)


def notebook_read(*, user: User, path: str) -> nbformat.NotebookNode:
    """The notebook at ``path``, as Jupyter reads it (nbformat 4; older versions upgraded),
    not schema-validated. ``NoSuchEntry``, ``IsADirectory`` ("path is a directory, not a
    notebook"), ``BadNotebook`` ("Unreadable Notebook: path")."""
    entry = entry_get(user=user, path=path, with_content=True)
    if entry.type == DIRECTORY:
        raise IsADirectory(f"{entry.path} is a directory, not a notebook")
    return notebook_parse(entry_data(entry=entry), path=entry.path)


def directory_list(*, user: User, path: str, include_hidden: bool = False) -> list[EntrySummary]:
    """The entries directly in directory ``path`` (the caller knows it is one), by name;
    names starting with "." only ``include_hidden``."""
    children = ContentEntry.objects.filter(user=user, parent=path_normalize(path)).order_by("name")
    rows = children.values_list("path", "name", "type", "size", "created", "last_modified")
    return [EntrySummary(*row) for row in rows if include_hidden or not row[1].startswith(".")]


def name_increment(*, user: User, directory: str, filename: str, insert: str = "") -> str:
    """Jupyter's ``increment_filename``: "Untitled.ipynb", "Untitled1.ipynb", ...; with
    ``insert="-Copy"``: "a.ipynb", "a-Copy1.ipynb", ...; the first name free in ``directory``.
    ``EntryExists`` when none of 100,000 is."""
    basename, dot, ext = filename.rpartition(".")
    if ext != "ipynb":
        basename, dot, ext = filename.partition(".")
    suffix = dot + ext
    taken = set(
        ContentEntry.objects.filter(user=user, parent=path_normalize(directory)).values_list(
            "name", flat=True
        )
    )
    for i in range(100_000):
        name = f"{basename}{f'{insert}{i}' if i else ''}{suffix}"
        if name not in taken:
            return name
    raise EntryExists("No free name left.")


def checkpoint_list(*, user: User, path: str) -> list[ContentCheckpoint]:
    """The file's checkpoints, oldest first (without their bytes). ``NoSuchEntry``,
    ``IsADirectory``."""
    entry = file_get(user=user, path=path)
    return list(entry.checkpoints.defer("content").order_by("created", "pk"))


def notebook_list(*, user: User) -> QuerySet[ContentEntry]:
    """The user's notebooks (files named .ipynb) by path, each with ``checkpoint_count``,
    without their bytes (the *My notebooks* page)."""
    return (
        ContentEntry.objects.filter(user=user, type=ContentEntry.Type.FILE)
        .filter(name__endswith=".ipynb")
        .annotate(checkpoint_count=Count("checkpoints"))
        .defer("content")
        .order_by("path")
    )


def _entry_or_none(user: User, path: str, *, with_content: bool) -> ContentEntry | None:
    if with_content:
        return _entry_with_content(user, path)
    return ContentEntry.objects.filter(user=user, path=path).defer("content").first()


_ENTRY_NAMES = concrete_names(ContentEntry)


@functools.cache
def _entry_with_content_sql(lock: bool) -> str:
    columns = column_names(ContentEntry, "e", _ENTRY_NAMES)
    # Built once from model metadata (no outside input); the user and path are parameters.
    return (
        f'SELECT {", ".join(columns)} FROM "{ContentEntry._meta.db_table}" e '  # noqa: S608
        f'WHERE e."user_id" = %s AND e."path" = %s{" FOR UPDATE" if lock else ""}'
    )


def _entry_with_content(user: User, path: str, *, lock: bool = False) -> ContentEntry | None:
    """The entry at the normalized ``path`` with its sealed bytes (its row locked if
    ``lock``), or None.

    On PostgreSQL the row is fetched in binary: Django's cursors ask for text results, in
    which a bytea comes as hex, twice its size, encoded by the server and decoded here (for a
    10 MB notebook, 20 MB of text). A psycopg cursor of the same connection, so in the same
    transaction, with Django's error wrapping (an outage is still the 503 of any query)."""
    if connection.vendor != "postgresql":
        entries = ContentEntry.objects.filter(user=user, path=path)
        return (entries.select_for_update() if lock else entries).first()
    if lock and not connection.in_atomic_block:  # as select_for_update refuses
        raise TransactionManagementError("A row lock needs a transaction.")
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_entry_with_content_sql(lock), [user.pk, path], binary=True)
        row = cursor.fetchone()
    return None if row is None else instance_from_row(ContentEntry, _ENTRY_NAMES, row)
