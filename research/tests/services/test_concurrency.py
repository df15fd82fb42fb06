"""Real concurrency on PostgreSQL: threads with their own connections, released together."""

import threading

import pytest
from django.db import connection
from django.db.models import Count

from research import crypto
from research.exceptions import NoHubAvailable
from research.models import Assignment, ContentEntry, Hub
from research.services.assignment import assignment_locate
from research.services.notebooks import file_save

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(calls) -> tuple[list, list]:
    """Run the callables in threads released at once; return (results, errors)."""
    results, errors = [], []
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_concurrent_first_visits_of_one_user_make_one_assignment(make_hub, make_user):
    for name in ["hub-a", "hub-b", "hub-c"]:
        make_hub(name)
    user = make_user()

    results, errors = run_together([lambda: assignment_locate(user=user)] * 16)

    assert errors == []
    assert len({hub.name for hub in results}) == 1
    assert Assignment.objects.filter(user=user).count() == 1
    assert sum(Hub.objects.values_list("assigned_count", flat=True)) == 1


def test_a_burst_never_overfills_and_every_seat_is_used(make_hub, make_user):
    for name in ["hub-a", "hub-b", "hub-c"]:
        make_hub(name, capacity=10)
    users = [make_user() for _ in range(40)]

    def visit(user):
        def call():
            try:
                return assignment_locate(user=user).name
            except NoHubAvailable:
                return None

        return call

    results, errors = run_together([visit(user) for user in users])

    assert errors == []
    assert results.count(None) == 10
    per_hub = dict(
        Assignment.objects.filter(ended_at__isnull=True)
        .values_list("hub__name")
        .annotate(n=Count("pk"))
    )
    assert per_hub == {"hub-a": 10, "hub-b": 10, "hub-c": 10}
    assert dict(Hub.objects.values_list("name", "assigned_count")) == per_hub


def test_last_modified_never_goes_backwards_under_concurrent_saves(make_user):
    """Two writers save one file at once, round after round: the version that stays (the
    later commit) carries the later time, and the stored time never decreases."""
    user = make_user()
    file_save(user=user, path="f.txt", data=b"start")
    stamps = [ContentEntry.objects.get(user=user, path="f.txt").last_modified]

    for round_ in range(60):
        saves = {}

        def writer(name, round_=round_, saves=saves):
            def call():
                text = f"{name}-{round_}"
                entry, _ = file_save(user=user, path="f.txt", data=text.encode())
                saves[text] = entry.last_modified

            return call

        _, errors = run_together([writer("a"), writer("b")])
        assert errors == []
        entry = ContentEntry.objects.get(user=user, path="f.txt")
        kept = crypto.unseal(user.pk, entry.content, entry.key_id).decode()
        assert saves[kept] == max(saves.values()), (round_, saves, kept)
        stamps.append(entry.last_modified)

    assert stamps == sorted(stamps)
