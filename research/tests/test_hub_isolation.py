"""quanthub refuses spawners that run every user as one OS account, unless opted in by name.

The live proof of the isolated recipe is research/tests/live/test_isolation.py.
"""

import asyncio
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from traitlets.config import Config

from quanthub.config import configure
from quanthub.isolation import (
    IsolatedSpawner,
    SharedIdentityError,
    account_name,
    shares_os_identity,
)

# A port nothing listens on: a hook that got past the check would fail on the site instead.
CLOSED_SITE = "http://127.0.0.1:9"
HUB = dict(
    site_url=CLOSED_SITE,
    hub_url="http://127.0.0.1:8101",
    client_id="hub-client",
    client_secret="hub-secret",
)


@pytest.fixture(autouse=True)
def no_opt_in_from_the_environment(monkeypatch):
    monkeypatch.delenv("QUANTHUB_ALLOW_SHARED_IDENTITY", raising=False)


class OneAccountSpawner(LocalProcessSpawner):
    """A third-party spawner declaring that it runs everyone as one account."""

    quanthub_shared_identity = True


class ReviewedSimpleSpawner(SimpleLocalProcessSpawner):
    """A subclass of the simple spawner declaring that it does not (its author's claim)."""

    quanthub_shared_identity = False


@pytest.mark.parametrize(
    "spawner_class",
    [
        "simple",
        "jupyterhub.spawner.SimpleLocalProcessSpawner",
        SimpleLocalProcessSpawner,
        type("MySimple", (SimpleLocalProcessSpawner,), {}),
        OneAccountSpawner,
    ],
)
def test_configure_refuses_a_spawner_that_shares_one_os_account(spawner_class):
    c = Config()
    c.JupyterHub.spawner_class = spawner_class

    with pytest.raises(SharedIdentityError) as refused:
        configure(c, **HUB)

    message = str(refused.value)
    assert "any user could read any other's notebook credential from /proc/<pid>/environ" in (
        message
    )
    assert "quanthub.isolation.IsolatedSpawner" in message
    assert "KubeSpawner" in message
    assert "c.Quanthub.allow_shared_identity = True (QUANTHUB_ALLOW_SHARED_IDENTITY=1)" in message


@pytest.mark.parametrize(
    "spawner_class",
    [None, "localprocess", "quanthub.isolation.IsolatedSpawner", ReviewedSimpleSpawner],
)
def test_configure_accepts_spawners_with_an_account_per_user(spawner_class):
    c = Config()
    if spawner_class is not None:
        c.JupyterHub.spawner_class = spawner_class

    settings = configure(c, **HUB)

    assert settings.allow_shared_identity is False


def test_the_operator_opts_in_by_name_in_the_config(monkeypatch):
    c = Config()
    c.JupyterHub.spawner_class = "simple"
    c.Quanthub.allow_shared_identity = True

    assert configure(c, **HUB).allow_shared_identity is True


def test_the_operator_opts_in_by_name_in_the_environment(monkeypatch):
    monkeypatch.setenv("QUANTHUB_ALLOW_SHARED_IDENTITY", "1")
    c = Config()
    c.JupyterHub.spawner_class = "simple"

    assert configure(c, **HUB).allow_shared_identity is True


def spawn_hook_error(c: Config, spawner) -> Exception:
    with pytest.raises(Exception) as failed:
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
    return failed.value


def alice(spawner_class):
    return spawner_class(user=SimpleNamespace(name="alice", url="/user/alice/"))


def test_a_spawner_set_after_configure_is_refused_at_spawn():
    c = Config()
    configure(c, **HUB)
    c.JupyterHub.spawner_class = "simple"  # after configure: only the spawn sees it

    error = spawn_hook_error(c, alice(SimpleLocalProcessSpawner))

    assert isinstance(error, SharedIdentityError)
    assert "/proc/<pid>/environ" in str(error)


def test_an_opted_in_or_isolated_spawn_goes_on_to_fetch_the_credential():
    opted_in = Config()
    opted_in.Quanthub.allow_shared_identity = True
    configure(opted_in, **HUB)
    isolated = Config()
    configure(isolated, **HUB)

    errors = [
        spawn_hook_error(opted_in, alice(SimpleLocalProcessSpawner)),
        spawn_hook_error(isolated, alice(IsolatedSpawner)),
    ]

    # Past the check, the hook asks the (closed) site for alice's credential and says so.
    assert [type(e) for e in errors] == [RuntimeError, RuntimeError]
    assert all("unavailable" in str(e) or "refused" in str(e) for e in errors)


def test_how_spawners_are_judged():
    assert shares_os_identity(SimpleLocalProcessSpawner) is True
    assert shares_os_identity(OneAccountSpawner) is True
    assert shares_os_identity(LocalProcessSpawner) is False
    assert shares_os_identity(IsolatedSpawner) is False
    assert shares_os_identity(ReviewedSimpleSpawner) is False


@pytest.mark.parametrize(
    ("username", "account"),
    [
        ("alice", "qs-alice"),
        ("bob_2-x", "qs-bob_2-x"),
        ("ada.lovelace@example.org", "qs-ada_lovelace_examp-7799473ff0"),
        ("x" * 40, "qs-xxxxxxxxxxxxxxxxxx-bd913ff682"),
        ("../root", "qs-_root-5ed4b22f51"),
    ],
)
def test_account_names_are_prefixed_and_safe(username, account):
    name = account_name(username)

    assert name == account
    assert len(name) <= 32


def test_the_uid_range_never_reaches_below_1000():
    with pytest.raises(Exception, match="must be 1000 or more"):
        IsolatedSpawner(uid_min=999)
