"""Routing: sticky, fewest users, capacity and headroom, stale, dead, draining, stop, move."""

import pytest

from research.exceptions import HubConflict, NoHubAvailable
from research.models import Assignment, Hub
from research.services.assignment import assignment_locate, assignment_move
from research.services.hubs import hub_disable, hub_drain, hub_stop
from research.tests.conftest import heartbeat_age

pytestmark = pytest.mark.django_db


def open_assignments(user) -> list[str]:
    return list(
        Assignment.objects.filter(user=user, ended_at__isnull=True).values_list(
            "hub__name", flat=True
        )
    )


def counts() -> dict[str, int]:
    return dict(Hub.objects.values_list("name", "assigned_count"))


def test_a_new_user_goes_to_the_hub_with_fewest_users(make_hub, make_user):
    make_hub("hub-a")
    make_hub("hub-b")
    for _ in range(2):
        assignment_locate(user=make_user())  # hub-a, then hub-b (tie broken by age)
    assignment_locate(user=make_user())  # hub-a: 2, hub-b: 1

    hub = assignment_locate(user=make_user())

    assert hub.name == "hub-b"
    assert counts() == {"hub-a": 2, "hub-b": 2}


def test_a_burst_spreads_evenly_because_users_count_when_assigned(make_hub, make_user):
    for name in ["hub-a", "hub-b", "hub-c"]:
        make_hub(name)

    for _ in range(9):
        assignment_locate(user=make_user())

    assert counts() == {"hub-a": 3, "hub-b": 3, "hub-c": 3}


def test_a_placed_user_stays_on_their_hub(make_hub, make_user):
    make_hub("hub-a")
    user = make_user()
    first = assignment_locate(user=user)
    make_hub("hub-b")  # emptier now, but the user is sticky

    again = assignment_locate(user=user)

    assert first.name == again.name == "hub-a"
    assert open_assignments(user) == ["hub-a"]
    assert counts() == {"hub-a": 1, "hub-b": 0}


def test_capacity_is_never_exceeded(make_hub, make_user):
    make_hub("hub-a", capacity=2)
    assignment_locate(user=make_user())
    assignment_locate(user=make_user())

    with pytest.raises(NoHubAvailable):
        assignment_locate(user=make_user())
    assert counts() == {"hub-a": 2}


def test_headroom_keeps_seats_free_of_new_users(make_hub, make_user, settings):
    settings.DISCOVERY_HEADROOM = 1
    make_hub("hub-a", capacity=3)
    assignment_locate(user=make_user())
    assignment_locate(user=make_user())

    with pytest.raises(NoHubAvailable) as error:
        assignment_locate(user=make_user())
    assert error.value.retry_after == 5
    assert error.value.status_code == 503


def test_a_stale_hub_gets_no_new_users_but_keeps_its_own(make_hub, make_user):
    stale = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    make_hub("hub-b")
    heartbeat_age(stale, 10)  # past STALE_AFTER (5 s), before DEAD_AFTER (30 s)

    assert assignment_locate(user=user).name == "hub-a"
    assert assignment_locate(user=make_user()).name == "hub-b"
    assert counts() == {"hub-a": 1, "hub-b": 1}


def test_a_stale_hub_alone_turns_new_users_away(make_hub, make_user):
    heartbeat_age(make_hub("hub-a"), 10)

    with pytest.raises(NoHubAvailable):
        assignment_locate(user=make_user())


def test_a_dead_hubs_user_is_moved_on_the_spot(make_hub, make_user):
    dead = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    make_hub("hub-b")
    heartbeat_age(dead, 31)

    hub = assignment_locate(user=user)

    assert hub.name == "hub-b"
    ended = Assignment.objects.get(user=user, hub__name="hub-a")
    assert ended.end_reason == "hub_dead"
    assert ended.ended_at is not None
    assert open_assignments(user) == ["hub-b"]
    assert counts() == {"hub-a": 0, "hub-b": 1}


def test_a_dead_hubs_user_with_nowhere_to_go_is_told_to_wait(make_hub, make_user):
    dead = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    heartbeat_age(dead, 31)

    with pytest.raises(NoHubAvailable):
        assignment_locate(user=user)
    assert open_assignments(user) == []
    assert counts() == {"hub-a": 0}


def test_a_recovered_hub_takes_users_again(make_hub, make_user):
    hub = make_hub("hub-a")
    heartbeat_age(hub, 31)
    with pytest.raises(NoHubAvailable):
        assignment_locate(user=make_user())

    heartbeat_age(hub, 0)

    assert assignment_locate(user=make_user()).name == "hub-a"


def test_a_draining_hub_keeps_its_users_and_takes_no_new_ones(make_hub, make_user):
    draining = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    make_hub("hub-b")
    hub_drain(hub=draining)

    assert assignment_locate(user=user).name == "hub-a"
    assert assignment_locate(user=make_user()).name == "hub-b"


def test_a_stopped_hubs_users_go_elsewhere(make_hub, make_user):
    stopped = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    make_hub("hub-b")

    hub_stop(hub=stopped)

    assert open_assignments(user) == []
    assert assignment_locate(user=user).name == "hub-b"
    assert Assignment.objects.get(user=user, hub__name="hub-a").end_reason == "hub_stopped"


def test_a_disabled_hubs_users_go_elsewhere(make_hub, make_user):
    disabled = make_hub("hub-a")
    user = make_user()
    assignment_locate(user=user)
    make_hub("hub-b")

    hub_disable(hub=disabled)

    assert assignment_locate(user=user).name == "hub-b"
    assert Assignment.objects.get(user=user, hub__name="hub-a").end_reason == "hub_disabled"
    assert counts() == {"hub-a": 0, "hub-b": 1}


def test_a_never_started_hub_gets_nobody(make_hub, make_user):
    make_hub("hub-a", start=False)

    with pytest.raises(NoHubAvailable):
        assignment_locate(user=make_user())


def test_staff_move_a_user_to_another_hub(make_hub, make_user):
    make_hub("hub-a")
    target = make_hub("hub-b")
    user = make_user()
    assignment_locate(user=user)
    current = Assignment.objects.get(user=user, ended_at__isnull=True)

    moved = assignment_move(assignment=current, hub=target)

    assert moved.hub.name == "hub-b"
    assert open_assignments(user) == ["hub-b"]
    assert Assignment.objects.get(pk=current.pk).end_reason == "moved"
    assert counts() == {"hub-a": 0, "hub-b": 1}
    assert assignment_locate(user=user).name == "hub-b"


def test_a_move_to_a_full_or_dead_hub_is_refused_and_changes_nothing(make_hub, make_user):
    make_hub("hub-a", capacity=5)
    full = make_hub("hub-b", capacity=1)
    dead = make_hub("hub-c")
    assignment_locate(user=make_user())  # hub-a
    assignment_locate(user=make_user())  # hub-b, now full
    user = make_user()
    assignment_locate(user=user)  # hub-c
    heartbeat_age(dead, 31)
    assignment_locate(user=user)  # hub-c died: back to hub-a
    current = Assignment.objects.get(user=user, ended_at__isnull=True)

    with pytest.raises(HubConflict, match="hub-b is full"):
        assignment_move(assignment=current, hub=full)
    with pytest.raises(HubConflict, match="not live"):
        assignment_move(assignment=current, hub=dead)

    assert open_assignments(user) == ["hub-a"]
    assert counts() == {"hub-a": 2, "hub-b": 1, "hub-c": 0}
