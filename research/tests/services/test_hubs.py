"""A hub's life: register, start, heartbeat, stop; staff drain, disable, delete."""

import pytest
from oauth2_provider.models import AccessToken, Application

from research.exceptions import HubConflict, HubInvalid
from research.models import Assignment, Hub, HubEvent
from research.services.assignment import assignment_locate
from research.services.hubs import (
    hub_delete,
    hub_disable,
    hub_drain,
    hub_heartbeat_record,
    hub_register,
    hub_start,
    hub_stop,
    hub_undrain,
)

pytestmark = pytest.mark.django_db


def events(hub) -> list[str]:
    return list(HubEvent.objects.filter(hub=hub).order_by("pk").values_list("kind", flat=True))


# -- registration ------------------------------------------------------------------------


def test_register_creates_a_trusted_hub_application(settings):
    registration = hub_register(name="hub-1", url="http://127.0.0.1:8101/", capacity=50)

    hub = registration.hub
    app = hub.application
    assert (hub.name, hub.url, hub.capacity) == ("hub-1", "http://127.0.0.1:8101", 50)
    assert app.redirect_uris == "http://127.0.0.1:8101/hub/oauth_callback"
    assert app.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE
    assert app.skip_authorization
    assert app.policy.allowed_scopes == "openid profile email discovery"
    assert app.policy.allows_client_credentials
    assert len(registration.client_secret) >= 40
    assert app.client_secret != registration.client_secret  # stored hashed
    assert events(hub) == ["registered"]


def test_register_again_updates_without_a_new_secret():
    first = hub_register(name="hub-1", url="http://127.0.0.1:8101")

    again = hub_register(name="hub-1", url="http://127.0.0.1:8111", capacity=7)

    assert again.client_secret is None
    assert again.hub.pk == first.hub.pk
    assert again.hub.application.client_id == first.hub.application.client_id
    assert again.hub.application.redirect_uris == "http://127.0.0.1:8111/hub/oauth_callback"
    assert again.hub.capacity == 7
    assert Application.objects.count() == 1


def test_rotating_the_secret_revokes_the_hubs_tokens(client, make_hub):
    from research.tests.conftest import hub_token

    hub = make_hub("hub-1")
    hub_token(client, hub.application, make_hub.secrets["hub-1"])

    rotated = hub_register(name="hub-1", url=hub.url, rotate_secret=True)

    assert rotated.client_secret and rotated.client_secret != make_hub.secrets["hub-1"]
    assert not AccessToken.objects.filter(application=hub.application).exists()


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("Hub_1", "http://127.0.0.1:8101", "DNS label"),
        ("-hub", "http://127.0.0.1:8101", "DNS label"),
        ("hub-1", "ftp://127.0.0.1:8101", r"http\(s\) URL"),
        ("hub-1", "http://user:pw@127.0.0.1:8101", r"http\(s\) URL"),
        ("hub-1", "http://127.0.0.1:8101/?next=x", r"http\(s\) URL"),
        ("hub-1", "127.0.0.1:8101", r"http\(s\) URL"),
    ],
)
def test_register_refuses_bad_names_and_urls(name, url, message):
    with pytest.raises(HubInvalid, match=message):
        hub_register(name=name, url=url)

    assert not Hub.objects.exists()
    assert not Application.objects.exists()


def test_capacity_cannot_go_below_the_assigned_users(make_hub, make_user):
    hub = make_hub("hub-1", capacity=5)
    for _ in range(3):
        assignment_locate(user=make_user())

    with pytest.raises(HubConflict, match="3 users are assigned"):
        hub_register(name="hub-1", url=hub.url, capacity=2)
    with pytest.raises(HubConflict):
        hub_start(hub=hub, url=hub.url, capacity=2)

    assert Hub.objects.get(pk=hub.pk).capacity == 5


# -- start, heartbeat, stop --------------------------------------------------------------


def test_start_makes_the_hub_live_and_records_it(make_hub):
    hub = make_hub("hub-1", start=False)

    started = hub_start(hub=hub, url=hub.url + "/", capacity=20, version="5.2.1")

    assert started.started_at is not None
    assert started.last_heartbeat_at == started.started_at
    assert (started.capacity, started.version) == (20, "5.2.1")
    assert events(hub) == ["registered", "started"]


