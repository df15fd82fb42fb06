"""Discovery benchmark: heartbeats, locate, and a burst of first visits.

Runs the site under gunicorn on loopback against a fresh PostgreSQL database and drives it
from this process with aiohttp. Prints each figure; record them in bench/RESULTS.md.

    .venv/bin/python bench/discovery.py [--seconds 15]

1. Heartbeats: 1,000 hubs beating once a second (closed loop per hub): achieved rate, p50, p99,
   after the same loop against /healthz (the floor of that rate on this machine and harness).
   Then the ceiling: as many heartbeats as the server takes from 64 concurrent senders.
   Every phase prints the site's and PostgreSQL's CPU per request (from /proc).
2. Locate with 100,000 assigned users on 100 hubs, concurrency 32: a sticky user, a new
   assignment, and the trivial views side by side: /readyz (one SELECT 1, no auth) and
   /healthz (liveness: touches nothing).
3. Burst: 2,000 concurrent first visits against exactly 2,000 seats (100 hubs x 20).
"""

import argparse
import asyncio
import datetime as dt
import random
import secrets
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    cpu_delta,
    django_setup,
    fresh_database,
    gunicorn,
    postgres_cpu_seconds,
    site_cpu_seconds,
    summary,
)

DATABASE = "quantsite_bench_discovery"
HEARTBEAT = "/api/discovery/heartbeat"


class CpuMeter:
    """The site's CPU (gunicorn workers) and PostgreSQL's (the bench database's backends)
    over a phase, per request served. The load generator's own CPU is not in it."""

    def __init__(self, base):
        self.base = base
        self.site, self.postgres = site_cpu_seconds(base), postgres_cpu_seconds(DATABASE)

    def per_request(self, requests: int) -> str:
        """The phase's CPU per request, printed; kept as ``self.site_ms``, ``self.postgres_ms``."""
        site = site_cpu_seconds(self.base) - self.site
        postgres = cpu_delta(self.postgres, postgres_cpu_seconds(DATABASE))
        n = max(requests, 1)
        self.site_ms, self.postgres_ms = site * 1000 / n, postgres * 1000 / n
        return f"CPU per request: site {self.site_ms:.2f} ms, postgres {self.postgres_ms:.2f} ms"


# Each phase's figures, by label: (requests per second, site CPU ms, PostgreSQL CPU ms).
FIGURES: dict[str, tuple[float, float, float]] = {}


def ratios_to_the_floor() -> None:
    """Every phase against /healthz measured in the same run (throughput, CPU per request)."""
    floor = FIGURES.get("/healthz")
    if not floor:
        return
    rate, site, postgres = floor
    print(f"against /healthz ({rate:.0f}/s, {site + postgres:.2f} ms CPU per request):")
    for label, (r, s, p) in FIGURES.items():
        if label != "/healthz":
            whole = (s + p) / (site + postgres)
            print(
                f"  {label}: throughput {r / rate:.2f}x, CPU per request {whole:.2f}x "
                f"(site only {s / site:.2f}x)",
                flush=True,
            )


HUBS_HEARTBEAT = 1_000
HUBS_LOCATE = 100
USERS = 100_000
SERVER_ENV = {
    # Seeded hubs stay live for the whole run without a real hub beating for each.
    "DISCOVERY_STALE_AFTER": "3600",
    "DISCOVERY_DEAD_AFTER": "7200",
}


# -- seeding (the ORM, in bulk; tokens are made directly, as /o/token/ would store them) ------


def seed_hubs(count: int, capacity: int):
    from django.utils import timezone
    from oauth2_provider.models import Application

    from quantsite.accounts.models import ApplicationPolicy
    from research.models import Hub

    now = timezone.now()
    apps = Application.objects.bulk_create(
        [
            Application(
                name=f"Hub bench-{i}",
                client_id=f"bench-hub-{i}",
                client_secret="unused",
                hash_client_secret=False,
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=f"http://127.0.0.1:{20000 + i}/hub/oauth_callback",
                skip_authorization=True,
                algorithm=Application.RS256_ALGORITHM,
            )
            for i in range(count)
        ]
    )
    ApplicationPolicy.objects.bulk_create(
        [
            ApplicationPolicy(
                application=app,
                allowed_scopes="openid profile email discovery",
                allows_client_credentials=True,
            )
            for app in apps
        ]
    )
    return Hub.objects.bulk_create(
        [
            Hub(
                name=f"bench-{i}",
                url=f"http://127.0.0.1:{20000 + i}",
                application=app,
                capacity=capacity,
                started_at=now,
                last_heartbeat_at=now,
                recorded_liveness="live",
            )
            for i, app in enumerate(apps)
        ]
    )


