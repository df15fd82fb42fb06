"""Notebook store benchmark: QuantsiteContentsManager against local disk and raw PostgreSQL.

Runs the site under gunicorn on loopback (fresh PostgreSQL database) and prints, side by side,
median and p99 of save-then-get of notebooks of 100 KB, 1 MB and 10 MB (mostly one PNG
output) through:
- QuantsiteContentsManager (the hub's manager, over HTTP to the site, into PostgreSQL);
- jupyter_server's AsyncFileContentsManager on the local disk;
- the floor: a raw psycopg INSERT and SELECT of the same bytes into a bytea column.
Then: listing a directory of 1,000 notebooks; and the same operations again after seeding
PGContents' scale (100,000 users, 220,000 notebooks, 310,000 checkpoints, small contents).

    .venv/bin/python bench/contents.py [--skip-scale]
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
from common import django_setup, fresh_database, gunicorn, percentile, server_token

SIZES = {"100 KB": 100_000, "1 MB": 1_000_000, "10 MB": 10_000_000}
ROUNDS = {"100 KB": 30, "1 MB": 20, "10 MB": 8}


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


def line(label: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{label:<44} median {percentile(ms, 50):8.1f} ms   p99 {percentile(ms, 99):8.1f} ms"


async def roundtrips(manager, nb, rounds: int, path: str) -> list[float]:
    model = {"type": "notebook", "format": "json", "content": nb}
    times = []
    for i in range(rounds + 1):
        started = time.perf_counter()
        await manager.save(model, path)
        await manager.get(path)
        if i:  # the first round warms connections and caches
            times.append(time.perf_counter() - started)
    return times


def raw_roundtrips(database_url: str, payload: bytes, rounds: int) -> list[float]:
    import psycopg

    times = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id serial PRIMARY KEY, body bytea)")
        conn.execute("ALTER TABLE bench_floor ALTER COLUMN body SET STORAGE EXTERNAL")
        for i in range(rounds + 1):
            started = time.perf_counter()
            row = conn.execute(
                "INSERT INTO bench_floor (body) VALUES (%s) RETURNING id", [payload]
            ).fetchone()
            conn.execute("SELECT body FROM bench_floor WHERE id = %s", [row[0]]).fetchone()
            if i:
                times.append(time.perf_counter() - started)
    return times


async def listing_times(manager, path: str, rounds: int = 20) -> list[float]:
    times = []
    for i in range(rounds + 1):
        started = time.perf_counter()
        await manager.get(path)
        if i:
            times.append(time.perf_counter() - started)
    return times


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
    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager

    from quanthub.contents import QuantsiteContentsManager

    quantsite = QuantsiteContentsManager(site_url=base, api_token=token)
    disk = AsyncFileContentsManager(root_dir=disk_dir)
    results = {}
    print(f"\n-- {label}", flush=True)
    for name, size in SIZES.items():
        nb = notebook_of(size)
        import nbformat

        payload = nbformat.writes(nb).encode()
        rounds = ROUNDS[name]
        ours = await roundtrips(quantsite, nb, rounds, f"bench-{name.replace(' ', '')}.ipynb")
        local = await roundtrips(disk, nb, rounds, f"bench-{name.replace(' ', '')}.ipynb")
        floor = raw_roundtrips(database_url, payload, rounds)
        results[name] = (ours, local, floor)
        print(f"save+get {name} ({len(payload) / 1e6:.2f} MB as stored):", flush=True)
        print("  " + line("QuantsiteContentsManager -> site -> PG", ours), flush=True)
        print("  " + line("FileContentsManager, local disk", local), flush=True)
        print("  " + line("floor: raw psycopg INSERT + SELECT", floor), flush=True)
        print(
            f"  ratio to the floor (median): {percentile(ours, 50) / percentile(floor, 50):.2f}x",
            flush=True,
        )
    listing = await listing_times(quantsite, "many")
    results["listing"] = listing
    print("  " + line("list a directory of 1,000 notebooks", listing), flush=True)
    return results


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()

    database_url = fresh_database("quantsite_bench_contents")
    django_setup(database_url)
    from quantsite.accounts.models import User

    user = User.objects.create(username="bench", email="bench@bench.local")
    token = server_token(user)
    seed_directory(user, 1000)
    with tempfile.TemporaryDirectory() as disk_dir, gunicorn(database_url) as base:
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
        ratio = percentile(scaled[name][0], 50) / percentile(empty[name][0], 50)
        print(f"  save+get {name}: {ratio:.2f}x", flush=True)
    ratio = percentile(scaled["listing"], 50) / percentile(empty["listing"], 50)
    print(f"  listing 1,000 notebooks: {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()
