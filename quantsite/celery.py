"""The Celery application.

Broker and behaviour come from Django settings (the ``CELERY_`` namespace): with ``REDIS_URL``
set, tasks go through Redis to a worker; with nothing set, they run inline in the caller
(``CELERY_TASK_ALWAYS_EAGER``), so the embedded default needs no broker.

Tasks go to two queues (``CELERY_TASK_ROUTES``): ``render`` for rendering shared notebooks
(seconds each, and a sweep may queue hundreds), ``celery`` (the default) for everything else,
above all the periodic bookkeeping, which must not wait behind a flood of renders. In
production run workers for each::

    celery -A quantsite worker -Q celery     # bookkeeping: discovery, token pruning, sweeps
    celery -A quantsite worker -Q render     # renders; scale these with the share traffic

A small site runs one worker for both, as ``make run`` (the Procfile) does::

    celery -A quantsite worker -Q celery,render

A worker started without ``-Q`` serves ``celery`` only, and renders would wait forever.

Run exactly one scheduler, ``celery -A quantsite beat``. A second one started by mistake does
not double the periodic work (every scheduled task is a ``quantsite.tasks.BeatTask``: of the
runs the beats send, one per 0.9 of its period does the work), but it is still a mistake.

Metrics: workers count their tasks for ``/metrics`` (``quantsite.metrics``, imported at
start through ``CELERY_IMPORTS``); see there for ``PROMETHEUS_MULTIPROC_DIR``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

app = Celery("quantsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
