"""The sweep of stored objects no shared version references any more.

Shared notebooks' files live under ``shared/`` in the default storage, named by their
SHA-256 (``community.storage.store_immutable``) and referenced by ``SharedNotebookVersion``'s
``ipynb_key``, ``html_key`` and ``thumbnail_key``. A version that goes (its notebook or its
author deleted) leaves its files behind, and so do a share or a render whose transaction
rolled back after the file was written. The daily sweep deletes them.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from community.models import SharedNotebookVersion
from community.storage import StoredFileMissing, storage, storage_errors

logger = logging.getLogger(__name__)

PREFIX = "shared/"
KEY_FIELDS = ("ipynb_key", "html_key", "thumbnail_key")
# Keys per query when the candidates are checked again just before they are deleted.
_BATCH = 500


@dataclass(frozen=True, slots=True)
class StorageSweep:
    """What a sweep found: ``listed`` objects under ``shared/``, the ``deleted`` keys (those
    it would delete, in a dry run) and how many unreferenced ones it kept as too ``young``."""

    listed: int
    deleted: tuple[str, ...]
    young: int


def stored_objects_sweep(
    *, older_than: dt.timedelta | None = None, dry_run: bool = False
) -> StorageSweep:
    """Delete the objects under ``shared/`` that no ``SharedNotebookVersion`` references and
    that were last written more than ``older_than`` ago (``STORAGE_SWEEP_GRACE_SECONDS`` if
    None); with ``dry_run``, only say which. Idempotent: a second run finds nothing to delete.

    The grace period is what makes it safe alongside shares: a share writes its file, then its
    transaction commits the version that references it, so a young unreferenced object may be
    one about to be referenced. The references are read after the listing (a version
    committed before that is seen), and the candidates checked again just before deleting.

    Works on any Django storage that lists with ``listdir`` and dates with
    ``get_modified_time``: ``FileSystemStorage`` and django-storages' ``S3Storage`` (one
    listing, paged; a HEAD only for an unreferenced object). Raises ``StorageUnavailable``
    when the store fails (the sweep can simply run again).
    """
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.STORAGE_SWEEP_GRACE_SECONDS)
    keys = _listed_keys()
    referenced = _referenced(keys)
    cutoff = timezone.now() - older_than
    candidates, young = [], 0
    for key in keys:
        if key in referenced:
            continue
        modified = _modified(key)
        if modified is None:
            continue  # deleted meanwhile (another sweep)
        if modified < cutoff:
            candidates.append(key)
        else:
            young += 1
    # A share may have committed since the references were read: ask again for these only.
    since = _referenced(candidates) if candidates else set()
    stale = [key for key in candidates if key not in since]
    if not dry_run:
        for key in stale:
            with storage_errors(f"delete {key}"):
                storage().delete(key)
    logger.info(
        "Storage sweep: %d objects under %s, %s %d unreferenced, kept %d younger than %s",
        len(keys),
        PREFIX,
        "would delete" if dry_run else "deleted",
        len(stale),
        young,
        older_than,
    )
    return StorageSweep(listed=len(keys), deleted=tuple(stale), young=young)


def _listed_keys() -> list[str]:
    try:
        with storage_errors(f"list {PREFIX}"):
            _, files = storage().listdir(PREFIX.rstrip("/"))
    except StoredFileMissing:
        return []  # a filesystem store where nothing was ever shared
    return sorted(PREFIX + name for name in files)


def _referenced(keys: list[str]) -> set[str]:
    """Which of ``keys`` a version references: all the references when there are many keys
    (one pass over the versions), else by batches of them."""
    if len(keys) > _BATCH:
        rows = SharedNotebookVersion.objects.values_list(*KEY_FIELDS).iterator(chunk_size=5000)
        return {key for row in rows for key in row if key} & set(keys)
    found: set[str] = set()
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        match = Q()
        for field in KEY_FIELDS:
            match |= Q(**{f"{field}__in": batch})
        rows = SharedNotebookVersion.objects.filter(match).values_list(*KEY_FIELDS)
        found.update(key for row in rows for key in row)
    return found & set(keys)


def _modified(key: str) -> dt.datetime | None:
    try:
        with storage_errors(f"date {key}"):
            modified = storage().get_modified_time(key)
    except StoredFileMissing:
        return None
    if timezone.is_naive(modified):
        modified = timezone.make_aware(modified, dt.UTC)
    return modified
