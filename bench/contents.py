"""Notebook store benchmark: QuantsiteContentsManager against local disk and raw PostgreSQL.

Runs the site under gunicorn on loopback (fresh PostgreSQL database) and prints, side by side,
median and p99 of save-then-get of notebooks of 100 KB, 1 MB and 10 MB (mostly one PNG
output) through:
- QuantsiteContentsManager (the hub's manager, over HTTP to the site, into PostgreSQL);
- jupyter_server's AsyncFileContentsManager on the local disk;
- the floors: a raw psycopg INSERT and SELECT of the same bytes into a bytea column, the
  SELECT fetched as text (hex, what Django's ORM does) and fetched in binary.
Beside each latency, the CPU one save+get costs, in milliseconds: this process's (the client:
the manager, or psycopg for the floors), the site's gunicorn workers' and the PostgreSQL
backends' of the bench database (from /proc, before and after each series); each figure also
as a ratio to the floors' measured in the same run. Where the issue's targets (bench/RESULTS.md)
are missed, the line says by how much.
Then: listing a directory of 1,000 notebooks; and the same operations again after seeding
PGContents' scale (100,000 users, 220,000 notebooks, 310,000 checkpoints, small contents).

    .venv/bin/python bench/contents.py [--skip-scale] [--threads N]
"""

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    cpu_delta,
    django_setup,
    fresh_database,
    gunicorn,
    percentile,
    postgres_cpu_seconds,
    server_token,
    site_cpu_seconds,
)

SIZES = {"100 KB": 100_000, "1 MB": 1_000_000, "10 MB": 10_000_000}
ROUNDS = {"100 KB": 30, "1 MB": 20, "10 MB": 8}
# Issue 12's targets, as medians of save+get: against the floors (text, binary; None: no
# target) or against FileContentsManager on the local disk.
FLOOR_TARGETS = {"10 MB": (1.5, 2.0), "1 MB": (2.5, None)}
DISK_TARGETS = {"100 KB": 3.0}


