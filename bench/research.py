"""/research benchmark: the hub's OAuth round trip, and /research to JupyterLab ready.

Runs the site under gunicorn on loopback (fresh PostgreSQL database) and one real JupyterHub
(hubs/local.py), then prints:

1. OAuth round trip, hub ``/hub/oauth_login`` to logged in (authorize at the site, code
   exchange at ``/o/token/``, userinfo), with the hub's client secret under the site's hasher
   (keyed HMAC-SHA256) and, as the baseline in the same run, under Django's default PBKDF2.
2. Opening /research in headless Chromium until JupyterLab is ready inside the frame: cold
   (the user's server is spawned) and warm (it runs already).

    .venv/bin/python bench/research.py [--rounds 15]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import django_setup, fresh_database, gunicorn

from hubs.local import LocalHub, free_port_block

PASSWORD = "bench-password-not-secret-42"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def site_session(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:300]
    return session


def oauth_round_trips(base: str, hub: LocalHub, username: str, rounds: int) -> list[float]:
    """Time hub oauth_login -> logged in, each time as a browser new to the hub."""
    site_cookies = site_session(base, username).cookies
    times = []
    for _ in range(rounds):
        session = requests.Session()
        session.cookies.update(site_cookies)
        started = time.perf_counter()
        response = session.get(f"{hub.url}/hub/oauth_login?next=/hub/home", timeout=30)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200 and response.url.endswith("/hub/home"), response.url
        times.append(elapsed)
    return times


def lab_ready_times(base: str, usernames: list[str]) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for username in usernames:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for bucket in (cold, warm):
                started = time.perf_counter()
                page.goto(f"{base}/research")
                page.frame_locator("#research-frame").locator(".jp-Launcher").first.wait_for(
                    timeout=120_000
                )
                bucket.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return cold, warm


def show(label: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    print(
        f"{label}: n={len(ms)} median={statistics.median(ms):.0f} ms "
        f"min={ms[0]:.0f} ms max={ms[-1]:.0f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lab-users", type=int, default=3)
    args = parser.parse_args()

    database_url = fresh_database("quantsite_bench_research")
    django_setup(database_url)
    from django.contrib.auth.hashers import make_password
    from oauth2_provider.models import Application

    from quantsite.accounts.models import User
    from research.services.hubs import hub_register

    users = [f"bench{i}" for i in range(args.lab_users + 1)]
    for name in users:
        user = User(username=name, email=f"{name}@bench.local")
        user.set_password(PASSWORD)
        user.save()

    with tempfile.TemporaryDirectory() as state, gunicorn(database_url) as base:
        hub = LocalHub("hub-1", free_port_block(), Path(state))
        registration = hub_register(name="hub-1", url=hub.url, capacity=50)
        secret = registration.client_secret
        log = open(Path(state) / "hub.log", "wb")  # noqa: SIM115 (closed with the process)
        hub.start(
            site_url=base,
            client_id=registration.hub.application.client_id,
            client_secret=secret,
            extra_env={"QUANTHUB_CULL_IDLE_TIMEOUT": "0"},
            log=log,
        )
        try:
            hub.wait_ready()
            app = Application.objects.get(pk=registration.hub.application_id)
            print(f"site under gunicorn at {base}; hub-1 at {hub.url}", flush=True)

            show(
                "OAuth round trip, client secret under keyed HMAC-SHA256",
                oauth_round_trips(base, hub, users[0], args.rounds),
            )
            Application.objects.filter(pk=app.pk).update(
                client_secret=make_password(secret, hasher="pbkdf2_sha256")
            )
            show(
                "OAuth round trip, baseline: client secret under PBKDF2 (Django's default)",
                oauth_round_trips(base, hub, users[0], args.rounds),
            )
            Application.objects.filter(pk=app.pk).update(
                client_secret=make_password(secret, hasher="hmac_sha256")
            )

            cold, warm = lab_ready_times(base, users[1:])
            show("/research to JupyterLab ready in the frame, cold (server spawn)", cold)
            show("/research to JupyterLab ready in the frame, warm", warm)
        finally:
            hub.stop()


if __name__ == "__main__":
    main()
