"""At spawn, the hub gets the user's server its credential for the notebook store.

``pre_spawn_hook`` asks the site (``POST /api/discovery/tokens``, with the hub's own discovery
credential, through quanthub's one site client) for a scope-``notebooks`` token for the user;
the site gives one only for an active user assigned to this hub, and revokes it when that
assignment ends. The server receives it in its environment, with the address where it renews it
(the discovery service's ``server-token`` endpoint, ``QUANTHUB_CREDENTIAL_URL``) when it expires
or is revoked; the hub keeps no copy.
"""

from quanthub.client import HubCredential, SiteClient, SiteError


def make_pre_spawn_hook(
    site_url: str, client_id: str, client_secret: str, *, credential_url: str = ""
):
    site = SiteClient(site_url, HubCredential(client_id, client_secret))

    async def pre_spawn_hook(spawner) -> None:
        """Give the server its notebook-store credential, or fail the spawn with the reason."""
        username = spawner.user.name
        try:
            issued = await site.call(
                "POST", "/api/discovery/tokens", json={"user": username}, idempotent=True
            )
        except SiteError as error:
            if error.outage or error.unreachable:
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
