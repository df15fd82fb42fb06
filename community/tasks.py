import datetime as dt

from celery import shared_task
from django.utils import timezone

from community.models import SharedNotebookVersion
from community.services import rendering
from community.storage import StorageUnavailable


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def shared_notebook_render(version_id: int) -> None:
    """Render one shared notebook version (idempotent); retried with backoff while the file
    store fails (any storage error is ``StorageUnavailable``), then left to the sweep."""
    rendering.shared_notebook_render(version_id=version_id)


@shared_task(ignore_result=True)
def shared_notebook_render_sweep() -> None:
    """Periodic: queue every version still waiting a minute after it was shared (a lost task,
    or Redis down at share time)."""
    stale = SharedNotebookVersion.objects.filter(
        render_state=SharedNotebookVersion.RenderState.PENDING,
        created__lt=timezone.now() - dt.timedelta(minutes=1),
    ).values_list("pk", flat=True)
    for version_id in stale[:500]:
        shared_notebook_render.delay(version_id)
