"""/healthz (liveness) and /readyz (readiness) against real services, refused and frozen ones.

A "frozen" service is a loopback socket that accepts connections and never answers, as a
stopped (SIGSTOP) server or a black-holed network looks to a client.
"""

import socket
import threading
import time

import boto3
import pytest
from moto.server import ThreadedMotoServer

from quantsite import health
from quantsite.tests.site_process import site_process

pytestmark = pytest.mark.django_db

# Port 9 (discard) on loopback: nothing listens, a connection is refused at once.
REFUSED = "127.0.0.1:9"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_liveness_answers_without_the_database():
    healthz, readyz = site_process(
        ["/healthz", "/readyz"], DATABASE_URL=f"postgres://postgres@{REFUSED}/none", REDIS_URL=""
    )

    assert (healthz["status"], healthz["json"]) == (200, {"status": "ok"})
    assert (readyz["status"], readyz["json"]) == (
        503,
        {"status": "unavailable", "checks": {"database": "unavailable"}},
    )


def test_readiness_gives_up_on_a_frozen_database_within_its_timeout(hung_port):
    _warm_up, healthz, readyz, again = site_process(
        ["/healthz", "/healthz", "/readyz", "/readyz"],
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{hung_port}/none",
        REDIS_URL="",
        READYZ_TIMEOUT="1",
    )

    assert healthz["status"] == 200
    assert healthz["seconds"] < 0.5
    assert readyz["status"] == 503
    assert readyz["json"]["checks"] == {"database": "unavailable"}
    assert 0.9 < readyz["seconds"] < 2.5
    # The first check still hangs: the next probe waits on it (no second connection attempt
    # piles up) and answers within its own timeout.
    assert again["status"] == 503
    assert again["seconds"] < 1.5


def test_concurrent_probes_share_one_check_and_its_answer():
    calls = []

    def slow_but_healthy() -> bool:
        calls.append(1)
        time.sleep(0.3)
        return True

    answers = []

    def probe() -> None:
        check = health._Check.running("slow-but-healthy", slow_but_healthy)
        answers.append(check.ok(time.monotonic() + 2))

    probes = [threading.Thread(target=probe) for _ in range(3)]
    for thread in probes:
        thread.start()
    for thread in probes:
        thread.join()

    assert answers == [True, True, True]
    assert calls == [1]


def test_ready_without_redis_configured(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_a_refused_redis_is_degraded_not_unready(client, settings):
    settings.REDIS_URL = f"redis://{REFUSED}/0"

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "degraded"},
    }


def test_a_frozen_redis_is_degraded_within_the_timeout(client, settings, hung_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{hung_port}/0"
    settings.READYZ_TIMEOUT = 0.5
    start = time.monotonic()

    response = client.get("/readyz")

    assert time.monotonic() - start < 1.5
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "degraded"}


def test_liveness_touches_neither_redis_nor_the_database(
    client, settings, hung_port, django_assert_num_queries
):
    settings.REDIS_URL = f"redis://127.0.0.1:{hung_port}/0"

    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def s3_bucket(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="ready-test"
    )
    settings.S3_BUCKET = "ready-test"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "ready-test",
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
            },
        },
    }
    yield server
    server.stop()


def test_s3_is_checked_when_configured(client, settings, s3_bucket):
    settings.REDIS_URL = ""

    up = client.get("/readyz")
    s3_bucket.stop()
    down = client.get("/readyz")

    assert (up.status_code, up.json()) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "s3": "ok"}},
    )
    assert (down.status_code, down.json()) == (
        200,
        {"status": "degraded", "checks": {"database": "ok", "s3": "degraded"}},
    )


@pytest.mark.redis
def test_ready_with_the_real_redis(client, settings):

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_take_get_and_head_only(client, path):
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
