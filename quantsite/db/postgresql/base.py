"""Django's PostgreSQL backend, with the connection health check paid only where it helps.

Django's ``CONN_HEALTH_CHECKS`` sends a ``SELECT 1`` before the first query of every request
that reuses a persistent connection: one more round trip on every heartbeat and every locate,
the site's hottest requests. Here a connection used less than ``DATABASE_HEALTH_CHECK_IDLE``
seconds ago is taken as alive without the check; one idle longer (a quiet worker, the first
request after a database restart on a quiet site) is checked as Django checks it. A connection
that dies between two close requests fails the next one, which answers 503 with Retry-After
(``quantsite.errors``), and Django replaces it at the end of that request (its errors mark it
for a check).
"""

import math
import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_used = -math.inf

    def close_if_health_check_failed(self):
        # Called before every cursor: the time of the last query is the time of this call.
        now = time.monotonic()
        recently = now - self._last_used < settings.DATABASE_HEALTH_CHECK_IDLE
        self._last_used = now
        if recently and self.connection is not None:
            self.health_check_done = True
        super().close_if_health_check_failed()
