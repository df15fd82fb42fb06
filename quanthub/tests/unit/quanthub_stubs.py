"""The outside world of the quanthub unit tests, as real HTTP on loopback: ``StubSite`` (the
site's token endpoint and discovery API) and ``StubHub`` (the hub's REST API) are tornado
servers on free ports of 127.0.0.1, their handlers subclasses of tornado's ``RequestHandler``
(JupyterHub's MockSpawner pattern: test doubles subclass the real base classes)."""

import asyncio
import json
from collections import deque

from jupyterhub.spawner import Spawner
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets.config import Config

from quanthub.discovery import DiscoveryService


class Loopback:
    """A tornado application served on a free port of 127.0.0.1 while the test runs."""

    def __init__(self, handlers: list):
        self.app = web.Application(handlers, log_function=lambda handler: None)
        self.server: HTTPServer | None = None
        self.url = ""

    def start(self) -> None:
        sock, port = bind_unused_port()
        self.server = HTTPServer(self.app)
        self.server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class StubSite(Loopback):
    """The site as a hub's discovery service sees it.

    Heartbeats (and requests for a server's token) are answered from ``answers``
    (``(status, body)``, one per call) and, once those run out, with ``default`` (a token
    ``notebooks-<user>``). ``token_status`` is the token endpoint's status (401: the site
    does not know the hub's client); ``retry_after`` goes with each 503. ``calls`` lists
    ``"POST <path>"``; ``heartbeats`` the heartbeat bodies.
    """

    def __init__(self):
        self.calls: list[str] = []
        self.heartbeats: list[dict] = []
        self.answers: deque[tuple[int, dict]] = deque()
        self.default: tuple[int, dict] = (200, {"version": 1, "state": "active"})
        self.token_status = 200
        self.retry_after = "1"  # seconds, sent with every 503
        super().__init__(
            [
                (r"/o/token/", TokenHandler, {"site": self}),
                (r"/api/discovery/(\w+)", DiscoveryHandler, {"site": self}),
            ]
        )

    def answer(self, *answers: tuple[int, dict]) -> None:
        self.answers.extend(answers)


class StubSiteHandler(web.RequestHandler):
    def initialize(self, site: StubSite) -> None:
        self.site = site

    def check_xsrf_cookie(self) -> None:
        """An API: no cookies."""

    def reply(self, status: int, body: dict) -> None:
        self.set_status(status)
        if status == 503:
            self.set_header("Retry-After", self.site.retry_after)
        self.finish(body)


class TokenHandler(StubSiteHandler):
    def post(self) -> None:
        self.site.calls.append(f"POST {self.request.path}")
        if self.site.token_status != 200:
            self.reply(self.site.token_status, {"error": "invalid_client"})
        else:
            self.reply(200, {"access_token": "hub-token", "expires_in": 3600})


class DiscoveryHandler(StubSiteHandler):
    def post(self, action: str) -> None:
        self.site.calls.append(f"POST {self.request.path}")
        if self.request.headers.get("Authorization") != "Bearer hub-token":
            self.reply(401, {"detail": "no credential"})
        elif action == "start":
            self.reply(200, {"hub": "hub-1", "heartbeat_interval": 0.01})
        elif action == "heartbeat":
            self.site.heartbeats.append(json.loads(self.request.body))
            self.reply(*(self.site.answers.popleft() if self.site.answers else self.site.default))
        elif action == "tokens":
            user = json.loads(self.request.body)["user"]
            if self.site.answers:
                self.reply(*self.site.answers.popleft())
            else:
                self.reply(200, {"token": f"notebooks-{user}", "expires_at": None})
        else:
            self.reply(200, {})


class StubHub(Loopback):
    """The hub's REST API as its discovery service uses it: ``running`` users have a ready
    server; deleting a server and shutting down answer as JupyterHub does. ``calls`` lists
    ``"<METHOD> <path>"``."""

    def __init__(self, running: list[str]):
        self.running = running
        self.stop_seconds = 0.0  # how long stopping a server takes
        self.calls: list[str] = []
        super().__init__([(r"/hub/api/(.*)", HubApiHandler, {"hub": self})])


class HubApiHandler(web.RequestHandler):
    def initialize(self, hub: StubHub) -> None:
        self.hub = hub

    def check_xsrf_cookie(self) -> None:
        """An API: no cookies."""

    def prepare(self) -> None:
        self.hub.calls.append(f"{self.request.method} {self.request.path}")

    def get(self, path: str) -> None:
        if path != "users":
            raise web.HTTPError(404)
        self.finish(json.dumps([{"name": name} for name in self.hub.running]))

    async def delete(self, path: str) -> None:
        await asyncio.sleep(self.hub.stop_seconds)
        self.set_status(204)

    def post(self, path: str) -> None:
        self.set_status(202 if path == "shutdown" else 404)


class MockSpawner(Spawner):
    """Like JupyterHub's MockSpawner: a real Spawner that starts nothing (and, like KubeSpawner,
    neither shares one OS account nor uses the machine's accounts)."""

    async def start(self):
        return ("127.0.0.1", 9)

    async def stop(self, now=False):
        return None

    async def poll(self):
        return None


def served(app: web.Application) -> Loopback:
    """``app`` (e.g. a discovery service's ``web_app()``) on a free port of 127.0.0.1, started."""
    loopback = Loopback([])
    loopback.app = app
    loopback.start()
    return loopback


def discovery_service(
    site_url: str,
    hub_url: str,
    *,
    max_failures: int,
    request_timeout: float = 5.0,
    hub_started: bool = True,
) -> DiscoveryService:
    """A discovery service of a hub at 127.0.0.1:8101, initialized as the hub starts it, that
    talks to the site at ``site_url`` and to the hub's API at ``hub_url``; ``hub_started``: the
    hub has found it up already (as it has once its start is done)."""
    c = Config()
    c.Quanthub.site_url = site_url
    c.Quanthub.hub_url = "http://127.0.0.1:8101"
    c.Quanthub.client_id = "hub-client"
    c.Quanthub.client_secret = "hub-secret"
    c.Quanthub.max_heartbeat_failures = max_failures
    c.DiscoveryService.hub_api_url = f"{hub_url}/hub/api"
    c.DiscoveryService.hub_api_token = "service-token"
    c.DiscoveryService.request_timeout = request_timeout
    c.DiscoveryService.heartbeat_interval = 0.01  # until registration: the site says 0.01
    service = DiscoveryService(config=c)
    service.initialize([])
    if hub_started:
        service.seen_by_hub.set()
    return service
