"""Queueing Celery tasks from services without letting the broker fail the request, and the
guard that keeps a second ``celery beat`` from doubling the periodic work (``BeatTask``).

Services name the tasks they queue (``"community.tasks.shared_notebook_render"``), as Celery's
messages do, instead of importing them: each app's ``tasks`` module calls its services, so a
service that imported it would close an import cycle (the layers in pyproject.toml).
"""

import datetime as dt
import functools
import logging

import redis
from celery import Task, current_app
from django.conf import settings
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


class BeatTask(Task):
    """The base of every task ``CELERY_BEAT_SCHEDULE`` names: of the runs that ``celery beat``
    sends, at most one per window of 0.9 times the task's period starts its work, however many
    beats are running (one started by mistake, an old one left behind by a release).

    A run that ``celery beat`` sent (its message carries Celery's ``celery_beat_task`` header)
    first sets the Redis key ``quantsite:beat:<task name>`` with ``SET NX PX`` for 0.9 of the
    period its schedule entry gives. The run that sets it does the work; a run that finds it
    set returns at once (logged). The key is left to expire, never deleted, so the other
    beat's message later in the same window finds it: one beat's worth of work, whichever
    beat sends first. 0.9 and not 1.0, so that one beat whose runs start a little late or
    early (a busy worker) never loses one; and no fixed clock-aligned slots, for the same
    reason (a beat ticking near a slot's edge would skip runs). It guards starts only, not a
    run's length: the periodic services are idempotent and safe to overlap, so a slow run
    overlapping the next is harmless, as it was before.

    Not guarded: runs without Redis (the embedded default, tasks inline), runs not sent by
    beat (a direct call, ``.delay()``, ``celery call`` by an operator), retries (the first
    attempt took the key), and tasks with no fixed period (a crontab entry). A Redis that
    fails to answer lets the run go ahead (logged): a run twice is harmless, a run missed is
    not. A skipped run ends as a success (for Celery and ``/metrics``). One schedule entry
    per task: the key is the task's name, the period its first entry's.
    """

    def __call__(self, *args, **kwargs):
        if not self._first_in_window():
            logger.info("%s: another beat's run already started in this window; skipped", self.name)
            return None
        return super().__call__(*args, **kwargs)

    def _first_in_window(self) -> bool:
        request = self.request
        if (
            not settings.REDIS_URL
            or not (request.headers or {}).get("celery_beat_task")
            or request.retries
        ):
            return True
        period = beat_period(self.app.conf.beat_schedule, self.name)
        if not period:
            return True
        try:
            return bool(
                _redis(settings.REDIS_URL).set(
                    f"quantsite:beat:{self.name}", "1", nx=True, px=max(1, int(period * 900))
                )
            )
        except redis.RedisError:
            logger.exception("%s: could not check the beat guard in Redis; running", self.name)
            return True


def beat_period(schedule: dict, task_name: str) -> float | None:
    """The period in seconds of the first entry of ``schedule`` (``CELERY_BEAT_SCHEDULE``)
    that runs ``task_name``: a number, a ``timedelta`` or an interval ``schedule``; None for
    an entry without a fixed period (a crontab) or a task no entry runs."""
    for entry in schedule.values():
        if entry.get("task") != task_name:
            continue
        every = entry.get("schedule")
        every = getattr(every, "run_every", every)  # celery.schedules.schedule
        if isinstance(every, dt.timedelta):
            return every.total_seconds()
        if isinstance(every, int | float):
            return float(every)
        return None
    return None


@functools.cache
def _redis(url: str) -> redis.Redis:
    # The broker's own server; bounded as the broker's connections are, so a frozen Redis
    # delays a periodic run by about a second, never blocks it.
    timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
