"""A task travels through the real Redis broker to a real Celery worker process."""

import datetime as dt
import time
import uuid

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.tasks import oauth_tokens_clear
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory
from quantsite.tests.workers import celery_worker

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    """A Celery worker on a queue of its own, against the test database; stopped after."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(tmp_path, queue):
        yield queue


def test_expired_tokens_are_cleared_by_a_real_worker(worker):
    app = ApplicationFactory()
    user = UserFactory()
    expired = AccessToken.objects.create(
        user=user,
        application=app,
        token="expired-token",
        scope="openid",
        expires=timezone.now() - dt.timedelta(days=1),
    )
    live = AccessToken.objects.create(
        user=user,
        application=app,
        token="live-token",
        scope="openid",
        expires=timezone.now() + dt.timedelta(hours=1),
    )

    oauth_tokens_clear.apply_async(queue=worker)

    deadline = time.monotonic() + 60
    while AccessToken.objects.filter(pk=expired.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not AccessToken.objects.filter(pk=expired.pk).exists()
    assert AccessToken.objects.filter(pk=live.pk).exists()


def test_without_a_broker_the_task_runs_inline(settings):
    # The embedded default: CELERY_TASK_ALWAYS_EAGER runs the task in the caller.
    from quantsite.celery import app as celery_app

    user = UserFactory()
    expired = AccessToken.objects.create(
        user=user,
        application=ApplicationFactory(),
        token="expired-inline",
        scope="openid",
        expires=timezone.now() - dt.timedelta(days=1),
    )
    celery_app.conf.task_always_eager = True
    try:
        oauth_tokens_clear.delay()
    finally:
        celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER

    assert not AccessToken.objects.filter(pk=expired.pk).exists()
