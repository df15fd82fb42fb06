"""The sweep of stored objects no shared version references (community.services.storage_sweep),
its management command and its beat entry: on files (the ``media`` fixture) and on a real
S3-compatible server (moto's server mode) on loopback."""

import datetime as dt
import io
import os
import time

import pytest
from django.core.management import call_command

from community.models import SharedNotebook, SharedNotebookVersion
from community.services.storage_sweep import stored_objects_sweep
from community.storage import storage, store_immutable
from community.tasks import stored_objects_sweep as stored_objects_sweep_task

pytestmark = pytest.mark.django_db

DAY = 24 * 60 * 60


def aged(key: str, seconds: float) -> str:
    """Make the stored file ``key`` last written ``seconds`` ago (the filesystem's clock)."""
    then = time.time() - seconds
    os.utime(storage().path(key), (then, then))
    return key


def version_with(user, **keys) -> SharedNotebookVersion:
    shared = SharedNotebook.objects.create(author=user, source_path=f"{len(keys)}.ipynb")
    return SharedNotebookVersion.objects.create(shared=shared, number=1, showcase_cell=0, **keys)


@pytest.fixture
def stored(media, make_user):
    """Objects under shared/: three a version references (two days old), one unreferenced
    and two days old, one unreferenced and an hour old."""
    referenced = {
        "ipynb_key": aged(store_immutable(b"notebook", ".ipynb"), 2 * DAY),
        "html_key": aged(store_immutable(b"<p>html</p>", ".html"), 2 * DAY),
        "thumbnail_key": aged(store_immutable(b"png", ".png"), 2 * DAY),
    }
    version_with(make_user(username="ada"), **referenced)
    old = aged(store_immutable(b"left behind", ".ipynb"), 2 * DAY)
    young = aged(store_immutable(b"being shared", ".ipynb"), 60 * 60)
    return {"referenced": set(referenced.values()), "old": old, "young": young}


def listed() -> set[str]:
    return {f"shared/{name}" for name in storage().listdir("shared")[1]}


def test_only_old_unreferenced_objects_are_deleted(stored):
    sweep = stored_objects_sweep()

    assert sweep.deleted == (stored["old"],)
    assert (sweep.listed, sweep.young) == (5, 1)
    assert listed() == stored["referenced"] | {stored["young"]}


def test_the_grace_period_comes_from_the_setting(stored, settings):
    settings.STORAGE_SWEEP_GRACE_SECONDS = 30 * 60

    sweep = stored_objects_sweep()

    assert set(sweep.deleted) == {stored["old"], stored["young"]}
    assert listed() == stored["referenced"]


def test_a_dry_run_deletes_nothing(stored):
    sweep = stored_objects_sweep(dry_run=True)

    assert sweep.deleted == (stored["old"],)
    assert listed() == stored["referenced"] | {stored["old"], stored["young"]}


def test_a_second_sweep_finds_nothing(stored):
    stored_objects_sweep()

    assert stored_objects_sweep().deleted == ()


def test_an_object_shared_by_a_deleted_version_and_a_live_one_stays(media, make_user):
    ada, bob = make_user(username="ada"), make_user(username="bob")
    key = aged(store_immutable(b"same bytes", ".ipynb"), 2 * DAY)  # content-addressed: one object
    gone = version_with(ada, ipynb_key=key)
    version_with(bob, ipynb_key=key)
    gone.shared.delete()

    assert stored_objects_sweep().deleted == ()
    assert listed() == {key}


def test_a_store_where_nothing_was_shared_is_swept_without_error(media):
    assert stored_objects_sweep().listed == 0


def test_the_command_prints_what_it_deletes(stored):
    out = io.StringIO()

    call_command("storage_sweep", stdout=out)

    assert out.getvalue().splitlines() == [
        f"deleted {stored['old']}",
        "Deleted 1 of 5 stored objects; kept 1 unreferenced younger than 86400 s.",
    ]
    assert listed() == stored["referenced"] | {stored["young"]}


def test_the_command_dry_run_prints_and_deletes_nothing(stored):
    out = io.StringIO()

    call_command("storage_sweep", "--dry-run", stdout=out)

    assert out.getvalue().splitlines()[0] == f"would delete {stored['old']}"
    assert listed() == stored["referenced"] | {stored["old"], stored["young"]}


def test_the_task_sweeps_and_beat_runs_it_daily(stored, settings):
    stored_objects_sweep_task.delay()

    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "community.tasks.stored_objects_sweep"
    )
    assert entry["schedule"] == DAY
    assert listed() == stored["referenced"] | {stored["young"]}


# -- S3 ----------------------------------------------------------------------------------------


def test_on_s3_only_old_unreferenced_objects_are_deleted(s3, make_user):
    s3_client, bucket = s3
    kept = store_immutable(b"referenced", ".ipynb")
    version_with(make_user(username="ada"), ipynb_key=kept)
    unreferenced = store_immutable(b"left behind", ".html")
    s3_client.put_object(Bucket=bucket, Key="elsewhere/x.txt", Body=b"not the sweep's")

    young = stored_objects_sweep()  # just written: within the day's grace
    dry = stored_objects_sweep(older_than=dt.timedelta(0), dry_run=True)
    swept = stored_objects_sweep(older_than=dt.timedelta(0))

    keys = {item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert (young.deleted, young.young) == ((), 1)
    assert dry.deleted == swept.deleted == (unreferenced,)
    assert keys == {kept, "elsewhere/x.txt"}


def test_storing_bytes_already_stored_makes_their_object_young_again(stored):
    """A share of the same bytes as an old unreferenced object refers to it: the object is
    marked as written now, so the sweep spares it until that share has committed."""
    again = store_immutable(b"left behind", ".ipynb")

    report = stored_objects_sweep()

    assert again == stored["old"]
    assert again not in report.deleted and again in listed()
    assert time.time() - os.path.getmtime(storage().path(again)) < 60


def test_on_s3_storing_bytes_already_stored_makes_their_object_young_again(s3):
    s3_client, bucket = s3
    key = store_immutable(b"left behind", ".html")
    first = s3_client.head_object(Bucket=bucket, Key=key)["LastModified"]
    time.sleep(1.1)  # S3 keeps modification times to the second

    assert store_immutable(b"left behind", ".html") == key
    assert s3_client.head_object(Bucket=bucket, Key=key)["LastModified"] > first
    assert s3_client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"left behind"
