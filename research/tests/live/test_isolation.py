"""The isolated single-machine recipe (hubs/isolated/), proven on a real hub with two users.

alice's server runs as its own account, in its own mount namespace, behind the uid fence; what
alice's server can do is tried by running a probe exactly as her server runs: in its mount
namespace (``nsenter``), as its account with its groups (``runuser``). Needs root (the hub
makes accounts), ``useradd``, ``nsenter`` and ``nft`` (Debian's nftables, installed by .ci/run).
Everything the test changes on the machine (accounts, homes, the fence, the traversal right on
the Python's directory) is undone at the end, even on failure.
"""

import asyncio
import contextlib
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from django.conf import settings
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from hubs.isolated import fence
from hubs.local import ROOT
from quanthub.isolation import TMP, AccountRefused, IsolatedSpawner, account_comment
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("useradd", "nsenter", "nft")),
        reason="needs root, useradd, nsenter and nft (Debian's nftables)",
    ),
]

ISOLATED_CONFIG = ROOT / "hubs" / "isolated" / "jupyterhub_config.py"
UIDS = (70000, 79999)  # IsolatedSpawner's default range, which the fence names
# Stand-ins for the site's secrets in the environment of whoever starts the hubs.
SITE_SECRETS = {
    "SECRET_KEY": "site-secret-key-sentinel",
    "NOTEBOOK_ENCRYPTION_KEYS": "notebook-key-sentinel",
    "AWS_SECRET_ACCESS_KEY": "s3-secret-sentinel",
}

# Run inside alice's server's namespace, as her account: each attempt and what came of it.
PROBE = r"""
import json, os, socket, sys, urllib.request, urllib.error
job = json.loads(sys.argv[1])
out = {"uid": os.getuid(), "groups": sorted(os.getgroups())}

def attempt(name, action):
    try:
        out[name] = ["ok", action()]
    except urllib.error.HTTPError as error:
        out[name] = ["http", error.code]
    except OSError as error:
        out[name] = [type(error).__name__, error.errno]

def read(path):
    with open(path, "rb") as f:
        return len(f.read())

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        return port

def unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        return path

def http(url, token=None, method="GET", body=None, scheme="Bearer"):
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    if token:
        request.add_header("Authorization", f"{scheme} {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=20) as response:
        text = response.read()
        try:
            return [response.status, json.loads(text)]
        except ValueError:
            return [response.status, None]

for name, path in job.get("read", {}).items():
    attempt(name, lambda: read(path))
for name, path in job.get("list", {}).items():
    attempt(name, lambda: os.listdir(path))
for name, port in job.get("connect", {}).items():
    attempt(name, lambda: connect(port))
for name, path in job.get("unix", {}).items():
    attempt(name, lambda: unix(path))
for name, call in job.get("http", {}).items():
    attempt(name, lambda: http(**call))
print(json.dumps(out))
"""


def terminal_run(hub_url: str, user: str, token: str, commands: str) -> str:
    """Type ``commands`` in a new terminal of ``user``'s server (JupyterLab's terminal API, with
    the server's own token) and return what the terminal printed until they finished."""
    headers = {"Authorization": f"token {token}"}
    created = requests.post(f"{hub_url}/user/{user}/api/terminals", headers=headers, timeout=20)
    assert created.status_code == 200, created.text[:300]
    name = created.json()["name"]
    url = f"{hub_url.replace('http', 'ws', 1)}/user/{user}/terminals/websocket/{name}"

    async def run() -> str:
        socket = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=20))
        # The shell echoes what is typed; "DONE$((6*7))" prints as DONE42 only once run.
        await socket.write_message(json.dumps(["stdin", f"{commands}; echo DONE$((6*7))\r"]))
        printed = ""
        while "DONE42" not in printed:
            message = await asyncio.wait_for(socket.read_message(), timeout=30)
            assert message is not None, f"the terminal closed: {printed[-500:]}"
            kind, *payload = json.loads(message)
            if kind == "stdout":
                printed += payload[0]
        socket.close()
        return printed

    try:
        return asyncio.run(run())
    finally:
        requests.delete(f"{hub_url}/user/{user}/api/terminals/{name}", headers=headers, timeout=20)


def server_pid(account: str) -> int:
    """The pid of the single-user server running as ``account``."""
    uid = pwd.getpwnam(account).pw_uid
    pids = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and _owner(entry) == uid
        and b"jupyterhub-singleuser" in _read(entry / "cmdline")
    ]
    assert len(pids) == 1, f"{account} runs {pids}"
    return pids[0]


