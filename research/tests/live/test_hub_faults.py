"""Real hubs through faults: a crash and restart, renewed server credentials, a disabled user,
the site's own outage, and what a killed hub leaves behind."""

import contextlib
import datetime as dt
import socket
import time

import pytest
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.models import User
from research.exceptions import HubNotAllowed
from research.models import Assignment, Hub
from research.services.assignment import assignment_move
from research.services.hubs import server_token_issue
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def listing(person, hub_url: str, path: str = "research"):
    return person.http.get(f"{hub_url}/user/{person.username}/api/contents/{path}", timeout=30)


def test_a_server_whose_credential_was_revoked_renews_it_through_its_hub(
    start_hub, person, make_user_files
):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    make_user_files("ada", {"research/alpha.ipynb": "notebook"})
    hub_url = ada.open_lab()
    first = AccessToken.objects.get(user__username="ada", scope="notebooks")
    # The server has run past its credential's 12 h life.
    AccessToken.objects.filter(pk=first.pk).update(expires=timezone.now())
    expired = listing(ada, hub_url)
    # And the site revoked the renewed one (as when an assignment ends).
    AccessToken.objects.filter(scope="notebooks", expires__gt=timezone.now()).delete()

    response = listing(ada, hub_url)

    assert expired.status_code == 200, expired.text[:300]
    assert response.status_code == 200, response.text[:300]
    assert [item["name"] for item in response.json()["content"]] == ["alpha.ipynb"]
    renewed = AccessToken.objects.get(
        user__username="ada", scope="notebooks", expires__gt=timezone.now()
    )
    assert renewed.pk != first.pk
    assert renewed.application_id == Hub.objects.get(name="hub-1").application_id


def test_a_crashed_hub_restarts_and_a_user_moved_back_finds_their_notebooks(
    start_hub, person, make_user_files
):
    hubs = {hub.url: hub for hub in (start_hub("hub-1"), start_hub("hub-2"))}
    for hub in hubs.values():
        hub.wait_ready()
        hub_registered(hub.name)
    ada = person("ada")
    make_user_files("ada", {"research/alpha.ipynb": "notebook", "research/notes.txt": "x"})
    # Whichever hub routing picks (both are empty; a loaded machine may let one go stale).
    hub1 = hubs[ada.open_lab()]
    (hub2,) = (hub for hub in hubs.values() if hub is not hub1)
    assert servers_of(hub1, "ada") != []
    started = Hub.objects.get(name=hub1.name).started_at

    hub1.kill()  # SIGKILL: its proxy and ada's server keep running
    wait_until(lambda: ada.frame_url().startswith(hub2.url), timeout=30, what="ada to move")
    assert (
        Assignment.objects.get(user__username="ada", hub__name=hub1.name).end_reason == "hub_dead"
    )
    hub1.restart()
    hub1.wait_ready()
    wait_until(
        lambda: Hub.objects.get(name=hub1.name).started_at > started, what="the hub to start again"
    )
    # The restarted hub adopted ada's server; she is on hub-2 now, so the heartbeat's stop list
    # makes hub-1 stop it (its credential died with her assignment there).
    wait_until(
        lambda: "stopped ada's server" in hub1.log_path.read_text(),
        what="the restarted hub to stop ada's old server",
    )
    assert servers_of(hub1, "ada") == []
    assignment_move(
        assignment=Assignment.objects.get(user__username="ada", ended_at__isnull=True),
        hub=Hub.objects.get(name=hub1.name),
    )

    assert ada.open_lab() == hub1.url
    response = listing(ada, hub1.url)

    assert response.status_code == 200, response.text[:300]
    assert sorted(item["name"] for item in response.json()["content"]) == [
        "alpha.ipynb",
        "notes.txt",
    ]


def test_a_disabled_user_loses_their_server_and_hub_login_within_a_heartbeat(start_hub, person):
    from quantsite.accounts.services import user_disable

    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    hub_url = ada.open_lab()
    assert ada.http.get(f"{hub_url}/hub/home", timeout=10).url == f"{hub_url}/hub/home"
    wait_until(
        lambda: Assignment.objects.filter(user__username="ada", server_running=True).exists(),
        what="ada's server in a heartbeat",
    )

    user_disable(user=User.objects.get(username="ada"))
    wait_until(
        lambda: Assignment.objects.filter(user__username="ada", server_running=False).exists(),
        timeout=10,
        what="ada's server to stop",
    )

    home = ada.http.get(f"{hub_url}/hub/home", timeout=10)
    lab = ada.http.get(f"{hub_url}/user/ada/lab", timeout=10)
    assert "/accounts/login" in home.url  # the hub sent her to log in again, on the site
    assert "/accounts/login" in lab.url
    assert servers_of(hub, "ada") == []
    with pytest.raises(HubNotAllowed, match="ada is disabled"):
        server_token_issue(hub=Hub.objects.get(name="hub-1"), username="ada")
    assert "stopped ada's server" in hub.log_path.read_text()


