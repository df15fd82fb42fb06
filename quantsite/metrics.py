"""Prometheus metrics: ``GET /metrics`` in Prometheus' text format, for a scraper that sends
``Authorization: Bearer <METRICS_TOKEN>``.

What it shows:

- ``quantsite_http_requests_total{view,status}`` and
  ``quantsite_http_request_duration_seconds{view,status}``: every answer of this site
  (``quantsite.middleware.RequestMetricsMiddleware``), labelled by the URL pattern's name
  (``research``, ``oauth2_provider:token``; never the raw path, so the series stay few)
  and the status class (``2xx`` … ``5xx``).
- ``quantsite_celery_tasks_total{task,outcome}``: Celery tasks that ended in ``success``,
  ``failure`` or ``retry`` (Celery's signals), counted in the process that ran them.
- ``quantsite_discovery_hubs{mode,liveness}``, ``quantsite_discovery_seats{mode,kind}`` and
  ``quantsite_discovery_assignments_open``: read from the database at each scrape
  (``research.selectors.discovery.discovery_gauges``), so every copy of the site tells the
  same numbers, whichever the scraper reaches.

Access: with ``METRICS_TOKEN`` empty (the default) ``/metrics`` is a 404; without a bearer
token it is a 401, with a wrong one a 403. The token is compared in constant time.

One process or many: by default each process counts for itself, which is right for one
process (``runserver``, one gunicorn worker, tasks inline). With several processes per host
(gunicorn ``--workers``, Celery's prefork pool), set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory, the same for the site and the worker on that host, emptied before they start
(prometheus_client's multiprocess mode): every process then writes its counts to files there
and any site process answers ``/metrics`` with the sum of all of them, the worker's tasks
included. There are no gauges kept in processes (the discovery gauges are read at scrape
time), so gunicorn needs no ``child_exit`` hook. A worker on a host of its own has no
``/metrics``: its task counts show only where it shares that directory with a site process.
"""

import os

from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from quantsite.authentication import bearer_token
from research.selectors.discovery import discovery_gauges

HTTP_REQUESTS = Counter(
    "quantsite_http_requests",
    "Answers of the site, by URL pattern name and status class.",
    ["view", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "quantsite_http_request_duration_seconds",
    "Time from the request reaching the site's middleware to its answer leaving it.",
    ["view", "status"],
)
CELERY_TASKS = Counter(
    "quantsite_celery_tasks",
    "Celery tasks that ended, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)


def request_observe(*, view: str, status: int, seconds: float) -> None:
    """Count one answer of ``view`` with HTTP ``status`` that took ``seconds``."""
    status_class = f"{status // 100}xx"
    HTTP_REQUESTS.labels(view, status_class).inc()
    HTTP_REQUEST_SECONDS.labels(view, status_class).observe(seconds)


# Connected when this module is imported: by the site's middleware in a web process, and by
# the worker at start (CELERY_IMPORTS), before its pool forks.
@task_success.connect
def _task_succeeded(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "success").inc()


@task_failure.connect
def _task_failed(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "failure").inc()


@task_retry.connect
def _task_retried(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(sender.name, "retry").inc()


class DiscoveryCollector(Collector):
    """Discovery's state, read from the database when scraped (one query per table)."""

    def describe(self):
        # Registering must not query the database; the names come with each scrape.
        return []

    def collect(self):
        gauges = discovery_gauges(now=timezone.now())
        hubs = GaugeMetricFamily(
            "quantsite_discovery_hubs",
            "Registered hubs, by mode (active, draining, disabled) and liveness "
            "(new, live, stale, dead, stopped).",
            labels=["mode", "liveness"],
        )
        for (mode, liveness), count in sorted(gauges.hubs.items()):
            hubs.add_metric([mode, liveness], count)
        seats = GaugeMetricFamily(
            "quantsite_discovery_seats",
            "Seats of live hubs (kind=total: their capacity; kind=used: their open "
            "assignments), by mode (active, draining).",
            labels=["mode", "kind"],
        )
        for mode, (total, used) in sorted(gauges.seats.items()):
            seats.add_metric([mode, "total"], total)
            seats.add_metric([mode, "used"], used)
        yield hubs
        yield seats
        yield GaugeMetricFamily(
            "quantsite_discovery_assignments_open",
            "Open assignments (users placed on a hub), on every hub.",
            value=gauges.assignments_open,
        )


# Kept apart from the counters' registry: in multiprocess mode those are read from files,
# these from the database, in this process.
_DISCOVERY = CollectorRegistry()
_DISCOVERY.register(DiscoveryCollector())


def exposition() -> bytes:
    """Every metric in Prometheus' text format (0.0.4): the counters of this process, or of
    every process on this host in multiprocess mode, then discovery's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY  # with the process' own CPU, memory and garbage collector metrics
    return generate_latest(counters) + generate_latest(_DISCOVERY)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: 404 unless ``METRICS_TOKEN`` is set; 401 without a bearer token, 403
    with another one; else 200 with ``exposition()``."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    presented = bearer_token(request)
    if presented is None:
        return HttpResponse(
            "A bearer token is required.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if not constant_time_compare(presented, expected):
        return HttpResponse("This token is not accepted.\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
