"""Community benchmark: share to preview ready, render throughput, and the forum index.

Runs the site under gunicorn on loopback (fresh PostgreSQL database; for 1 and 2, two sync
workers with Redis database 14 as the broker and one real Celery worker, prefork, concurrency
1; for 3, four sync workers and no broker, as in the other benchmarks), and prints:

1. Share to preview ready: ``POST /api/community/shares`` (bearer token, as the hub's share
   extension sends it) of a 1 MB notebook (code, tables, logs, five PNG charts, one of them a
   heatmap; different each run, so content-addressed storage does not dedupe it) until its
   version is ``ready``: the POST, the queue and render after it, and the total. Baseline in
   the same run: the rendering service called in this process on the same versions.
2. Render throughput of the one worker: typical notebooks (~200 KB, one chart) shared in one
   transaction, so their tasks are queued together; wall time until all are ready. Baseline:
   the same notebooks rendered one after another in this process.
3. The forum index at 10,000 topics, each with a shared notebook and a rendered preview (a
   handful rendered by the real service, the rest copies of their rendered fields; likes and
   clone counts varied): ``GET /community`` page 1, a middle page, the last page, most liked,
   most cloned and a full-text search, at concurrency 1 against gunicorn (latency as the
   client on loopback sees it) and in this process with Django's test client (Django-side
   time, and SQL queries per page); ``/readyz`` the same way in the same run as the trivial
   baseline (without the broker and S3, ``/readyz`` is one ``SELECT 1``).

    .venv/bin/python bench/community.py [--runs 10] [--renders 60] [--requests 200]

This module runs the phases in order; the parts live beside it: ``community_notebooks``
(the notebooks), ``community_seed`` (saving them, seeding the forum), ``community_load``
(series of requests, waiting for renders, the in-process render), ``community_share``,
``community_throughput`` and ``community_index`` (the scenarios), ``community_report``
(the summary).
"""

import argparse
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import celery_worker, django_setup, fresh_database, gunicorn, server_token
from community_index import forum_index
from community_report import summarize
from community_seed import seed_forum
from community_share import share_to_ready
from community_throughput import render_throughput

REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
TOPICS = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help="shares of a 1 MB notebook")
    parser.add_argument("--warmup", type=int, default=3, help="shares before those, not counted")
    parser.add_argument("--renders", type=int, default=60, help="notebooks for the throughput")
    parser.add_argument("--requests", type=int, default=200, help="per page, against gunicorn")
    parser.add_argument("--local-requests", type=int, default=100, help="per page, in-process")
    parser.add_argument("--topics", type=int, default=TOPICS, help="topics in the forum")
    parser.add_argument(
        "--database",
        default="quantsite_bench_community",
        help="name of the PostgreSQL database, dropped and created afresh on BENCH_PG",
    )
    return parser.parse_args()


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def measure_rendering(database_url: str, state: Path, args: argparse.Namespace):
    """Scenarios 1 and 2, against two gunicorn workers and one Celery worker brokered by
    ``REDIS_URL`` (emptied before and after). Returns their results."""
    from quantsite.accounts.models import User

    flush_redis()
    user = User.objects.create(username="bench", email="bench@bench.local")
    token = server_token(user)
    try:
        with (
            # Two sync workers, one a core; the Celery worker beside them.
            gunicorn(database_url, workers=2, redis_url=REDIS_URL) as base,
            celery_worker(database_url, REDIS_URL, state / "worker.log"),
        ):
            print(f"site under gunicorn at {base} (broker {REDIS_URL}), one worker")
            share = share_to_ready(base, token, user, args.runs, args.warmup)
            throughput = render_throughput(user, args.renders)
    finally:
        flush_redis()
    return share, throughput


def measure_index(database_url: str, args: argparse.Namespace) -> list[dict]:
    """Seed the forum to ``args.topics`` topics, then scenario 3 against four gunicorn
    workers without a broker. Returns its rows."""
    print(f"\n-- seeding the forum to {args.topics:,} topics", flush=True)
    started = time.perf_counter()
    seed_forum(args.topics)
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    with gunicorn(database_url) as base:
        return forum_index(base, args.requests, args.local_requests)


def main() -> None:
    args = parse_args()
    # A plain `kill` runs the cleanups (worker, gunicorn) as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # nbconvert warns of every image without alt text; eager tasks log each run.
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)
    print(f"load average at start: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-community-") as state:
        database_url = fresh_database(args.database)
        # Shared notebooks are files under QUANTSITE_VAR_DIR: the same folder for this process,
        # gunicorn and the worker.
        django_setup(database_url, REDIS_URL=REDIS_URL, QUANTSITE_VAR_DIR=state)
        share, throughput = measure_rendering(database_url, Path(state), args)
        index = measure_index(database_url, args)
    summarize(share, throughput, index, args.topics)
    print(f"load average at end: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