def _owner(entry: Path) -> int | None:
    try:
        return entry.stat().st_uid
    except OSError:
        return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def as_server(pid: int, account: str) -> list[str]:
    return ["nsenter", "-t", str(pid), "-m", "--", "runuser", "-u", account, "--"]


def probe_as(account: str, pid: int, job: dict) -> dict:
    """Run PROBE as ``account`` in the mount namespace of its server ``pid``."""
    result = subprocess.run(
        [*as_server(pid, account), "env", "-i", sys.executable, "-c", PROBE, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


class Machine:
    """What a test changes on this machine, each change undone by ``undo``."""

    def __init__(self):
        self.homes = Path(tempfile.mkdtemp(prefix="quanthub-homes-", dir="/var/tmp"))
        self.homes.chmod(0o711)
        self.accounts: list[str] = []
        self.listeners: list[socket.socket] = []
        self.modes: dict[Path, int] = {}
        self.group_existed = _group_exists("quanthub-users")

    def let_servers_run_python(self) -> None:
        """Server accounts must traverse every directory down to the Python the servers run
        (here the interpreter may live under root's 0700 home): grant traversal (o+x) where
        missing, for the test's length."""
        python = Path(os.path.realpath(sys.executable))
        for directory in python.parents:
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH:
                self.modes[directory] = stat.S_IMODE(mode)
                directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)

    def listening(self, port: int) -> None:
        """Make sure something listens on 127.0.0.1:port (a stand-in if the service is not
        running here), so that a refused connection is the fence's doing."""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            pass
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        self.listeners.append(server)

        def accept():
            while True:
                try:
                    server.accept()[0].close()
                except OSError:
                    return

        threading.Thread(target=accept, daemon=True).start()

    def undo(self) -> None:
        fence.remove()
        for account in self.accounts:
            _remove_account(account)
        if not self.group_existed and _group_exists("quanthub-users"):
            subprocess.run(["groupdel", "quanthub-users"], check=False, capture_output=True)
        shutil.rmtree(self.homes, ignore_errors=True)
        for directory, mode in self.modes.items():
            directory.chmod(mode)
        for server in self.listeners:
            server.close()


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _remove_account(account: str) -> None:
    try:
        uid = pwd.getpwnam(account).pw_uid
    except KeyError:
        return
    # Processes the test's hub started as this account and left behind (by pid, not by name).
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _owner(entry) == uid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
    wait_until(
        lambda: subprocess.run(["userdel", account], capture_output=True).returncode in (0, 6),
        timeout=10,
        what=f"userdel {account}",
    )


@pytest.fixture
def machine():
    changes = Machine()
    try:
        yield changes
    finally:
        changes.undo()


@pytest.fixture
def site_secrets_in_environment(monkeypatch):
    for name, value in SITE_SECRETS.items():
        monkeypatch.setenv(name, value)
    if not os.environ.get("DATABASE_URL"):
        monkeypatch.setenv("DATABASE_URL", "sqlite:///database-url-sentinel")
    return {**SITE_SECRETS, "DATABASE_URL": os.environ["DATABASE_URL"]}


def hidden(path) -> list:
    """What a server's read of a hidden directory of the site gives."""
    if Path(path).resolve().is_relative_to(TMP):
        return ["FileNotFoundError", 2]
    return ["PermissionError", 13]


def test_each_users_server_is_walled_off_from_the_others_and_from_the_sites_services(
    machine, site_secrets_in_environment, start_hub, person, make_user_files, site_url
):
    machine.let_servers_run_python()
    machine.accounts += ["qs-alice", "qs-bob"]
    # The repository's var/ (the site's embedded state, which the isolated hub hides), as a
    # checkout has it once the site has run there.
    (ROOT / "var").mkdir(exist_ok=True)
    hub = start_hub(
        "hub-1",
        QUANTHUB_HUB_CONFIG=str(ISOLATED_CONFIG),
        QUANTHUB_HOMES_DIR=str(machine.homes),
    )
    hub.wait_ready()
    hub_registered("hub-1")
    alice, bob = person("alice"), person("bob")
    make_user_files("bob", {"bob-secret.ipynb": "notebook"})
    make_user_files("alice", {"alice-notes.txt": "mine"})
    assert alice.open_lab() == hub.url
    assert bob.open_lab() == hub.url

    # Each server runs as its own account, made for it, in its own mount namespace.
    alice_pid, bob_pid = server_pid("qs-alice"), server_pid("qs-bob")
    for account in ("qs-alice", "qs-bob"):
        entry = pwd.getpwnam(account)
        assert UIDS[0] <= entry.pw_uid <= UIDS[1]
        assert entry.pw_shell == "/usr/sbin/nologin"
        assert entry.pw_dir == f"{machine.homes}/{account}"
        assert stat.S_IMODE(os.stat(entry.pw_dir).st_mode) == 0o700
    assert os.readlink(f"/proc/{alice_pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")

    # Neither the hub nor a server inherits the site's secrets or the hub's.
    hub_environ = environ_of(hub.process.pid)
    alice_environ, bob_environ = environ_of(alice_pid), environ_of(bob_pid)
    client_secret = hub_environ["QUANTHUB_CLIENT_SECRET"]
    for name, value in site_secrets_in_environment.items():
        assert name not in hub_environ
        assert value not in json.dumps(alice_environ)
    for forbidden in ("QUANTHUB_CLIENT_SECRET", "CONFIGPROXY_AUTH_TOKEN"):
        assert forbidden not in alice_environ
    assert client_secret not in json.dumps(alice_environ)
    bob_token = bob_environ["QUANTHUB_CONTENTS_TOKEN"]
    assert bob_token.encode() not in Path(f"/proc/{bob_pid}/cmdline").read_bytes()

    alice_token = alice_environ["QUANTHUB_CONTENTS_TOKEN"]
    alice_hub_token = alice_environ["JUPYTERHUB_API_TOKEN"]
    # The attack as reported: alice's terminal reads bob's server's environment.
    printed = terminal_run(
        hub.url,
        "alice",
        alice_hub_token,
        f"id -un; cat /proc/{bob_pid}/environ > /dev/null 2>&1; echo READ=$?",
    )
    assert "qs-alice" in printed
    assert "READ=1" in printed
    assert bob_token not in printed
    hub_api = alice_environ["JUPYTERHUB_API_URL"]
    bob_home = pwd.getpwnam("qs-bob").pw_dir
    # alice's view with what she holds, before the fence: the database port answers her.
    job = {
        "read": {
            "bob_environ": f"/proc/{bob_pid}/environ",
            "hub_environ": f"/proc/{hub.process.pid}/environ",  # the hub's client secret
            "bob_runtime_dir": f"{bob_home}/.local/share/jupyter/runtime",
        },
        "list": {
            "bob_home": bob_home,
            "postgres_sockets": "/run/postgresql",
            # The site's state on this machine: embedded database, stored files, keys.
            "site_var": str(settings.VAR_DIR),
            "repository_var": str(ROOT / "var"),
        },
        "unix": {"postgres_socket": "/run/postgresql/.s.PGSQL.5432"},
        "connect": {"postgres": 5432, "redis": 6379},
        "http": {
            "site": {"url": f"{site_url}/healthz"},
            "hub": {"url": f"{hub.url}/hub/health"},
            "own_store": {"url": f"{site_url}/api/contents/", "token": alice_token},
            "bob_file_with_own_token": {
                "url": f"{site_url}/api/contents/bob-secret.ipynb",
                "token": alice_token,
            },
            "store_with_hub_token": {"url": f"{site_url}/api/contents/", "token": alice_hub_token},
            "bob_on_hub": {"url": f"{hub_api}/users/bob", "token": alice_hub_token},
            "bob_server": {
                "url": f"{hub.url}/user/bob/api/contents",
                "token": alice_hub_token,
                "scheme": "token",
            },
        },
    }
    credential_url = alice_environ.get("QUANTHUB_CREDENTIAL_URL")
    if credential_url:  # the hub's credential renewal, asked for bob
        job["http"]["renewal_for_bob"] = {
            "url": f"{credential_url}?user=bob",
            "token": alice_hub_token,
            "scheme": "token",
            "method": "POST",
            "body": json.dumps({"user": "bob"}),
        }
    for port in (5432, 6379):
        machine.listening(port)
    before = probe_as("qs-alice", alice_pid, job)
    assert before["postgres"] == ["ok", 5432]  # what the fence is for
    assert before["redis"] == ["ok", 6379]

    fence.install(uids=f"{UIDS[0]}-{UIDS[1]}", ports=(5432, 6379))
    seen = probe_as("qs-alice", alice_pid, job)

    assert seen["uid"] == pwd.getpwnam("qs-alice").pw_uid
    assert seen["bob_environ"] == ["PermissionError", 13]
    assert seen["hub_environ"] == ["PermissionError", 13]
    assert seen["bob_home"] == ["PermissionError", 13]
    # Hidden by the server's mounts: unreadable, or not there at all when it lies under /tmp
    # (each server has a private /tmp, which holds only the server's own software).
    assert seen["site_var"] == hidden(settings.VAR_DIR)
    assert seen["repository_var"] == hidden(ROOT / "var")
    assert seen["bob_runtime_dir"][0] == "PermissionError"
    if Path("/run/postgresql/.s.PGSQL.5432").exists():  # PostgreSQL runs on this machine
        assert before["postgres_socket"] == ["PermissionError", 13]
        assert seen["postgres_sockets"] == ["PermissionError", 13]
    assert seen["postgres"] == ["ConnectionRefusedError", 111]
    assert seen["redis"] == ["ConnectionRefusedError", 111]
    assert seen["site"][0] == "ok"
    assert seen["site"][1][0] == 200
    assert seen["hub"][0] == "ok"
    assert seen["hub"][1][0] == 200
    own = seen["own_store"]
    assert own[0] == "ok"
    assert [item["name"] for item in own[1][1]["content"]] == ["alice-notes.txt"]
    assert seen["bob_file_with_own_token"] == ["http", 404]
    assert seen["store_with_hub_token"] == ["http", 401]
    assert seen["bob_on_hub"][0] == "http"
    assert seen["bob_on_hub"][1] in (403, 404)
    assert seen["bob_server"][0] == "http"
    assert seen["bob_server"][1] in (403, 404)
    if credential_url:
        renewed = seen["renewal_for_bob"]
        assert renewed[0] == "ok"  # alice's own credential, whatever she asks for
        again = probe_as(
            "qs-alice",
            alice_pid,
            {
                "http": {
                    "bob_file": {
                        "url": f"{site_url}/api/contents/bob-secret.ipynb",
                        "token": renewed[1][1]["token"],
                    }
                }
            },
        )
        assert again["bob_file"] == ["http", 404]


@pytest.fixture
def spawner_for():
    def make(username: str, homes: Path) -> IsolatedSpawner:
        return IsolatedSpawner(
            user=SimpleNamespace(name=username, url=f"/user/{username}/"), homes_dir=str(homes)
        )

    return make


def test_an_account_not_made_for_the_user_is_never_used(machine, spawner_for):
    machine.accounts += ["qs-mallory", "qs-eve"]
    # An account of the machine that happens to have the name (not in quanthub-users).
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "qs-mallory"],
        check=True,
    )
    # An account made by quanthub, but for another hub user (a name chosen to collide).
    eve = spawner_for("eve", machine.homes).ensure_account()
    subprocess.run(["usermod", "--comment", account_comment("someone-else"), "qs-eve"], check=True)

    with pytest.raises(AccountRefused) as not_ours:
        spawner_for("mallory", machine.homes).ensure_account()
    with pytest.raises(AccountRefused) as other_user:
        spawner_for("eve", machine.homes).ensure_account()

    assert "qs-mallory exists but was not made by quanthub for mallory" in str(not_ours.value)
    assert "not in the group quanthub-users" in str(not_ours.value)
    assert "not made for the hub user eve" in str(other_user.value)
    assert UIDS[0] <= eve.pw_uid <= UIDS[1]


def test_an_account_is_made_once_and_reused(machine, spawner_for):
    machine.accounts += ["qs-carol"]

    first = spawner_for("carol", machine.homes).ensure_account()
    second = spawner_for("carol", machine.homes).ensure_account()

    assert first == second
    assert UIDS[0] <= first.pw_uid <= UIDS[1]
    assert first.pw_gecos == account_comment("carol")
    home = Path(first.pw_dir)
    assert (home.stat().st_uid, stat.S_IMODE(home.stat().st_mode)) == (first.pw_uid, 0o700)


def test_a_home_left_by_an_earlier_account_is_not_handed_over(machine, spawner_for):
    machine.accounts += ["qs-dave"]
    dave = spawner_for("dave", machine.homes).ensure_account()
    os.chown(dave.pw_dir, UIDS[1], UIDS[1])  # as if an earlier qs-dave had another uid

    with pytest.raises(AccountRefused) as refused:
        spawner_for("dave", machine.homes).ensure_account()

    assert f"The home {dave.pw_dir} of qs-dave belongs to uid {UIDS[1]}, not to qs-dave" in str(
        refused.value
    )
