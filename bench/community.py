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
"""

import argparse
import contextlib
import gc
import http.client
import json
import logging
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, django_setup, fresh_database, gunicorn, percentile
from contents import server_token

REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
TOPICS = 10_000
PER_PAGE = 50
SORT_NAMES = ("latest", "liked", "cloned")
TARGET_SHARE_S = 2.0
TARGET_INDEX_P99_MS = 50.0

# ------------------------------------------------------------------------------------------
# Notebooks: real pixels, tables and logs, made here (no plotting library in the venv)
# ------------------------------------------------------------------------------------------
WHITE = b"\xff\xff\xff"
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "JPM", "XOM", "TSLA", "BRK.B"]
STYLES = [
    "Momentum",
    "Mean reversion",
    "Pairs trading",
    "Carry",
    "Value",
    "Low volatility",
    "Trend following",
    "Statistical arbitrage",
    "Volatility targeting",
    "Breakout",
    "Seasonality",
    "Risk parity",
]
UNIVERSES = [
    "the S&P 500",
    "the Nasdaq 100",
    "FX majors",
    "crypto",
    "European equities",
    "commodity futures",
    "US treasuries",
    "emerging markets",
]
FLAVOURS = ["A simple", "Robust", "Intraday", "Weekly", "Sector-neutral", "Long-short", "Quick"]
SENTENCES = [
    "Backtested from 2010 with **10 bps** costs and next-open fills.",
    "Signals are ranked cross-sectionally and rebalanced every Friday.",
    "The drawdown in 2020 is the weak spot; ideas welcome.",
    "Position sizes target 10% annualised volatility.",
    "Uses only daily bars, so it clones and runs in a minute.",
    "Compare with the buy-and-hold line in the chart.",
    "Out-of-sample from 2022: Sharpe drops from 1.4 to 0.9.",
    "See the table for turnover and hit rate per year.",
]


def png(width: int, height: int, rows: list[bytearray]) -> bytes:
    """RGB rows (``width * 3`` bytes each) as a PNG file (filter 0, zlib level 6)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _tint(color: tuple[int, int, int], amount: float) -> bytes:
    return bytes(int(c + (255 - c) * amount) for c in color)


def line_chart(rng: random.Random, width: int = 800, height: int = 450) -> bytes:
    """An equity-curve chart: grid, a shaded area under the first curve, three random walks
    with lighter edge pixels (as anti-aliasing leaves them), and a scatter of trades."""
    canvas = [bytearray(WHITE * width) for _ in range(height)]
    left, bottom = 60, height - 40

    def put(x: int, y: int, color: bytes) -> None:
        if 0 <= x < width and 0 <= y < height:
            canvas[y][3 * x : 3 * x + 3] = color

    grid = bytes((225, 225, 225))
    for y in range(40, bottom, 45):
        canvas[y][3 * left :] = grid * (width - left)
    for x in range(left, width, 90):
        for y in range(20, bottom):
            put(x, y, grid)
    for index in range(3):
        color, edge, shade = (
            bytes(PALETTE[index]),
            _tint(PALETTE[index], 0.6),
            _tint(PALETTE[index], 0.85),
        )
        level, levels = 0.0, []
        for _ in range(width - left):
            level += rng.gauss(0.04, 1.0)
            levels.append(level)
        low, high = min(levels), max(levels)
        scale = (bottom - 40) / ((high - low) or 1.0)
        previous = None
        for i, value in enumerate(levels):
            x = left + i
            y = int(bottom - (value - low) * scale)
            top, low_end = (y, y) if previous is None else (min(previous, y), max(previous, y))
            for yy in range(top - 1, low_end + 2):
                put(x, yy, color)
            put(x, top - 2, edge)
            put(x, low_end + 2, edge)
            if index == 0:
                for yy in range(low_end + 3, bottom):
                    put(x, yy, shade)
            previous = y
    for _ in range(500):
        x, y = rng.randrange(left, width - 2), rng.randrange(30, bottom - 2)
        color = _tint(PALETTE[rng.randrange(len(PALETTE))], rng.random() * 0.5)
        for dx in range(3):
            for dy in range(3):
                put(x + dx, y + dy, color)
    axis = bytes((40, 40, 40))
    canvas[bottom][3 * left :] = axis * (width - left)
    for y in range(20, bottom + 1):
        put(left, y, axis)
    return png(width, height, canvas)