def servers_of(hub, username: str) -> list[int]:
    """The processes of ``username``'s server (and kernels) that ``hub`` started."""
    marker = f"JUPYTERHUB_USER={username}\0".encode()
    found = []
    for pid in hub.processes():
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if marker in environ.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_a_killed_hub_leaves_no_process_behind(start_hub, person):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada").open_lab()

    hub.kill()
    orphans = hub.processes()
    proxy_kept = listening(hub.port)
    hub.cleanup()

    assert proxy_kept  # the crash left the proxy (and ada's server) running
    assert len(orphans) >= 2
    assert hub.processes() == []
    assert not listening(hub.port)


def test_a_hub_the_site_refuses_shuts_itself_down(start_hub, site_url):
    hub = start_hub("hub-1", QUANTHUB_MAX_HEARTBEAT_FAILURES="3", QUANTHUB_CLIENT_SECRET="wrong")

    exit_code = hub.process.wait(timeout=60)

    log = hub.log_path.read_text()
    assert exit_code == 0
    assert "the site refused this hub 3 times in a row: shutting the hub down" in log


def test_a_hub_that_cannot_reach_the_site_keeps_running(start_hub):
    # The site answers nowhere (a loopback port nothing listens on): no heartbeat gets through.
    hub = start_hub("hub-1", site="http://127.0.0.1:9", QUANTHUB_MAX_HEARTBEAT_FAILURES="3")
    hub.wait_ready()

    wait_until(
        lambda: hub.log_path.read_text().count("not counted: the site is unreachable") >= 6,
        timeout=60,
        what="six failed heartbeats",
    )

    assert hub.process.poll() is None
    assert "shutting the hub down" not in hub.log_path.read_text()


@contextlib.contextmanager
def database_unreachable():
    """The site's database refuses every connection (existing ones are cut), as in an outage;
    from a connection of its own to the server's maintenance database, so the test survives."""
    import psycopg

    db = connection.settings_dict
    admin = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    name = db["NAME"]
    try:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        connection.close()  # this thread's connection was cut: the next query opens a new one


@pytest.mark.postgres
def test_a_database_outage_keeps_every_server_and_every_user_on_their_hub(
    start_hub, person, make_user_files
):
    hubs = {hub.url: hub for hub in (start_hub("hub-1"), start_hub("hub-2"))}
    for hub in hubs.values():
        hub.wait_ready()
        hub_registered(hub.name)
    ada, bob = person("ada"), person("bob")
    make_user_files("ada", {"research/alpha.ipynb": "notebook"})
    # Wherever routing puts them (the emptiest live hub; a loaded machine may let one go stale).
    hub1, hub2 = hubs[ada.open_lab()], hubs[bob.open_lab()]
    servers = {"ada": servers_of(hub1, "ada"), "bob": servers_of(hub2, "bob")}
    wait_until(
        lambda: Assignment.objects.filter(server_running=True).count() == 2,
        what="both servers in heartbeats",
    )

    with database_unreachable():
        during = ada.http.get(f"{hub1.url}/user/ada/api/contents/research", timeout=30)
        time.sleep(60)  # > 10 heartbeats that fail, > DISCOVERY_DEAD_AFTER (4 s) of silence
    wait_until(
        lambda: (
            Hub.objects.filter(
                last_heartbeat_at__gt=timezone.now() - dt.timedelta(seconds=1)
            ).count()
            == 2
        ),
        what="both hubs to beat again",
    )

    assert during.status_code == 503  # the store said it is briefly unavailable
    assert [hub.process.poll() for hub in hubs.values()] == [None, None]
    assert {"ada": servers_of(hub1, "ada"), "bob": servers_of(hub2, "bob")} == servers
    assert ada.frame_url().startswith(hub1.url)
    assert bob.frame_url().startswith(hub2.url)
    assert not Assignment.objects.filter(ended_at__isnull=False).exists()
    assert listing(ada, hub1.url).status_code == 200
    assert not any("shutting the hub down" in hub.log_path.read_text() for hub in hubs.values())
