"""The one way quanthub talks to the site: ``SiteClient`` (httpx, async).

One HTTP stack, httpx, for the whole package: the ContentsManager is jupyter_server's
``AsyncContentsManager`` and makes one round trip per operation, so it wants a pooled keep-alive
connection to the site (tornado's ``AsyncHTTPClient`` opens a new connection for every request),
per-call timeouts and request/response hooks; httpx's ``AsyncClient`` gives all three and runs on
the asyncio loop that tornado, jupyter_server and the discovery service share.

Every part of a hub uses it: the discovery service and the spawn hook with the hub's own
credential (``HubCredential``: client credentials, scope ``discovery``), and a user's server
(contents manager, share extension) with the server's credential (``ServerCredential``: scope
``notebooks``, renewed from the hub's discovery service when the site refuses it).

The policy, in one place:

- **Credential**: attached to every call. On a 401 the credential is renewed once and the call
  is sent again (a 401 means the site did nothing). Concurrent calls share one renewal.
- **Retries**: bounded (``retries``), with exponential backoff, and only where repeating cannot
  do a thing twice: a failure before the request was sent (connection refused, connect
  timeout), or any failure of an idempotent call (GET, HEAD, PUT, DELETE, OPTIONS, or one the
  caller marks idempotent). A 503 of an idempotent call waits for its ``Retry-After`` (capped
  by ``max_retry_wait``).
- **Errors**: one type, ``SiteError``: ``status`` (None when no answer came), ``detail``, and
  ``outage`` (the site said it is briefly down: 503, usually with ``Retry-After``), so callers
  can tell "the site is down for a moment" from "the site refuses me".
"""