def make_tokens(pairs) -> list[str]:
    """Access tokens for (application, user-or-None, scope) triples; returns the raw tokens."""
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    expires = timezone.now() + dt.timedelta(hours=6)
    raws, rows = [], []
    for application, user, scope in pairs:
        raw = secrets.token_urlsafe(30)
        raws.append(raw)
        rows.append(
            AccessToken(application=application, user=user, token=raw, scope=scope, expires=expires)
        )
    AccessToken.objects.bulk_create(rows, batch_size=5000)
    return raws


def seed_users(count: int, prefix: str):
    from quantsite.accounts.models import User

    User.objects.bulk_create(
        [
            User(username=f"{prefix}{i}", email=f"{prefix}{i}@bench.local", password="!")
            for i in range(count)
        ],
        batch_size=5000,
    )
    return list(User.objects.filter(username__startswith=prefix).order_by("pk"))


# -- load ------------------------------------------------------------------------------------


async def heartbeat_loop(
    session, base, token, running, seconds, latencies, errors, offset, path=HEARTBEAT
):
    """One hub beating once a second (``path`` another URL, GET, for the same loop's floor)."""
    await asyncio.sleep(offset)
    end = time.monotonic() + seconds
    next_beat = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            request = (
                session.post(f"{base}{path}", json={"running": running}, headers=headers)
                if path == HEARTBEAT
                else session.get(f"{base}{path}")
            )
            async with request as response:
                await response.read()
                if response.status != 200:
                    errors.append(response.status)
        except aiohttp.ClientError as error:
            errors.append(type(error).__name__)
        latencies.append(time.monotonic() - started)
        next_beat += 1.0
        await asyncio.sleep(max(0.0, next_beat - time.monotonic()))


async def closed_loop(session, base, method, path, token_for, concurrency, seconds):
    """``concurrency`` senders, each sending its next request when the last one answered."""
    latencies, statuses = [], {}
    end = time.monotonic() + seconds

    async def sender(index):
        while time.monotonic() < end:
            token = token_for(index)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            started = time.monotonic()
            kwargs = {"json": {"running": []}} if method == "POST" else {}
            async with session.request(method, f"{base}{path}", headers=headers, **kwargs) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(sender(i) for i in range(concurrency)))
    return latencies, statuses


def session_for(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        timeout=aiohttp.ClientTimeout(total=120),
    )


# -- phases ----------------------------------------------------------------------------------


async def phase_heartbeats(base, tokens, seconds):
    rate = 0.0
    # The same loop against /healthz first: what the harness and the machine give at this rate.
    for label, path in [("/healthz, the same loop", "/healthz"), ("heartbeats", HEARTBEAT)]:
        latencies, errors = [], []
        meter = CpuMeter(base)
        async with session_for(len(tokens)) as session:
            running = [[f"user{i * 10 + k}" for k in range(i % 10)] for i in range(len(tokens))]
            started = time.monotonic()
            await asyncio.gather(
                *(
                    heartbeat_loop(
                        session,
                        base,
                        t,
                        running[i],
                        seconds,
                        latencies,
                        errors,
                        i / len(tokens),
                        path=path,
                    )
                    for i, t in enumerate(tokens)
                )
            )
            elapsed = time.monotonic() - started - 1.0  # the staggered start spreads over 1 s
        rate = len(latencies) / max(elapsed, 1e-9)
        print(
            f"{label}, {len(tokens)} hubs at 1/s for {seconds} s: achieved {rate:.0f}/s, "
            f"{summary(latencies)}, errors={len(errors)}, {meter.per_request(len(latencies))}",
            flush=True,
        )
    meter = CpuMeter(base)
    async with session_for(64) as session:
        lat, statuses = await closed_loop(
            session,
            base,
            "POST",
            "/api/discovery/heartbeat",
            lambda i: tokens[i % len(tokens)],
            64,
            seconds=10,
        )
    print(
        f"heartbeat ceiling, 64 concurrent senders for 10 s: {len(lat) / 10:.0f}/s, "
        f"{summary(lat)}, statuses={statuses}, {meter.per_request(len(lat))}",
        flush=True,
    )
    FIGURES["heartbeat ceiling"] = (len(lat) / 10, meter.site_ms, meter.postgres_ms)
    return rate


