"""The site ends a user's hub login: the discovery service records the heartbeat answer's
``logout`` (against a stub site on loopback) without stopping servers, and the hub's refresh
hook, asking that service over loopback, sends a login made before then to log in again and
ends the user's sessions on their server (tokens in a real JupyterHub database, in memory)."""

import math
import time

import pytest
from jupyterhub import orm
from jupyterhub.user import User
from quanthub_stubs import discovery_service, served

from quanthub.client import SiteClient
from quanthub.sessions import make_refresh_user_hook, remember_login

pytestmark = pytest.mark.anyio

PREFIX = "/services/quanthub-discovery"
SECRET = "hub-process-secret"
MINUTE = 60.0


@pytest.fixture
def service(site, hub, monkeypatch):
    monkeypatch.setenv("QUANTHUB_SERVICE_SECRET", SECRET)
    return discovery_service(site.url, hub.url, max_failures=3)


@pytest.fixture
async def refresh(service):
    """The hub's refresh hook, talking to ``service`` served on loopback."""
    web = served(service.web_app())
    client = SiteClient(
        web.url + PREFIX, None, headers={"Authorization": f"token {SECRET}"}, retries=0
    )
    yield make_refresh_user_hook(service=client, site_check_age=300)
    web.stop()


@pytest.fixture
def hub_user():
    """A hub user in a real JupyterHub database with the tokens JupyterHub gives them: two
    browser sessions' OAuth tokens for their server, and the server's own API token."""
    db = orm.new_session_factory("sqlite:///:memory:")()
    db.add_all([orm.OAuthClient(identifier="jupyterhub"), orm.OAuthClient(identifier="user-x")])
    orm_user = orm.User(name="ada-" + str(time.monotonic_ns()))  # one login record per test
    db.add(orm_user)
    db.commit()
    user = User(orm_user)
    user.tokens = {
        "browser": orm.APIToken.new(user=orm_user, session_id="browser", client_id="user-x"),
        "laptop": orm.APIToken.new(user=orm_user, session_id="laptop", client_id="user-x"),
        "server": orm.APIToken.new(user=orm_user, note="Server at /user/ada/"),
    }
    yield user
    db.close()


def valid_tokens(user) -> set[str]:
    return {name for name, token in user.tokens.items() if orm.APIToken.find(user.db, token)}


async def test_a_logout_in_the_answer_ends_the_login_and_keeps_the_server(service, site, hub):
    at = time.time() - MINUTE
    site.default = (200, {"version": 1, "logout": [{"user": "ada", "at": at}]})

    await service.heartbeat()

    assert service.logins_ended == {"ada": at}
    assert [call for call in hub.calls if not call.startswith("GET")] == []


async def test_malformed_logout_entries_are_skipped(service, site):
    at = time.time() - MINUTE
    logout = [
        "ada",
        {"user": 7, "at": at},
        {"user": "", "at": at},
        {"user": "bob"},
        {"user": "bob", "at": "yesterday"},
        {"user": "bob", "at": True},
        {"user": "bob", "at": math.nan},
        {"user": "bob", "at": math.inf},
        {"user": "cy", "at": at},
    ]
    site.answer((200, {"version": 1, "logout": {"user": "ada", "at": at}}))
    site.default = (200, {"version": 1, "logout": logout})

    await service.heartbeat()  # a logout that is not a list
    assert service.logins_ended == {}
    await service.heartbeat()

    assert service.logins_ended == {"cy": at}


async def test_the_later_end_counts_and_none_is_in_the_hubs_future(service, site):
    now = time.time()
    site.answer(
        (200, {"version": 1, "logout": [{"user": "ada", "at": now - MINUTE}]}),
        (200, {"version": 1, "logout": [{"user": "ada", "at": now - 2 * MINUTE}]}),
        (200, {"version": 1, "logout": [{"user": "bob", "at": now + 3600}]}),
    )

    for _ in range(3):
        await service.heartbeat()

    assert service.logins_ended["ada"] == now - MINUTE
    assert now <= service.logins_ended["bob"] <= time.time()


async def test_a_stop_ends_the_login_at_the_hubs_time(service, site):
    site.default = (200, {"version": 1, "stop": ["bob"]})
    before = time.time()

    await service.heartbeat()

    assert before <= service.logins_ended["bob"] <= time.time()


async def test_a_login_from_before_the_logout_must_be_made_again(service, refresh, hub_user):
    await remember_login(None, None, {"name": hub_user.name})
    service.users_logged_out([{"user": hub_user.name, "at": time.time()}])

    decision = await refresh(None, hub_user, {})

    assert decision is False
    # The user's sessions on their server end too; the server's own token keeps working.
    assert valid_tokens(hub_user) == {"server"}


async def test_a_login_after_the_logout_stands(service, refresh, hub_user):
    service.users_logged_out([{"user": hub_user.name, "at": time.time() - MINUTE}])
    await remember_login(None, None, {"name": hub_user.name})

    first, second = await refresh(None, hub_user, {}), await refresh(None, hub_user, {})

    assert (first, second) == (None, True)  # None: check the stored token with the site, once
    assert valid_tokens(hub_user) == {"browser", "laptop", "server"}


async def test_a_new_login_after_an_ended_one_is_not_undone(service, refresh, hub_user):
    await remember_login(None, None, {"name": hub_user.name})
    service.users_logged_out([{"user": hub_user.name, "at": time.time()}])
    assert await refresh(None, hub_user, {}) is False
    fresh = orm.APIToken.new(user=hub_user.orm_user, session_id="browser", client_id="user-x")
    await remember_login(None, None, {"name": hub_user.name})

    decision = await refresh(None, hub_user, {})

    assert decision is None
    assert orm.APIToken.find(hub_user.db, fresh) is not None


async def test_an_unreachable_service_ends_no_login(hub_user):
    client = SiteClient("http://127.0.0.1:9" + PREFIX, None, retries=0)
    hook = make_refresh_user_hook(service=client, site_check_age=300)
    await remember_login(None, None, {"name": hub_user.name})

    assert await hook(None, hub_user, {}) is None
    assert valid_tokens(hub_user) == {"browser", "laptop", "server"}
