"""The hub's discovery service: a JupyterHub-managed service, so the hub itself stays stock.

It registers the hub with the site (``/api/discovery/start``), heartbeats every
``heartbeat_interval`` with the users whose servers are running (asked of the hub's own REST
API), calls ``/api/discovery/stop`` when the hub stops it (SIGTERM/SIGINT), and, after
``max_heartbeat_failures`` consecutive failed heartbeats, asks the hub to shut down
(``POST /hub/api/shutdown``), as Quantopian's hubs did: a hub cut off from discovery must not
keep users the site has already placed elsewhere.

It authenticates to the site with the hub's own OAuth application: a client-credentials token
with scope ``discovery``, renewed before it expires.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Instance, Integer, Unicode, default
from traitlets.config import Application

from quanthub.config import Quanthub
from quanthub.site import SiteCredentials

log = logging.getLogger("quanthub.discovery")


class SiteError(Exception):
    """The site did not answer as the contract says (network, 5xx, or an unexpected 4xx)."""


class DiscoveryService(Application):
    name = "quanthub-discovery"
    description = "Registers this hub with the site's discovery and keeps it alive there."

    quanthub = Instance(Quanthub)
    version = Unicode(config=True, help="Reported to discovery at start (the hub's version).")
    request_timeout = Float(5.0, config=True, help="Seconds before a call to the site fails.")
    token_renew_margin = Float(
        60.0, config=True, help="Renew the discovery token this many seconds before it expires."
    )
    hub_api_url = Unicode(config=True, help="The hub's REST API (JUPYTERHUB_API_URL).")
    hub_api_token = Unicode(config=True, help="This service's hub token (JUPYTERHUB_API_TOKEN).")
    heartbeat_interval = Float(1.0, help="Seconds between heartbeats, as the site says.")
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
        self.credentials = SiteCredentials(
            q.site_url,
            q.client_id,
            q.client_secret,
            renew_margin=self.token_renew_margin,
            timeout=self.request_timeout,
        )

    # -- talking to the site -----------------------------------------------------------------

    async def _site(self, path: str, payload: dict | None = None) -> dict:
        try:
            token = await self.credentials.bearer()
        except (TimeoutError, HTTPClientError, OSError, KeyError, ValueError) as error:
            failure = SiteError(f"no discovery token: {error}")
            failure.status = getattr(error, "code", None)
            raise failure from None
        try:
            return await self._fetch(
                f"{self.quanthub.site_url}/api/discovery/{path}",
                method="POST",
                body=json.dumps(payload or {}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except SiteError as error:
            if getattr(error, "status", None) == 401:
                self.credentials.forget()  # revoked or expired early: a new one next time
            raise

    async def _fetch(self, url: str, **kwargs) -> dict:
        request = HTTPRequest(url, request_timeout=self.request_timeout, **kwargs)
        try:
            response = await self.http.fetch(request)
        except HTTPClientError as error:
            detail = error.response.body[:300] if error.response is not None else b""
            failure = SiteError(f"{url}: HTTP {error.code} {detail!r}")
            failure.status = error.code
            raise failure from None
        except (TimeoutError, OSError) as error:
            raise SiteError(f"{url}: {error}") from None
        return json.loads(response.body or b"{}")

    # -- talking to the hub ------------------------------------------------------------------

    async def running_users(self) -> list[str]:
        """Users with a ready server on this hub, from the hub's REST API."""
        names, offset = [], 0
        while True:
            request = HTTPRequest(
                f"{self.hub_api_url}/users?state=ready&limit=200&offset={offset}",
                headers={
                    "Authorization": f"token {self.hub_api_token}",
                    "Accept": "application/jupyterhub-pagination+json",
                },
                request_timeout=self.request_timeout,
            )
            page = json.loads((await self.http.fetch(request)).body)
            items = page["items"] if isinstance(page, dict) else page
            names += [user["name"] for user in items]
            next_page = page.get("_pagination", {}).get("next") if isinstance(page, dict) else None
            if not next_page:
                return names
            offset = next_page["offset"]

    async def shut_hub_down(self) -> None:
        log.error(
            "%d heartbeats failed in a row: shutting the hub down", self.max_heartbeat_failures
        )
        request = HTTPRequest(
            f"{self.hub_api_url}/shutdown",
            method="POST",
            body=json.dumps({"servers": True, "proxy": True}),
            headers={"Authorization": f"token {self.hub_api_token}"},
            request_timeout=self.request_timeout,
        )
        await self.http.fetch(request, raise_error=False)

    # -- the loop ----------------------------------------------------------------------------

    async def register(self) -> None:
        q = self.quanthub
        payload = {"url": q.hub_url, "version": self.version[:64]}
        if q.capacity:
            payload["capacity"] = q.capacity
        answer = await self._site("start", payload)
        self.heartbeat_interval = float(answer["heartbeat_interval"])
        log.info("registered as %s; heartbeat every %.1f s", answer["hub"], self.heartbeat_interval)

    async def run(self) -> None:
        failures = 0
        registered = False
        while not self._stopping.is_set():
            try:
                if not registered:
                    await self.register()
                    registered = True
                answer = await self._site("heartbeat", {"running": await self.running_users()})
                if answer.get("state") != "active":
                    log.warning("discovery says this hub is %s", answer.get("state"))
                failures = 0
            except Exception as error:  # the site or the hub API: never die silently
                failures += 1
                if getattr(error, "status", None) == 409:
                    registered = False  # the site holds us stopped: start again
                log.warning(
                    "heartbeat %d/%d failed: %s",
                    failures,
                    self.max_heartbeat_failures,
                    error,
                    exc_info=not isinstance(error, SiteError),
                )
                if failures >= self.max_heartbeat_failures:
                    await self.shut_hub_down()
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.heartbeat_interval)

    async def stop(self) -> None:
        """Tell the site this hub is going away (its users are placed elsewhere now)."""
        try:
            await self._site("stop")
            log.info("told discovery this hub stopped")
        except SiteError as error:
            log.warning("could not tell discovery this hub stopped: %s", error)

    async def main(self) -> None:
        self.http = AsyncHTTPClient()
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        runner = asyncio.create_task(self.run())
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if self._stopping.is_set():
            await self.stop()
        runner.cancel()

    def start(self) -> None:
        asyncio.run(self.main())


def main(argv=None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"
    )
    service = DiscoveryService()
    service.initialize(argv)
    service.start()


if __name__ == "__main__":
    main()