def heatmap(rng: random.Random, cells: int = 24, size: int = 22) -> bytes:
    """A correlation matrix on a diverging colour map (blue, white, red)."""
    values = [[1.0] * cells for _ in range(cells)]
    for i in range(cells):
        for j in range(i):
            values[i][j] = values[j][i] = rng.uniform(-1, 1)

    blue, red = (59, 76, 192), (180, 4, 38)

    def colour(v: float) -> bytes:
        end = red if v > 0 else blue
        return bytes(int(255 + (c - 255) * abs(v)) for c in end)

    rows = []
    for i in range(cells):
        row = bytearray(b"".join(colour(values[i][j]) * (size - 1) + WHITE for j in range(cells)))
        rows.extend(bytearray(row) for _ in range(size - 1))
        rows.append(bytearray(WHITE * (cells * size)))
    return png(cells * size, cells * size, rows)


def _table(rng: random.Random, rows: int = 60) -> tuple[str, str]:
    """A pandas-style DataFrame output: (text/html, text/plain)."""
    columns = ["open", "high", "low", "close", "volume", "signal", "position", "pnl"]
    price = rng.uniform(20, 400)
    html = [
        '<div>\n<table border="1" class="dataframe">\n  <thead>\n'
        '    <tr style="text-align: right;">\n      <th></th>\n'
        + "".join(f"      <th>{c}</th>\n" for c in columns)
        + "    </tr>\n  </thead>\n  <tbody>\n"
    ]
    plain = ["            " + "".join(f"{c:>11}" for c in columns)]
    day = rng.randrange(1, 20)
    for n in range(rows):
        price *= 1 + rng.gauss(0.0003, 0.015)
        values = [
            f"{price * (1 + rng.gauss(0, 0.004)):.2f}",
            f"{price * 1.01:.2f}",
            f"{price * 0.99:.2f}",
            f"{price:.2f}",
            f"{rng.randrange(100_000, 9_000_000)}",
            f"{rng.gauss(0, 1):.4f}",
            f"{rng.choice((-1, 0, 1))}",
            f"{rng.gauss(0, 250):.2f}",
        ]
        date = f"2024-{1 + (day + n) // 28 % 12:02}-{1 + (day + n) % 28:02}"
        html.append(
            f"    <tr>\n      <th>{date}</th>\n"
            + "".join(f"      <td>{v}</td>\n" for v in values)
            + "    </tr>\n"
        )
        plain.append(f"{date:<12}" + "".join(f"{v:>11}" for v in values))
    html.append(f"  </tbody>\n</table>\n<p>{rows} rows x 8 columns</p>\n</div>")
    return "".join(html), "\n".join(plain)


def _log(rng: random.Random, lines: int = 150) -> str:
    equity, out = 100_000.0, []
    for n in range(lines):
        pnl = rng.gauss(20, 400)
        equity += pnl
        side = rng.choice(("BUY ", "SELL"))
        out.append(
            f"2024-{1 + n // 28 % 12:02}-{1 + n % 28:02} {side} {rng.choice(SYMBOLS):<5} "
            f"{rng.randrange(10, 2000):>5} @ {rng.uniform(20, 400):8.2f}  pnl={pnl:+9.2f}  "
            f"equity={equity:,.2f}"
        )
    return "\n".join(out) + "\n"


