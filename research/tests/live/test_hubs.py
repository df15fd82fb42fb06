"""Real hubs: login through the site, discovery, failover, stop, drain, cut off."""

import signal

import pytest

from research.models import Assignment, Hub
from research.services.hubs import hub_drain
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_users_log_in_through_the_site_and_spread_over_hubs(start_hub, person):
    hub1 = start_hub("hub-1")
    hub1.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")

    hub_url = ada.open_lab()

    assert hub_url == hub1.url
    status = ada.http.get(f"{hub_url}/user/ada/api/status", timeout=10)
    assert status.status_code == 200
    assert set(status.json()) >= {"started", "last_activity", "kernels"}
    # The hub's heartbeat reports ada's running server to discovery.
    wait_until(
        lambda: Assignment.objects.filter(user__username="ada", server_running=True).exists(),
        what="ada's server in a heartbeat",
    )
    hub2 = start_hub("hub-2")
    hub2.wait_ready()
    hub_registered("hub-2")
    bob = person("bob")

    assert bob.open_lab() == hub2.url
    assert dict(Hub.objects.values_list("name", "assigned_count")) == {"hub-1": 1, "hub-2": 1}


def test_hub_and_servers_may_be_framed_by_the_site_only(start_hub, person, site_url):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    hub_url = ada.open_lab()

    hub_page = ada.http.get(f"{hub_url}/hub/home", timeout=10)
    lab_page = ada.http.get(f"{hub_url}/user/ada/lab", timeout=10)

    expected = f"frame-ancestors 'self' {site_url}"
    assert hub_page.headers["Content-Security-Policy"] == expected
    assert lab_page.headers["Content-Security-Policy"] == expected
    assert '"news": {"disabled": true}' in lab_page.text


def test_when_a_hub_dies_its_users_land_on_another(start_hub, person):
    hub1 = start_hub("hub-1")
    hub1.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    assert ada.frame_url().startswith(hub1.url)
    hub2 = start_hub("hub-2")
    hub2.wait_ready()
    hub_registered("hub-2")

    hub1.process.send_signal(signal.SIGKILL)  # no goodbye: only the heartbeats stop
    hub1.process.wait(timeout=10)
    still_sticky = ada.frame_url()  # stale, not yet dead: the user stays
    moved = wait_until(
        lambda: (url := ada.frame_url()).startswith(hub2.url) and url,
        timeout=20,
        what="ada to move to hub-2",
    )

    assert still_sticky.startswith(hub1.url)
    assert moved.startswith(hub2.url)
    assert Assignment.objects.get(user__username="ada", hub__name="hub-1").end_reason == "hub_dead"


def test_sigterm_makes_a_hub_tell_discovery_it_stops(start_hub, person):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    ada.frame_url()

    exit_code = hub.stop()

    assert exit_code == 0
    wait_until(lambda: Hub.objects.get(name="hub-1").stopped_at is not None, what="stop")
    assert Assignment.objects.get(user__username="ada").end_reason == "hub_stopped"
    assert ada.research().status_code == 503


def test_a_draining_hub_gets_no_new_users(start_hub, person):
    hub1 = start_hub("hub-1")
    hub2 = start_hub("hub-2")
    for hub in (hub1, hub2):
        hub.wait_ready()
        hub_registered(hub.name)
    hub_drain(hub=Hub.objects.get(name="hub-1"))

    urls = {person(name).frame_url().split("/hub/")[0] for name in ["ada", "bob", "cy"]}

    assert urls == {hub2.url}


def test_discovery_sees_the_hubs_version_and_capacity(start_hub):
    hub = start_hub("hub-1", capacity=7, QUANTHUB_CAPACITY="12")
    hub.wait_ready()
    hub_registered("hub-1")

    row = Hub.objects.get(name="hub-1")

    assert row.capacity == 12
    assert row.version.startswith("jupyterhub ")
    assert row.state(row.last_heartbeat_at) == "live"


def test_a_users_server_stores_notebooks_on_the_site(start_hub, person, make_user_files):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    make_user_files("ada", {"research/alpha.ipynb": "notebook"})

    hub_url = ada.open_lab()
    listing = ada.http.get(f"{hub_url}/user/ada/api/contents/research", timeout=10)
    notebook = ada.http.get(f"{hub_url}/user/ada/api/contents/research/alpha.ipynb", timeout=10)

    share_route = ada.http.get(f"{hub_url}/user/ada/quanthub/share", timeout=10)

    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["content"]] == ["alpha.ipynb"]
    assert share_route.status_code == 400  # the share extension is loaded (GET needs ?path=)
    assert notebook.json()["content"]["metadata"]["origin"] == "the site"
    # The server's credential reaches ada's files only, and dies with her assignment.
    token = Assignment.objects.get(user__username="ada").user.oauth2_provider_accesstoken.get(
        scope="notebooks"
    )
    assert token.application_id == Hub.objects.get(name="hub-1").application_id
    hub.stop()
    wait_until(lambda: not Assignment.objects.filter(ended_at__isnull=True).exists(), what="end")
    assert not type(token).objects.filter(pk=token.pk).exists()
