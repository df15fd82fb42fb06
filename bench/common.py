"""Shared parts of the benchmarks: a fresh PostgreSQL database, the site under gunicorn on
loopback, and latency statistics. Benchmarks print their figures; nothing here asserts."""

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
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

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, workers: int = 4, redis_url: str = "", **env: str):
    """The site under gunicorn on a free loopback port; yields its base URL; stops it after.

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
        ],
        cwd=ROOT,
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
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
