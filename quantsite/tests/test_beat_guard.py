"""A second `celery beat` does not double the periodic work (quantsite.tasks.BeatTask): of
the runs beats send, one per 0.9 of the task's period does the work, judged in real Redis.
The side effect counted is the task's own: expired OAuth tokens deleted."""

import datetime as dt
import re
import time
import uuid

import pytest
import redis
from celery.beat import ScheduleEntry, Scheduler
from celery.schedules import crontab, schedule
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.tasks import oauth_tokens_clear
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory
from quantsite.celery import app
from quantsite.tasks import BeatTask, beat_period, task_named
from quantsite.tests.workers import celery_worker

TASK = "quantsite.accounts.tasks.oauth_tokens_clear"
KEY = f"quantsite:beat:{TASK}"
# What celery beat adds to every message it sends (celery.beat.Scheduler.apply_async).
FROM_BEAT = {"celery_beat_task": True}


def expired_token() -> AccessToken:
    return AccessToken.objects.create(
        user=UserFactory(),
        application=ApplicationFactory(),
        token=f"expired-{uuid.uuid4().hex}",
        scope="openid",
        expires=timezone.now() - dt.timedelta(days=1),
    )


def exists(token: AccessToken) -> bool:
    return AccessToken.objects.filter(pk=token.pk).exists()


@pytest.fixture
def guard_key():
    """The task's guard key absent before and after (a real key lasts 0.9 of an hour)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(KEY)
    yield client
    client.delete(KEY)


@pytest.fixture
def period_of_two_seconds():
    """The token pruning scheduled every 2 s instead of hourly, in this process."""
    saved = app.conf.beat_schedule
    app.conf.beat_schedule = {
        **saved,
        "oauth-tokens-clear": {"task": TASK, "schedule": dt.timedelta(seconds=2)},
    }
    yield
    app.conf.beat_schedule = saved


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.usefixtures("guard_key", "period_of_two_seconds")
def test_a_second_beat_run_within_the_period_does_nothing_and_one_after_it_works():
    first = expired_token()
    oauth_tokens_clear.apply(headers=FROM_BEAT)
    assert not exists(first)

    second = expired_token()
    oauth_tokens_clear.apply(headers=FROM_BEAT)  # another beat, within 0.9 of 2 s
    assert exists(second)

    time.sleep(2)
    oauth_tokens_clear.apply(headers=FROM_BEAT)
    assert not exists(second)


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.usefixtures("guard_key", "period_of_two_seconds")
def test_runs_not_sent_by_beat_are_never_held_back():
    oauth_tokens_clear.apply(headers=FROM_BEAT)
    token = expired_token()

    oauth_tokens_clear.apply()  # an operator's run, inline
    assert not exists(token)
    token = expired_token()
    oauth_tokens_clear()  # a direct call
    assert not exists(token)


@pytest.mark.django_db
def test_without_redis_the_guard_is_a_no_op(settings, period_of_two_seconds):
    settings.REDIS_URL = ""
    oauth_tokens_clear.apply(headers=FROM_BEAT)
    token = expired_token()

    oauth_tokens_clear.apply(headers=FROM_BEAT)

    assert not exists(token)


def test_every_task_beat_schedules_is_guarded():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert isinstance(task_named(entry["task"]), BeatTask), entry["task"]
        assert beat_period(settings.CELERY_BEAT_SCHEDULE, entry["task"]), entry["task"]


def test_the_period_comes_from_the_beat_schedule():
    entries = {
        "a": {"task": "t.number", "schedule": 60},
        "b": {"task": "t.delta", "schedule": dt.timedelta(minutes=5)},
        "c": {"task": "t.interval", "schedule": schedule(run_every=dt.timedelta(seconds=7))},
        "d": {"task": "t.crontab", "schedule": crontab(minute=0)},
    }
    assert beat_period(entries, "t.number") == 60.0
    assert beat_period(entries, "t.delta") == 300.0
    assert beat_period(entries, "t.interval") == 7.0
    assert beat_period(entries, "t.crontab") is None
    assert beat_period(entries, "t.unscheduled") is None
    assert beat_period(settings.CELERY_BEAT_SCHEDULE, TASK) == 3600.0


@pytest.fixture
def worker(tmp_path):
    """A real worker on a queue of its own (its schedule: the settings', hourly pruning);
    yields its queue and a function that waits until it has finished ``n`` tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(tmp_path, queue) as (process, log):

        def finished(n: int) -> None:
            deadline = time.monotonic() + 60
            pattern = rf"Task {re.escape(TASK)}\[[^]]+\] succeeded"
            while len(re.findall(pattern, log.read_text())) < n:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

        yield queue, finished


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("guard_key")
def test_two_beats_sending_the_same_entry_do_the_work_once(worker):
    queue, finished = worker
    entry = ScheduleEntry(
        name="oauth-tokens-clear", task=TASK, schedule=3600, options={"queue": queue}, app=app
    )
    first = expired_token()
    Scheduler(app, lazy=True).apply_async(entry, advance=False)  # the beat
    finished(1)
    assert not exists(first)

    second = expired_token()
    Scheduler(app, lazy=True).apply_async(entry, advance=False)  # a second beat
    finished(2)
    assert exists(second)

    oauth_tokens_clear.apply_async(queue=queue)  # not from a beat: an operator's run
    finished(3)
    assert not exists(second)
