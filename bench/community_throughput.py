"""Scenario 2 of the community benchmark: render throughput of one worker.

Typical notebooks (~200 KB, one chart) are shared in one transaction, so that their render
tasks are queued together as it commits; timed: the wall time until all are ready. Baseline:
ten of the same notebooks rendered one after another in this process."""

import os
import random
import time

from common import stats
from community_load import render_in_process, wait_rendered
from community_notebooks import notebook_of
from community_seed import notebook_store


def _save_typical(user, count: int) -> tuple[list[tuple[str, int]], list[int]]:
    """Save ``count`` typical notebooks for ``user``. Returns ``(path, chart cell)`` of each
    and their sizes in bytes as stored."""
    import nbformat

    rng = random.Random(os.urandom(8))
    saved, sizes = [], []
    for i in range(count):
        nb, chart = notebook_of(rng, 200_000, charts=1)
        sizes.append(len(nbformat.writes(nb).encode()))
        path = f"throughput/n{i:03}.ipynb"
        notebook_store(user, path, nb)
        saved.append((path, chart))
    return saved, sizes


def _share_together(user, saved: list[tuple[str, int]]) -> tuple[list[int], float]:
    """Share every saved notebook in one transaction, so that the render tasks are queued
    together as it commits (on_commit). Returns the versions' ids and the clock
    (``perf_counter``) read just before the commit."""
    from django.db import transaction

    from community.services.sharing import shared_notebook_share

    with transaction.atomic():
        ids = [
            shared_notebook_share(
                user=user, path=path, title=f"Notebook {path}", description="", showcase_cell=c
            ).pk
            for path, c in saved
        ]
        started = time.perf_counter()
    return ids, started


def render_throughput(user, count: int) -> dict:
    """Share ``count`` typical notebooks as ``user`` at once and time the worker rendering
    them; prints the figures and returns ``count``, ``ready``, ``elapsed`` (s), ``per_minute``,
    ``local_per_minute``, ``local`` (seconds of each in-process render) and ``size`` (mean
    bytes)."""
    print(f"\n-- render throughput of one worker, {count} typical notebooks", flush=True)
    saved, sizes = _save_typical(user, count)
    ids, started = _share_together(user, saved)
    states = wait_rendered(ids, timeout=900, interval=0.05)
    elapsed = time.perf_counter() - started
    ready = sum(1 for state in states.values() if state == "ready")
    local = [render_in_process(version_id) for version_id in ids[:10]]
    if not local:
        raise RuntimeError("no notebook was rendered")
    result = {
        "count": count,
        "ready": ready,
        "elapsed": elapsed,
        "per_minute": ready / elapsed * 60,
        "local_per_minute": 60 / (sum(local) / len(local)),
        "local": local,
        "size": sum(sizes) / len(sizes),
    }
    print(
        f"  {ready}/{count} ready (mean {result['size'] / 1e3:.0f} KB) in {elapsed:.1f} s: "
        f"{result['per_minute']:.0f} notebooks a minute ({elapsed / count * 1000:.0f} ms each)",
        flush=True,
    )
    print(
        f"  baseline: in-process render of {len(local)} of them: {stats(local)} -> "
        f"{result['local_per_minute']:.0f} a minute",
        flush=True,
    )
    return result
