from celery import shared_task

from quantsite.tasks import BeatTask
from research.services.bookkeeping import discovery_bookkeeping as discovery_bookkeeping_service


@shared_task(base=BeatTask, acks_late=True, ignore_result=True)
def discovery_bookkeeping() -> None:
    """Periodic (beat): hub events and assignment ends; idempotent, safe to overlap."""
    discovery_bookkeeping_service()
