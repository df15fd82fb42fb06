"""Load generation and observation for the community benchmark: series of GETs through
gunicorn and through Django's test client, waiting for renders, and the in-process render that
serves as the baseline. Needs Django set up."""

import gc
import time
from collections.abc import Callable

from common import request

PagePath = str | Callable[[int], str]


def _path(path: PagePath, i: int) -> str:
    """``path`` itself, or for a series that moves through pages, its ``i``-th path."""
    return path(i) if callable(path) else path


def http_series(
    base: str, path: PagePath, count: int, warmup: int = 5, budget_s: float = 45
) -> dict:
    """``count`` GETs of ``path`` from ``base``, one after another, after ``warmup`` untimed
    ones (fewer if they take over ``budget_s`` in all). Returns ``latencies`` (seconds),
    ``bytes`` (the largest body) and ``errors`` (answers other than 200).

    The client's own garbage collection is held off while it times: this process holds the
    seeded forum, and a full collection in the middle of a request was timed as the site's."""
    latencies, sizes, errors = [], [], 0
    deadline = time.monotonic() + budget_s
    gc.collect()
    gc.disable()
    try:
        for i in range(warmup + count):
            status, body, seconds = request(base, "GET", _path(path, i))
            if status != 200:
                errors += 1
            if i >= warmup:
                latencies.append(seconds)
                sizes.append(len(body))
                if time.monotonic() > deadline:
                    break
    finally:
        gc.enable()
    return {"latencies": latencies, "bytes": max(sizes, default=0), "errors": errors}


def django_series(path: PagePath, count: int, warmup: int = 3, budget_s: float = 20) -> dict:
    """The same series in this process through Django's test client: the time Django spends,
    without gunicorn or the network. Returns ``latencies``, ``errors`` and ``queries`` (the SQL
    queries of one more request of the first path)."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    latencies, errors = [], 0
    deadline = time.monotonic() + budget_s
    # As the site under gunicorn here: no broker or S3, so /readyz is one SELECT 1.
    with override_settings(REDIS_URL=""):
        for i in range(warmup + count):
            started = time.perf_counter()
            response = client.get(_path(path, i))
            elapsed = time.perf_counter() - started
            errors += response.status_code != 200
            if i >= warmup:
                latencies.append(elapsed)
                if time.monotonic() > deadline:
                    break
        with CaptureQueriesContext(connection) as queries:
            client.get(_path(path, 0))
    return {"latencies": latencies, "errors": errors, "queries": len(queries)}


def wait_rendered(version_ids: list[int], timeout: float, interval: float) -> dict[int, str]:
    """Poll the versions' rows every ``interval`` seconds until none is pending (or
    ``timeout`` passes); returns their render states by id."""
    from community.models import SharedNotebookVersion

    deadline = time.monotonic() + timeout
    while True:
        states = dict(
            SharedNotebookVersion.objects.filter(pk__in=version_ids).values_list(
                "pk", "render_state"
            )
        )
        if all(state != "pending" for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(interval)


def render_in_process(version_id: int) -> float:
    """Render an already rendered version again, here, from scratch, through the rendering
    service; returns the seconds it took."""
    from community.models import SharedNotebookVersion
    from community.services import rendering
    from community.storage import storage

    version = SharedNotebookVersion.objects.get(pk=version_id)
    if version.html_key:
        storage().delete(version.html_key)  # so the HTML is written again, as the worker did
    SharedNotebookVersion.objects.filter(pk=version_id).update(render_state="pending")
    started = time.perf_counter()
    rendering.shared_notebook_render(version_id=version_id)
    return time.perf_counter() - started
