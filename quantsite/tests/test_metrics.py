"""/metrics: Prometheus' text format, only for the holder of METRICS_TOKEN; the request and
Celery task counters it shows, in one process and across processes (multiprocess mode)."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from quantsite.accounts.tasks import oauth_tokens_clear
from quantsite.celery import app
from quantsite.tests.workers import celery_worker, database_url

TOKEN = "metrics-token-for-tests"

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_of(scraped, view: str, status: str) -> float:
    key = ("quantsite_http_requests_total", (("status", status), ("view", view)))
    return scraped.get(key, 0.0)


def test_without_a_configured_token_metrics_is_not_found(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.usefixtures("metrics_token")
def test_without_a_bearer_token_metrics_asks_for_one(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


@pytest.mark.usefixtures("metrics_token")
def test_a_wrong_token_is_refused(client):
    for wrong in ("wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {wrong}")
        assert response.status_code == 403, wrong
        assert b"quantsite_" not in response.content


@pytest.mark.usefixtures("metrics_token")
def test_the_token_gets_the_metrics_in_prometheus_text_format(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "quantsite_http_requests",
        "quantsite_http_request_duration_seconds",
        "quantsite_celery_tasks",
        "quantsite_discovery_hubs",
        "quantsite_discovery_seats",
        "quantsite_discovery_assignments_open",
    } <= names
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.usefixtures("metrics_token")
def test_each_answer_is_counted_by_its_view_name_and_status_class(client):
    before = scrape(client)

    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page/123")
    client.get("/accounts/login/")
    after = scrape(client)

    assert requests_of(after, "healthz", "2xx") - requests_of(before, "healthz", "2xx") == 2
    assert requests_of(after, "unmatched", "4xx") - requests_of(before, "unmatched", "4xx") == 1
    assert requests_of(after, "login", "2xx") - requests_of(before, "login", "2xx") == 1
    # The scrape before this one was counted too (the middleware sees every answer).
    assert requests_of(after, "metrics", "2xx") - requests_of(before, "metrics", "2xx") == 1
    assert not any("/no/such" in str(labels) for _, labels in after)
    duration = (
        "quantsite_http_request_duration_seconds_count",
        (("status", "2xx"), ("view", "healthz")),
    )
    assert after[duration] - before.get(duration, 0.0) == 2


@pytest.mark.usefixtures("metrics_token")
def test_celery_tasks_are_counted_by_name_and_outcome(client):
    @app.task(name="quantsite.tests.test_metrics.failing")
    def failing():
        raise ValueError("fails on purpose")

    success = (
        "quantsite_celery_tasks_total",
        (("outcome", "success"), ("task", "quantsite.accounts.tasks.oauth_tokens_clear")),
    )
    failure = (
        "quantsite_celery_tasks_total",
        (("outcome", "failure"), ("task", "quantsite.tests.test_metrics.failing")),
    )
    before = scrape(client)

    oauth_tokens_clear.apply()
    # As a worker runs it: the error is the task's outcome, not raised into the caller.
    assert failing.apply(throw=False).state == "FAILURE"
    after = scrape(client)

    assert after[success] - before.get(success, 0.0) == 1
    assert after[failure] - before.get(failure, 0.0) == 1


OBSERVE = """
import django
django.setup()
from quantsite.metrics import request_observe
request_observe(view="research", status=200, seconds=0.01)
"""
EXPOSE = """
import sys
import django
django.setup()
from quantsite.metrics import exposition
sys.stdout.write(exposition().decode())
"""


@pytest.mark.django_db(transaction=True)
def test_in_multiprocess_mode_any_process_shows_the_counts_of_all(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "QUANTSITE_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "quantsite.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }

    def run(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(OBSERVE)  # two processes (two gunicorn workers, say), one answer each
    run(OBSERVE)
    scraped = samples(run(EXPOSE))  # a third one answers the scrape

    assert requests_of(scraped, "research", "2xx") == 2
    assert ("quantsite_discovery_assignments_open", ()) in scraped


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_sharing_the_directory_counts_its_tasks_there(tmp_path):
    """A real worker (prefork: the task runs in its pool's child) loads the task counters at
    start (CELERY_IMPORTS) and writes them where the site's processes read them."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    key = (
        "quantsite_celery_tasks_total",
        (("outcome", "success"), ("task", "quantsite.accounts.tasks.oauth_tokens_clear")),
    )
    counted = 0.0
    with celery_worker(
        tmp_path, queue, prefork=True, env={"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    ):
        oauth_tokens_clear.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while counted < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(shared))
            counted = samples(generate_latest(registry).decode()).get(key, 0.0)

    assert counted == 1