def test_start_from_another_url_is_refused(make_hub):
    hub = make_hub("hub-1", start=False)

    with pytest.raises(HubInvalid, match=r"registered at http://127\.0\.0\.1:8100"):
        hub_start(hub=hub, url="http://evil.example:8100")


def test_heartbeat_records_running_servers(make_hub, make_user):
    hub = make_hub("hub-1")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=ada)
    assignment_locate(user=bob)

    answer = hub_heartbeat_record(hub=hub, running=["ada", "stranger"])
    running = dict(Assignment.objects.values_list("user__username", "server_running"))
    hub_heartbeat_record(hub=Hub.objects.get(pk=hub.pk), running=["bob"])
    later = dict(Assignment.objects.values_list("user__username", "server_running"))

    assert (answer.state, answer.stop) == ("active", ["stranger"])
    assert running == {"ada": True, "bob": False}
    assert later == {"ada": False, "bob": True}


def test_heartbeat_before_start_or_after_stop_is_a_conflict(make_hub):
    never_started = make_hub("hub-1", start=False)
    stopped = make_hub("hub-2")
    hub_stop(hub=stopped)

    with pytest.raises(HubConflict, match="call start first"):
        hub_heartbeat_record(hub=never_started, running=[])
    with pytest.raises(HubConflict):
        hub_heartbeat_record(hub=Hub.objects.get(pk=stopped.pk), running=[])


def test_draining_ends_a_users_assignment_when_their_server_stops(make_hub, make_user):
    hub = make_hub("hub-1")
    ada, bob = make_user(username="ada"), make_user(username="bob")
    assignment_locate(user=ada)
    assignment_locate(user=bob)
    hub_heartbeat_record(hub=hub, running=["ada", "bob"])
    hub_drain(hub=hub)

    answer = hub_heartbeat_record(hub=Hub.objects.get(pk=hub.pk), running=["ada", "bob"])
    still_both = Assignment.objects.filter(ended_at__isnull=True).count()
    hub_heartbeat_record(hub=Hub.objects.get(pk=hub.pk), running=["ada"])

    assert (answer.state, answer.stop) == ("draining", [])
    assert still_both == 2
    assert Assignment.objects.get(user=bob).end_reason == "drained"
    assert Assignment.objects.get(user=ada).ended_at is None
    assert Hub.objects.get(pk=hub.pk).assigned_count == 1


def test_undrain_takes_new_users_again(make_hub, make_user):
    hub = make_hub("hub-1")
    hub_drain(hub=hub)

    assert hub_undrain(hub=hub) is True
    assert assignment_locate(user=make_user()).name == "hub-1"
    assert events(hub)[-2:] == ["draining", "undrained"]


def test_stop_is_idempotent(make_hub, make_user):
    hub = make_hub("hub-1")
    assignment_locate(user=make_user())

    hub_stop(hub=hub)
    hub_stop(hub=hub)

    assert events(hub) == ["registered", "started", "stopped"]
    assert Hub.objects.get(pk=hub.pk).assigned_count == 0
    assert Assignment.objects.get().end_reason == "hub_stopped"


def test_disable_ends_assignments_and_revokes_every_token(client, make_hub, make_user):
    from research.tests.conftest import hub_token

    hub = make_hub("hub-1")
    hub_token(client, hub.application, make_hub.secrets["hub-1"])
    assignment_locate(user=make_user())

    assert hub_disable(hub=hub) is True

    hub.refresh_from_db()
    assert hub.mode == "disabled"
    assert hub.assigned_count == 0
    assert not AccessToken.objects.filter(application=hub.application).exists()
    assert events(hub)[-1] == "disabled"


def test_delete_removes_the_hub_its_application_and_tokens(client, make_hub, make_user):
    from research.tests.conftest import hub_token

    hub = make_hub("hub-1")
    hub_token(client, hub.application, make_hub.secrets["hub-1"])
    assignment_locate(user=make_user())

    hub_delete(hub=hub)

    assert not Hub.objects.exists()
    assert not Application.objects.exists()
    assert not AccessToken.objects.exists()
    assert not Assignment.objects.exists()
