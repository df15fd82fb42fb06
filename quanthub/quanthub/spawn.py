"""At spawn, the hub gets the user's server its credential for the notebook store.

``pre_spawn_hook`` asks the site (``POST /api/discovery/tokens``, with the hub's own discovery
credential) for a scope-``notebooks`` token for the user; the site gives one only for a user
assigned to this hub, and revokes it when that assignment ends. The server receives it in its
environment and QuantsiteContentsManager uses it; the hub keeps no copy.
"""

import base64
import json
import time
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest


class SiteCredentials:
    """The hub's discovery token (client credentials), fetched once and renewed when due."""

    def __init__(self, site_url: str, client_id: str, client_secret: str):
        self.site_url = site_url
        self.basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.token = ""
        self.expires = 0.0

    async def bearer(self) -> str:
        if self.token and time.monotonic() < self.expires - 60:
            return self.token
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(
                f"{self.site_url}/o/token/",
                method="POST",
                body=urlencode({"grant_type": "client_credentials", "scope": "discovery"}),
                headers={"Authorization": f"Basic {self.basic}"},
                request_timeout=15,
            )
        )
        body = json.loads(response.body)
        self.token, self.expires = body["access_token"], time.monotonic() + body["expires_in"]
        return self.token


def make_pre_spawn_hook(site_url: str, client_id: str, client_secret: str):
    credentials = SiteCredentials(site_url, client_id, client_secret)

    async def pre_spawn_hook(spawner) -> None:
        """Give the server its notebook-store credential, or fail the spawn with the reason."""
        username = spawner.user.name
        for attempt in (1, 2):
            token = await credentials.bearer()
            try:
                response = await AsyncHTTPClient().fetch(
                    HTTPRequest(
                        f"{site_url}/api/discovery/tokens",
                        method="POST",
                        body=json.dumps({"user": username}),
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                        request_timeout=15,
                    )
                )
                break
            except HTTPClientError as error:
                if error.code == 401 and attempt == 1:
                    credentials.token = ""  # revoked or expired early: once more, fresh
                    continue
                detail = (
                    error.response.body[:300].decode(errors="replace") if error.response else ""
                )
                raise RuntimeError(
                    f"The site refused a notebook credential for {username} ({error.code} "
                    f"{detail}); open your research from the site's /research page."
                ) from None
        issued = json.loads(response.body)
        spawner.environment = {
            **spawner.environment,
            "QUANTHUB_SITE_URL": site_url,
            "QUANTHUB_CONTENTS_TOKEN": issued["token"],
        }

    return pre_spawn_hook