import asyncio
import base64
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger("quanthub.client")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class SiteError(Exception):
    """A call to the site failed.

    ``status``: the HTTP status, or None when no answer came (network, timeout).
    ``detail``: the site's message (its JSON ``detail``, else the start of the body).
    ``retry_after``: seconds from the site's ``Retry-After``, if it sent one.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        body: bytes = b"",
    ):
        super().__init__(f"HTTP {status}: {detail}" if status else detail)
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.body = body

    @property
    def outage(self) -> bool:
        """The site is briefly unavailable (its own 503), not refusing this caller."""
        return self.status == 503

    @property
    def unreachable(self) -> bool:
        """No answer came at all (network, DNS, timeout)."""
        return self.status is None

    @property
    def refused(self) -> bool:
        """The site refused the credential even after renewing it (401), or forbids (403)."""
        return self.status in (401, 403)


class Credential:
    """A bearer token for the site, and how to get a fresh one."""

    def __init__(self) -> None:
        self.token = ""
        self._lock = asyncio.Lock()

    async def bearer(self, client: "SiteClient") -> str:
        if not self.token:
            await self.renew(client, stale="")
        return self.token

    async def renew(self, client: "SiteClient", *, stale: str) -> str:
        """Replace ``stale`` (the token the site refused) with a fresh one; concurrent callers
        that saw the same refusal share one renewal. Raises ``SiteError``."""
        async with self._lock:
            if self.token and self.token != stale:
                return self.token  # another call renewed it meanwhile
            self.token = await self.fetch(client)
            return self.token

    async def fetch(self, client: "SiteClient") -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class HubCredential(Credential):
    """The hub's discovery token: OAuth client credentials (scope ``discovery``) at the site's
    ``/o/token/``, fetched when first needed and again when refused or about to expire."""

    def __init__(self, client_id: str, client_secret: str, *, renew_margin: float = 60):
        super().__init__()
        self.basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.renew_margin = renew_margin
        self.expires = 0.0

    async def bearer(self, client: "SiteClient") -> str:
        if self.token and time.monotonic() >= self.expires - self.renew_margin:
            await self.renew(client, stale=self.token)
        return await super().bearer(client)

    async def fetch(self, client: "SiteClient") -> str:
        response = await client.send(
            "POST",
            "/o/token/",
            data={"grant_type": "client_credentials", "scope": "discovery"},
            headers={"Authorization": f"Basic {self.basic}"},
            credential=None,
            idempotent=True,  # asking for a token twice does no harm
        )
        body = response.json()
        self.expires = time.monotonic() + float(body.get("expires_in", 3600))
        return body["access_token"]


class ServerCredential(Credential):
    """A user's server's notebook credential (scope ``notebooks``).

    It starts with the token the hub put in the server's environment
    (``QUANTHUB_CONTENTS_TOKEN``), if any; when the site refuses it (expired after its 12 h, or
    revoked when the user's assignment ended) or there is none, a new one comes from the hub's
    discovery service (``QUANTHUB_CREDENTIAL_URL``), which the server asks with its own
    JupyterHub token (``JUPYTERHUB_API_TOKEN``): the service gives it only its own user's
    token, and the site only while that user is assigned to this hub and active. ``timeout``:
    seconds before that renewal call fails.
    """

    def __init__(
        self, token: str = "", *, renew_url: str = "", hub_token: str = "", timeout: float = 15
    ):
        super().__init__()
        self.token = token
        self.renew_url = renew_url
        self.hub_token = hub_token
        self.timeout = timeout

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "ServerCredential":
        return cls(
            environ.get("QUANTHUB_CONTENTS_TOKEN", ""),
            renew_url=environ.get("QUANTHUB_CREDENTIAL_URL", ""),
            hub_token=environ.get("JUPYTERHUB_API_TOKEN", ""),
        )

    async def fetch(self, client: "SiteClient") -> str:
        if not self.renew_url or not self.hub_token:
            raise SiteError(
                "This server's site credential was refused and it cannot renew it "
                "(no QUANTHUB_CREDENTIAL_URL); restart the server from /research.",
                status=401,
            )
        try:
            # Through the client's one transport and retry policy, but with the server's hub
            # token instead of a site credential (the renewal is what gets a site credential).
            response = await client.send(
                "POST",
                self.renew_url,
                headers={"Authorization": f"token {self.hub_token}"},
                credential=None,
                idempotent=True,  # a second token for the same server does no harm
                timeout=self.timeout,
            )
        except SiteError as error:
            if error.unreachable:
                raise SiteError(
                    f"The hub's credential service is unreachable: {error.detail}"
                ) from None
            raise SiteError(
                f"The hub refused a new credential: {error.detail}",
                status=error.status,
                retry_after=error.retry_after,
                body=error.body,
            ) from None
        return response.json()["token"]


def _error(response: httpx.Response) -> SiteError:
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    retry_after = None
    with contextlib.suppress(TypeError, ValueError):
        retry_after = float(response.headers.get("Retry-After"))
    return SiteError(
        str(detail or response.text[:300] or response.reason_phrase),
        status=response.status_code,
        retry_after=retry_after,
        body=response.content,
    )


class SiteClient:
    """Calls to the site with a credential, retries and errors as the module says."""

    def __init__(
        self,
        site_url: str,
        credential: Credential | None,
        *,
        timeout: float = 15,
        retries: int = 3,
        backoff: float = 0.25,
        max_retry_wait: float = 5,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 8,
    ):
        self.site_url = site_url.rstrip("/")
        self.credential = credential
        self.retries = retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.http = httpx.AsyncClient(
            timeout=timeout,
            headers=dict(headers or {}),
            limits=httpx.Limits(
                max_keepalive_connections=max_connections // 2, max_connections=max_connections
            ),
        )

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.site_url + path

    async def send(
        self,
        method: str,
        path: str,
        *,
        credential: Credential | bool | None = True,
        idempotent: bool | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one call; return the response (status < 400) or raise ``SiteError``.

        ``credential``: True for the client's own, None for none, or another ``Credential``.
        ``kwargs`` go to httpx (``json``, ``content``, ``data``, ``params``, ``headers``).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if credential is True:
            credential = self.credential
        headers = dict(kwargs.pop("headers", None) or {})
        if timeout is not None:
            kwargs["timeout"] = timeout
        renewed = False
        attempt = 0
        while True:
            token = await credential.bearer(self) if credential else ""
            if token:
                headers["Authorization"] = f"Bearer {token}"
            wait = None
            try:
                response = await self.http.request(
                    method, self.url(path), headers=headers, **kwargs
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                failure = SiteError(f"The site is unreachable: {error!r}")
                wait = self._backoff(attempt)  # never sent: always safe to repeat
            except httpx.HTTPError as error:
                failure = SiteError(f"The site did not answer: {error!r}")
                wait = self._backoff(attempt) if idempotent else None
            else:
                if response.status_code < 400:
                    return response
                failure = _error(response)
                if response.status_code == 401 and credential and not renewed:
                    renewed = True  # the site did nothing: renew once and send again
                    await credential.renew(self, stale=token)
                    continue
                if response.status_code == 503 and idempotent:
                    wait = min(failure.retry_after or self._backoff(attempt), self.max_retry_wait)
            if wait is None or attempt >= self.retries:
                raise failure
            attempt += 1
            log.debug("retrying %s %s in %.2f s: %s", method, path, wait, failure)
            await asyncio.sleep(wait)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """``send``, returning the JSON body (None for an empty answer)."""
        response = await self.send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2**attempt)

    async def aclose(self) -> None:
        await self.http.aclose()
