"""Idleness ends assignments: the bookkeeping frees the seat of a user whose server has not run
for ``DISCOVERY_IDLE_AFTER`` (600 s) on a hub the site hears now, and of nobody else."""

import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from research.models import Assignment, Hub
from research.services.assignment import assignment_locate
from research.services.bookkeeping import discovery_bookkeeping
from research.services.hubs import hub_heartbeat, hub_heartbeat_record, server_token_issue
from research.tests.conftest import heartbeat_age, hub_token
from research.tests.services.test_bookkeeping import site_outage

pytestmark = pytest.mark.django_db


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def beat(hub, running):
    return hub_heartbeat_record(hub=Hub.objects.get(pk=hub.pk), running=running)


def placed(user, *, seconds_ago: float) -> Assignment:
    """The user's assignment, as if made ``seconds_ago``."""
    assignment_locate(user=user)
    Assignment.objects.filter(user=user, ended_at__isnull=True).update(created_at=ago(seconds_ago))
    return Assignment.objects.get(user=user, ended_at__isnull=True)


def test_a_prestart_whose_server_never_came_ends_and_frees_its_seat(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=700)
    Assignment.objects.filter(user=ada).update(prestarted_at=ago(601))
    server_token_issue(hub=hub, username="ada")
    beat(hub, [])

    report = discovery_bookkeeping()
    again = discovery_bookkeeping()

    assert (report.assignments_ended, again.assignments_ended) == (1, 0)
    assert Assignment.objects.get(user=ada).end_reason == "idle"
    assert Hub.objects.get(pk=hub.pk).assigned_count == 0
    assert not AccessToken.objects.filter(user=ada, scope="notebooks").exists()


def test_a_server_stopped_longer_than_the_bound_ends(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=5000)
    beat(hub, ["ada"])
    beat(hub, [])  # the heartbeat sees it stop
    stopped = Assignment.objects.get(user=ada)
    assert (stopped.server_running, stopped.server_stopped_at is not None) == (False, True)
    Assignment.objects.filter(user=ada).update(server_seen_at=ago(4000), server_stopped_at=ago(601))

    assert discovery_bookkeeping().assignments_ended == 1
    assert Assignment.objects.get(user=ada).end_reason == "idle"


def test_a_running_server_keeps_its_assignment(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=50_000)
    beat(hub, ["ada"])
    Assignment.objects.filter(user=ada).update(server_seen_at=ago(40_000))

    assert discovery_bookkeeping().assignments_ended == 0
    assert Assignment.objects.get(user=ada).ended_at is None


@pytest.mark.parametrize(
    "field", ["server_stopped_at", "prestarted_at", "located_at", "created_at"]
)
def test_an_assignment_idle_for_less_than_the_bound_stays(make_hub, make_user, field):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=5000)
    beat(hub, [])
    Assignment.objects.filter(user=ada).update(**{field: ago(599)})

    assert discovery_bookkeeping().assignments_ended == 0
    assert Assignment.objects.get(user=ada).ended_at is None


def test_asking_for_the_hub_restarts_the_idle_clock(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=650)  # idle past the bound, before a bookkeeping run ended it
    beat(hub, [])

    assert assignment_locate(user=ada) == hub  # /research: their server is about to start
    report = discovery_bookkeeping()

    assignment = Assignment.objects.get(user=ada)
    assert (report.assignments_ended, assignment.ended_at) == (0, None)
    assert (timezone.now() - assignment.located_at).total_seconds() < 5


def test_asking_again_soon_writes_nothing(make_hub, make_user):
    make_hub("hub-1")
    ada = make_user(username="ada")
    assignment = placed(ada, seconds_ago=100)  # under half the bound

    assignment_locate(user=ada)

    assert Assignment.objects.get(pk=assignment.pk).located_at is None


def test_a_stale_hubs_idle_assignments_stay(make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=5000)
    heartbeat_age(hub, 10)  # the site hears other hubs, not this one: its report is not current

    assert discovery_bookkeeping().assignments_ended == 0
    assert Assignment.objects.get(user=ada).ended_at is None


def test_nothing_ends_for_idleness_during_the_sites_outage(make_hub, make_user):
    make_hub("hub-1")
    ada = make_user(username="ada")
    placed(ada, seconds_ago=5000)
    site_outage(60)  # hub-1 silent for 60 s: past DEAD_AFTER, but the site heard nothing

    report = discovery_bookkeeping()

    assert report.assignments_ended == 0
    assert Assignment.objects.get(user=ada).ended_at is None


def test_a_new_assignment_records_a_server_still_running_there(make_hub, make_user):
    """A user placed again on the hub where their server still runs (their last assignment
    ended before the hub was told to stop it): the next beat, with the same report, records
    the server as running on the new assignment, so it is not taken for idle."""
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    beat(hub, ["ada"])
    Assignment.objects.filter(user=ada).update(ended_at=timezone.now(), end_reason="moved")
    Hub.objects.filter(pk=hub.pk).update(assigned_count=0)
    assignment_locate(user=ada)

    beat(hub, ["ada"])

    assert Assignment.objects.get(user=ada, ended_at__isnull=True).server_running is True


@pytest.mark.postgres
def test_the_one_statement_beat_records_when_a_server_stopped(client, make_hub, make_user):
    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    hub_heartbeat(credential=token, running=["ada"])
    assert Assignment.objects.get(user=ada).server_stopped_at is None

    hub_heartbeat(credential=token, running=[])

    assignment = Assignment.objects.get(user=ada)
    assert assignment.server_running is False
    assert (timezone.now() - assignment.server_stopped_at).total_seconds() < 5
