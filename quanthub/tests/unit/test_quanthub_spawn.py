"""At spawn, the hub gets the user's server its notebook credential from the site (a stub site
on loopback here) through quanthub's site client, or fails the spawn saying why."""

from types import SimpleNamespace

import pytest
from quanthub_stubs import MockSpawner

from quanthub.spawn import make_pre_spawn_hook

pytestmark = pytest.mark.anyio

RENEW_AT = "http://127.0.0.1:8190/services/quanthub-discovery/server-token"


def spawner_of(name: str) -> MockSpawner:
    return MockSpawner(user=SimpleNamespace(name=name), environment={"LANG": "C.UTF-8"})


async def test_the_server_gets_its_users_token_and_where_to_renew_it(site):
    spawner = spawner_of("ada")
    hook = make_pre_spawn_hook(site.url, "hub-client", "hub-secret", credential_url=RENEW_AT)

    await hook(spawner)

    assert spawner.environment == {
        "LANG": "C.UTF-8",
        "QUANTHUB_SITE_URL": site.url,
        "QUANTHUB_CONTENTS_TOKEN": "notebooks-ada",
        "QUANTHUB_CREDENTIAL_URL": RENEW_AT,
    }
    assert site.calls == ["POST /o/token/", "POST /api/discovery/tokens"]


async def test_a_refusal_fails_the_spawn_and_sends_the_user_to_research(site):
    site.answer((403, {"detail": "ada is not assigned to this hub"}))
    hook = make_pre_spawn_hook(site.url, "hub-client", "hub-secret", credential_url=RENEW_AT)

    with pytest.raises(RuntimeError) as error:
        await hook(spawner_of("ada"))

    assert str(error.value) == (
        "The site refused a notebook credential for ada (403 ada is not assigned to this "
        "hub); open your research from the site's /research page."
    )


async def test_the_sites_outage_fails_the_spawn_as_brief(site):
    site.answer(*[(503, {"detail": "down for a moment"})] * 4)  # every retry of this call
    site.retry_after = "0.01"
    hook = make_pre_spawn_hook(site.url, "hub-client", "hub-secret", credential_url=RENEW_AT)

    with pytest.raises(RuntimeError) as error:
        await hook(spawner_of("ada"))

    assert str(error.value) == (
        "The site is briefly unavailable (down for a moment); try again in a moment."
    )
