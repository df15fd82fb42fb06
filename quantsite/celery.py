"""The Celery application.

Broker and behaviour come from Django settings (the ``CELERY_`` namespace): with ``REDIS_URL``
set, tasks go through Redis to a worker; with nothing set, they run inline in the caller
(``CELERY_TASK_ALWAYS_EAGER``), so the embedded default needs no broker.

Run a worker with ``celery -A quantsite worker`` and the scheduler with
``celery -A quantsite beat``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")

app = Celery("quantsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
