import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from community.services.storage_sweep import stored_objects_sweep
from community.storage import StorageUnavailable


class Command(BaseCommand):
    help = (
        "Delete the shared-notebook files under shared/ in the default storage that no shared "
        "version references and that are older than STORAGE_SWEEP_GRACE_SECONDS (what the "
        "daily beat task does), printing each key. Safe to run at any time and again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.STORAGE_SWEEP_GRACE_SECONDS,
            metavar="SECONDS",
            help="Keep unreferenced files younger than this (default: "
            "STORAGE_SWEEP_GRACE_SECONDS, %(default)s).",
        )

    def handle(self, *args, dry_run: bool, older_than: int, **options) -> None:
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more seconds.")
        try:
            sweep = stored_objects_sweep(
                older_than=dt.timedelta(seconds=older_than), dry_run=dry_run
            )
        except StorageUnavailable as error:
            raise CommandError(error.message) from error
        verb = "would delete" if dry_run else "deleted"
        for key in sweep.deleted:
            self.stdout.write(f"{verb} {key}")
        self.stdout.write(
            f"{verb.capitalize()} {len(sweep.deleted)} of {sweep.listed} stored objects; "
            f"kept {sweep.young} unreferenced younger than {older_than} s."
        )
