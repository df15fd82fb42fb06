import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_healthy_without_redis_configured(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_unhealthy_when_redis_does_not_answer(client, settings):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unavailable"},
    }


def test_unhealthy_when_the_database_does_not_answer():
    # A separate site process whose database is a loopback port where nothing listens; the
    # test's own database stays untouched.
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='127.0.0.1').get('/healthz')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/none",
        "DJANGO_SETTINGS_MODULE": "quantsite.settings",
        "REDIS_URL": "",
    }

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {
        "status": 503,
        "body": {"status": "unavailable", "checks": {"database": "unavailable"}},
    }


@pytest.mark.redis
def test_healthy_with_the_real_redis(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_is_get_only(client):
    assert client.post("/healthz").status_code == 405
