"""Checkpoints: saved versions of a file in the notebook store, many per file.

Each function is scoped to one user and owns its transaction; the file's row is locked, so
a checkpoint and a save of the same file never interleave. Errors: ``NoSuchEntry`` (no such
file or checkpoint), ``IsADirectory`` (directories have no checkpoints).
"""

import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from quantsite.accounts.models import User
from research import crypto
from research.exceptions import NoSuchEntry
from research.models import ContentCheckpoint, ContentEntry
from research.selectors.notebooks import file_get


@transaction.atomic
def checkpoint_create(*, user: User, path: str) -> ContentCheckpoint:
    """Keep the file's current version as a new checkpoint (its stored bytes as they are);
    prune to the newest ``NOTEBOOK_CHECKPOINTS_KEEP`` (0 keeps all)."""
    entry = file_get(user=user, path=path, with_content=True, lock=True)
    checkpoint = ContentCheckpoint.objects.create(
        entry=entry,
        content=entry.content,
        size=entry.size,
        key_id=entry.key_id,
        created=timezone.now(),
    )
    keep = settings.NOTEBOOK_CHECKPOINTS_KEEP
    if keep:
        stale = entry.checkpoints.order_by("-created", "-pk").values_list("pk", flat=True)[keep:]
        ContentCheckpoint.objects.filter(pk__in=list(stale)).delete()
    return checkpoint


@transaction.atomic
def checkpoint_restore(*, user: User, path: str, checkpoint_id: str) -> None:
    """Make the checkpoint's version the file's current one (the checkpoint stays)."""
    entry = file_get(user=user, path=path, lock=True)
    checkpoint = _checkpoint(entry, checkpoint_id)
    data = crypto.unseal(user.pk, checkpoint.content, checkpoint.key_id)
    ContentEntry.objects.filter(pk=entry.pk).update(
        content=checkpoint.content,
        size=checkpoint.size,
        key_id=checkpoint.key_id,
        hash=hashlib.sha256(data).hexdigest(),
        last_modified=max(timezone.now(), entry.last_modified),  # under the lock
    )


@transaction.atomic
def checkpoint_delete(*, user: User, path: str, checkpoint_id: str) -> None:
    entry = file_get(user=user, path=path, lock=True)
    _checkpoint(entry, checkpoint_id).delete()


def _checkpoint(entry: ContentEntry, checkpoint_id: str) -> ContentCheckpoint:
    # isascii too: str.isdigit and int() also take "²" and other scripts' digits.
    checkpoint_id = str(checkpoint_id)
    if not (checkpoint_id.isascii() and checkpoint_id.isdecimal() and len(checkpoint_id) <= 18):
        raise NoSuchEntry(f"No such checkpoint: {checkpoint_id}")
    checkpoint = entry.checkpoints.filter(pk=int(checkpoint_id)).first()
    if checkpoint is None:
        raise NoSuchEntry(f"No such checkpoint: {checkpoint_id}")
    return checkpoint
