"""Health endpoints for load balancers and orchestrators.

- ``/healthz`` (liveness): this process serves requests. 200 without touching the database,
  Redis or S3, so an outage of any of them never gets a working process restarted.
- ``/readyz`` (readiness): this copy can do useful work. 200 while the database answers within
  ``READYZ_TIMEOUT`` seconds, 503 otherwise. Redis (the Celery broker) and S3 (when configured)
  are reported as ``"degraded"`` but never fail it: without them the site still serves pages,
  notebooks and saves. Each check runs in its own thread with its own deadline, so a frozen
  service (accepting connections, never answering) costs at most the timeout.
"""

import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# At most one check of each kind in flight: a probe that arrives while one runs waits on it
# (up to its own deadline) instead of starting another, so a frozen service keeps one thread,
# not one per probe, and concurrent probes of a healthy service all see it answer.
_in_flight: dict[str, "_Check"] = {}
_in_flight_lock = threading.Lock()


class _Check:
    """``check()`` running in a thread of its own; ``ok`` once it has returned true in time."""

    def __init__(self, check: Callable[[], bool]):
        self.result: list[bool] = []
        self.thread = threading.Thread(target=self._run, args=(check,), daemon=True)
        self.thread.start()

    @classmethod
    def running(cls, name: str, check: Callable[[], bool]) -> "_Check":
        """The check of this kind now in flight, or a new one."""
        with _in_flight_lock:
            current = _in_flight.get(name)
            if current is None or not current.thread.is_alive():
                current = _in_flight[name] = cls(check)
            return current

    def _run(self, check: Callable[[], bool]) -> None:
        try:
            self.result.append(bool(check()))
        except Exception:  # any failure to answer means unavailable, whatever the client raises
            self.result.append(False)

    def ok(self, deadline: float) -> bool:
        self.thread.join(max(0.0, deadline - time.monotonic()))
        return bool(self.result and self.result[0])


def _database() -> bool:
    # A connection of this thread's own: the request's connection is never left half-used by
    # an abandoned check.
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close()


def _redis() -> bool:
    timeout = settings.READYZ_TIMEOUT
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


def _s3() -> bool:
    import boto3
    from botocore.config import Config

    options = settings.STORAGES["default"]["OPTIONS"]
    timeout = settings.READYZ_TIMEOUT
    client = boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url"),
        region_name=options.get("region_name"),
        config=Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1}
        ),
    )
    client.head_bucket(Bucket=options["bucket_name"])
    return True


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 ``{"status": "ok"}`` whenever this process can answer at all."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 ``{"status": "ok" | "degraded", "checks": {...}}`` while the database
    answers in time; 503 ``{"status": "unavailable", ...}`` when it does not.

    ``checks`` holds ``"database": "ok" | "unavailable"`` and, when configured,
    ``"redis"``/``"s3"``: ``"ok" | "degraded"``. The checks run at the same time, each with
    ``READYZ_TIMEOUT``, so the answer comes within about that long whatever hangs.
    """
    checks = {"database": _database}
    if settings.REDIS_URL:
        checks["redis"] = _redis
    if settings.S3_BUCKET:
        checks["s3"] = _s3
    deadline = time.monotonic() + settings.READYZ_TIMEOUT
    running = {name: _Check.running(name, check) for name, check in checks.items()}
    outcomes = {name: check.ok(deadline) for name, check in running.items()}
    results = {"database": "ok" if outcomes["database"] else "unavailable"}
    for name in checks.keys() - {"database"}:
        results[name] = "ok" if outcomes[name] else "degraded"
    if not outcomes["database"]:
        status = "unavailable"
    elif all(value == "ok" for value in results.values()):
        status = "ok"
    else:
        status = "degraded"
    return JsonResponse(
        {"status": status, "checks": dict(sorted(results.items()))},
        status=503 if status == "unavailable" else 200,
    )