def notebook_of(size: int) -> dict:
    """A notebook whose bulk is one PNG output of about ``size`` bytes (random, incompressible)."""
    import nbformat

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(max(0, size * 3 // 4 - 8))).decode()
    cell = nbformat.v4.new_code_cell(
        "plot(prices)",
        outputs=[
            nbformat.v4.new_output("display_data", {"image/png": png, "text/plain": "<Figure>"})
        ],
    )
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Prices"), cell])


# -- CPU -----------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used so far by this process (the client), the site's gunicorn workers and
    the PostgreSQL backends connected to the bench database (``common``'s /proc readings)."""

    def __init__(self, database: str, site):
        self.database = database
        self.site = site

    def snapshot(self) -> dict:
        return {
            "client": time.process_time(),
            "site": site_cpu_seconds(self.site),
            "pg": postgres_cpu_seconds(self.database),
        }

    @staticmethod
    def per_op(before: dict, after: dict, ops: int) -> dict[str, float]:
        """Milliseconds of CPU per operation between two snapshots, by part and in total."""
        spent = {
            "client": after["client"] - before["client"],
            "site": after["site"] - before["site"],
            "pg": cpu_delta(before["pg"], after["pg"]),
        }
        result = {part: seconds * 1000 / ops for part, seconds in spent.items()}
        result["total"] = sum(result.values())
        return result


# -- the series ----------------------------------------------------------------------------------


def line(label: str, times: list[float], cpu: dict[str, float]) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"{label:<42} median {percentile(ms, 50):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms"
        f"   CPU/op client {cpu['client']:6.1f}  site {cpu['site']:6.1f}  PG {cpu['pg']:6.1f}"
        f"  total {cpu['total']:6.1f} ms"
    )


async def roundtrips(manager, nb, rounds: int, path: str, meter: CpuMeter):
    """``(latencies, CPU per op)`` of ``rounds`` save+get, after one that warms connections."""
    model = {"type": "notebook", "format": "json", "content": nb}
    await manager.save(model, path)
    await manager.get(path)
    times = []
    before = meter.snapshot()
    for _ in range(rounds):
        started = time.perf_counter()
        await manager.save(model, path)
        await manager.get(path)
        times.append(time.perf_counter() - started)
    return times, meter.per_op(before, meter.snapshot(), rounds)


async def warm_up(manager, calls: int = 16) -> None:
    """Concurrent save+get, so that every gunicorn worker has loaded what a save and a get
    use and opened its database connection before any series is timed."""
    model = {"type": "notebook", "format": "json", "content": notebook_of(100_000)}

    async def roundtrip(i: int) -> None:
        await manager.save(model, f"warm-{i}.ipynb")
        await manager.get(f"warm-{i}.ipynb")

    await asyncio.gather(*(roundtrip(i) for i in range(calls)))


def raw_roundtrips(database_url: str, payload: bytes, rounds: int, meter: CpuMeter, binary: bool):
    """The floor: ``(latencies, CPU per op)`` of a raw psycopg INSERT of ``payload`` into a
    bytea column and a SELECT of it, fetched as text (hex) or in ``binary``."""
    import psycopg

    times = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, body bytea)")
        conn.execute("ALTER TABLE bench_floor ALTER COLUMN body SET STORAGE EXTERNAL")

        def roundtrip() -> None:
            row = conn.execute(
                "INSERT INTO bench_floor (body) VALUES (%s) RETURNING id", [payload]
            ).fetchone()
            body = conn.execute(
                "SELECT body FROM bench_floor WHERE id = %s", [row[0]], binary=binary
            ).fetchone()[0]
            assert len(body) == len(payload)

        roundtrip()
        before = meter.snapshot()
        for _ in range(rounds):
            started = time.perf_counter()
            roundtrip()
            times.append(time.perf_counter() - started)
        cpu = meter.per_op(before, meter.snapshot(), rounds)
    return times, cpu


def _against(target: float | None, ratio: float) -> str:
    if target is None:
        return ""
    if ratio <= target:
        return f"met (<= {target:g}x)"
    return f"MISSED: {ratio:.2f}x against <= {target:g}x, {ratio / target:.2f} times over"


def compare(name: str, series: dict) -> None:
    """Print the ratios of ours to the floors (text / binary) and to the local disk, for
    latency and CPU, and how they stand against the targets."""
    ours, text, binary, disk = (series[k] for k in ("ours", "text", "binary", "disk"))
    med = {k: percentile(v[0], 50) for k, v in series.items()}
    print(
        f"  ours / floor (text / binary): latency {med['ours'] / med['text']:.2f}x / "
        f"{med['ours'] / med['binary']:.2f}x;  CPU total "
        f"{ours[1]['total'] / text[1]['total']:.2f}x / {ours[1]['total'] / binary[1]['total']:.2f}x"
        f";  PostgreSQL CPU {ours[1]['pg'] / text[1]['pg']:.2f}x / "
        f"{ours[1]['pg'] / binary[1]['pg']:.2f}x;  Python CPU (manager + site vs psycopg) "
        f"{(ours[1]['client'] + ours[1]['site']) / text[1]['client']:.2f}x / "
        f"{(ours[1]['client'] + ours[1]['site']) / binary[1]['client']:.2f}x",
        flush=True,
    )
    print(
        f"  ours / FileContentsManager: latency {med['ours'] / med['disk']:.2f}x;  CPU total "
        f"{ours[1]['total'] / disk[1]['total']:.2f}x",
        flush=True,
    )
    if name in FLOOR_TARGETS:
        text_target, binary_target = FLOOR_TARGETS[name]
        verdicts = [
            f"text {_against(text_target, med['ours'] / med['text'])}",
            f"binary {_against(binary_target, med['ours'] / med['binary'])}"
            if binary_target
            else "",
        ]
        print(f"  target vs floor: {'; '.join(v for v in verdicts if v)}", flush=True)
    if name in DISK_TARGETS:
        verdict = _against(DISK_TARGETS[name], med["ours"] / med["disk"])
        print(f"  target vs FileContentsManager: {verdict}", flush=True)


async def roundtrips_listing(manager, path: str, meter: CpuMeter, rounds: int = 20):
    await manager.get(path)
    times = []
    before = meter.snapshot()
    for _ in range(rounds):
        started = time.perf_counter()
        await manager.get(path)
        times.append(time.perf_counter() - started)
    return times, meter.per_op(before, meter.snapshot(), rounds)


def seed_directory(user, count: int) -> None:
    import nbformat

    from research.services.notebooks import directory_create, notebook_save

    directory_create(user=user, path="many")
    small = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x")])
    for i in range(count):
        notebook_save(user=user, path=f"many/n{i:04}.ipynb", notebook=small)


def seed_scale(users=100_000, notebooks=220_000, checkpoints=310_000) -> None:
    from django.db import connection
    from django.utils import timezone

    from quantsite.accounts.models import User
    from research.models import ContentCheckpoint, ContentEntry

    now = timezone.now()
    body = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    User.objects.bulk_create(
        [User(username=f"s{i}", email=f"s{i}@scale.local", password="!") for i in range(users)],
        batch_size=5000,
    )
    ids = list(User.objects.filter(username__startswith="s").values_list("pk", flat=True))
    entries = []
    for i in range(notebooks):
        user_id = ids[i % len(ids)]
        entries.append(
            ContentEntry(
                user_id=user_id,
                path=f"nb{i}.ipynb",
                parent="",
                name=f"nb{i}.ipynb",
                type="file",
                content=body,
                size=len(body),
                created=now,
                last_modified=now,
            )
        )
        if len(entries) == 5000:
            ContentEntry.objects.bulk_create(entries)
            entries = []
    ContentEntry.objects.bulk_create(entries)
    entry_ids = list(
        ContentEntry.objects.filter(path__startswith="nb").values_list("pk", flat=True)
    )
    batch = []
    for i in range(checkpoints):
        batch.append(
            ContentCheckpoint(
                entry_id=entry_ids[i % len(entry_ids)], content=body, size=len(body), created=now
            )
        )
        if len(batch) == 5000:
            ContentCheckpoint.objects.bulk_create(batch)
            batch = []
    ContentCheckpoint.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


async def measure(base: str, token: str, disk_dir: str, database_url: str, label: str) -> dict:
    import nbformat
    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager

    from quanthub.contents import QuantsiteContentsManager

    quantsite = QuantsiteContentsManager(site_url=base, api_token=token)
    disk = AsyncFileContentsManager(root_dir=disk_dir)
    meter = CpuMeter(database_url.rpartition("/")[2], base)
    results = {}
    print(f"\n-- {label}", flush=True)
    await warm_up(quantsite)
    for name, size in SIZES.items():
        nb = notebook_of(size)
        payload = nbformat.writes(nb).encode()
        rounds, path = ROUNDS[name], f"bench-{name.replace(' ', '')}.ipynb"
        series = {
            "ours": await roundtrips(quantsite, nb, rounds, path, meter),
            "disk": await roundtrips(disk, nb, rounds, path, meter),
            "text": raw_roundtrips(database_url, payload, rounds, meter, binary=False),
            "binary": raw_roundtrips(database_url, payload, rounds, meter, binary=True),
        }
        results[name] = series
        print(f"save+get {name} ({len(payload) / 1e6:.2f} MB as stored):", flush=True)
        labels = {
            "ours": "QuantsiteContentsManager -> site -> PG",
            "disk": "FileContentsManager, local disk",
            "text": "floor: raw INSERT + SELECT (text)",
            "binary": "floor: raw INSERT + SELECT (binary)",
        }
        for key, text in labels.items():
            print("  " + line(text, *series[key]), flush=True)
        compare(name, series)
    listing = await roundtrips_listing(quantsite, "many", meter)
    results["listing"] = listing
    print("  " + line("list a directory of 1,000 notebooks", *listing), flush=True)
    return results


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # "Notebook ... is not trusted"
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="gunicorn's gthread workers with this many threads and keep-alive, so the "
        "manager's pooled connection is kept (default: sync workers, a new connection per "
        "request)",
    )
    args = parser.parse_args()
    options = (
        ("--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30")
        if args.threads
        else ()
    )

    database_url = fresh_database("quantsite_bench_contents")
    django_setup(database_url)
    from quantsite.accounts.models import User

    user = User.objects.create(username="bench", email="bench@bench.local")
    token = server_token(user)
    seed_directory(user, 1000)
    with tempfile.TemporaryDirectory() as disk_dir, gunicorn(database_url, options=options) as base:
        kind = f"gthread, {args.threads} threads, keep-alive" if args.threads else "sync"
        print(f"site under gunicorn (4 workers, {kind})", flush=True)
        empty = asyncio.run(measure(base, token, disk_dir, database_url, "empty database"))
        if args.skip_scale:
            return
        started = time.perf_counter()
        seed_scale()
        print(
            f"\nseeded 100,000 users, 220,000 notebooks, 310,000 checkpoints in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        scaled = asyncio.run(measure(base, token, disk_dir, database_url, "at PGContents' scale"))
    print("\n-- at scale / empty (medians)", flush=True)
    for name in SIZES:
        ratio = percentile(scaled[name]["ours"][0], 50) / percentile(empty[name]["ours"][0], 50)
        print(f"  save+get {name}: {ratio:.2f}x", flush=True)
    ratio = percentile(scaled["listing"][0], 50) / percentile(empty["listing"][0], 50)
    print(f"  listing 1,000 notebooks: {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()
