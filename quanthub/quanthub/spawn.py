"""At spawn, the hub gets the user's server its credential for the notebook store.

``pre_spawn_hook`` asks the hub's discovery service (``POST users/{name}/server-token``, with
the hub process's secret) for a scope-``notebooks`` token for the user; the service asks the
site (``POST /api/discovery/tokens``) with the credential and the kept-alive connection its
heartbeats keep warm, so a spawn costs one call to the site, even on a fresh hub process. The
site gives a token only for an active user assigned to this hub, and revokes it when that
assignment ends. The server receives it in its environment, with the address where it renews
it (the service's ``server-token`` endpoint, ``QUANTHUB_CREDENTIAL_URL``) when it expires or is
revoked; the hub keeps no copy.
"""

from urllib.parse import quote

from quanthub.client import SiteClient, SiteError


def make_pre_spawn_hook(*, site_url: str, service: SiteClient, credential_url: str):
    """The ``pre_spawn_hook``: ``service`` is the hub process's client of its discovery
    service; ``credential_url`` is where the server renews its credential."""

    async def pre_spawn_hook(spawner) -> None:
        """Give the server its notebook-store credential, or fail the spawn with the reason."""
        username = spawner.user.name
        try:
            issued = await service.call(
                "POST", f"/users/{quote(username, safe='')}/server-token", idempotent=True
            )
        except SiteError as error:
            # No answer, or the site's outage or failure (the service relays the site's
            # status, 502 when the site did not answer): nothing the user must change.
            if error.unreachable or error.status >= 500:
                raise RuntimeError(
                    f"The site is briefly unavailable ({error.detail}); try again in a moment."
                ) from None
            raise RuntimeError(
                f"The site refused a notebook credential for {username} ({error.status} "
                f"{error.detail}); open your research from the site's /research page."
            ) from None
        spawner.environment = {
            **spawner.environment,
            "QUANTHUB_SITE_URL": site_url,
            "QUANTHUB_CONTENTS_TOKEN": issued["token"],
            "QUANTHUB_CREDENTIAL_URL": credential_url,
        }

    return pre_spawn_hook
