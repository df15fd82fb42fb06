"""``research_prestart``: a hub only for a person likely to open research, with no server
running, on a live active hub whose seats and pre-start rate allow it; all or nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from research.models import Assignment, Hub
from research.services.assignment import assignment_locate
from research.services.hubs import hub_drain, hub_heartbeat_record
from research.services.prestart import research_prestart

pytestmark = pytest.mark.django_db


def ran_before(user, hub, *, days_ago: float = 1) -> Assignment:
    """An ended assignment of ``user`` on ``hub`` whose server was seen running ``days_ago``."""
    then = timezone.now() - dt.timedelta(days=days_ago)
    return Assignment.objects.create(
        user=user,
        hub=hub,
        ended_at=then,
        end_reason=Assignment.EndReason.IDLE,
        server_seen_at=then,
    )


def beat(hub, running):
    return hub_heartbeat_record(hub=Hub.objects.get(pk=hub.pk), running=running)


def test_a_returning_user_is_prestarted_on_the_hub_they_keep(make_hub, make_user):
    hub = make_hub("hub-1")
    make_hub("hub-2")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    beat(hub, ["ada"])  # their server ran (seen running) ...
    beat(hub, [])  # ... and stopped

    prestarted = research_prestart(user=ada)

    assert prestarted.name == "hub-1"
    assert prestarted.url == "http://127.0.0.1:8100"
    assignment = Assignment.objects.get(user=ada, ended_at__isnull=True)
    assert (timezone.now() - assignment.prestarted_at).total_seconds() < 5
    assert Hub.objects.get(pk=hub.pk).assigned_count == 1


def test_a_user_without_an_open_assignment_is_placed(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    ran_before(ada, hub, days_ago=13)

    prestarted = research_prestart(user=ada)

    assert prestarted.name == "hub-1"
    assert Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at is not None
    assert Hub.objects.get(pk=hub.pk).assigned_count == 1


def test_none_when_prestarting_is_off(make_hub, make_user, settings):
    settings.RESEARCH_PRESTART = False
    ada = make_user(username="ada")
    ran_before(ada, make_hub("hub-1"))

    assert research_prestart(user=ada) is None
    assert not Assignment.objects.filter(ended_at__isnull=True).exists()


def test_none_for_an_inactive_user(make_hub, make_user):
    ada = make_user(username="ada", is_active=False)
    ran_before(ada, make_hub("hub-1"))

    assert research_prestart(user=ada) is None
    assert not Assignment.objects.filter(ended_at__isnull=True).exists()


@pytest.mark.parametrize("days_ago", [None, 15])
def test_none_for_someone_who_did_not_use_research_lately(make_hub, make_user, days_ago):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    if days_ago is not None:
        ran_before(ada, hub, days_ago=days_ago)
    assignment_locate(user=ada)  # an assignment, but their server never ran in 14 days

    assert research_prestart(user=ada) is None
    assert Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at is None


def test_a_run_that_a_prestart_began_does_not_earn_the_next(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    ran_before(ada, hub, days_ago=20)  # their own last use: too long ago
    now = timezone.now()
    Assignment.objects.create(
        user=ada,
        hub=hub,
        prestarted_at=now - dt.timedelta(days=2),
        server_seen_at=now - dt.timedelta(days=2) + dt.timedelta(seconds=5),
        server_stopped_at=now - dt.timedelta(days=2) + dt.timedelta(hours=1),  # culled unused
        ended_at=now - dt.timedelta(days=2) + dt.timedelta(hours=1, minutes=10),
        end_reason=Assignment.EndReason.IDLE,
    )

    assert research_prestart(user=ada) is None


def test_none_while_their_server_runs(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    beat(hub, ["ada"])

    assert research_prestart(user=ada) is None
    assert Assignment.objects.get(user=ada).prestarted_at is None


def test_none_while_a_prestart_of_the_last_minute_is_under_way(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    ran_before(ada, hub)
    first = research_prestart(user=ada)
    marked = Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at

    again = research_prestart(user=ada)

    assert (first.name, again) == ("hub-1", None)
    assert Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at == marked


def test_none_when_the_hubs_rate_is_used_up(make_hub, make_user, settings):
    settings.DISCOVERY_PRESTART_PER_MINUTE = 2
    hub = make_hub("hub-1", capacity=50)
    now = timezone.now()
    for seconds_ago in (10, 50, 61):  # two within the minute, one just outside it
        Assignment.objects.create(
            user=make_user(),
            hub=hub,
            prestarted_at=now - dt.timedelta(seconds=seconds_ago),
            ended_at=now,
            end_reason=Assignment.EndReason.IDLE,
        )
    ada = make_user(username="ada")
    ran_before(ada, hub)

    assert research_prestart(user=ada) is None
    # All or nothing: the seat the placement took is given back.
    assert not Assignment.objects.filter(user=ada, ended_at__isnull=True).exists()
    assert Hub.objects.get(pk=hub.pk).assigned_count == 0


def test_the_rate_is_per_hub(make_hub, make_user, settings):
    settings.DISCOVERY_PRESTART_PER_MINUTE = 1
    hub_1, hub_2 = make_hub("hub-1"), make_hub("hub-2")
    placed = {}
    for name, hub in [("ada", hub_1), ("bob", hub_1), ("cy", hub_2)]:
        user = placed[name] = make_user(username=name)
        ran_before(user, hub)
        Assignment.objects.create(user=user, hub=hub)  # each keeps their hub (sticky)
    Hub.objects.filter(pk=hub_1.pk).update(assigned_count=2)
    Hub.objects.filter(pk=hub_2.pk).update(assigned_count=1)

    results = [research_prestart(user=placed[name]) for name in ["ada", "bob", "cy"]]

    assert [hub and hub.name for hub in results] == ["hub-1", None, "hub-2"]


def users_on(hub, n: int, make_user) -> None:
    for _ in range(n):
        assert assignment_locate(user=make_user()) == hub


@pytest.mark.parametrize(("already", "prestarted"), [(8, True), (9, False)])
def test_a_prestart_takes_no_seat_of_a_nearly_full_hub(make_hub, make_user, already, prestarted):
    # Capacity 10, DISCOVERY_PRESTART_MAX_FILL 0.9: a pre-start may take the 9th seat, not
    # the 10th (that one stays for someone who opens research).
    hub = make_hub("hub-1", capacity=10)
    users_on(hub, already, make_user)
    ada = make_user(username="ada")
    ran_before(ada, hub)

    result = research_prestart(user=ada)

    assert (result is not None) == prestarted
    assert Hub.objects.get(pk=hub.pk).assigned_count == already + prestarted
    assert Assignment.objects.filter(user=ada, ended_at__isnull=True).exists() == prestarted


def test_a_full_hub_still_prestarts_someone_who_holds_a_seat_on_it(make_hub, make_user):
    hub = make_hub("hub-1", capacity=10)
    ada = make_user(username="ada")
    ran_before(ada, hub)
    assignment_locate(user=ada)
    users_on(hub, 9, make_user)

    assert research_prestart(user=ada).name == "hub-1"
    assert Hub.objects.get(pk=hub.pk).assigned_count == 10


def test_none_when_no_hub_can_take_them(make_hub, make_user):
    hub = make_hub("hub-1", capacity=1)
    users_on(hub, 1, make_user)
    ada = make_user(username="ada")
    ran_before(ada, hub)

    assert research_prestart(user=ada) is None  # NoHubAvailable is not raised to the page


def test_none_on_a_draining_hub(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    ran_before(ada, hub)
    assignment_locate(user=ada)
    hub_drain(hub=hub)

    assert research_prestart(user=ada) is None
    assert Assignment.objects.get(user=ada, ended_at__isnull=True).prestarted_at is None
