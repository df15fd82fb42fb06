"""At spawn, the hub gets the user's server its credential for the notebook store.

``pre_spawn_hook`` asks the site (``POST /api/discovery/tokens``, with the hub's own discovery
credential) for a scope-``notebooks`` token for the user; the site gives one only for a user
assigned to this hub, and revokes it when that assignment ends. The server receives it in its
environment and QuantsiteContentsManager uses it; the hub keeps no copy.
"""

import json

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from quanthub.site import SiteCredentials


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
                    credentials.forget()  # revoked or expired early: once more, fresh
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
