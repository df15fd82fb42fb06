"""The heartbeat's routine requests are debug-level in the hub's and the discovery service's
access logs; changes and failures stay at info and above."""

import logging

import httpx
import pytest
from jupyterhub import orm
from quanthub_stubs import Loopback, discovery_service
from tornado import web

from quanthub.logs import hub_log_request

pytestmark = pytest.mark.anyio


class HubApiHandler(web.RequestHandler):
    """A hub API handler whose caller is the one its ``caller`` header names, as JupyterHub
    resolves a token: the discovery service (an ``orm.Service``) or a user (``orm.User``)."""

    def get_current_user(self):
        name = self.request.headers.get("caller", "")
        if name == "quanthub-discovery":
            return orm.Service(name=name)
        return orm.User(name=name)

    def get(self):
        self.current_user  # noqa: B018 - resolved as JupyterHub's handlers do, before logging
        self.finish("[]")

    def delete(self):
        self.current_user  # noqa: B018
        self.set_status(204)


@pytest.fixture
async def hub_api():
    stub = Loopback([(r"/hub/api/users", HubApiHandler)])
    stub.app.settings["log_function"] = hub_log_request
    stub.start()
    yield stub
    stub.stop()


def access_levels(caplog) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage().split(" (")[0])
        for record in caplog.records
        if record.name == "tornado.access"
    ]


async def test_the_discovery_services_reads_of_the_hub_api_are_debug_level(hub_api, caplog):
    caplog.set_level(logging.DEBUG, logger="tornado.access")
    async with httpx.AsyncClient(base_url=hub_api.url) as http:
        await http.get("/hub/api/users?state=ready", headers={"caller": "quanthub-discovery"})
        await http.delete("/hub/api/users", headers={"caller": "quanthub-discovery"})
        await http.get("/hub/api/users", headers={"caller": "ada"})

    assert access_levels(caplog) == [
        ("DEBUG", "200 GET /hub/api/users"),
        ("INFO", "204 DELETE /hub/api/users"),
        ("INFO", "200 GET /hub/api/users"),
    ]


async def test_the_services_session_checks_are_debug_level_and_refusals_warnings(
    monkeypatch, caplog
):
    monkeypatch.setenv("QUANTHUB_SERVICE_SECRET", "shared")
    service = discovery_service("http://127.0.0.1:9", "http://127.0.0.1:9", max_failures=3)
    stub = Loopback([])
    stub.app = service.web_app()
    stub.start()
    caplog.set_level(logging.DEBUG, logger="tornado.access")
    try:
        async with httpx.AsyncClient(base_url=stub.url) as http:
            path = "/services/quanthub-discovery/sessions/ada"
            answered = await http.get(path, headers={"Authorization": "token shared"})
            refused = await http.get(path, headers={"Authorization": "token guessed"})
    finally:
        stub.stop()

    assert (answered.json(), refused.status_code) == ({"ended_at": None}, 403)
    assert access_levels(caplog) == [
        ("DEBUG", "200 GET /services/quanthub-discovery/sessions/ada"),
        ("WARNING", "403 GET /services/quanthub-discovery/sessions/ada"),
    ]
