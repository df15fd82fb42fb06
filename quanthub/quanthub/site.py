"""The hub's own credential at the site."""

import base64
import json
import time
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest


class SiteCredentials:
    """The hub's discovery token (client credentials), fetched once and renewed when due."""

    def __init__(
        self,
        site_url: str,
        client_id: str,
        client_secret: str,
        *,
        renew_margin: float = 60,
        timeout: float = 15,
    ):
        self.site_url = site_url
        self.basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.token = ""
        self.expires = 0.0
        self.renew_margin = renew_margin
        self.timeout = timeout

    def forget(self) -> None:
        """Drop the token (the site refused it): the next ``bearer`` fetches a new one."""
        self.token = ""

    async def bearer(self) -> str:
        if self.token and time.monotonic() < self.expires - self.renew_margin:
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
