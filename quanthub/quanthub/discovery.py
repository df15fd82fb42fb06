"""The hub's discovery service: a JupyterHub-managed service, so the hub itself stays stock.

It registers the hub with the site (``/api/discovery/start``), heartbeats every
``heartbeat_interval`` with the users whose servers are running (asked of the hub's own REST
API), acts on the heartbeat's answer (README, "The heartbeat's answer": it stops the servers of
the users in ``stop`` and ends their hub login; it ends the hub login of the users in
``logout``, who logged out of the site, and leaves their servers running), and calls
``/api/discovery/stop`` when the hub stops it (SIGTERM/SIGINT).

Outages: a heartbeat that fails because the site is down (its 503), unreachable or answering
5xx does not count against the hub; the hub keeps its users' servers, and when the site answers
again the ``stop`` list says which users moved meanwhile. Only the site refusing the hub's
credential (401/403 after a fresh token: the hub was disabled, deleted or its secret rotated)
counts: after ``max_heartbeat_failures`` refusals in a row the service asks the hub to shut
down (``POST /hub/api/shutdown``).

It also serves, on the hub's internal network, what the hub's other parts need of it:

- ``POST {prefix}server-token``: a user's server renews its notebook credential here, with its
  own JupyterHub token; the answer is a new site token for that server's user only (the site
  issues it only while the user is active and assigned to this hub).
- ``POST {prefix}users/{name}/server-token``: the hub process's pre-spawn hook gets the
  credential of the server it is about to start, through this service's always-warm site
  credential and connection (``quanthub.spawn``).
- ``GET {prefix}sessions/{name}``: when the site last ended the user's hub login (``stop`` or
  ``logout``), for the authenticator's refresh hook (``quanthub.sessions``).

The last two answer the hub process only: it calls them with the secret ``quanthub.configure``
made for this hub start (``QUANTHUB_SERVICE_SECRET``).

It authenticates to the site with the hub's own OAuth application: a client-credentials token
with scope ``discovery``, renewed before it expires (quanthub's one site client).

Logging: a heartbeat that succeeds logs nothing above debug level (nor do httpx's per-request
lines, nor the hub's session checks on this service's web server); registration, the hub's
state in discovery changing, servers stopped, every failed heartbeat, and heartbeats answered
again after failures are logged at info or above. ``QUANTHUB_LOG_LEVEL=DEBUG`` logs every
heartbeat.
"""

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import signal
import time
from urllib.parse import quote, urlsplit

import httpx
from jupyterhub.services.auth import HubAuth
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Float, Instance, Integer, Unicode, default
from traitlets.config import Application

from quanthub.client import HubCredential, SiteClient, SiteError
from quanthub.logs import service_log_request
from quanthub.settings import DISCOVERY_SERVICE, SERVICE_SECRET_ENV, Quanthub

log = logging.getLogger("quanthub.discovery")

# The heartbeat answer's contract version this hub understands (README).
HEARTBEAT_VERSION = 1
# How long this hub remembers the end of a user's login (the authenticator re-checks well within).
LOGIN_END_MEMORY_SECONDS = 24 * 3600
# How long a shutdown waits for the hub to find this service up (JupyterHub's own wait for a
# service is 10 s by default).
HUB_START_WAIT = 30.0