async def phase_locate(base, sticky_tokens, new_tokens, seconds):
    results = {}
    async with session_for(32) as session:
        for label, path, token_for in [
            ("/readyz (a SELECT 1 on a connection of its own)", "/readyz", lambda i: None),
            ("/healthz", "/healthz", lambda i: None),
            (
                "locate, sticky user",
                "/api/discovery/locate",
                lambda i: random.choice(sticky_tokens),
            ),
            ("locate, new assignment", "/api/discovery/locate", lambda i: new_tokens.pop()),
            ("/readyz again", "/readyz", lambda i: None),
        ]:
            meter = CpuMeter(base)
            lat, statuses = await closed_loop(session, base, "GET", path, token_for, 32, seconds)
            results[label] = lat
            print(
                f"{label}, concurrency 32: {len(lat) / seconds:.0f}/s, {summary(lat)}, "
                f"statuses={statuses}, {meter.per_request(len(lat))}",
                flush=True,
            )
            FIGURES[label] = (len(lat) / seconds, meter.site_ms, meter.postgres_ms)
    ratios_to_the_floor()
    return results


async def phase_burst(base, tokens):
    statuses, latencies = {}, []
    async with session_for(len(tokens)) as session:

        async def visit(token):
            started = time.monotonic()
            async with session.get(
                f"{base}/api/discovery/locate", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.monotonic() - started)

        started = time.monotonic()
        await asyncio.gather(*(visit(t) for t in tokens))
        elapsed = time.monotonic() - started
    return statuses, latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="gunicorn's gthread workers with this many threads and keep-alive (default: sync "
        "workers, a new connection per request)",
    )
    args = parser.parse_args()

    database_url = fresh_database(DATABASE)
    django_setup(database_url, **SERVER_ENV)
    from django.db import connection
    from django.db.models import Count, F

    from research.models import Assignment, Hub

    print(f"seeding {HUBS_HEARTBEAT} hubs ...", flush=True)
    hubs = seed_hubs(HUBS_HEARTBEAT, capacity=2_000)
    hub_tokens = make_tokens([(hub.application, None, "discovery") for hub in hubs])

    options = (
        ("--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30")
        if args.threads
        else ()
    )
    with gunicorn(database_url, workers=args.workers, options=options, **SERVER_ENV) as base:
        kind = f"gthread, {args.threads} threads, keep-alive" if args.threads else "sync"
        print(f"site under gunicorn ({args.workers} workers, {kind}) at {base}", flush=True)
        asyncio.run(phase_heartbeats(base, hub_tokens, args.seconds))

        # Locate: 100 hubs hold 100,000 users.
        Hub.objects.exclude(pk__in=[h.pk for h in hubs[:HUBS_LOCATE]]).update(mode="disabled")
        print(f"seeding {USERS} users on {HUBS_LOCATE} hubs ...", flush=True)
        users = seed_users(USERS, "u")
        locate_hubs = hubs[:HUBS_LOCATE]
        Assignment.objects.bulk_create(
            [Assignment(user=u, hub=locate_hubs[i % HUBS_LOCATE]) for i, u in enumerate(users)],
            batch_size=5000,
        )
        Hub.objects.filter(pk__in=[h.pk for h in locate_hubs]).update(
            assigned_count=USERS // HUBS_LOCATE
        )
        newcomers = seed_users(40_000, "n")
        web = locate_hubs[0].application
        sticky_tokens = make_tokens([(web, u, "profile") for u in random.sample(users, 5_000)])
        new_tokens = make_tokens([(web, u, "profile") for u in newcomers])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        asyncio.run(phase_locate(base, sticky_tokens, new_tokens, args.seconds))

        # Burst: exactly 2,000 seats, 2,000 first visits at once.
        Assignment.objects.all().delete()
        Hub.objects.filter(pk__in=[h.pk for h in locate_hubs]).update(capacity=20, assigned_count=0)
        burst_users = seed_users(2_000, "b")
        burst_tokens = make_tokens([(web, u, "profile") for u in burst_users])
        statuses, latencies, elapsed = asyncio.run(phase_burst(base, burst_tokens))

    over = Hub.objects.filter(assigned_count__gt=F("capacity")).count()
    actual = dict(
        Assignment.objects.filter(ended_at__isnull=True)
        .values_list("hub_id")
        .annotate(n=Count("pk"))
    )
    counted_right = all(
        actual.get(h.pk, 0) == h.assigned_count
        for h in Hub.objects.filter(pk__in=[h.pk for h in locate_hubs])
    )
    doubles = (
        Assignment.objects.filter(ended_at__isnull=True)
        .values("user")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    loads = [actual.get(h.pk, 0) for h in locate_hubs]
    fivexx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
    print(
        f"burst, 2000 first visits on 2000 seats in {elapsed:.1f} s: statuses={statuses}, "
        f"hubs over capacity={over}, users with two open assignments={doubles}, "
        f"5xx other than 503={fivexx}, 503 (no seat)={statuses.get(503, 0)}, "
        f"spread (most - least loaded hub)={max(loads) - min(loads)} "
        f"(min {min(loads)}, max {max(loads)}), counters match rows={counted_right}, "
        f"{summary(latencies)}",
        flush=True,
    )


if __name__ == "__main__":
    main()