def notebook_of(rng: random.Random, size: int, charts: int):
    """A research notebook of about ``size`` bytes as stored: markdown, code, DataFrame outputs
    (HTML and plain), backtest logs and ``charts`` PNG charts (one a heatmap when there are
    several). Returns ``(notebook, index of the first chart cell)``."""
    import base64

    import nbformat

    v4 = nbformat.v4
    style, universe = rng.choice(STYLES), rng.choice(UNIVERSES)
    cells = [
        v4.new_markdown_cell(f"# {style} on {universe}\n\n{' '.join(rng.sample(SENTENCES, 3))}"),
        v4.new_code_cell(
            "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n\n"
            f"prices = load_prices({rng.sample(SYMBOLS, 4)!r}, start='2010-01-01')",
            execution_count=1,
        ),
    ]
    first_chart = None
    charts_left = charts
    while True:
        if charts_left:
            image = heatmap(rng) if charts_left == 2 else line_chart(rng)
            charts_left -= 1
            if first_chart is None:
                first_chart = len(cells)
            cells.append(
                v4.new_code_cell(
                    "fig, ax = plt.subplots(figsize=(8, 4.5))\n"
                    "equity.plot(ax=ax)\nax.set_title('Equity curve')",
                    execution_count=len(cells),
                    outputs=[
                        v4.new_output(
                            "display_data",
                            {
                                "image/png": base64.b64encode(image).decode(),
                                "text/plain": "<Figure size 800x450 with 1 Axes>",
                            },
                        )
                    ],
                )
            )
        # Compact JSON is about 3/4 of the stored (indented) size: serialize only near the end.
        elif sum(len(json.dumps(cell)) for cell in cells) >= size * 0.7 and (
            len(nbformat.writes(v4.new_notebook(cells=cells))) >= size
        ):
            break
        html, plain = _table(rng)
        cells.append(
            v4.new_code_cell(
                f"signals = strategy(prices, lookback={rng.randrange(5, 250)})\nsignals.tail(60)",
                execution_count=len(cells),
                outputs=[
                    v4.new_output(
                        "execute_result",
                        {"text/html": html, "text/plain": plain},
                        execution_count=len(cells),
                    )
                ],
            )
        )
        cells.append(v4.new_markdown_cell(" ".join(rng.sample(SENTENCES, 2))))
        cells.append(
            v4.new_code_cell(
                "result = backtest(signals, costs_bps=10)\nresult.print_trades()",
                execution_count=len(cells),
                outputs=[v4.new_output("stream", name="stdout", text=_log(rng))],
            )
        )
    return v4.new_notebook(cells=cells), first_chart


# ------------------------------------------------------------------------------------------
# Processes and HTTP
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def celery_worker(database_url: str, log_path: Path):
    """One Celery worker (prefork, concurrency 1) on the default queue; stopped after."""
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
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
        "celery",
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


def request(base: str, method: str, path: str, body: bytes | None = None, headers=None):
    """One request on a new connection (gunicorn's sync workers close each one); returns
    (status, body, seconds)."""
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


