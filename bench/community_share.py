"""Scenario 1 of the community benchmark: share to preview ready.

A 1 MB notebook (five charts, one a heatmap; different each run, so content-addressed storage
does not dedupe it) is shared with ``POST /api/community/shares`` and a bearer token, as the
hub's share extension sends it, and its version is polled until it is ``ready``. Timed: the
POST, the queue and render after it, and the total; the baseline in the same run is the
rendering service called in this process on the same versions."""

import json
import os
import random
import time

from common import ms, request, stats
from community_load import render_in_process, wait_rendered
from community_notebooks import SENTENCES, notebook_of
from community_seed import notebook_store


def _share_body(path: str, run: int, showcase_cell: int) -> bytes:
    """The JSON the share extension sends for the notebook at ``path``."""
    return json.dumps(
        {
            "path": path,
            "title": f"Momentum on the S&P 500, run {run}",
            "description": "Five charts and the trades. " + SENTENCES[run % len(SENTENCES)],
            "showcase_cell": showcase_cell,
        }
    ).encode()


def _share_once(base: str, headers: dict, user, run: int) -> dict | str:
    """Save a new 1 MB notebook, share it over HTTP and wait until its version is rendered;
    then render that version again in this process. Returns the timings (seconds) and size
    (bytes), or why it failed."""
    import nbformat

    from community.models import SharedNotebookVersion

    nb, chart = notebook_of(random.Random(os.urandom(8)), 1_000_000, charts=5)
    path = f"share/run{run:02}.ipynb"
    notebook_store(user, path, nb)
    body = _share_body(path, run, chart)
    started = time.perf_counter()
    status, answer, post_s = request(base, "POST", "/api/community/shares", body, headers)
    if status != 201:
        return f"run {run}: POST {status} {answer[:200]!r}"
    answer = json.loads(answer)
    version_id = SharedNotebookVersion.objects.values_list("pk", flat=True).get(
        shared_id=answer["id"], number=answer["version"]
    )
    state = wait_rendered([version_id], timeout=120, interval=0.01)[version_id]
    total = time.perf_counter() - started
    if state != "ready":
        return f"run {run}: version {version_id} {state}"
    return {
        "post": post_s,
        "after": total - post_s,
        "total": total,
        "local": render_in_process(version_id),
        "size": len(nbformat.writes(nb).encode()),
    }


def share_to_ready(base: str, token: str, user, runs: int, warmup: int) -> dict:
    """``warmup`` uncounted shares, then ``runs`` counted ones, by ``user`` with ``token``
    (scope ``notebooks``) against the site at ``base``, whose worker renders them. Prints each
    run and the statistics; returns lists of ``post``, ``after``, ``total``, ``local`` seconds,
    ``sizes`` in bytes, and ``failed`` descriptions."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    result = {"post": [], "after": [], "total": [], "local": [], "sizes": [], "failed": []}
    print(f"\n-- share to preview ready, 1 MB notebook, one worker ({runs} runs)", flush=True)
    # The first shares warm the worker, the site's processes and this one; they are not counted.
    for run in range(warmup + runs):
        timed = _share_once(base, headers, user, run)
        if isinstance(timed, str):
            result["failed"].append(timed)
            continue
        label = f"warm-up {run + 1}" if run < warmup else f"run {run - warmup + 1:2}"
        print(
            f"  {label}: {timed['size'] / 1e6:.2f} MB  POST {ms(timed['post'])}  queue+render "
            f"{ms(timed['after'])}  total {ms(timed['total'])}  |  in-process render "
            f"{ms(timed['local'])}",
            flush=True,
        )
        if run >= warmup:
            for key in ("post", "after", "total", "local"):
                result[key].append(timed[key])
            result["sizes"].append(timed["size"])
    for failure in result["failed"]:
        print(f"  FAILED {failure}", flush=True)
    print(f"  total (POST to ready)      {stats(result['total'])}", flush=True)
    print(f"  POST response              {stats(result['post'])}", flush=True)
    print(f"  queue + render after it    {stats(result['after'])}", flush=True)
    print(f"  baseline: in-process render of the same versions  {stats(result['local'])}")
    return result