class DiscoveryService(Application):
    name = "quanthub-discovery"
    description = "Registers this hub with the site's discovery and keeps it alive there."

    quanthub = Instance(Quanthub)
    version = Unicode(config=True, help="Reported to discovery at start (the hub's version).")
    request_timeout = Float(
        5.0, config=True, help="Seconds before a call to the site or the hub's API fails."
    )
    stop_timeout = Float(
        15.0,
        config=True,
        help="Seconds to wait for the hub to stop a server the site says must not run here: "
        "longer than JupyterHub's slow_stop_timeout (10 s), after which the hub answers 202 "
        "and finishes stopping it in the background, so the answer always comes.",
    )
    token_renew_margin = Float(
        60.0, config=True, help="Renew the discovery token this many seconds before it expires."
    )
    hub_api_url = Unicode(config=True, help="The hub's REST API (JUPYTERHUB_API_URL).")
    hub_api_token = Unicode(config=True, help="This service's hub token (JUPYTERHUB_API_TOKEN).")
    service_url = Unicode(config=True, help="Where this service listens (JUPYTERHUB_SERVICE_URL).")
    service_prefix = Unicode(
        config=True, help="This service's URL prefix (JUPYTERHUB_SERVICE_PREFIX)."
    )
    heartbeat_interval = Float(
        1.0,
        config=True,
        help="Seconds between heartbeats, and between attempts to register; the site's answer "
        "at registration replaces it.",
    )
    max_heartbeat_failures = Integer(10)

    @default("quanthub")
    def _quanthub_default(self):
        return Quanthub(parent=self)

    @default("hub_api_url")
    def _hub_api_url_default(self):
        return os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")

    @default("hub_api_token")
    def _hub_api_token_default(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("service_url")
    def _service_url_default(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "")

    @default("service_prefix")
    def _service_prefix_default(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{DISCOVERY_SERVICE}/")

    @default("version")
    def _version_default(self):
        try:
            import jupyterhub

            return f"jupyterhub {jupyterhub.__version__}"
        except ImportError:  # pragma: no cover - the service runs beside a hub
            return ""

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        self.quanthub.check()
        self.max_heartbeat_failures = self.quanthub.max_heartbeat_failures
        q = self.quanthub
        self.site = SiteClient(
            q.site_url,
            HubCredential(q.client_id, q.client_secret, renew_margin=self.token_renew_margin),
            timeout=self.request_timeout,
            retries=1,
        )
        self.hub = httpx.AsyncClient(
            base_url=self.hub_api_url,
            headers={"Authorization": f"token {self.hub_api_token}"},
            timeout=self.request_timeout,
        )
        self.stopping = asyncio.Event()  # set by SIGTERM/SIGINT: tell the site, then exit
        # Set once the hub has found this service up (its start waits for that, polling with
        # a back-off of seconds): a shutdown asked before then lands in the middle of the hub's
        # start, which JupyterHub answers by exiting with an error.
        self.seen_by_hub = asyncio.Event()
        self.state = "active"  # the hub's state in discovery, as the last answer said
        # username -> when the site last ended their hub login (epoch seconds): a login on
        # this hub before then must be made again (``quanthub.sessions``).
        self.logins_ended: dict[str, float] = {}

    # -- talking to the site -----------------------------------------------------------------

    async def _site(self, path: str, payload: dict | None = None) -> dict:
        return await self.site.call("POST", f"/api/discovery/{path}", json=payload or {}) or {}

    # -- talking to the hub ------------------------------------------------------------------

    async def running_users(self) -> list[str]:
        """Users with a ready server on this hub, from the hub's REST API."""
        names, offset = [], 0
        while True:
            response = await self.hub.get(
                f"/users?state=ready&limit=200&offset={offset}",
                headers={"Accept": "application/jupyterhub-pagination+json"},
            )
            response.raise_for_status()
            page = response.json()
            items = page["items"] if isinstance(page, dict) else page
            names += [user["name"] for user in items]
            next_page = page.get("_pagination", {}).get("next") if isinstance(page, dict) else None
            if not next_page:
                return names
            offset = next_page["offset"]

    async def users_stop(self, names: list[str]) -> None:
        """Stop these users' servers and end their hub login (the site says they must not run
        here: moved, disabled, deleted). Idempotent: a stopped server is skipped."""
        for name in names:
            self.login_end(name, time.time())
            response = await self.hub.delete(
                f"/users/{quote(name, safe='')}/server", timeout=self.stop_timeout
            )
            if response.status_code in (202, 204):
                log.warning("stopped %s's server: the site says %s must not run here", name, name)
            elif response.status_code not in (400, 404):  # 400: not running, 404: no such user
                log.error("could not stop %s's server: %s", name, response.text[:300])

    def users_logged_out(self, entries: list) -> None:
        """End the hub login of the users who logged out of the site: ``entries`` are the
        answer's ``logout``, ``{"user": name, "at": the site's logout time, epoch seconds}``.
        Their servers keep running. Malformed entries are skipped; repeating an entry changes
        nothing."""
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            name, at = entry.get("user"), entry.get("at")
            if not isinstance(name, str) or not name:
                continue
            if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
                continue
            # Never in this hub's future: a site clock running ahead would otherwise end the
            # user's next logins here too, until this clock caught up.
            self.login_end(name, min(float(at), time.time()))

    def login_end(self, name: str, at: float) -> None:
        """Record that ``name``'s hub login ended at ``at`` (the later of the known end and
        ``at`` counts), and forget ends older than ``LOGIN_END_MEMORY_SECONDS``."""
        self.logins_ended[name] = max(self.logins_ended.get(name, at), at)
        horizon = time.time() - LOGIN_END_MEMORY_SECONDS
        for old in [n for n, ended in self.logins_ended.items() if ended < horizon]:
            del self.logins_ended[old]

    async def server_token(self, name: str) -> dict:
        """A notebook credential for ``name``'s server: ``{"token", "expires_at"}`` from the
        site, which issues it only for an active user assigned to this hub. Raises
        ``SiteError`` with the site's refusal or failure."""
        issued = await self.site.call(
            "POST", "/api/discovery/tokens", json={"user": name}, idempotent=True
        )
        return {"token": issued["token"], "expires_at": issued.get("expires_at")}

    async def shut_hub_down(self) -> None:
        log.error(
            "the site refused this hub %d times in a row: shutting the hub down",
            self.max_heartbeat_failures,
        )
        with contextlib.suppress(TimeoutError):  # past that, the hub gave up on us anyway
            await asyncio.wait_for(self.seen_by_hub.wait(), timeout=HUB_START_WAIT)
        await self.hub.post("/shutdown", json={"servers": True, "proxy": True})

    # -- the loop ----------------------------------------------------------------------------

    async def register(self) -> None:
        q = self.quanthub
        payload = {"url": q.hub_url, "version": self.version[:64]}
        if q.capacity:
            payload["capacity"] = q.capacity
        answer = await self._site("start", payload)
        self.heartbeat_interval = float(answer["heartbeat_interval"])
        log.info("registered as %s; heartbeat every %.1f s", answer["hub"], self.heartbeat_interval)

    async def heartbeat(self) -> None:
        answer = await self._site(
            "heartbeat", {"version": HEARTBEAT_VERSION, "running": await self.running_users()}
        )
        log.debug("heartbeat answered: %s", answer)
        # The contract: unknown fields are ignored; a missing field means "nothing to do".
        state = answer.get("state", "active")
        if state != self.state:
            level = logging.INFO if state == "active" else logging.WARNING
            log.log(level, "discovery says this hub is %s (was %s)", state, self.state)
            self.state = state
        stop = [name for name in answer.get("stop") or [] if isinstance(name, str)]
        if stop:
            await self.users_stop(stop)
        logout = answer.get("logout")
        if isinstance(logout, list):
            self.users_logged_out(logout)

    async def run(self) -> None:
        """Register, then heartbeat every ``heartbeat_interval`` until ``stopping`` is set.

        A 409 (the site holds this hub stopped) registers it again. Only the site refusing
        the hub counts as a failure: after ``max_heartbeat_failures`` refusals in a row the
        hub is shut down and this returns. The site's outage, no route to it, or a failure of
        the hub's own API count for nothing.
        """
        refusals = 0
        registered = False
        failing = False  # the last heartbeat failed
        while not self.stopping.is_set():
            try:
                if not registered:
                    await self.register()
                    registered = True
                await self.heartbeat()
            except SiteError as error:
                failing = True
                if error.status == 409:
                    registered = False  # the site holds us stopped: start again
                if error.refused:
                    refusals += 1
                    log.warning(
                        "the site refused this hub (%d/%d): %s",
                        refusals,
                        self.max_heartbeat_failures,
                        error,
                    )
                    if refusals >= self.max_heartbeat_failures:
                        await self.shut_hub_down()
                        return
                else:
                    # The site's outage, or no route to it: keep every server; when the site
                    # answers again, its stop list says who moved meanwhile.
                    log.warning("heartbeat failed (not counted: %s): %s", _kind(error), error)
            except Exception:  # the hub's API, or a malformed answer: never die silently
                failing = True
                log.exception("heartbeat failed")
            else:
                if failing:
                    log.info("heartbeats are answered again")
                refusals = 0
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=self.heartbeat_interval)

    async def stop(self) -> None:
        """Tell the site this hub is going away (its users are placed elsewhere now)."""
        try:
            await self._site("stop")
            log.info("told discovery this hub stopped")
        except SiteError as error:
            log.warning("could not tell discovery this hub stopped: %s", error)

    # -- what the hub's other parts ask of this service ------------------------------------------

    def web_app(self) -> web.Application:
        prefix = "/" + self.service_prefix.strip("/") + "/"
        auth = HubAuth(api_token=self.hub_api_token, api_url=self.hub_api_url, cache_max_age=0)
        return web.Application(
            [
                (r"/", HubProbeHandler, {"service": self}),
                (prefix + "server-token", ServerTokenHandler, {"service": self, "auth": auth}),
                (prefix + r"users/([^/]+)/server-token", SpawnTokenHandler, {"service": self}),
                (prefix + r"sessions/([^/]+)", SessionHandler, {"service": self}),
            ],
            log_function=service_log_request,
        )

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        server = None
        if not self.service_url:
            self.seen_by_hub.set()  # an external service: the hub does not wait for it
        if self.service_url:
            where = urlsplit(self.service_url)
            server = HTTPServer(self.web_app(), xheaders=False)
            server.listen(where.port or 80, where.hostname)
        runner = asyncio.create_task(self.run())
        stopping = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if self.stopping.is_set():
            await self.stop()
        runner.cancel()
        if server is not None:
            server.stop()

    def start(self) -> None:
        asyncio.run(self.main())


def _kind(error: SiteError) -> str:
    if error.outage:
        return "the site's outage"
    if error.unreachable:
        return "the site is unreachable"
    return f"HTTP {error.status}"


class HubProbeHandler(web.RequestHandler):
    """The hub's start polls this service's URL until it answers (JupyterHub's ``wait_up``):
    the first such request means the hub has seen the service up."""

    def initialize(self, service: DiscoveryService) -> None:
        self.service = service

    def get(self) -> None:
        self.service.seen_by_hub.set()
        self.write({"service": DISCOVERY_SERVICE})


class CredentialHandler(web.RequestHandler):
    """Answers with a user's notebook credential from the site, or relays the site's refusal
    or failure (its status, ``detail`` and ``Retry-After``; 502 when no answer came)."""

    def initialize(self, service: DiscoveryService, **kwargs) -> None:
        self.service = service

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated only: no cookies are read here."""

    async def issue(self, name: str) -> None:
        try:
            issued = await self.service.server_token(name)
        except SiteError as error:
            self.set_status(error.status or 502)
            if error.retry_after:
                self.set_header("Retry-After", str(int(error.retry_after)))
            self.finish({"detail": error.detail})
            return
        self.finish(issued)


class ServerTokenHandler(CredentialHandler):
    """A user's server renews its notebook credential: ``POST`` with
    ``Authorization: token <the server's JUPYTERHUB_API_TOKEN>`` → ``{"token", "expires_at"}``
    for that token's own user, or the site's refusal (403: not assigned here, or disabled)."""

    def initialize(self, service: DiscoveryService, auth: HubAuth) -> None:
        super().initialize(service)
        self.auth = auth

    async def post(self) -> None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            raise web.HTTPError(401, "A server's JupyterHub token is required.")
        model = await self.auth.user_for_token(token.strip(), use_cache=False, sync=False)
        # Only a user's own token counts; the name comes from the hub, never from the request,
        # so one user's server can never obtain another user's credential.
        if not model or model.get("kind") != "user" or not model.get("name"):
            raise web.HTTPError(403, "Only a user's server may renew its credential.")
        await self.issue(model["name"])


def check_hub_process(handler: web.RequestHandler) -> None:
    """Raise 403 unless the caller is the hub process: ``Authorization: token <the secret>``
    (``QUANTHUB_SERVICE_SECRET``, which the hub gives this service and no server)."""
    secret = os.environ.get(SERVICE_SECRET_ENV, "")
    given = handler.request.headers.get("Authorization", "").partition(" ")[2]
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise web.HTTPError(403)


class SpawnTokenHandler(CredentialHandler):
    """``POST users/{name}/server-token`` → ``{"token", "expires_at"}``: the credential of the
    server the hub is about to start for ``name`` (its pre-spawn hook), through this service's
    site credential, which its heartbeats keep fresh. Only for the hub process."""

    async def post(self, name: str) -> None:
        check_hub_process(self)
        await self.issue(name)


class SessionHandler(web.RequestHandler):
    """``GET sessions/{name}`` → ``{"ended_at": epoch seconds or null}``: when the site last
    ended the user's hub login (``stop``, ``logout``). Only for the hub process (its refresh
    hook)."""

    def initialize(self, service: DiscoveryService) -> None:
        self.service = service

    def get(self, name: str) -> None:
        check_hub_process(self)
        self.finish(json.dumps({"ended_at": self.service.logins_ended.get(name)}))


def main(argv=None) -> None:
    level = os.environ.get("QUANTHUB_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # httpx logs every request at info: two lines per heartbeat (the hub's API, the site).
        logging.getLogger("httpx").setLevel(logging.WARNING)
    service = DiscoveryService()
    service.initialize(argv)
    service.start()


if __name__ == "__main__":
    main()
