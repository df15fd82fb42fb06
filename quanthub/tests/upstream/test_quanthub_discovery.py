"""quanthub's discovery service acting on the heartbeat's answer, and counting only refusals.

The site and the hub's REST API are the outside world here: httpx's MockTransport answers
for them; every line of the service runs as in a hub."""

import asyncio
import json

import httpx
import pytest

from quanthub.discovery import DiscoveryService


class World:
    """What the site answers to each heartbeat, and what the service asked of site and hub."""

    def __init__(self, answer=None, status: int = 200):
        self.answer = answer if answer is not None else {"version": 1, "state": "active"}
        self.status = status
        self.heartbeats: list[dict] = []
        self.hub_calls: list[str] = []

    def site(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/o/token/":
            if self.status == 401:
                return httpx.Response(401, json={"error": "invalid_client"})
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.url.path.endswith("/start"):
            return httpx.Response(200, json={"hub": "hub-1", "heartbeat_interval": 0.01})
        self.heartbeats.append(json.loads(request.content))
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "no"}, headers={"Retry-After": "1"})
        return httpx.Response(200, json=self.answer)

    def hub(self, request: httpx.Request) -> httpx.Response:
        self.hub_calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json=[{"name": "ada"}, {"name": "bob"}])
        return httpx.Response(204)


@pytest.fixture
def service(monkeypatch):
    for name, value in {
        "QUANTHUB_SITE_URL": "http://site.test",
        "QUANTHUB_HUB_URL": "http://hub.test",
        "QUANTHUB_CLIENT_ID": "id",
        "QUANTHUB_CLIENT_SECRET": "secret",
        "QUANTHUB_MAX_HEARTBEAT_FAILURES": "3",
    }.items():
        monkeypatch.setenv(name, value)

    def make(world: World) -> DiscoveryService:
        service = DiscoveryService()
        service.initialize([])
        service.site.http = httpx.AsyncClient(transport=httpx.MockTransport(world.site))
        service.hub = httpx.AsyncClient(
            base_url="http://hub.test/hub/api", transport=httpx.MockTransport(world.hub)
        )
        service.site.backoff = 0.001
        service.heartbeat_interval = 0.01
        return service

    return make


async def run_for(service: DiscoveryService, seconds: float) -> None:
    service._stopping = asyncio.Event()
    runner = asyncio.create_task(service.run())
    await asyncio.sleep(seconds)
    service._stopping.set()
    await asyncio.wait_for(runner, timeout=5)


async def test_the_answer_stop_list_stops_servers_and_unknown_fields_are_ignored(service):
    world = World({"version": 7, "state": "active", "stop": ["bob"], "start": ["x"], "n": 1})
    discovery = service(world)

    await discovery.heartbeat()

    assert world.heartbeats == [{"version": 1, "running": ["ada", "bob"]}]
    assert world.hub_calls[-1] == "DELETE /hub/api/users/bob/server"
    assert set(discovery.dropped) == {"bob"}


async def test_an_answer_without_state_or_stop_changes_nothing(service):
    world = World({"version": 1})
    discovery = service(world)

    await discovery.heartbeat()

    assert [call for call in world.hub_calls if not call.startswith("GET")] == []


async def test_the_sites_outage_never_shuts_the_hub_down(service):
    world = World(status=503)
    discovery = service(world)

    await run_for(discovery, 0.5)

    assert len(world.heartbeats) > 3  # more failures than max_heartbeat_failures
    assert "POST /hub/api/shutdown" not in world.hub_calls


async def test_a_hub_the_site_refuses_shuts_down(service):
    world = World(status=401)
    discovery = service(world)

    await run_for(discovery, 0.5)

    assert world.hub_calls.count("POST /hub/api/shutdown") == 1
