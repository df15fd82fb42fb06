"""Queueing Celery tasks from services without letting the broker fail the request.

Services name the tasks they queue (``"community.tasks.shared_notebook_render"``), as Celery's
messages do, instead of importing them: each app's ``tasks`` module calls its services, so a
service that imported it would close an import cycle (the layers in pyproject.toml).
"""

import logging

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def task_named(name: str) -> Task:
    """The task registered under ``name``. A process that has not loaded it yet (a web
    process imports no ``tasks`` module of its own) loads every app's tasks first, as a
    worker does when it starts (Celery's autodiscovery). Raises ``KeyError`` for a name no
    app registers."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def enqueue_after_commit(name: str, *args, **kwargs) -> None:
    """Queue the task registered as ``name`` with ``(*args, **kwargs)`` once the current
    transaction commits (at once outside one; nothing if it rolls back). A name no app
    registers raises ``KeyError`` here, in the caller, not after the commit.

    The write that asked for the task stands whatever happens to the broker: a publish that
    fails (Redis refused, hung or gone; ``CELERY_BROKER_*`` settings bound how long it tries)
    is logged and swallowed, never raised into the request. Every task queued this way must
    therefore be picked up again by a periodic sweep (as ``shared_notebook_render_sweep``
    does for pending renders). Where tasks run inline (no broker), a task's own error is
    logged the same way: the caller's write is committed either way.
    """
    task = task_named(name)

    def publish() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # kombu, redis and socket errors; an inline task's own errors
            logger.exception("Could not queue %s%r; a sweep will pick it up", name, args)

    transaction.on_commit(publish)
