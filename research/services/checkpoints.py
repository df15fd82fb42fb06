"""Checkpoints: saved versions of a file in the notebook store, many per file.

Each function is scoped to one user and owns its transaction; the file's row is locked, so
a checkpoint and a save of the same file never interleave. Checkpoints take room as files
do and count toward the user's quota (``research.services.quota``). Errors: ``NoSuchEntry``
(no such file or checkpoint), ``IsADirectory`` (directories have no checkpoints),
``QuotaExceeded`` (a checkpoint or a restore that would take the user past their quota).
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
from research.services.quota import quota_check, quota_lock, stored_sizes


@transaction.atomic
def checkpoint_create(*, user: User, path: str) -> ContentCheckpoint:
    """Keep the file's current version as a new checkpoint (its stored bytes as they are).

    A file keeps at most ``NOTEBOOK_MAX_CHECKPOINTS`` (0: no cap): past it, the oldest of the
    file's other checkpoints are deleted in the same transaction, so the newest ones stay, the
    new one always among them (as Jupyter users expect of "revert to checkpoint"). The quota
    counts what this adds: the file's size less what the cap drops. ``QuotaExceeded`` (and
    nothing changed) when that is over the quota.
    """
    quota = quota_lock(user=user)
    entry = file_get(user=user, path=path, with_content=True, lock=True)
    cap = settings.NOTEBOOK_MAX_CHECKPOINTS
    stale = []
    if cap:
        # The existing ones past the newest cap - 1: with the new one, cap remain.
        older = entry.checkpoints.order_by("-created", "-pk").values_list("pk", "size")
        stale = list(older[cap - 1 :])
    if quota:
        used = stored_sizes(user=user, used=True)["used"]
        quota_check(used=used, needed=entry.size - sum(size for _, size in stale))
    checkpoint = ContentCheckpoint.objects.create(
        entry=entry,
        content=entry.content,
        size=entry.size,
        key_id=entry.key_id,
        created=timezone.now(),
    )
    if stale:
        ContentCheckpoint.objects.filter(pk__in=[pk for pk, _ in stale]).delete()
    return checkpoint


@transaction.atomic
def checkpoint_restore(*, user: User, path: str, checkpoint_id: str) -> None:
    """Make the checkpoint's version the file's current one (the checkpoint stays).
    ``QuotaExceeded`` when the checkpoint is larger than the file by more than the user's
    quota has room for."""
    quota = quota_lock(user=user)
    entry = file_get(user=user, path=path, lock=True)
    checkpoint = _checkpoint(entry, checkpoint_id)
    if quota and checkpoint.size > entry.size:
        used = stored_sizes(user=user, used=True)["used"]
        quota_check(used=used, needed=checkpoint.size - entry.size)
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
