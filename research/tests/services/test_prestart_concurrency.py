"""Concurrent pre-starts on PostgreSQL (threads with their own connections, released together):
the per-hub rate is exact, and a pre-start that is refused keeps no seat."""

import datetime as dt

import pytest
from django.utils import timezone

from research.models import Assignment, Hub
from research.services.prestart import research_prestart
from research.tests.services.test_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def recent_users(make_user, hub, n: int, *, placed: bool) -> list:
    """``n`` users whose servers ran yesterday; with ``placed``, each with an open assignment."""
    yesterday = timezone.now() - dt.timedelta(days=1)
    users = [make_user() for _ in range(n)]
    for user in users:
        Assignment.objects.create(
            user=user,
            hub=hub,
            server_seen_at=yesterday,
            ended_at=yesterday,
            end_reason=Assignment.EndReason.IDLE,
        )
        if placed:
            Assignment.objects.create(user=user, hub=hub)
    if placed:
        Hub.objects.filter(pk=hub.pk).update(assigned_count=n)
    return users


@pytest.mark.parametrize("placed", [False, True], ids=["new-seats", "sticky"])
def test_concurrent_prestarts_on_one_hub_never_exceed_the_rate(
    make_hub, make_user, settings, placed
):
    settings.DISCOVERY_PRESTART_PER_MINUTE = 5
    hub = make_hub("hub-1", capacity=100)
    users = recent_users(make_user, hub, 16, placed=placed)

    results, errors = run_together(
        [lambda user=user: research_prestart(user=user) for user in users]
    )

    assert errors == []
    assert sorted(hub.name for hub in results if hub is not None) == ["hub-1"] * 5
    assert Assignment.objects.filter(prestarted_at__isnull=False).count() == 5
    # Refused pre-starts took no seat: open assignments are the 5 (or the 16 already placed).
    open_count = 16 if placed else 5
    assert Assignment.objects.filter(ended_at__isnull=True).count() == open_count
    assert Hub.objects.get(pk=hub.pk).assigned_count == open_count


def test_two_sessions_of_one_user_prestart_once(make_hub, make_user):
    hub = make_hub("hub-1")
    (ada,) = recent_users(make_user, hub, 1, placed=False)

    results, errors = run_together([lambda: research_prestart(user=ada)] * 6)

    assert errors == []
    assert [hub.name for hub in results if hub is not None] == ["hub-1"]
    assert Assignment.objects.filter(user=ada, ended_at__isnull=True).count() == 1
    assert Hub.objects.get(pk=hub.pk).assigned_count == 1