def wait_rendered(version_ids: list[int], timeout: float, interval: float) -> dict[int, str]:
    """Poll the versions' rows until none is pending; their render states."""
    from community.models import SharedNotebookVersion

    deadline = time.monotonic() + timeout
    while True:
        states = dict(
            SharedNotebookVersion.objects.filter(pk__in=version_ids).values_list(
                "pk", "render_state"
            )
        )
        if all(state != "pending" for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(interval)


def render_in_process(version_id: int) -> float:
    """Render an already rendered version again, here, from scratch; seconds it took."""
    from community.models import SharedNotebookVersion
    from community.services import rendering
    from community.storage import storage

    version = SharedNotebookVersion.objects.get(pk=version_id)
    if version.html_key:
        storage().delete(version.html_key)  # so the HTML is written again, as the worker did
    SharedNotebookVersion.objects.filter(pk=version_id).update(render_state="pending")
    started = time.perf_counter()
    rendering.shared_notebook_render(version_id=version_id)
    return time.perf_counter() - started


def save_notebook(user, path: str, nb) -> None:
    from research.services.contents import content_save

    folder = path.rsplit("/", 1)[0]
    content_save(user=user, path=folder, model={"type": "directory"})
    content_save(user=user, path=path, model={"type": "notebook", "content": nb})


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def stats(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (
        f"p50 {ms(percentile(values, 50))}, min {ms(min(values))}, max {ms(max(values))}, "
        f"n={len(values)}"
    )


# ------------------------------------------------------------------------------------------
# 1. Share to preview ready
# ------------------------------------------------------------------------------------------
def share_to_ready(base: str, token: str, user, runs: int, warmup: int) -> dict:
    import nbformat

    from community.models import SharedNotebookVersion

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    result = {"post": [], "after": [], "total": [], "local": [], "sizes": [], "failed": []}
    print(f"\n-- share to preview ready, 1 MB notebook, one worker ({runs} runs)", flush=True)
    # The first shares warm the worker, the site's processes and this one; they are not counted.
    for run in range(warmup + runs):
        nb, chart = notebook_of(random.Random(os.urandom(8)), 1_000_000, charts=5)
        path = f"share/run{run:02}.ipynb"
        save_notebook(user, path, nb)
        body = json.dumps(
            {
                "path": path,
                "title": f"Momentum on the S&P 500, run {run}",
                "description": "Five charts and the trades. " + SENTENCES[run % len(SENTENCES)],
                "showcase_cell": chart,
            }
        ).encode()
        started = time.perf_counter()
        status, answer, post_s = request(base, "POST", "/api/community/shares", body, headers)
        if status != 201:
            result["failed"].append(f"run {run}: POST {status} {answer[:200]!r}")
            continue
        answer = json.loads(answer)
        version_id = SharedNotebookVersion.objects.values_list("pk", flat=True).get(
            shared_id=answer["id"], number=answer["version"]
        )
        state = wait_rendered([version_id], timeout=120, interval=0.01)[version_id]
        total = time.perf_counter() - started
        if state != "ready":
            result["failed"].append(f"run {run}: version {version_id} {state}")
            continue
        local = render_in_process(version_id)
        size = len(nbformat.writes(nb).encode())
        label = f"warm-up {run + 1}" if run < warmup else f"run {run - warmup + 1:2}"
        print(
            f"  {label}: {size / 1e6:.2f} MB  POST {ms(post_s)}  queue+render "
            f"{ms(total - post_s)}  total {ms(total)}  |  in-process render {ms(local)}",
            flush=True,
        )
        if run >= warmup:
            result["post"].append(post_s)
            result["after"].append(total - post_s)
            result["total"].append(total)
            result["local"].append(local)
            result["sizes"].append(size)
    for failure in result["failed"]:
        print(f"  FAILED {failure}", flush=True)
    print(f"  total (POST to ready)      {stats(result['total'])}", flush=True)
    print(f"  POST response              {stats(result['post'])}", flush=True)
    print(f"  queue + render after it    {stats(result['after'])}", flush=True)
    print(f"  baseline: in-process render of the same versions  {stats(result['local'])}")
    return result


# ------------------------------------------------------------------------------------------
# 2. Render throughput of one worker
# ------------------------------------------------------------------------------------------
def render_throughput(user, count: int) -> dict:
    import nbformat
    from django.db import transaction

    from community.services.sharing import shared_notebook_share

    print(f"\n-- render throughput of one worker, {count} typical notebooks", flush=True)
    rng = random.Random(os.urandom(8))
    shares, sizes = [], []
    for i in range(count):
        nb, chart = notebook_of(rng, 200_000, charts=1)
        sizes.append(len(nbformat.writes(nb).encode()))
        path = f"throughput/n{i:03}.ipynb"
        save_notebook(user, path, nb)
        shares.append((path, chart))
    # One transaction: the render tasks are queued together as it commits (on_commit).
    with transaction.atomic():
        ids = [
            shared_notebook_share(
                user=user, path=path, title=f"Notebook {path}", description="", showcase_cell=c
            ).pk
            for path, c in shares
        ]
        started = time.perf_counter()
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


# ------------------------------------------------------------------------------------------
# 3. The forum index at 10,000 topics
# ------------------------------------------------------------------------------------------
def seed_forum(total: int, templates: int = 8) -> None:
    """Topics up to ``total``: ``templates`` notebooks shared and rendered by the real services
    (inline here), the rest bulk copies of their rendered fields, under 300 authors; likes and
    clone counts long-tailed; topics spread over 400 days."""
    from django.db import connection

    from community.models import Like, SharedNotebook, SharedNotebookVersion, Topic
    from community.sanitize import markdown_to_html
    from community.services.sharing import shared_notebook_share
    from quantsite.accounts.models import User
    from quantsite.celery import app

    rng = random.Random(20261122)
    authors = User.objects.bulk_create(
        [User(username=f"author{i:03}", email=f"author{i}@bench.local") for i in range(300)]
    )

    def title() -> str:
        return f"{rng.choice(FLAVOURS)} {rng.choice(STYLES).lower()} on {rng.choice(UNIVERSES)}"

    descriptions = [" ".join(rng.sample(SENTENCES, rng.randrange(1, 4))) for _ in range(40)]
    descriptions = [(text, markdown_to_html(text)) for text in descriptions]
    app.conf.task_always_eager = True  # render inline here, through the real task and service
    try:
        for i in range(templates):
            nb, chart = notebook_of(rng, 200_000, charts=1)
            path = f"strategies/template{i}.ipynb"
            save_notebook(authors[i], path, nb)
            shared_notebook_share(
                user=authors[i],
                path=path,
                title=title(),
                description=descriptions[i][0],
                # Most previews show a chart; some a DataFrame.
                showcase_cell=chart if i % 4 else chart + 1,
            )
    finally:
        app.conf.task_always_eager = False
    rendered = list(
        SharedNotebookVersion.objects.filter(
            shared__author__in=authors[:templates], render_state="ready"
        )
    )
    copied = [
        field
        for field in SharedNotebookVersion._meta.concrete_fields
        if not field.is_relation and field.name not in ("id", "number", "created")
    ]
    remaining = total - Topic.objects.count()
    for start in range(0, remaining, 2000):
        numbers = range(start, min(remaining, start + 2000))
        shared = SharedNotebook.objects.bulk_create(
            [
                SharedNotebook(
                    author=authors[n % len(authors)], source_path=f"strategies/s{n:05}.ipynb"
                )
                for n in numbers
            ]
        )
        versions = []
        for notebook in shared:
            model = rng.choice(rendered)
            values = {field.attname: getattr(model, field.attname) for field in copied}
            versions.append(SharedNotebookVersion(shared=notebook, number=1, **values))
        SharedNotebookVersion.objects.bulk_create(versions)
        topics = []
        for notebook in shared:
            body, body_html = rng.choice(descriptions)
            topics.append(
                Topic(
                    author=notebook.author,
                    title=title(),
                    body=body,
                    body_html=body_html,
                    shared_notebook=notebook,
                    clone_count=min(5000, int(rng.paretovariate(1.0)) - 1),
                )
            )
        Topic.objects.bulk_create(topics)
    likers = [author.pk for author in authors]
    likes = []
    for topic_id in Topic.objects.values_list("pk", flat=True):
        count = min(len(likers), int(rng.paretovariate(1.2)) - 1)
        likes.extend(Like(topic_id=topic_id, user_id=u) for u in rng.sample(likers, count))
    Like.objects.bulk_create(likes, batch_size=10_000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE community_topic SET created = now() - random() * interval '400 days'"
        )
        cursor.execute("UPDATE community_topic SET updated = created")
        # The like counters the site keeps with each like (forum.like_toggle), in one go here.
        cursor.execute(
            "UPDATE community_topic t SET like_count = l.n FROM (SELECT topic_id, count(*) n "
            "FROM community_like GROUP BY topic_id) l WHERE l.topic_id = t.id"
        )
    # A forum in service has been vacuumed by autovacuum; a table just bulk-loaded and
    # rewritten has not (no visibility map: index-only scans would visit every row).
    with connection.cursor() as cursor:  # autocommit: VACUUM runs outside a transaction
        cursor.execute("VACUUM ANALYZE")
    print(
        f"  {Topic.objects.count():,} topics, {Like.objects.count():,} likes, "
        f"{len(rendered)} previews rendered by the service and copied",
        flush=True,
    )


def _path(path, i: int) -> str:
    """``path`` itself, or for a series that moves through pages, its ``i``-th path."""
    return path(i) if callable(path) else path


def http_series(base: str, path, count: int, warmup: int = 5, budget_s: float = 45) -> dict:
    """``count`` GETs one after another (fewer if they take over ``budget_s`` in all).

    The client's own garbage collection is held off while it times: this process holds the
    seeded forum, and a full collection in the middle of a request was timed as the site's."""
    latencies, sizes, errors = [], [], 0
    deadline = time.monotonic() + budget_s
    gc.collect()
    gc.disable()
    try:
        for i in range(warmup + count):
            status, body, seconds = request(base, "GET", _path(path, i))
            if status != 200:
                errors += 1
            if i >= warmup:
                latencies.append(seconds)
                sizes.append(len(body))
                if time.monotonic() > deadline:
                    break
    finally:
        gc.enable()
    return {"latencies": latencies, "bytes": max(sizes, default=0), "errors": errors}


def django_series(path, count: int, warmup: int = 3, budget_s: float = 20) -> dict:
    """The same page in this process through Django's test client: the time Django spends,
    without gunicorn or the network; and the SQL queries it makes."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    latencies, errors = [], 0
    deadline = time.monotonic() + budget_s
    # As the site under gunicorn here: no broker or S3, so /readyz is one SELECT 1.
    with override_settings(REDIS_URL=""):
        for i in range(warmup + count):
            started = time.perf_counter()
            response = client.get(_path(path, i))
            elapsed = time.perf_counter() - started
            errors += response.status_code != 200
            if i >= warmup:
                latencies.append(elapsed)
                if time.monotonic() > deadline:
                    break
        with CaptureQueriesContext(connection) as queries:
            client.get(_path(path, 0))
    return {"latencies": latencies, "errors": errors, "queries": len(queries)}


def forum_index(base: str, count: int, local_count: int) -> list[dict]:
    from community.models import Topic

    pages = -(-Topic.objects.filter(hidden=False).count() // PER_PAGE)
    series = [
        ("/readyz (trivial baseline)", "/readyz"),
        ("/community page 1 (latest)", "/community"),
        (f"/community page {pages // 2} (middle)", f"/community?page={pages // 2}"),
        (f"/community page {pages} (last)", f"/community?page={pages}"),
        ("/community sort=liked", "/community?sort=liked"),
        ("/community sort=cloned", "/community?sort=cloned"),
        ("/community q=momentum (full text)", "/community?q=momentum"),
        # Each request a page not seen before: the cards are rendered, not taken from the cache.
        (
            "/community every page in turn",
            lambda i: f"/community?page={pages - i % pages}&sort={SORT_NAMES[i % 3]}",
        ),
        ("/readyz again", "/readyz"),
    ]
    print(
        f"\n-- forum index, {pages} pages of {PER_PAGE}; concurrency 1; "
        f"client: {count} requests to gunicorn; Django: {local_count} in this process",
        flush=True,
    )
    # Every gunicorn worker compiles templates and opens its connection on its first requests.
    for _label, path in series:
        if not callable(path):
            http_series(base, path, count=0, warmup=12)
    results = []
    for label, path in series:
        remote = http_series(base, path, count)
        local = django_series(path, local_count)
        row = {"label": label, "path": path, "remote": remote, "local": local}
        results.append(row)
        client_ms = [v * 1000 for v in remote["latencies"]]
        django_ms = [v * 1000 for v in local["latencies"]]
        errors = remote["errors"] + local["errors"]
        print(
            f"  {label:<36} client p50 {percentile(client_ms, 50):6.1f} p99 "
            f"{percentile(client_ms, 99):6.1f} ms (n={len(client_ms)}) | Django p50 "
            f"{percentile(django_ms, 50):6.1f} p99 {percentile(django_ms, 99):6.1f} ms "
            f"(n={len(django_ms)}) | {local['queries']} queries, {remote['bytes'] / 1e3:.0f} KB"
            + (f", {errors} non-200" if errors else ""),
            flush=True,
        )
    return results


# ------------------------------------------------------------------------------------------
def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10, help="shares of a 1 MB notebook")
    parser.add_argument("--warmup", type=int, default=3, help="shares before those, not counted")
    parser.add_argument("--renders", type=int, default=60, help="notebooks for the throughput")
    parser.add_argument("--requests", type=int, default=200, help="per page, against gunicorn")
    parser.add_argument("--local-requests", type=int, default=100, help="per page, in-process")
    parser.add_argument("--topics", type=int, default=TOPICS, help="topics in the forum")
    args = parser.parse_args()
    # A plain `kill` runs the cleanups below (worker, gunicorn) as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # nbconvert warns of every image without alt text; eager tasks log each run.
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)

    state = tempfile.TemporaryDirectory(prefix="bench-community-")
    with state:
        database_url = fresh_database("quantsite_bench_community")
        # Shared notebooks are files under QUANTSITE_VAR_DIR: the same folder for this process,
        # gunicorn and the worker.
        django_setup(database_url, REDIS_URL=REDIS_URL, QUANTSITE_VAR_DIR=state.name)
        from quantsite.accounts.models import User

        flush_redis()
        user = User.objects.create(username="bench", email="bench@bench.local")
        token = server_token(user)
        try:
            with (
                # Two sync workers, one a core; the Celery worker beside them.
                gunicorn(database_url, workers=2, redis_url=REDIS_URL) as base,
                celery_worker(database_url, Path(state.name) / "worker.log"),
            ):
                print(f"site under gunicorn at {base} (broker {REDIS_URL}), one worker")
                share = share_to_ready(base, token, user, args.runs, args.warmup)
                throughput = render_throughput(user, args.renders)
        finally:
            flush_redis()
        print(f"\n-- seeding the forum to {args.topics:,} topics", flush=True)
        started = time.perf_counter()
        seed_forum(args.topics)
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
        with gunicorn(database_url) as base:
            index = forum_index(base, args.requests, args.local_requests)
    summarize(share, throughput, index, args.topics)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)


def summarize(share: dict, throughput: dict, index: list[dict], topics: int) -> None:
    print("\n== summary", flush=True)
    total = share["total"]
    if total:
        p50, worst = percentile(total, 50), max(total)
        verdict = "met" if worst < TARGET_SHARE_S else "not met"
        print(
            f"share to preview ready, {percentile(share['sizes'], 50) / 1e6:.2f} MB notebook, "
            f"one worker: p50 {ms(p50)}, max {ms(worst)} (n={len(total)}; target under 2 s: "
            f"{verdict}); POST p50 {ms(percentile(share['post'], 50))}, queue+render p50 "
            f"{ms(percentile(share['after'], 50))}; baseline in-process render p50 "
            f"{ms(percentile(share['local'], 50))}"
        )
    if share["failed"]:
        print(f"  {len(share['failed'])} shares failed (see above)")
    print(
        f"render throughput, one worker (concurrency 1): {throughput['per_minute']:.0f} "
        f"notebooks a minute ({throughput['ready']}/{throughput['count']} ready, "
        f"{throughput['size'] / 1e3:.0f} KB each); baseline in-process "
        f"{throughput['local_per_minute']:.0f} a minute"
    )
    trivial = index[0]["remote"]["latencies"]
    print(
        f"forum index at {topics:,} topics, concurrency 1 (client p99 / Django p99; "
        f"target p99 under {TARGET_INDEX_P99_MS:.0f} ms); trivial view p99 "
        f"{percentile(trivial, 99) * 1000:.1f} ms:"
    )
    for row in index[1:-1]:
        client = percentile(row["remote"]["latencies"], 99) * 1000
        django = percentile(row["local"]["latencies"], 99) * 1000
        verdict = "met" if client < TARGET_INDEX_P99_MS else "NOT met"
        print(
            f"  {row['label']:<36} p99 {client:6.1f} / {django:6.1f} ms  "
            f"({client / (percentile(trivial, 99) * 1000):.1f}x trivial)  {verdict}"
        )


if __name__ == "__main__":
    main()
