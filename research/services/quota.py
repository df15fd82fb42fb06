"""A user's storage quota in the notebook store: ``NOTEBOOK_USER_QUOTA_BYTES`` (0: none).

What counts is every byte a user makes the store keep: their files, their files' checkpoints
(copies that take the same room, so a quota that skipped them could be filled twenty times
over) and the staged chunks of an upload in progress; sizes are the logical (unencrypted)
bytes the user sees, summed by the database from the ``size`` columns (never by loading
content). A write is refused (``QuotaExceeded``) only when it adds bytes and the total after
it would be over the quota: overwriting a file counts the difference, and a write that frees
space is taken even from a user over the quota (say, after the quota was lowered), so they
can always make room.

The writers (``research.services.notebooks``, ``research.services.checkpoints``) call
``quota_lock`` first in their transaction, then sum with ``stored_sizes`` (one query, which
also answers the other sizes the write needs) and check with ``quota_check``.
"""

from django.conf import settings
from django.db.models import BigIntegerField, F, Func, QuerySet, Subquery
from django.db.models.functions import Coalesce

from quantsite.accounts.models import User
from research.exceptions import QuotaExceeded
from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk


def quota_enabled() -> bool:
    return settings.NOTEBOOK_USER_QUOTA_BYTES > 0


def quota_lock(*, user: User) -> bool:
    """Inside a writer's transaction, before any of the user's entries is locked: take the
    user's row lock when a quota applies, and say whether one does.

    Two saves of different files of one user (autosaves of two notebooks) would otherwise
    both sum the total before either wrote and both pass: the lock makes the second sum wait
    for the first write. ``FOR NO KEY UPDATE``: rows that only point at the user (a new
    entry, a token) are not blocked. Taken before the entry's lock in every writer, so no two
    writers wait on each other in opposite orders.
    """
    if not quota_enabled():
        return False
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").first()
    return True


def stored_sizes(*, user: User, used: bool, **parts: QuerySet) -> dict[str, int]:
    """Bytes by the database, in one query: ``parts`` (querysets of rows with a ``size``)
    each summed under its name, and with ``used`` the user's total as ``"used"`` (files,
    checkpoints and staged chunks). No query when there is nothing to sum."""
    sums = {name: _sum(queryset) for name, queryset in parts.items()}
    if used:
        sums["_files"] = _sum(ContentEntry.objects.filter(user=user.pk))
        sums["_checkpoints"] = _sum(ContentCheckpoint.objects.filter(entry__user=user.pk))
        sums["_chunks"] = _sum(ContentUploadChunk.objects.filter(entry__user=user.pk))
    if not sums:
        return {}
    row = User.objects.filter(pk=user.pk).values(**sums).get()
    if used:
        row["used"] = row.pop("_files") + row.pop("_checkpoints") + row.pop("_chunks")
    return row


def quota_check(*, used: int, needed: int) -> None:
    """``QuotaExceeded`` if adding ``needed`` bytes (negative: freeing them) to the ``used``
    ones takes the user past the quota. A write that adds nothing always passes."""
    quota = settings.NOTEBOOK_USER_QUOTA_BYTES
    if quota > 0 and needed > 0 and used + needed > quota:
        raise QuotaExceeded(used=used, needed=needed, quota=quota)


def _sum(queryset: QuerySet) -> Coalesce:
    # SUM as a plain function, not Django's aggregate: no GROUP BY, one row whatever matches.
    total = queryset.order_by().annotate(total=Func(F("size"), function="SUM")).values("total")
    return Coalesce(Subquery(total), 0, output_field=BigIntegerField())
