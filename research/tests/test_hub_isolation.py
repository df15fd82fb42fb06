"""quanthub refuses spawners that do not give each user an OS account of their own (one account
for everyone, or the machine's account named like the user), unless opted in by name.

The live proof of the isolated recipe is research/tests/live/test_isolation.py.
"""

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, Spawner
from traitlets.config import Config

import quanthub.isolation
from hubs.isolated import fence
from hubs.local import hub_environment
from quanthub.config import configure
from quanthub.isolation import (
    IsolatedSpawner,
    MachineAccountsError,
    SharedIdentityError,
    account_name,
    server_software,
    shares_os_identity,
    uses_machine_accounts,
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
    monkeypatch.delenv("QUANTHUB_ALLOW_MACHINE_ACCOUNTS", raising=False)


class OneAccountSpawner(LocalProcessSpawner):
    """A third-party spawner declaring that it runs everyone as one account."""

    quanthub_shared_identity = True


class ReviewedLocalSpawner(SimpleLocalProcessSpawner):
    """A local spawner declaring an account of each user's own (its author's claim)."""

    quanthub_shared_identity = False
    quanthub_machine_accounts = False


class ContainerSpawner(Spawner):
    """Neither kind: like KubeSpawner, each server in a container of its own."""

    async def start(self):
        raise NotImplementedError

    async def stop(self, now=False):
        raise NotImplementedError

    async def poll(self):
        raise NotImplementedError


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
    [
        None,  # JupyterHub's default
        "localprocess",
        "jupyterhub.spawner.LocalProcessSpawner",
        type("MyLocal", (LocalProcessSpawner,), {}),
    ],
)
def test_configure_refuses_a_spawner_that_runs_users_as_machine_accounts(spawner_class):
    c = Config()
    if spawner_class is not None:
        c.JupyterHub.spawner_class = spawner_class

    with pytest.raises(MachineAccountsError) as refused:
        configure(c, **HUB)

    message = str(refused.value)
    assert "runs each hub user's server as this machine's account of the same name" in message
    assert "quanthub.isolation.IsolatedSpawner" in message
    assert "c.Quanthub.allow_machine_accounts = True (QUANTHUB_ALLOW_MACHINE_ACCOUNTS=1)" in (
        message
    )


@pytest.mark.parametrize(
    "spawner_class",
    ["quanthub.isolation.IsolatedSpawner", IsolatedSpawner, ReviewedLocalSpawner, ContainerSpawner],
)
def test_configure_accepts_spawners_with_an_account_per_user(spawner_class):
    c = Config()
    c.JupyterHub.spawner_class = spawner_class

    settings = configure(c, **HUB)

    assert (settings.allow_shared_identity, settings.allow_machine_accounts) == (False, False)


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


def test_machine_accounts_are_opted_in_by_name_too(monkeypatch):
    in_config = Config()
    in_config.Quanthub.allow_machine_accounts = True
    monkeypatch.setenv("QUANTHUB_ALLOW_MACHINE_ACCOUNTS", "1")
    in_environment = Config()

    assert configure(in_config, **HUB).allow_machine_accounts is True
    assert configure(in_environment, **HUB).allow_machine_accounts is True


def test_one_opt_in_does_not_allow_the_other_kind():
    c = Config()
    c.Quanthub.allow_shared_identity = True

    with pytest.raises(MachineAccountsError):
        configure(c, **HUB)  # the default LocalProcessSpawner


def spawn_hook_error(c: Config, spawner) -> Exception:
    with pytest.raises(Exception) as failed:
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
    return failed.value


def alice(spawner_class):
    return spawner_class(user=SimpleNamespace(name="alice", url="/user/alice/"))


@pytest.mark.parametrize(
    ("spawner_class", "refusal"),
    [(SimpleLocalProcessSpawner, SharedIdentityError), (LocalProcessSpawner, MachineAccountsError)],
)
def test_a_spawner_set_after_configure_is_refused_at_spawn(spawner_class, refusal):
    c = Config()
    c.JupyterHub.spawner_class = IsolatedSpawner
    configure(c, **HUB)
    c.JupyterHub.spawner_class = spawner_class  # after configure: only the spawn sees it

    error = spawn_hook_error(c, alice(spawner_class))

    assert isinstance(error, refusal)
    assert "quanthub refuses the spawner jupyterhub.spawner." in str(error)


