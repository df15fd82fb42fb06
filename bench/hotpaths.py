"""The hot paths' cost per request, in-process, against their floor measured in the same run.

    .venv/bin/python bench/hotpaths.py [--requests 3000]

A fresh PostgreSQL database with 100 hubs (one beating, ten running users on it) and 10,000
users assigned to them; then, through the site's real WSGI application in this process, one
request at a time (``bench/cpu.py``): ``/healthz`` (the floor: every middleware, no query), a
heartbeat (10 running users), a sticky locate (bearer token), and ``/healthz`` again. Each line
gives Python and PostgreSQL CPU per request, round trips, and the ratio to ``/healthz``.
The settings come from the environment as the site's do (``DATABASE_PREPARE_THRESHOLD`` ...).
"""

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import django_setup, fresh_database
from cpu import environ, measure
from discovery import make_tokens, seed_hubs, seed_users

HUBS = 100
USERS = 10_000
SERVER_ENV = {"DISCOVERY_STALE_AFTER": "3600", "DISCOVERY_DEAD_AFTER": "7200"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    django_setup(fresh_database("quantsite_bench_hotpaths"), **SERVER_ENV)
    from django.db import connection

    from quantsite.wsgi import application
    from research.models import Assignment, Hub

    hubs = seed_hubs(HUBS, capacity=1_000)
    users = seed_users(USERS, "u")
    Assignment.objects.bulk_create(
        [Assignment(user=u, hub=hubs[i % HUBS]) for i, u in enumerate(users)], batch_size=5000
    )
    Hub.objects.update(assigned_count=USERS // HUBS)
    (hub_token,) = make_tokens([(hubs[0].application, None, "discovery")])
    running = [u.username for u in users[: HUBS * 10 : HUBS]]  # ten users placed on hubs[0]
    sticky = random.choice(users[: USERS // 2])
    (user_token,) = make_tokens([(hubs[0].application, sticky, "profile")])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    healthz = environ("GET", "/healthz")
    heartbeat = environ(
        "POST",
        "/api/discovery/heartbeat",
        body=json.dumps({"version": 1, "running": running}).encode(),
        headers={"Authorization": f"Bearer {hub_token}"},
    )
    locate = environ(
        "GET", "/api/discovery/locate", headers={"Authorization": f"Bearer {user_token}"}
    )
    n = args.requests
    print(f"{n} requests each, one at a time, in-process (PostgreSQL on loopback)", flush=True)
    floor = measure(application, healthz, n)
    print(floor.line("/healthz (the floor: no query)"), flush=True)
    for label, make in [
        ("heartbeat (10 running users)", heartbeat),
        ("locate, sticky user (bearer token)", locate),
    ]:
        print(measure(application, make, n).line(label, floor), flush=True)
    again = measure(application, healthz, n)
    print(again.line("/healthz again", floor), flush=True)


if __name__ == "__main__":
    main()
