"""Bookkeeping records liveness changes and ends what routing would end; it is idempotent."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken

from research.models import Assignment, DiscoveryClock, Hub, HubEvent
from research.services.assignment import assignment_locate
from research.services.bookkeeping import discovery_bookkeeping
from research.services.hubs import hub_drain, hub_heartbeat_record, server_token_issue
from research.tests.conftest import heartbeat_age


def kinds(hub) -> list[str]:
    return list(HubEvent.objects.filter(hub=hub).order_by("pk").values_list("kind", flat=True))


@pytest.mark.django_db
def test_stale_then_dead_then_recovered_are_recorded_once_each(make_hub):
    hub = make_hub("hub-1")

    heartbeat_age(hub, 10)
    discovery_bookkeeping()
    discovery_bookkeeping()
    heartbeat_age(hub, 31)
    discovery_bookkeeping()
    heartbeat_age(hub, 0)
    discovery_bookkeeping()
    discovery_bookkeeping()

    assert kinds(hub) == ["registered", "started", "went_stale", "died", "recovered"]


@pytest.mark.django_db
def test_a_dead_hubs_assignments_end(make_hub, make_user):
    hub = make_hub("hub-1")
    for _ in range(3):
        assignment_locate(user=make_user())
    heartbeat_age(hub, 31)

    report = discovery_bookkeeping()
    again = discovery_bookkeeping()

    assert (report.events, report.assignments_ended) == (1, 3)
    assert (again.events, again.assignments_ended) == (0, 0)
    assert set(Assignment.objects.values_list("end_reason", flat=True)) == {"hub_dead"}
    assert Hub.objects.get(pk=hub.pk).assigned_count == 0


@pytest.mark.django_db
def test_a_stale_hubs_assignments_stay(make_hub, make_user):
    hub = make_hub("hub-1")
    assignment_locate(user=make_user())
    heartbeat_age(hub, 10)

    report = discovery_bookkeeping()

    assert report.assignments_ended == 0
    assert Assignment.objects.get().ended_at is None


@pytest.mark.django_db
def test_drained_users_without_a_server_are_ended(make_hub, make_user):
    hub = make_hub("hub-1")
    running, idle = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=running)
    assignment_locate(user=idle)
    hub_heartbeat_record(hub=hub, running=["ada"])
    hub_drain(hub=hub)

    report = discovery_bookkeeping()

    assert report.assignments_ended == 1
    assert Assignment.objects.get(user=idle).end_reason == "drained"
    assert Assignment.objects.get(user=running).ended_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_change_nothing_more_than_one(make_hub, make_user):
    hubs = [make_hub(f"hub-{i}") for i in range(4)]
    for _ in range(20):
        assignment_locate(user=make_user())
    for hub in hubs:
        heartbeat_age(hub, 31)
    reports, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            reports.append(discovery_bookkeeping())
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.events for r in reports) == 4
    assert sum(r.assignments_ended for r in reports) == 20
    assert HubEvent.objects.filter(kind="died").count() == 4
    assert list(Hub.objects.values_list("assigned_count", flat=True)) == [0, 0, 0, 0]


def site_outage(seconds: float) -> None:
    """The site heard no heartbeat for ``seconds`` (its database was down): every hub's last
    heartbeat and the discovery clock are that old."""
    then = timezone.now() - dt.timedelta(seconds=seconds)
    Hub.objects.update(last_heartbeat_at=then)
    DiscoveryClock.objects.update_or_create(
        pk=1, defaults={"heard_at": then, "listening_since": then - dt.timedelta(hours=1)}
    )


@pytest.mark.django_db
def test_a_gap_that_covers_the_sites_own_outage_kills_no_hub(make_hub, make_user):
    hub_a, hub_b = make_hub("hub-a"), make_hub("hub-b")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=ada)
    assignment_locate(user=bob)
    site_outage(60)

    during = discovery_bookkeeping()  # before any hub got through again
    hub_heartbeat_record(hub=Hub.objects.get(pk=hub_a.pk), running=["ada"])  # back: hub-a first
    after = discovery_bookkeeping()

    assert (during.assignments_ended, after.assignments_ended) == (0, 0)
    assert assignment_locate(user=ada) == hub_a
    assert assignment_locate(user=bob) == hub_b  # hub-b has DEAD_AFTER to beat again
    assert Assignment.objects.filter(ended_at__isnull=True).count() == 2
    assert "died" not in kinds(hub_b)


@pytest.mark.django_db
def test_after_an_outage_a_hub_that_never_comes_back_dies(make_hub, make_user):
    hub_a, hub_b = make_hub("hub-a"), make_hub("hub-b")
    bob = make_user(username="bob")
    assignment_locate(user=make_user(username="ada"))
    assignment_locate(user=bob)
    site_outage(60)
    hub_heartbeat_record(hub=Hub.objects.get(pk=hub_a.pk), running=[])
    # The site has been hearing hub-a for longer than DEAD_AFTER (30 s) since the outage.
    DiscoveryClock.objects.update(listening_since=timezone.now() - dt.timedelta(seconds=31))

    report = discovery_bookkeeping()

    assert report.assignments_ended == 1
    assert Assignment.objects.get(user=bob).end_reason == "hub_dead"
    assert assignment_locate(user=bob) == hub_a
    assert kinds(hub_b)[-1] == "died"


@pytest.mark.django_db
def test_a_disabled_users_assignment_ends_with_their_server_credential(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    server_token_issue(hub=hub, username="ada")
    ada.is_active = False
    ada.save()

    report = discovery_bookkeeping()
    again = discovery_bookkeeping()

    assert (report.assignments_ended, again.assignments_ended) == (1, 0)
    assert Assignment.objects.get(user=ada).end_reason == "user_disabled"
    assert Hub.objects.get(name="hub-1").assigned_count == 0
    assert not AccessToken.objects.filter(user=ada, scope="notebooks").exists()