def test_an_opted_in_or_isolated_spawn_goes_on_to_fetch_the_credential():
    opted_in = Config()
    opted_in.JupyterHub.spawner_class = "simple"
    opted_in.Quanthub.allow_shared_identity = True
    configure(opted_in, **HUB)
    isolated = Config()
    isolated.JupyterHub.spawner_class = "quanthub.isolation.IsolatedSpawner"
    configure(isolated, **HUB)

    errors = [
        spawn_hook_error(opted_in, alice(SimpleLocalProcessSpawner)),
        spawn_hook_error(isolated, alice(IsolatedSpawner)),
    ]

    # Past the check, the hook asks the (closed) site for alice's credential and says so.
    assert [type(e) for e in errors] == [RuntimeError, RuntimeError]
    assert all("unavailable" in str(e) or "refused" in str(e) for e in errors)


def test_how_spawners_are_judged():
    judged = {
        spawner.__name__: (shares_os_identity(spawner), uses_machine_accounts(spawner))
        for spawner in (
            SimpleLocalProcessSpawner,
            OneAccountSpawner,
            LocalProcessSpawner,
            IsolatedSpawner,
            ReviewedLocalSpawner,
            ContainerSpawner,
        )
    }

    assert judged == {
        "SimpleLocalProcessSpawner": (True, False),
        "OneAccountSpawner": (True, False),
        "LocalProcessSpawner": (False, True),
        "IsolatedSpawner": (False, False),
        "ReviewedLocalSpawner": (False, False),
        "ContainerSpawner": (False, False),
    }


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


def test_a_local_hub_inherits_no_secret_of_the_site():
    site_environment = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "QUANTHUB_READONLY_DIR": "/srv/examples",
        "SECRET_KEY": "k",
        "NOTEBOOK_ENCRYPTION_KEYS": "n",
        "DATABASE_URL": "postgres://postgres@127.0.0.1/quantsite",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AWS_SECRET_ACCESS_KEY": "s",
        "EMAIL_HOST_PASSWORD": "p",
    }

    assert hub_environment(site_environment) == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "QUANTHUB_READONLY_DIR": "/srv/examples",
    }


def test_the_fence_refuses_the_services_ports_and_hosts_to_the_servers_uids():
    rules = fence.ruleset(uids="70000-79999", ports=(5432, 6379), hosts=("10.0.0.5", "fd00::7"))

    assert rules == (
        "add table inet quanthub_fence\n"
        "delete table inet quanthub_fence\n"
        "table inet quanthub_fence {\n"
        "  chain output {\n"
        "    type filter hook output priority filter; policy accept;\n"
        "    meta skuid 70000-79999 fib daddr type local tcp dport { 5432, 6379 } "
        "reject with tcp reset\n"
        "    meta skuid 70000-79999 ip daddr { 10.0.0.5/32 } reject\n"
        "    meta skuid 70000-79999 ip6 daddr { fd00::7/128 } reject\n"
        "  }\n"
        "}\n"
    )


@pytest.mark.parametrize("uids", ["0-79999", "999-2000", "80000-70000"])
def test_the_fence_never_names_system_accounts(uids):
    with pytest.raises(ValueError, match="1000 <= LOW <= HIGH"):
        fence.ruleset(uids=uids)


def test_a_servers_software_under_tmp_stays_visible_in_its_private_tmp():
    package = Path(quanthub.isolation.__file__).resolve().parent
    environment = Path(sys.prefix).resolve()
    # Installed under the directory a server sees privately: bound back, outermost only.
    kept = server_software(tmp=str(package.parent))
    assert kept == [str(package)]
    kept = server_software(tmp="/")
    assert str(package) in kept or any(str(package).startswith(k + "/") for k in kept)
    assert str(environment) in kept or any(str(environment).startswith(k + "/") for k in kept)
    assert all(not a.startswith(b + "/") for a in kept for b in kept)
    # Installed elsewhere: nothing to bind.
    assert server_software(tmp="/nonexistent-private-tmp") == []
