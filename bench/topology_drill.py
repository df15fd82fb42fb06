"""The drill: the production topology on loopback, parts of it broken on purpose under load.

Brings up deploy/topology.py's topology (its own PostgreSQL behind PgBouncer, Redis, site copies
behind HAProxy with TLS from a local CA, the Celery workers and one beat, S3, an SMTP sink) on
ports of its own and in a state directory of its own (``--root``, emptied at the end), and
supervises every Procfile process itself, each in a session of its own, so that it can kill one
(a Procfile runner would stop everything). Through HAProxy (HTTPS, the local CA):

- ``--hubs`` simulated hubs, registered with ``hub_register`` (what ``manage.py register_hub``
  runs), each taking its token at ``/o/token/`` (client credentials) and starting; then a
  heartbeat a second each, with quanthub's own ``SiteClient`` and the discovery service's
  policy (one retry, and only of what was never sent);
- ``--users`` simulated users, each every ``--period`` seconds (phase spread at random): a GET
  of /community, a locate, a HEAD of /favicon.ico (a browser's requests: never retried), or a
  save of their notebook (PUT /api/contents/..., with quanthub's ``SiteClient`` as the hub's
  contents manager sends it: retried with backoff, since a save is safe to repeat).

The scenarios (``--scenarios``, in order, each after ``--settle`` seconds of plain load):

- ``kill-site``: SIGKILL one copy (its whole process group: master and workers), keep the load
  ``--down`` seconds, start it again, keep the load until HAProxy shows it UP;
- ``restart-pgbouncer``: SIGTERM PgBouncer (its immediate shutdown), start it again at once,
  keep the load until every copy is UP and no request has failed for ``--settle`` seconds;
- ``restart-postgres``: ``pg_ctl restart -m fast``, the same way.

Then: every acknowledged save is read back (the stored notebook carries the save's sequence
number: it must be at least the last one acknowledged), and the discovery invariants are
checked in the database (no user with two open assignments, no hub over capacity). Prints a
table per scenario and a markdown block for bench/RESULTS.md. Loopback only, bounded in time.

    .venv/bin/python bench/topology_drill.py [--hubs 50] [--users 200] [--period 2]
"""

import argparse
import asyncio
import collections
import contextlib
import csv
import io
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "quanthub"))

from deploy.topology import (  # noqa: E402
    Topology,
    _as_db_user,
    _pg_bin,
    install_packages,
    object_store_start,
    postgres_start,
    postgres_stop,
    release,
    smtp_sink_start,
    wait_for_port,
)
from quanthub.client import HubCredential, ServerCredential, SiteClient, SiteError  # noqa: E402

SCENARIOS = ("kill-site", "restart-pgbouncer", "restart-postgres")
# What users send, and the answers that are right (the favicon redirects to its static file).
GET_PATHS = (
    ("GET", "/community", {200}),
    ("GET", "/api/discovery/locate", {200}),
    ("HEAD", "/favicon.ico", {200, 302}),
)


def drill_topology(root: Path, sites: int = 3) -> Topology:
    """The topology on ports of its own (10000 above ``make run-prod``'s where they fit), so
    that a drill never meets a running ``make run-prod`` nor the test suite's stores."""
    return Topology(
        root=root,
        sites=sites,
        https_port=18443,
        http_port=18080,
        stats_port=18404,
        site_base_port=18110,
        pg_port=55532,
        bouncer_port=56532,
        redis_port=56479,
        s3_port=59100,
        smtp_port=18025,
    )


def ports_of(topology: Topology) -> list[int]:
    fixed = [
        topology.https_port,
        topology.http_port,
        topology.stats_port,
        topology.pg_port,
        topology.bouncer_port,
        topology.redis_port,
        topology.s3_port,
        topology.smtp_port,
    ]
    return fixed + [topology.site_port(copy) for copy in range(1, topology.sites + 1)]


def check_ports_free(topology: Topology) -> None:
    taken = []
    for port in ports_of(topology):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    if taken:
        raise SystemExit(f"ports in use on 127.0.0.1 (another drill running?): {taken}")


# -- processes ---------------------------------------------------------------------------------


