"""A real Celery worker process for the tests that need one (the broker is the suite's Redis,
the database the test database over PostgreSQL)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The test database's URL, for a process of its own (skips the test on SQLite)."""
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the test database over PostgreSQL")
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def celery_worker(
    tmp_path: Path, queues: str, *, prefork: bool = False, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A worker serving ``queues`` (``-Q``), solo or a one-child prefork pool, its output in
    ``tmp_path/worker.log``; yields the process and its log; stops its whole session after."""
    log = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "QUANTSITE_VAR_DIR": str(tmp_path),
        **(env or {}),
    }
    pool = ("--pool=prefork", "--concurrency=1") if prefork else ("--pool=solo",)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "quantsite", "worker", *pool),
                *("-Q", queues, "--loglevel=INFO"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a prefork pool's child is stopped with it
        )
    try:
        yield process, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def worker_ready(process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until the worker says it is ready (fails the test if it exits or takes longer)."""
    deadline = time.monotonic() + timeout
    while b" ready." not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
