"""Queueing Celery tasks from web requests without letting the broker fail the request."""

import logging

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(task: Task, *args, **kwargs) -> None:
    """Queue ``task(*args, **kwargs)`` once the current transaction commits (at once outside
    one; nothing if it rolls back).

    The write that asked for the task stands whatever happens to the broker: a publish that
    fails (Redis refused, hung or gone; ``CELERY_BROKER_*`` settings bound how long it tries)
    is logged and swallowed, never raised into the request. Every task queued this way must
    therefore be picked up again by a periodic sweep (as ``shared_notebook_render_sweep``
    does for pending renders). Where tasks run inline (no broker), a task's own error is
    logged the same way: the caller's write is committed either way.
    """

    def publish() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # kombu, redis and socket errors; an inline task's own errors
            logger.exception("Could not queue %s%r; a sweep will pick it up", task.name, args)

    transaction.on_commit(publish)
