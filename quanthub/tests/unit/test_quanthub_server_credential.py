"""A user's server renews its refused site credential from the hub's discovery service (a stub
on loopback, beside a stub contents API) through quanthub's one site client."""

import pytest
from quanthub_stubs import Loopback
from tornado import web

from quanthub.client import ServerCredential, SiteClient, SiteError

pytestmark = pytest.mark.anyio

RENEW_PATH = "/services/quanthub-discovery/server-token"


class ContentsHandler(web.RequestHandler):
    """The site's contents API: only the fresh token gets an answer."""

    def get(self):
        if self.request.headers.get("Authorization") != "Bearer fresh-token":
            self.set_status(401)
            self.finish({"detail": "Authentication credentials were not provided."})
            return
        self.finish({"type": "directory", "content": []})


class ServerTokenHandler(web.RequestHandler):
    """The discovery service's ``server-token``: a fresh token for the server's hub token,
    403 for any other."""

    def initialize(self, renewals: list[str]) -> None:
        self.renewals = renewals

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated only."""

    def post(self):
        self.renewals.append(self.request.headers.get("Authorization", ""))
        if self.request.headers.get("Authorization") != "token server-hub-token":
            self.set_status(403)
            self.finish({"detail": "Only a user's server may renew its credential."})
            return
        self.finish({"token": "fresh-token", "expires_at": None})


@pytest.fixture
async def world():
    renewals: list[str] = []
    stub = Loopback(
        [
            (r"/api/contents/", ContentsHandler),
            (RENEW_PATH, ServerTokenHandler, {"renewals": renewals}),
        ]
    )
    stub.start()
    stub.renewals = renewals
    yield stub
    stub.stop()


async def test_a_refused_credential_is_renewed_from_the_hub_and_the_call_sent_again(world):
    credential = ServerCredential(
        "expired-token",
        renew_url=world.url + RENEW_PATH,
        hub_token="server-hub-token",
    )

    listing = await SiteClient(world.url, credential).call("GET", "/api/contents/")

    assert listing == {"type": "directory", "content": []}
    assert credential.token == "fresh-token"
    assert world.renewals == ["token server-hub-token"]


async def test_the_hubs_refusal_to_renew_is_the_callers_error(world):
    credential = ServerCredential(
        "expired-token",
        renew_url=world.url + RENEW_PATH,
        hub_token="another-users-hub-token",
    )

    with pytest.raises(SiteError) as error:
        await SiteClient(world.url, credential).call("GET", "/api/contents/")

    assert (error.value.status, error.value.detail) == (
        403,
        "The hub refused a new credential: Only a user's server may renew its credential.",
    )
