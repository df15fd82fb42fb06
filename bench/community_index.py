"""Scenario 3 of the community benchmark: the forum index.

``GET /community`` page 1, a middle page, the last page, most liked, most cloned, a full-text
search and every page in turn (each new to the card cache), at concurrency 1 against gunicorn
(latency as the client on loopback sees it) and in this process with Django's test client
(Django-side time, and SQL queries per page); ``/readyz`` the same way before and after, as the
trivial baseline (without the broker and S3, ``/readyz`` is one ``SELECT 1``)."""

from common import percentile
from community_load import PagePath, django_series, http_series

PER_PAGE = 50
SORT_NAMES = ("latest", "liked", "cloned")


def index_series(pages: int) -> list[tuple[str, PagePath]]:
    """The measured series for a forum of ``pages`` pages, as ``(label, path)``; the first and
    the last are the trivial baseline."""
    return [
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


def _print_row(row: dict) -> None:
    remote, local = row["remote"], row["local"]
    client_ms = [v * 1000 for v in remote["latencies"]]
    django_ms = [v * 1000 for v in local["latencies"]]
    errors = remote["errors"] + local["errors"]
    print(
        f"  {row['label']:<36} client p50 {percentile(client_ms, 50):6.1f} p99 "
        f"{percentile(client_ms, 99):6.1f} ms (n={len(client_ms)}) | Django p50 "
        f"{percentile(django_ms, 50):6.1f} p99 {percentile(django_ms, 99):6.1f} ms "
        f"(n={len(django_ms)}) | {local['queries']} queries, {remote['bytes'] / 1e3:.0f} KB"
        + (f", {errors} non-200" if errors else ""),
        flush=True,
    )


def forum_index(base: str, count: int, local_count: int) -> list[dict]:
    """Time every series of :func:`index_series`: ``count`` requests to gunicorn at ``base``,
    ``local_count`` in this process. Prints a line a series; returns one row a series with
    ``label``, ``path``, ``remote`` (see ``http_series``) and ``local`` (``django_series``)."""
    from community.models import Topic

    pages = -(-Topic.objects.filter(hidden=False).count() // PER_PAGE)
    series = index_series(pages)
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
        row = {
            "label": label,
            "path": path,
            "remote": http_series(base, path, count),
            "local": django_series(path, local_count),
        }
        results.append(row)
        _print_row(row)
    return results
