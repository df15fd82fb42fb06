from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from research import crypto
from research.models import ContentCheckpoint, ContentEntry, ContentUploadChunk

# Every table that holds sealed bytes; the staged chunks of an upload in progress too, so no
# upload breaks when the old key is dropped.
SEALED = (ContentEntry, ContentCheckpoint, ContentUploadChunk)


class Command(BaseCommand):
    help = (
        "Re-encrypt stored notebooks, checkpoints and upload chunks under the newest key of "
        "NOTEBOOK_ENCRYPTION_KEYS (or decrypt them all if it is empty), in batches. Each row is "
        "re-sealed in its own short transaction and marked with its key id, so the command can "
        "be stopped at any time and run again: it continues where it stopped, and no row is "
        "ever left unreadable."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--limit", type=int, default=0, help="Stop after this many rows.")

    def handle(self, *args, batch_size: int, limit: int, **options) -> None:
        target = crypto.current_key_id()
        done = 0
        for model in SEALED:
            stale = model.objects.filter(~Q(key_id=target))
            if model is ContentEntry:
                stale = stale.exclude(type=ContentEntry.Type.DIRECTORY)
            while not limit or done < limit:
                ids = list(stale.order_by("pk").values_list("pk", flat=True)[:batch_size])
                if not ids:
                    break
                for pk in ids:
                    done += self._reseal(model, pk, target)
                    if limit and done >= limit:
                        break
        remaining = ContentEntry.objects.exclude(type="directory").filter(~Q(key_id=target)).count()
        remaining += ContentCheckpoint.objects.filter(~Q(key_id=target)).count()
        remaining += ContentUploadChunk.objects.filter(~Q(key_id=target)).count()
        self.stdout.write(f"re-sealed {done} rows; {remaining} rows not yet under the newest key")

    @staticmethod
    @transaction.atomic
    def _reseal(model, pk: int, target: str) -> int:
        row = model.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.key_id == target:
            return 0  # deleted, or done by a concurrent run or a save meanwhile
        user_id = row.user_id if model is ContentEntry else row.entry.user_id
        content, key = crypto.reseal(user_id, row.content, row.key_id)
        model.objects.filter(pk=pk).update(content=content, key_id=key)
        return 1
