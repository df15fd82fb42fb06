"""Shared parts of the benchmarks: a fresh PostgreSQL database, the site under gunicorn and a
Celery worker on loopback, a server credential, one-shot HTTP requests, and latency statistics.
Benchmarks print their figures; nothing here asserts."""

import contextlib
import datetime as dt
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def fresh_database(name: str) -> str:
    """Drop and create database ``name`` on the bench PostgreSQL server; return its URL."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def django_setup(database_url: str, **env: str) -> None:
    """Configure Django in this process against ``database_url`` (for seeding and checks)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
    os.environ["DEBUG"] = "0"
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("create_oidc_key", verbosity=0)  # for this process and the sites it starts
    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site(str):
    """The base URL of a site under gunicorn, with its master's pid (``cpu_seconds``)."""

    pid: int


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def site_cpu_seconds(site: "Site") -> float:
    """The CPU seconds the site's gunicorn workers have used so far (their master's children,
    read from /proc)."""
    children = Path(f"/proc/{site.pid}/task/{site.pid}/children").read_text().split()
    return sum(process_cpu_seconds(int(pid)) for pid in children)


def postgres_cpu_seconds(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database``, by pid
    (PostgreSQL runs on this machine; compare two readings with ``cpu_delta``)."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [database]
            )
        ]
    return {pid: process_cpu_seconds(pid) for pid in pids}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """What the backends used between two ``postgres_cpu_seconds`` readings (a backend that
    started in between counts from zero)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@contextlib.contextmanager
def gunicorn(
    database_url: str, workers: int = 4, redis_url: str = "", options: tuple = (), **env: str
):
    """The site under gunicorn on a free loopback port; yields its base URL; stops it after.
    ``options`` are more gunicorn arguments (``("--worker-class", "gthread", ...)``).

    Without ``redis_url`` (the default) the site has no broker and runs its tasks inline,
    whatever REDIS_URL this process has; with it, the site queues them there for a worker."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "SITE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    environment.pop("REDIS_URL", None)
    if redis_url:
        environment["REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "quantsite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--backlog",
            "4096",
            "--log-level",
            "warning",
            *options,
        ],
        cwd=ROOT,
        env=environment,
    )
    base = Site(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def celery_worker(database_url: str, redis_url: str, log_path: Path):
    """One Celery worker (prefork, concurrency 1) on both queues (bookkeeping and renders),
    brokered by ``redis_url``, logging to ``log_path``; yields the process once it is ready;
    stops it after."""
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    environment["DEBUG"] = "0"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "quantsite",
        "worker",
        "--concurrency",
        "1",
        "--pool",
        "prefork",
        "-Q",
        "celery,render",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    with open(log_path, "wb") as log:
        # A session of its own, so that the pool's child can be killed with it if need be.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(f"the Celery worker did not start:\n{tail}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # warm shutdown: the pool's child finishes and exits first
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def server_token(user, scope: str = "notebooks") -> str:
    """A raw bearer token for ``user`` with ``scope``, valid six hours, stored as /o/token/
    would store it (needs Django set up)."""
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    raw = secrets.token_urlsafe(32)
    token = AccessToken(user=user, scope=scope, expires=timezone.now() + dt.timedelta(hours=6))
    set_token_value(token, raw)
    token.save()
    return raw


def request(base: str, method: str, path: str, body: bytes | None = None, headers=None):
    """One request to ``base`` on a new connection (gunicorn's sync workers close each one);
    returns ``(status, body, seconds)``, the seconds from sending to the last byte read."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        connection.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_s: list[float]) -> str:
    ms = [v * 1000 for v in latencies_s]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p99={percentile(ms, 99):.1f} ms "
        f"mean={statistics.fmean(ms):.1f} ms"
        if ms
        else "n=0"
    )


def ms(seconds: float) -> str:
    """``seconds`` as whole milliseconds: ``"256 ms"``."""
    return f"{seconds * 1000:.0f} ms"


def stats(values: list[float]) -> str:
    """Seconds as ``p50 …, min …, max … ms, n=…`` (``n=0`` when there are none)."""
    if not values:
        return "n=0"
    return (
        f"p50 {ms(percentile(values, 50))}, min {ms(min(values))}, max {ms(max(values))}, "
        f"n={len(values)}"
    )
