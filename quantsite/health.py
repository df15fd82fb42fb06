"""``/healthz``: can this copy of the site serve? For load balancers and orchestrators."""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure to answer means unhealthy, whatever the driver raises
        return False


def _redis_ok() -> bool:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok", "checks": {...}}`` when the database (and Redis, when
    ``REDIS_URL`` is set) answers; 503 with ``"status": "unavailable"`` naming what failed."""
    results = {"database": "ok" if _database_ok() else "unavailable"}
    if settings.REDIS_URL:
        results["redis"] = "ok" if _redis_ok() else "unavailable"
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
