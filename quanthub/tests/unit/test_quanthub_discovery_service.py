"""quanthub's discovery service against a stub site and a stub hub API on loopback: it acts on
the heartbeat's answer (stop list; unknown fields ignored), counts only the site's refusals
(shutting the hub down after ``max_heartbeat_failures`` in a row, never for the site's outage),
and registers again after a 409."""

import asyncio
import socket

import httpx
import pytest
from quanthub_stubs import discovery_service
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from quanthub.discovery import DiscoveryService

pytestmark = pytest.mark.anyio

MAX_FAILURES = 3
START, HEARTBEAT = "POST /api/discovery/start", "POST /api/discovery/heartbeat"
TOKEN = "POST /o/token/"
SHUTDOWN = "POST /hub/api/shutdown"


@pytest.fixture
def service(site, hub) -> DiscoveryService:
    return discovery_service(site.url, hub.url, max_failures=MAX_FAILURES)


async def run_until(service: DiscoveryService, done, timeout: float = 5) -> None:
    """Run the heartbeat loop until ``done()`` holds (or it ends by itself), then stop it."""
    runner = asyncio.create_task(service.run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not done() and not runner.done():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)
    service.stopping.set()
    await asyncio.wait_for(runner, timeout=5)


async def test_the_answer_stop_list_stops_servers_and_unknown_fields_are_ignored(
    service, site, hub
):
    site.default = (200, {"version": 7, "state": "active", "stop": ["bob"], "start": ["x"], "n": 1})

    await service.heartbeat()

    assert site.heartbeats == [{"version": 1, "running": ["ada", "bob"]}]
    assert hub.calls[-1] == "DELETE /hub/api/users/bob/server"
    assert set(service.logins_ended) == {"bob"}


async def test_a_server_slower_to_stop_than_a_site_call_is_waited_for(site, hub):
    service = discovery_service(site.url, hub.url, max_failures=3, request_timeout=0.2)
    site.default = (200, {"version": 1, "stop": ["bob"]})
    hub.stop_seconds = 0.5  # as JupyterHub takes seconds to stop a server

    await service.heartbeat()

    assert hub.calls[-1] == "DELETE /hub/api/users/bob/server"
    assert set(service.logins_ended) == {"bob"}


async def test_an_answer_without_state_or_stop_changes_nothing(service, site, hub):
    site.default = (200, {"version": 1})

    await service.heartbeat()

    assert [call for call in hub.calls if not call.startswith("GET")] == []


@pytest.mark.parametrize("status", [503, 500, 502])
async def test_the_sites_outage_never_shuts_the_hub_down(service, site, hub, status):
    site.default = (status, {"detail": "down for a moment"})

    await run_until(service, lambda: len(site.heartbeats) > 2 * MAX_FAILURES)

    assert hub.calls.count(SHUTDOWN) == 0


async def test_an_unreachable_site_never_shuts_the_hub_down(hub):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    service = discovery_service(closed, hub.url, max_failures=MAX_FAILURES)
    service.site.backoff = 0.001  # each refused connection is tried again at once
    attempts = []

    async def record(request):
        attempts.append(request.url.path)

    service.site.http.event_hooks["request"].append(record)

    await run_until(service, lambda: len(attempts) > 2 * MAX_FAILURES)

    assert hub.calls.count(SHUTDOWN) == 0


async def test_a_hub_the_site_refuses_shuts_down(service, site, hub):
    site.token_status = 401  # the site does not know the hub's client (deleted, rotated)

    await asyncio.wait_for(service.run(), timeout=5)  # returns by itself

    assert hub.calls.count(SHUTDOWN) == 1
    assert site.calls == [TOKEN] * MAX_FAILURES


async def test_a_shutdown_waits_until_the_hub_has_found_the_service_up(site, hub):
    # JupyterHub's start polls a managed service's URL (with a back-off of seconds) before it
    # is done; a shutdown asked before then makes the hub exit with an error mid-start.
    service = discovery_service(site.url, hub.url, max_failures=MAX_FAILURES, hub_started=False)
    site.token_status = 401
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = HTTPServer(service.web_app())
    server.add_sockets(sockets)
    try:
        runner = asyncio.create_task(service.run())
        while len(site.calls) < MAX_FAILURES:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        before = hub.calls.count(SHUTDOWN)
        async with httpx.AsyncClient() as client:  # the hub's wait_up
            probe = await client.get(f"http://127.0.0.1:{port}/")
        await asyncio.wait_for(runner, timeout=5)
    finally:
        server.stop()

    assert before == 0
    assert probe.status_code == 200
    assert hub.calls.count(SHUTDOWN) == 1


async def test_the_hub_shuts_down_after_max_refusals_in_a_row(service, site, hub):
    site.default = (403, {"detail": "this hub is disabled"})

    await asyncio.wait_for(service.run(), timeout=5)

    assert len(site.heartbeats) == MAX_FAILURES
    assert hub.calls.count(SHUTDOWN) == 1


async def test_an_answered_heartbeat_starts_the_count_again(service, site, hub):
    refused = (403, {"detail": "this hub is disabled"})
    site.answer(refused, refused, (200, {"version": 1}))
    site.default = refused

    await asyncio.wait_for(service.run(), timeout=5)

    assert len(site.heartbeats) == 3 + MAX_FAILURES
    assert hub.calls.count(SHUTDOWN) == 1


async def test_a_409_registers_the_hub_again(service, site, hub):
    site.answer((409, {"detail": "this hub is stopped: start it again"}))

    await run_until(service, lambda: len(site.heartbeats) >= 2)

    assert site.calls[:5] == [TOKEN, START, HEARTBEAT, START, HEARTBEAT]
    assert hub.calls.count(SHUTDOWN) == 0
