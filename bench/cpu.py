"""CPU per request, measured in-process through the site's real WSGI application.

Each request is a WSGI call of ``quantsite.wsgi.application`` (every middleware, the view, the
response) from this process, one at a time, so that:
- the site's Python CPU per request is this process's CPU time (``time.process_time``) over
  the requests, divided by their number;
- PostgreSQL's CPU per request is the CPU time of the backends connected to the benchmark's
  database (this process's one, or its pool's; read from ``/proc/<pid>/stat``: PostgreSQL runs
  on this machine) over the same requests;
- round trips per request are the protocol messages that wait for the server (``Sync`` after
  an extended-protocol statement, or a simple ``Query``), from libpq's trace of one request.

CPU time, unlike throughput, does not move with what else the machine does, so these figures
compare across runs; ratios to a floor measured in the same run compare best. Nothing here
asserts."""

import dataclasses
import io
import tempfile
import time
from collections.abc import Callable

from common import process_cpu_seconds


@dataclasses.dataclass(frozen=True)
class Cost:
    python_ms: float  # the site's Python CPU per request
    postgres_ms: float  # its PostgreSQL backend's CPU per request
    wall_ms: float  # elapsed per request, one at a time
    round_trips: float  # waits on the database per request (from one traced request)
    statuses: dict[int, int]

    @property
    def total_ms(self) -> float:
        return self.python_ms + self.postgres_ms

    def line(self, label: str, floor: "Cost | None" = None) -> str:
        ratio = f"   {self.total_ms / floor.total_ms:5.2f}x the floor" if floor else ""
        return (
            f"{label:<46} python {self.python_ms:6.3f} ms  postgres {self.postgres_ms:6.3f} ms  "
            f"total {self.total_ms:6.3f} ms  wall {self.wall_ms:6.3f} ms  "
            f"round trips {self.round_trips:4.1f}{ratio}  statuses={self.statuses}"
        )


def environ(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> Callable[[], dict]:
    """A factory of WSGI environs for one request (a fresh body stream each call)."""
    base = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
    }
    if body:
        base["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        base[key if key in ("CONTENT_TYPE",) else f"HTTP_{key}"] = value

    def make() -> dict:
        return {**base, "wsgi.input": io.BytesIO(body)}

    return make


def call(application, make_environ: Callable[[], dict]) -> int:
    """One request through ``application``; returns its status."""
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(int(line.split()[0]))

    result = application(make_environ(), start_response)
    try:
        for _ in result:
            pass
    finally:
        if hasattr(result, "close"):
            result.close()
    return status[0]


def backends_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of every backend connected to this database (one, or a pool's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: process_cpu_seconds(pid) for pid in pids}


def round_trips(application, make_environ: Callable[[], dict]) -> float:
    """Round trips of one request, from libpq's trace of this process's connection."""
    from django.db import connection

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        try:
            call(application, make_environ)
        finally:
            pgconn.untrace()
        trace.seek(0)
        waits = 0
        for entry in trace:
            parts = entry.split("\t")
            # libpq's trace: [timestamp] direction, length, message type, ...
            fields = [p for p in parts if p]
            # (with or without the timestamp column)
            for at in (0, 1):
                if len(fields) > at + 2 and fields[at] == "F":
                    waits += fields[at + 2].split()[0] in ("Sync", "Query")
                    break
    return waits


def measure(
    application, make_environ: Callable[[], dict], requests: int, warmup: int = 100
) -> Cost:
    """The cost of ``requests`` sequential requests, after ``warmup`` of them."""
    from django.db import connection

    for _ in range(warmup):
        call(application, make_environ)
    traced = round_trips(application, make_environ) if connection.vendor == "postgresql" else 0
    postgres = connection.vendor == "postgresql"
    statuses: dict[int, int] = {}
    pg_before = backends_cpu_seconds() if postgres else {}
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for _ in range(requests):
        status = call(application, make_environ)
        statuses[status] = statuses.get(status, 0) + 1
    cpu_after, wall_after = time.process_time(), time.perf_counter()
    pg_after = backends_cpu_seconds() if postgres else {}
    pg_used = sum(seconds - pg_before.get(pid, 0.0) for pid, seconds in pg_after.items())
    return Cost(
        python_ms=(cpu_after - cpu_before) * 1000 / requests,
        postgres_ms=pg_used * 1000 / requests,
        wall_ms=(wall_after - wall_before) * 1000 / requests,
        round_trips=traced,
        statuses=statuses,
    )
