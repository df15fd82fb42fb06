"""At spawn, the hub gets the user's server its notebook credential through its discovery
service (served on loopback), which asks the site (a stub site on loopback) with the credential
its heartbeats keep warm; or the spawn fails saying why."""

from types import SimpleNamespace

import httpx
import pytest
from quanthub_stubs import MockSpawner, discovery_service, served

from quanthub.client import SiteClient
from quanthub.spawn import make_pre_spawn_hook

pytestmark = pytest.mark.anyio

RENEW_AT = "http://127.0.0.1:8190/services/quanthub-discovery/server-token"
PREFIX = "/services/quanthub-discovery"
SECRET = "hub-process-secret"


@pytest.fixture
async def service(site, hub, monkeypatch):
    """The hub's discovery service, registered and heartbeating (its site credential warm),
    serving the hub process at ``service.web.url``."""
    monkeypatch.setenv("QUANTHUB_SERVICE_SECRET", SECRET)
    service = discovery_service(site.url, hub.url, max_failures=3)
    await service.register()
    await service.heartbeat()
    service.web = served(service.web_app())
    yield service
    service.web.stop()


def hook_for(service, secret: str = SECRET):
    client = SiteClient(
        service.web.url + PREFIX, None, headers={"Authorization": f"token {secret}"}, retries=0
    )
    return make_pre_spawn_hook(
        site_url="http://127.0.0.1:8000", service=client, credential_url=RENEW_AT
    )


def spawner_of(name: str) -> MockSpawner:
    return MockSpawner(user=SimpleNamespace(name=name), environment={"LANG": "C.UTF-8"})


async def test_the_server_gets_its_users_token_with_one_call_to_the_site(service, site):
    spawner = spawner_of("ada")
    calls_before = len(site.calls)

    await hook_for(service)(spawner)

    assert spawner.environment == {
        "LANG": "C.UTF-8",
        "QUANTHUB_SITE_URL": "http://127.0.0.1:8000",
        "QUANTHUB_CONTENTS_TOKEN": "notebooks-ada",
        "QUANTHUB_CREDENTIAL_URL": RENEW_AT,
    }
    # No client-credentials round trip at spawn: the service's credential is warm.
    assert site.calls[calls_before:] == ["POST /api/discovery/tokens"]


async def test_a_refusal_fails_the_spawn_and_sends_the_user_to_research(service, site):
    site.answer((403, {"detail": "ada is not assigned to this hub"}))

    with pytest.raises(RuntimeError) as error:
        await hook_for(service)(spawner_of("ada"))

    assert str(error.value) == (
        "The site refused a notebook credential for ada (403 ada is not assigned to this "
        "hub); open your research from the site's /research page."
    )


async def test_the_sites_outage_fails_the_spawn_as_brief(service, site):
    site.answer(*[(503, {"detail": "down for a moment"})] * 2)  # the service's call and retry
    site.retry_after = "0.01"

    with pytest.raises(RuntimeError) as error:
        await hook_for(service)(spawner_of("ada"))

    assert str(error.value) == (
        "The site is briefly unavailable (down for a moment); try again in a moment."
    )


async def test_only_the_hub_process_gets_a_users_credential_from_the_service(service, site):
    calls_before = len(site.calls)
    async with httpx.AsyncClient(base_url=service.web.url + PREFIX) as http:
        guessed = await http.post("/users/ada/server-token", headers={"Authorization": "token x"})
        anonymous = await http.post("/users/ada/server-token")

    assert (guessed.status_code, anonymous.status_code) == (403, 403)
    assert site.calls[calls_before:] == []
