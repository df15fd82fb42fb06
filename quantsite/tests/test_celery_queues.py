"""Renders have a queue of their own: a flood of them never delays the bookkeeping, which a
real worker on the default queue serves through the real Redis broker."""

import datetime as dt
import shlex
import time

import pytest
from django.conf import settings
from django.utils import timezone
from honcho.environ import parse_procfile
from oauth2_provider.models import AccessToken

from quantsite.accounts.tasks import oauth_tokens_clear
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory
from quantsite.celery import app
from quantsite.tasks import task_named
from quantsite.tests.workers import celery_worker, worker_ready

RENDER_TASK = "community.tasks.shared_notebook_render"


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_renders_go_to_the_render_queue_and_the_rest_to_the_default_queue():
    assert queue_of(RENDER_TASK) == "render"
    assert queue_of("community.tasks.shared_notebook_render_sweep") == "celery"
    assert queue_of("research.tasks.discovery_bookkeeping") == "celery"
    assert queue_of("quantsite.accounts.tasks.oauth_tokens_clear") == "celery"


def test_the_worker_of_make_run_serves_both_queues():
    procfile = parse_procfile((settings.BASE_DIR / "Procfile").read_text())
    command = shlex.split(procfile.processes["worker"])

    assert command[:4] == ["celery", "-A", "quantsite", "worker"]
    assert command[command.index("-Q") + 1] == "celery,render"


def queue_size(name: str) -> int:
    with app.connection_for_write() as connection:
        return connection.default_channel.queue_declare(queue=name, passive=True).message_count


def queues_purge(*names: str) -> None:
    with app.connection_for_write() as connection:
        for name in names:
            connection.default_channel.queue_purge(name)


@pytest.fixture
def bookkeeping_worker(tmp_path):
    """A worker that serves only the default queue (`-Q celery`), as production's bookkeeping
    worker does, against the test database; yields once it is ready; stopped after. The two
    queues are emptied before and after (nothing else in the suite uses them on Redis)."""
    queues_purge("celery", "render")
    try:
        with celery_worker(tmp_path, "celery") as (process, log):
            worker_ready(process, log)
            yield
    finally:
        queues_purge("celery", "render")


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_renders_does_not_delay_the_bookkeeping(bookkeeping_worker):
    assert app.conf.task_always_eager is False
    render = task_named(RENDER_TASK)
    for version_id in range(1_000_000, 1_000_050):  # no render worker runs: they stay queued
        render.delay(version_id)
    assert queue_size("render") == 50
    expired = AccessToken.objects.create(
        user=UserFactory(),
        application=ApplicationFactory(),
        token="expired-behind-a-flood",
        scope="openid",
        expires=timezone.now() - dt.timedelta(days=1),
    )

    started = time.monotonic()
    oauth_tokens_clear.delay()
    while AccessToken.objects.filter(pk=expired.pk).exists() and time.monotonic() - started < 30:
        time.sleep(0.05)
    took = time.monotonic() - started

    assert not AccessToken.objects.filter(pk=expired.pk).exists()
    assert took < 5, took
    assert queue_size("render") == 50  # still waiting for a render worker
