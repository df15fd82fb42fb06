"""quanthub's one site client against the running site: credential renewal on 401, bounded
retries only where a call cannot happen twice, and one error type that says what happened."""

import asyncio
import socket

import httpx
import pytest
from tornado import web

from quanthub.client import HubCredential, ServerCredential, SiteClient, SiteError


class GivenRenewal(ServerCredential):
    """A server credential whose renewal (normally from the hub's discovery service) hands
    out a token the test made on the site; counts the renewals."""

    def __init__(self, token: str, renewed: str):
        super().__init__(token)
        self.renewed = renewed
        self.fetches = 0

    async def fetch(self, client):
        self.fetches += 1
        await asyncio.sleep(0.05)  # long enough for concurrent refusals to pile up
        return self.renewed


def attempts_of(client: SiteClient) -> list[str]:
    seen = []

    async def record(request):
        seen.append(request.method)

    client.http.event_hooks["request"].append(record)
    return seen


async def test_a_refused_credential_is_renewed_once_and_the_call_sent_again(quantsite, site_user):
    credential = GivenRenewal("revoked-or-expired", site_user[1])
    client = SiteClient(quantsite, credential)

    listing = await client.call("GET", "/api/contents/")

    assert listing["type"] == "directory"
    assert credential.fetches == 1
    assert credential.token == site_user[1]


async def test_concurrent_refusals_share_one_renewal(quantsite, site_user):
    credential = GivenRenewal("revoked-or-expired", site_user[1])
    client = SiteClient(quantsite, credential)

    answers = await asyncio.gather(*(client.call("GET", "/api/contents/") for _ in range(5)))

    assert [a["type"] for a in answers] == ["directory"] * 5
    assert credential.fetches == 1


async def test_a_credential_refused_after_renewal_is_a_refusal_not_an_outage(quantsite):
    client = SiteClient(quantsite, GivenRenewal("bad", "still-bad"))

    with pytest.raises(SiteError) as error:
        await client.call("GET", "/api/contents/")

    assert (error.value.status, error.value.refused, error.value.outage) == (401, True, False)


async def test_a_hub_with_a_wrong_secret_is_refused_at_the_token_endpoint(quantsite):
    client = SiteClient(quantsite, HubCredential("no-such-client", "wrong"))

    with pytest.raises(SiteError) as error:
        await client.call("POST", "/api/discovery/heartbeat", json={"running": []})

    assert (error.value.status, error.value.refused) == (401, True)


async def test_an_unreachable_site_is_tried_a_bounded_number_of_times():
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SiteClient(f"http://127.0.0.1:{port}", None, retries=2, backoff=0.01)
    attempts = attempts_of(client)

    with pytest.raises(SiteError) as error:
        # Not idempotent, but a refused connection means it was never sent: safe to repeat.
        await client.call("POST", "/api/community/shares", json={})

    assert error.value.unreachable and error.value.status is None
    assert attempts == ["POST", "POST", "POST"]


async def test_a_post_is_not_sent_twice_after_a_failure_mid_call(quantsite, site_user):
    client = SiteClient(quantsite, ServerCredential(site_user[1]), retries=3, backoff=0.01)
    attempts = attempts_of(client)

    with pytest.raises(SiteError):
        # The answer is too slow: the request was sent, so it may have been acted on.
        await client.call(
            "POST",
            "/api/contents/",
            json={"type": "notebook", "ext": ".ipynb"},
            timeout=httpx.Timeout(5.0, read=1e-6),
        )

    assert attempts == ["POST"]


async def test_the_contents_manager_says_why_when_it_cannot_renew(quantsite):
    from quanthub.contents import QuantsiteContentsManager

    manager = QuantsiteContentsManager(site_url=quantsite, api_token="revoked-token")

    with pytest.raises(web.HTTPError) as error:
        await manager.get("")

    assert error.value.status_code == 401
    assert "cannot renew" in error.value.log_message


def test_site_error_kinds():
    assert SiteError("down", status=503, retry_after=5).outage
    assert SiteError("no route").unreachable
    assert not SiteError("forbidden", status=403).outage
