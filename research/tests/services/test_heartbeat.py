"""``hub_heartbeat``: on PostgreSQL one statement judges the credential and records the beat;
it must do exactly what the step-by-step ``hub_heartbeat_record`` does, and refuse what the
hub API refuses, from the rows as they are at each beat (no cache)."""

import pytest
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken

from research.exceptions import HubConflict, HubCredentialRejected, HubNotRecognized
from research.models import Assignment, DiscoveryClock, Hub
from research.services.assignment import assignment_locate
from research.services.hubs import hub_disable, hub_drain, hub_heartbeat, hub_heartbeat_record
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hubs(client, make_hub, make_user):
    """hub-a with ada (running), bob (not running) and dee (disabled); hub-b with cy."""
    hub_a, hub_b = make_hub("hub-a"), make_hub("hub-b")
    token = hub_token(client, hub_a.application, make_hub.secrets["hub-a"])
    users = {name: make_user(username=name) for name in ["ada", "cy", "bob", "dee"]}
    placed = {name: assignment_locate(user=user).name for name, user in users.items()}
    assert placed == {"ada": "hub-a", "cy": "hub-b", "bob": "hub-a", "dee": "hub-b"}
    Assignment.objects.filter(user__username="dee").update(hub=hub_a)
    Hub.objects.filter(pk=hub_a.pk).update(assigned_count=3)
    Hub.objects.filter(pk=hub_b.pk).update(assigned_count=1)
    User = type(users["dee"])
    User.objects.filter(username="dee").update(is_active=False)
    return Hub.objects.get(pk=hub_a.pk), token


def effects(hub: Hub) -> dict:
    """What a beat changes, but its timestamps."""
    return {
        "running": sorted(
            Assignment.objects.filter(hub=hub, server_running=True).values_list(
                "user__username", flat=True
            )
        ),
        "open": sorted(
            Assignment.objects.filter(hub=hub, ended_at__isnull=True).values_list(
                "user__username", flat=True
            )
        ),
        "digest": Hub.objects.get(pk=hub.pk).running_digest,
        "assigned_count": Hub.objects.get(pk=hub.pk).assigned_count,
    }


@pytest.mark.parametrize("mode", ["active", "draining"])
def test_the_one_statement_and_the_steps_do_the_same(two_hubs, mode):
    hub, token = two_hubs
    if mode == "draining":
        hub_drain(hub=hub)
        hub.refresh_from_db()
    running = ["ada", "cy", "dee", "ghost", "ada"]
    with_steps = hub_heartbeat_record(hub=hub, running=running)
    after_steps = effects(hub)
    # Back to the state before, then the same report through hub_heartbeat.
    Assignment.objects.filter(hub=hub).update(server_running=False, ended_at=None, end_reason="")
    Hub.objects.filter(pk=hub.pk).update(running_digest="", assigned_count=3)

    in_one = hub_heartbeat(credential=token, running=running)

    assert in_one == with_steps
    assert in_one.stop == ["cy", "dee", "ghost"]
    assert effects(hub) == after_steps
    assert after_steps["running"] == ["ada", "dee"]
    assert after_steps["open"] == (["ada", "dee"] if mode == "draining" else ["ada", "bob", "dee"])


def test_a_beat_records_the_running_set_only_when_it_changed(two_hubs):
    hub, token = two_hubs
    hub_heartbeat(credential=token, running=["ada"])
    # Staff's or the bookkeeping's own change in between is not undone by an unchanged report.
    Assignment.objects.filter(user__username="ada").update(server_running=False)

    hub_heartbeat(credential=token, running=["ada"])

    assert effects(hub)["running"] == []


def test_the_first_beat_the_site_hears_starts_the_discovery_clock(two_hubs):
    _hub, token = two_hubs
    DiscoveryClock.objects.all().delete()

    hub_heartbeat(credential=token, running=[])

    clock = DiscoveryClock.objects.get(pk=1)
    assert (timezone.now() - clock.heard_at).total_seconds() < 5


def test_a_revoked_token_is_refused_at_the_next_beat(two_hubs):
    _hub, token = two_hubs
    hub_heartbeat(credential=token, running=[])
    AccessToken.objects.filter(user__isnull=True).delete()

    with pytest.raises(HubCredentialRejected):
        hub_heartbeat(credential=token, running=[])


def test_a_disabled_hub_is_refused_at_the_next_beat(two_hubs):
    hub, token = two_hubs
    hub_heartbeat(credential=token, running=[])
    hub_disable(hub=hub)

    with pytest.raises(HubCredentialRejected):
        hub_heartbeat(credential=token, running=[])


def test_a_user_disabled_between_two_beats_is_stopped_at_the_next(two_hubs):
    _hub, token = two_hubs
    assert hub_heartbeat(credential=token, running=["ada"]).stop == []
    type(Assignment.objects.get(user__username="ada").user).objects.filter(username="ada").update(
        is_active=False
    )

    assert hub_heartbeat(credential=token, running=["ada"]).stop == ["ada"]


def test_a_users_token_is_not_a_hub_credential(two_hubs, client, make_user):
    hub, _token = two_hubs
    ada = Assignment.objects.get(user__username="ada").user
    token = AccessToken.objects.create(
        user=ada,
        application=hub.application,
        token="a-users-token",
        scope="discovery",
        expires=timezone.now() + timezone.timedelta(hours=1),
    )

    with pytest.raises(HubNotRecognized):
        hub_heartbeat(credential=token.token, running=[])


def test_a_stopped_hub_must_start_again(two_hubs):
    hub, token = two_hubs
    Hub.objects.filter(pk=hub.pk).update(stopped_at=timezone.now())

    with pytest.raises(HubConflict):
        hub_heartbeat(credential=token, running=[])


@pytest.mark.postgres
def test_on_postgresql_a_beat_is_one_round_trip(two_hubs):
    _hub, token = two_hubs
    hub_heartbeat(credential=token, running=["ada"])  # the clock exists, the digest is set
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        answer = hub_heartbeat(credential=token, running=["ada", "bob"])

    assert answer.stop == []
    assert len(statements) == 1
