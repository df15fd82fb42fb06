from celery import shared_task

from quantsite.accounts.services import oauth_tokens_clear as oauth_tokens_clear_service
from quantsite.tasks import BeatTask


@shared_task(base=BeatTask, acks_late=True)
def oauth_tokens_clear() -> None:
    """Periodic: delete expired OAuth tokens and grants (idempotent)."""
    oauth_tokens_clear_service()
