"""Queueing the render of shared notebook versions: after a share commits, and again by the
periodic sweep for what a lost task or a broker outage left pending.

Renders are queued by the task's registered name (``RENDER_TASK``), never by importing
``community.tasks``: the tasks call the services, so the services do not import them.
"""

import datetime as dt

from django.utils import timezone

from community.selectors import versions_render_overdue
from quantsite.tasks import enqueue_after_commit, task_named

# The render task's name (community.tasks registers it under this name; messages already
# queued carry it, so it stays as it is).
RENDER_TASK = "community.tasks.shared_notebook_render"
# A version still pending this long after it was shared has lost its task: the sweep queues
# it again, up to this many at a time.
SWEEP_AFTER = dt.timedelta(minutes=1)
SWEEP_LIMIT = 500


def shared_notebook_render_enqueue(*, version_id: int) -> None:
    """Queue the render of a version once the current transaction commits. A broker that is
    down loses the message (logged) and leaves the version pending, for the sweep."""
    enqueue_after_commit(RENDER_TASK, version_id)


def shared_notebook_render_sweep(*, now: dt.datetime | None = None) -> int:
    """Queue again the render of every version still pending ``SWEEP_AFTER`` after it was
    shared, at most ``SWEEP_LIMIT``; return how many were queued. Safe to repeat or overlap:
    a render that is done or under way does nothing (``rendering.shared_notebook_render``).
    A broker that fails raises its error at the first version (the next sweep tries again)."""
    render = task_named(RENDER_TASK)
    overdue = versions_render_overdue(now=now or timezone.now(), waited=SWEEP_AFTER)
    queued = 0
    for version_id in overdue[:SWEEP_LIMIT]:
        render.delay(version_id)
        queued += 1
    return queued