class Supervisor:
    """The Procfile's processes, each started by this process in a session of its own (so that
    one can be killed, group and all, and started again); logs in ``logs/<name>.log``."""

    def __init__(self, topology: Topology, env: dict[str, str]):
        self.topology = topology
        self.env = env
        self.commands = topology.procfile_entries()
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log = open(self.topology.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        with log:
            self.processes[name] = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {self.commands[name]}"],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, name: str, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[name].pid, number)

    def wait(self, name: str, timeout: float = 20) -> None:
        """Wait for ``name`` to exit; SIGKILL its group past ``timeout``."""
        process = self.processes[name]
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(name, signal.SIGKILL)
            process.wait(timeout=10)
        # Whatever of its group outlived it (a gunicorn worker of a killed master).
        self.signal(name, signal.SIGKILL)

    def stop_all(self) -> None:
        """SIGTERM every group, the application tier first, then SIGKILL what is left."""
        names = list(self.processes)
        order = [n for n in names if n not in ("pgbouncer", "redis")] + [
            n for n in ("pgbouncer", "redis") if n in names
        ]
        for name in order:
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 25
        for name in order:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.processes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            self.signal(name, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.processes[name].wait(timeout=5)


def stop_background(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# -- HAProxy's view ----------------------------------------------------------------------------


def haproxy_stats(topology: Topology) -> dict[str, dict[str, str]]:
    """The ``site`` backend's rows of HAProxy's stats CSV, by server name (and ``BACKEND``)."""
    from urllib.request import urlopen

    with urlopen(f"http://127.0.0.1:{topology.stats_port}/;csv", timeout=2) as response:
        text = response.read().decode()
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {row["svname"]: row for row in rows if row["pxname"] == "site"}


def counters(rows: dict[str, dict[str, str]], column: str) -> dict[str, int]:
    return {name: int(row[column] or 0) for name, row in rows.items()}


@dataclass
class StatusLog:
    """Each copy's status in HAProxy, polled every ``interval`` s: ``(monotonic, {name: st})``."""

    topology: Topology
    interval: float = 0.2
    samples: list = field(default_factory=list)

    def current(self) -> dict[str, str]:
        return self.samples[-1][1] if self.samples else {}

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                rows = await asyncio.to_thread(haproxy_stats, self.topology)
                status = {n: r["status"] for n, r in rows.items() if n.startswith("site")}
                self.samples.append((time.monotonic(), status))
            except OSError:
                pass
            await asyncio.sleep(self.interval)

    def first(self, after: float, predicate) -> float | None:
        """The first sample time at or after ``after`` whose statuses satisfy ``predicate``."""
        for at, status in self.samples:
            if at >= after and predicate(status):
                return at
        return None

    def last(self, after: float, predicate) -> float | None:
        """The last sample time at or after ``after`` whose statuses satisfy ``predicate``."""
        found = None
        for at, status in self.samples:
            if at >= after and predicate(status):
                found = at
        return found

    async def wait_for(self, predicate, timeout: float) -> float | None:
        """When the statuses first satisfy ``predicate`` from now on; None past ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.samples and predicate(self.samples[-1][1]):
                return self.samples[-1][0]
            await asyncio.sleep(self.interval / 2)
        return None


def all_up(status: dict[str, str]) -> bool:
    return bool(status) and all(s == "UP" for s in status.values())


def any_down(status: dict[str, str]) -> bool:
    """A copy HAProxy has taken out ("DOWN"; "UP 1/2" is a first failed check only)."""
    return any(s.startswith("DOWN") for s in status.values())


# -- the site's state (Django in this process, straight to PostgreSQL) ------------------------


def django_setup(topology: Topology) -> None:
    os.environ.update(topology.site_environment())
    os.environ["DATABASE_URL"] = topology.direct_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
    import django

    django.setup()


@dataclass
class SimulatedHub:
    name: str
    url: str
    capacity: int
    credential: HubCredential


@dataclass
class SimulatedUser:
    username: str
    locate_token: str  # scope profile
    contents: ServerCredential  # scope notebooks
    path: str
    acknowledged: int = 0  # the sequence number of the last save the site acknowledged
    sent: int = 0


def seed(hubs: int, users: int, capacity: int) -> tuple[list[SimulatedHub], list[SimulatedUser]]:
    """Hubs registered as ``manage.py register_hub`` registers them (their client secret in
    hand), users with a locate token (scope profile) and a server's token (scope notebooks)."""
    import datetime as dt
    import secrets

    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    from quantsite.accounts.models import User
    from research.services.hubs import hub_register

    made = []
    for i in range(hubs):
        registration = hub_register(
            name=f"drill-{i}", url=f"https://hub-{i}.drill.invalid", capacity=capacity
        )
        made.append((registration.hub, registration.client_secret))
    simulated_hubs = [
        SimulatedHub(hub.name, hub.url, hub.capacity, HubCredential(hub.application.client_id, s))
        for hub, s in made
    ]
    User.objects.bulk_create(
        [
            User(username=f"drill-u{i}", email=f"drill-u{i}@drill.invalid", password="!")
            for i in range(users)
        ]
    )
    expires = timezone.now() + dt.timedelta(hours=6)
    web = made[0][0].application
    simulated_users = []
    for user in User.objects.filter(username__startswith="drill-u").order_by("pk"):
        raws = []
        for application, scope in ((web, "profile"), (None, "notebooks")):
            raw = secrets.token_urlsafe(32)
            token = AccessToken(user=user, application=application, scope=scope, expires=expires)
            set_token_value(token, raw)
            token.save()
            raws.append(raw)
        simulated_users.append(
            SimulatedUser(
                user.username, raws[0], ServerCredential(raws[1]), f"drill-{user.username}.ipynb"
            )
        )
    return simulated_hubs, simulated_users


def invariants() -> dict[str, int]:
    """Discovery's invariants, counted in the database (each must be 0)."""
    from django.db.models import Count, F

    from research.models import Assignment, Hub

    doubles = (
        Assignment.objects.filter(ended_at__isnull=True)
        .values("user")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    over = Hub.objects.filter(assigned_count__gt=F("capacity")).count()
    return {"users with two open assignments": doubles, "hubs over capacity": over}


# -- load --------------------------------------------------------------------------------------


@dataclass
class Event:
    at: float  # monotonic, when it was sent (a retry: when the attempt failed)
    kind: str  # "get" (GET/HEAD), "heartbeat", "save", "attempt" (a save/beat sent again)
    label: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0  # from sending to its answer or failure


class Load:
    """Hubs beating and users browsing, locating and saving, until ``stopping`` is set."""

    def __init__(self, topology: Topology, hubs, users, period: float):
        self.topology = topology
        self.hubs = hubs
        self.users = users
        self.period = period
        self.events: list[Event] = []
        self.base = topology.site_url
        self.ssl = ssl.create_default_context(cafile=str(topology.ca_certificate))
        # The hubs' client and the contents manager's, as quanthub makes them (one each; every
        # hub or server brings its own credential to each call).
        self.hub_site = SiteClient(self.base, None, timeout=10, retries=1, max_connections=64)
        self.contents_site = SiteClient(self.base, None, timeout=15, max_connections=64)
        # quanthub's retries, counted (not printed); httpx's line per request, not printed.
        client_log = logging.getLogger("quanthub.client")
        client_log.addHandler(RetryCounter(self))
        client_log.setLevel(logging.DEBUG)
        client_log.propagate = False
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def prepare(self) -> None:
        """Every hub takes its token (client credentials) and starts; fails loudly."""

        async def start(hub: SimulatedHub) -> None:
            await self.hub_site.send(
                "POST",
                "/api/discovery/start",
                credential=hub.credential,
                json={"url": hub.url, "capacity": hub.capacity, "version": "drill"},
            )

        for i in range(0, len(self.hubs), 10):
            await asyncio.gather(*(start(hub) for hub in self.hubs[i : i + 10]))

    async def run(self, stopping: asyncio.Event) -> None:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=256)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(
                *(self.hub_loop(hub, stopping) for hub in self.hubs),
                *(self.user_loop(session, user, stopping) for user in self.users),
            )

    async def hub_loop(self, hub: SimulatedHub, stopping: asyncio.Event) -> None:
        await asyncio.sleep(random.random())
        next_beat = time.monotonic()
        while not stopping.is_set():
            sent = time.monotonic()
            try:
                await self.hub_site.send(
                    "POST",
                    "/api/discovery/heartbeat",
                    credential=hub.credential,
                    json={"version": 1, "running": []},
                )
                self.events.append(Event(sent, "heartbeat", "heartbeat", True, "", _since(sent)))
            except SiteError as error:
                detail = str(error.status or error.detail[:60])
                self.events.append(
                    Event(sent, "heartbeat", "heartbeat", False, detail, _since(sent))
                )
            next_beat += 1.0
            await asyncio.sleep(max(0.0, next_beat - time.monotonic()))

    async def user_loop(self, session, user: SimulatedUser, stopping: asyncio.Event) -> None:
        await asyncio.sleep(random.random() * self.period)
        next_visit = time.monotonic()
        while not stopping.is_set():
            choice = random.random()
            if choice < 0.2:
                await self.save(user)
            else:
                method, path, right = GET_PATHS[min(2, int((choice - 0.2) / 0.8 * 2.5))]
                await self.get(session, user, method, path, right)
            next_visit += self.period
            await asyncio.sleep(max(0.0, next_visit - time.monotonic()))

    async def get(self, session, user: SimulatedUser, method: str, path: str, right) -> None:
        headers = {"Authorization": f"Bearer {user.locate_token}"} if "locate" in path else {}
        sent = time.monotonic()
        label = f"{method} {path}"
        try:
            async with session.request(
                method, self.base + path, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                ok = response.status in right
                detail = "" if ok else str(response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            ok, detail = False, type(error).__name__
        self.events.append(Event(sent, "get", label, ok, detail, _since(sent)))

    async def save(self, user: SimulatedUser) -> None:
        user.sent += 1
        sequence = user.sent
        notebook = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"drill": {"sequence": sequence}},
            "cells": [
                {
                    "cell_type": "code",
                    "id": "c1",
                    "metadata": {},
                    "source": f"print({sequence})",
                    "outputs": [],
                    "execution_count": None,
                }
            ],
        }
        sent = time.monotonic()
        try:
            await self.contents_site.send(
                "PUT",
                f"/api/contents/{user.path}",
                credential=user.contents,
                json={"type": "notebook", "format": "json", "content": notebook},
            )
            user.acknowledged = max(user.acknowledged, sequence)
            self.events.append(Event(sent, "save", "PUT /api/contents", True, "", _since(sent)))
        except SiteError as error:
            detail = str(error.status or error.detail[:60])
            self.events.append(
                Event(sent, "save", "PUT /api/contents", False, detail, _since(sent))
            )

    async def saves_missing(self) -> list[str]:
        """Users whose stored notebook is older than their last acknowledged save."""
        missing = []
        for user in self.users:
            if not user.acknowledged:
                continue
            try:
                response = await self.contents_site.send(
                    "GET", f"/api/contents/{user.path}", credential=user.contents
                )
                stored = response.json()["content"]["metadata"]["drill"]["sequence"]
            except SiteError as error:
                missing.append(f"{user.username}: unreadable ({error.status})")
                continue
            if stored < user.acknowledged:
                missing.append(f"{user.username}: stored {stored} < {user.acknowledged}")
        return missing

    async def close(self) -> None:
        await self.hub_site.aclose()
        await self.contents_site.aclose()


class RetryCounter(logging.Handler):
    """Counts quanthub's retries (``retrying %s %s in %.2f s: %s``): a failed attempt each."""

    def __init__(self, load: Load):
        super().__init__(logging.DEBUG)
        self.load = load

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("retrying") and record.args:
            method, path = record.args[0], record.args[1]
            kind = "heartbeat" if "heartbeat" in path else "save" if method == "PUT" else "other"
            # HAProxy's own 503 is a page: its text only, for the table.
            text = re.sub(r"<[^>]*>", " ", str(record.args[3]))
            detail = re.sub(r"\s+", " ", text).strip()[:80]
            self.load.events.append(Event(time.monotonic(), "attempt", kind, False, detail))


def _since(sent: float) -> float:
    return time.monotonic() - sent


# -- scenarios ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    started: float
    ended: float = 0.0
    figures: dict = field(default_factory=dict)


def window(events: list[Event], start: float, end: float, kind: str) -> list[Event]:
    """The events of ``kind`` that ended (answered or failed) between ``start`` and ``end``:
    a request in flight when a part is killed counts in that part's scenario."""
    return [e for e in events if e.kind == kind and start <= e.at + e.seconds < end]


def tally(events: list[Event], start: float, end: float) -> dict:
    figures = {}
    for kind, label in (
        ("get", "GET/HEAD (browser, no retry)"),
        ("heartbeat", "POST heartbeat"),
        ("save", "PUT save (after quanthub's retries)"),
    ):
        seen = window(events, start, end, kind)
        failed = [e for e in seen if not e.ok]
        kinds = collections.Counter(
            f"{e.label.split()[-1]} {e.detail}" if kind == "get" else e.detail for e in failed
        )
        p99 = _p99_ms([e.seconds for e in seen if e.ok])
        figures[label] = (len(seen), len(failed), p99, dict(kinds.most_common(4)))
    retried = window(events, start, end, "attempt")
    figures["attempts retried by quanthub"] = (
        len(retried),
        None,
        None,
        dict(collections.Counter(f"{e.label}: {e.detail[:40]}" for e in retried).most_common(3)),
    )
    return figures


def _p99_ms(seconds: list[float]) -> float | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000)


def last_failure(events: list[Event], after: float) -> float | None:
    failed = [e.at for e in events if not e.ok and e.kind != "attempt" and e.at >= after]
    return max(failed) if failed else None


async def quiet_for(load: Load, seconds: float, timeout: float) -> float | None:
    """Wait until no request sent in the last ``seconds`` failed; return when that began
    (None if requests were still failing ``timeout`` seconds later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        recent = [e for e in load.events if e.at >= now - seconds and e.kind != "attempt"]
        if recent and all(e.ok for e in recent):
            return now - seconds
        await asyncio.sleep(0.5)
    return None


async def kill_site(sup: Supervisor, statuses: StatusLog, load: Load, down: float) -> dict:
    copy = 2
    victim = f"site{copy}"
    before = await asyncio.to_thread(haproxy_stats, sup.topology)
    killed = time.monotonic()
    sup.signal(victim, signal.SIGKILL)
    await asyncio.to_thread(sup.wait, victim, 5)
    await asyncio.sleep(down)
    restarted = time.monotonic()
    sup.start(victim)
    ready = await asyncio.to_thread(copy_ready, sup.topology.site_port(copy), 90)
    back = lambda status: status.get(victim) == "UP"  # noqa: E731
    await statuses.wait_for(back, timeout=90)
    up_at = statuses.first(restarted, back)  # None: never back within 90 s
    await asyncio.sleep(2)
    after = await asyncio.to_thread(haproxy_stats, sup.topology)
    marked_down = statuses.first(killed, lambda s: s.get(victim, "").startswith("DOWN"))
    return {
        "killed": killed,
        "until": time.monotonic(),
        "HAProxy marked it down after": _seconds(marked_down, killed),
        "back in service after the kill": _seconds(up_at, killed),
        "back in service after its restart": _seconds(up_at, restarted),
        "its own /readyz answered 200 after its restart": _seconds(ready, restarted),
        "haproxy": _deltas(before, after),
    }


async def restart_store(
    name: str, sup: Supervisor, statuses: StatusLog, load: Load, settle: float
) -> dict:
    before = await asyncio.to_thread(haproxy_stats, sup.topology)
    started = time.monotonic()
    if name == "pgbouncer":
        sup.signal("pgbouncer", signal.SIGTERM)
        await asyncio.to_thread(sup.wait, "pgbouncer", 10)
        sup.start("pgbouncer")
        await asyncio.to_thread(wait_for_port, sup.topology.bouncer_port, "PgBouncer")
    else:
        await asyncio.to_thread(postgres_restart, sup.topology)
    back = time.monotonic()
    quiet = await quiet_for(load, settle, timeout=60)
    await statuses.wait_for(all_up, timeout=60)
    after = await asyncio.to_thread(haproxy_stats, sup.topology)
    not_all_up = statuses.last(started, lambda s: not all_up(s))
    up_at = statuses.first(not_all_up, all_up) if not_all_up else started
    down = statuses.first(started, any_down)
    failed_last = last_failure(load.events, started)
    return {
        "killed": started,
        "until": time.monotonic(),
        f"{name} answering again after": _seconds(back, started),
        "copies HAProxy took out": str(
            max((_down_count(s) for at, s in statuses.samples if at >= started), default=0)
        ),
        "first copy taken out after": _seconds(down, started),
        "every copy UP again after": _seconds(up_at, started),
        "last failed request sent after": _seconds(failed_last, started),
        f"no failure for {settle:g} s from": _seconds(quiet, started),
        "haproxy": _deltas(before, after),
    }


def _down_count(status: dict[str, str]) -> int:
    return sum(1 for s in status.values() if s.startswith("DOWN"))


def copy_ready(port: int, timeout: float) -> float | None:
    """When the copy on ``port`` first answers /readyz with 200, asked directly (not through
    HAProxy) every 0.1 s; None past ``timeout``."""
    from urllib.error import URLError
    from urllib.request import urlopen

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(URLError, OSError),
            urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response,
        ):
            if response.status == 200:
                return time.monotonic()
        time.sleep(0.1)
    return None


def postgres_restart(topology: Topology) -> None:
    """``pg_ctl restart -m fast``, logging where ``postgres_start`` does. Its output goes to
    the log, never to a pipe: the new postmaster would hold the pipe open for good."""
    log = topology.root / "logs" / "postgres.log"
    pg_ctl = [*_as_db_user(), _pg_bin("pg_ctl"), "-D", str(topology.pg_data), "-l", str(log)]
    with open(topology.root / "logs" / "pg_ctl.log", "ab") as output:
        restart = [*pg_ctl, "-m", "fast", "-w", "restart"]
        subprocess.run(restart, check=True, stdout=output, stderr=subprocess.STDOUT)


def _seconds(at: float | None, since: float) -> str:
    return "never" if at is None else f"{at - since:.1f} s"


def _deltas(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """wretr/wredis (and the copies' failed checks) over a scenario, per row."""
    out = {}
    for column in ("wretr", "wredis", "eresp", "econ"):
        b, a = counters(before, column), counters(after, column)
        out[column] = {name: a[name] - b.get(name, 0) for name in a if a[name] - b.get(name, 0)}
    return out


# -- report ------------------------------------------------------------------------------------


def print_table(outcome: Outcome) -> list[str]:
    """Prints the scenario's figures; returns them as markdown lines."""
    print(f"\n== {outcome.name} ({outcome.ended - outcome.started:.0f} s of load) ==", flush=True)
    md = [f"**{outcome.name}** ({outcome.ended - outcome.started:.0f} s of load)", ""]
    md += [
        "| requests | sent | failed | p99 of the answered | failures |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    print(f"  {'requests':<38} {'sent':>7} {'failed':>7} {'p99 ms':>7}  failures")
    for label, value in outcome.figures.items():
        if isinstance(value, tuple):
            sent, failed, p99, kinds = value
            shown = "" if failed is None else str(failed)
            p99 = "" if p99 is None else str(p99)
            print(f"  {label:<38} {sent:>7} {shown:>7} {p99:>7}  {_kinds(kinds)}")
            md.append(f"| {label} | {sent} | {shown} | {p99 and p99 + ' ms'} | {_kinds(kinds)} |")
    md.append("")
    for label, value in outcome.figures.items():
        if isinstance(value, str):
            print(f"  {label}: {value}")
            md.append(f"- {label}: {value}")
        elif isinstance(value, dict) and label == "haproxy":
            text = "; ".join(f"{c} {_rows(v)}" for c, v in value.items())
            print(f"  HAProxy counters over the scenario: {text}")
            md.append(f"- HAProxy counters over the scenario: {text}")
    print(flush=True)
    return [*md, ""]


def _rows(deltas: dict[str, int]) -> str:
    """``{"BACKEND": 5, "site2": 5}`` as ``5 (site2 5)``: the backend's, then its copies'."""
    copies = ", ".join(f"{n} {v}" for n, v in sorted(deltas.items()) if n.startswith("site"))
    return f"{deltas.get('BACKEND', 0)}" + (f" ({copies})" if copies else "")


def _kinds(kinds: dict) -> str:
    return ", ".join(f"{k} x{n}" for k, n in kinds.items()) if kinds else ""


# -- the drill ---------------------------------------------------------------------------------


async def drill(sup: Supervisor, args, hubs, users) -> tuple[list[Outcome], dict]:
    topology = sup.topology
    statuses = StatusLog(topology)
    stopping = asyncio.Event()
    poller = asyncio.create_task(statuses.run(stopping))
    if await statuses.wait_for(all_up, timeout=120) is None:
        raise SystemExit(f"the copies never came UP in HAProxy: {statuses.current()}")
    print(f"HAProxy shows {len(statuses.current())} copies UP", flush=True)
    load = Load(topology, hubs, users, args.period)
    await load.prepare()
    print(f"{len(hubs)} hubs took their tokens and started; load begins", flush=True)
    load_task = asyncio.create_task(load.run(stopping))
    outcomes = []
    try:
        started = time.monotonic()
        await asyncio.sleep(args.settle)
        baseline = Outcome("steady load", started, time.monotonic())
        baseline.figures = tally(load.events, started, baseline.ended)
        outcomes.append(baseline)
        for name in args.scenarios:
            print(f"scenario {name} ...", flush=True)
            if name == "kill-site":
                result = await kill_site(sup, statuses, load, args.down)
            else:
                store = name.removeprefix("restart-")
                result = await restart_store(store, sup, statuses, load, args.settle)
            outcome = Outcome(f"{name}", result.pop("killed"), result.pop("until"))
            outcome.figures = {**tally(load.events, outcome.started, outcome.ended), **result}
            outcomes.append(outcome)
            await asyncio.sleep(args.settle)
        whole = Outcome("whole run", started, time.monotonic())
        whole.figures = tally(load.events, started, whole.ended)
        outcomes.append(whole)
    finally:
        stopping.set()
        await asyncio.gather(load_task, poller, return_exceptions=True)
    checks = {"acknowledged saves missing": await load.saves_missing()}
    await load.close()
    checks.update(await asyncio.to_thread(invariants))
    return outcomes, checks


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "qs-drill-prod")
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--hubs", type=int, default=50)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--capacity", type=int, default=20, help="seats per hub")
    parser.add_argument(
        "--period", type=float, default=2.0, help="seconds between a user's requests"
    )
    parser.add_argument("--settle", type=float, default=10, help="seconds of plain load between")
    parser.add_argument("--down", type=float, default=10, help="seconds a killed copy stays down")
    parser.add_argument(
        "--scenarios",
        type=lambda text: [s for s in text.split(",") if s],
        default=list(SCENARIOS[:2]),
        help=f"comma-separated, of {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    return args


def run(args: argparse.Namespace) -> tuple[list[Outcome], dict]:
    """The whole drill: the topology up, the load, the scenarios, the checks; everything it
    started stopped and its state directory removed (unless ``--keep``), whatever happens."""
    topology = drill_topology(args.root.resolve(), args.sites)
    check_ports_free(topology)
    # SIGTERM and SIGHUP stop the drill as Ctrl-C does: everything below is stopped (finally).
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda n, frame: sys.exit(128 + n))
    install_packages()
    shutil.rmtree(topology.root, ignore_errors=True)
    topology.root.mkdir(parents=True)
    begun = time.monotonic()
    background: list[subprocess.Popen] = []
    sup = None
    postgres = False
    try:
        topology.write()
        postgres = True
        postgres_start(topology)
        background.append(object_store_start(topology))
        background.append(smtp_sink_start(topology))
        release(topology)
        django_setup(topology)
        hubs, users = seed(args.hubs, args.users, args.capacity)
        print(f"release and seeding done in {time.monotonic() - begun:.0f} s", flush=True)
        sup = Supervisor(topology, {**os.environ, **topology.site_environment()})
        for name in sup.commands:
            sup.start(name)
        wait_for_port(topology.bouncer_port, "PgBouncer")
        wait_for_port(topology.redis_port, "Redis")
        return asyncio.run(drill(sup, args, hubs, users))
    finally:
        if sup is not None:
            sup.stop_all()
        for process in background:
            stop_background(process)
        if postgres:
            postgres_stop(topology)
        if not args.keep:
            shutil.rmtree(topology.root, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    begun = time.monotonic()
    outcomes, checks = run(args)
    ran = (
        f"{args.sites} site copies behind HAProxy, {args.hubs} hubs beating at 1 Hz, "
        f"{args.users} users with a request every {args.period:g} s (20% saves, the rest a GET "
        f"of /community, a locate or a HEAD of /favicon.ico), through HTTPS on loopback; "
        f"{os.cpu_count()} cores"
    )
    print(f"\nThe drill: {ran}")
    markdown = [f"The drill (`bench/topology_drill.py`): {ran}.", ""]
    for outcome in outcomes:
        markdown += print_table(outcome)
    print("After the run:")
    markdown.append("After the run:")
    for label, value in checks.items():
        shown = len(value) if isinstance(value, list) else value
        print(f"  {label}: {shown}")
        markdown.append(f"- {label}: {shown}")
    print(f"\n(drill took {time.monotonic() - begun:.0f} s)\n\n--- for bench/RESULTS.md ---")
    print("\n".join(markdown))
    if args.json:
        figures = {o.name: {"seconds": o.ended - o.started, **o.figures} for o in outcomes}
        args.json.write_text(json.dumps({"scenarios": figures, "checks": checks}, indent=1))
    bad = any((len(v) if isinstance(v, list) else v) for v in checks.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
