"""The community's Celery tasks: each takes ids (or nothing), and calls one service."""

from celery import shared_task

from community.services import render_queue, rendering, storage_sweep
from community.storage import StorageUnavailable
from quantsite.tasks import BeatTask


@shared_task(
    name=render_queue.RENDER_TASK,
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


@shared_task(base=BeatTask, ignore_result=True)
def shared_notebook_render_sweep() -> None:
    """Periodic (beat): queue again the renders a lost task or a broker outage left pending."""
    render_queue.shared_notebook_render_sweep()


@shared_task(
    base=BeatTask,
    ignore_result=True,
    autoretry_for=(StorageUnavailable,),
    retry_backoff=60,
    max_retries=3,
)
def stored_objects_sweep() -> None:
    """Periodic (beat, daily): delete the shared-notebook files no version references, past
    ``STORAGE_SWEEP_GRACE_SECONDS`` (idempotent); retried while the file store fails."""
    storage_sweep.stored_objects_sweep()
