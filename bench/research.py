"""/research benchmark: the hub's OAuth round trip, and how soon JupyterLab is there for the
person in the site's research frame.

Runs the site under gunicorn on loopback (fresh PostgreSQL database) and one real JupyterHub
(hubs/local.py), then prints, for the scenarios asked for (``--scenarios``, all by default):

- ``oauth``: hub ``/hub/oauth_login`` to logged in (authorize at the site, code exchange at
  ``/o/token/``, userinfo), with the hub's client secret under the site's hasher (keyed
  HMAC-SHA256) and, as the baseline in the same run, under Django's default PBKDF2.
- ``cold``, ``warm``: opening /research in headless Chromium until JupyterLab's Launcher is in
  the frame, for a new person (their server spawns, nothing cached), then again (it runs).
- ``lab``: the lab itself: from the frame's navigation to the Launcher visible, on the frame's
  own clock, warm server and cached assets (a full load of /research each round).
- ``back``: back to Research from a Community page with the frame alive (soft navigation):
  the Research link clicked to the frame shown (or, if the frame was reloaded after all, to
  the lab ready again; the figure then says so).
- ``clone``: on a topic page reached by soft navigation from /research, "Clone into my
  research" clicked to the cloned notebook's cells in the living frame (no page load).
- ``prestart``: first /research after sign-in when sign-in had the hub start the server (the
  site's hidden frame on ``{hub}/hub/spawn``), for a person who used research before (their
  assets cached): the Research link clicked, once that server runs, to the lab's
  ``quanthub:ready``; also how long after sign-in the server ran. One person a round (the
  site does not pre-start twice in a row for someone who did not use the last one).
- ``cold-cached``: the server stopped (no pre-start) and the lab's assets in the browser's
  cache: /research loaded to the lab's ``quanthub:ready``.

The lab marks itself interactive with a ``quanthub:ready`` message to the site; where a lab
has no such message (the ``lab``, ``cold`` and ``warm`` figures, comparable with earlier
runs), the Launcher visible is the mark. A scenario whose site does not have what it needs
(a frame kept across pages, a sign-in pre-start) says so and is skipped.

    .venv/bin/python bench/research.py [--rounds 15] [--lab-rounds 5] [--scenarios lab,back]
"""

import argparse
import os
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
SCENARIOS = ("oauth", "cold", "warm", "lab", "back", "clone", "prestart", "cold-cached")
LAB_TIMEOUT_MS = 120_000

# In every page of a person's browser: the top page counts the lab's quanthub:ready messages
# (on its own clock); a frame notes when a Launcher is first visible in it, on the frame's
# clock, whose zero is that frame's navigation start.
MARKS = """
(() => {
  if (window === window.top) {
    window.__labReady = [];
    window.addEventListener('message', event => {
      const data = event.data;
      if (data && data.type === 'quanthub:ready') window.__labReady.push(performance.now());
    });
    return;
  }
  const check = () => {
    const launcher = document.querySelector('.jp-Launcher');
    if (!window.__launcherAt && launcher && launcher.getBoundingClientRect().width > 0) {
      window.__launcherAt = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
})();
"""


class Skipped(Exception):
    """The site lacks what a scenario needs; the message says what."""


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


class Person:
    """One person's browser (its own cache and cookies) on the site at ``base``."""

    def __init__(self, browser, base: str, hub: LocalHub, username: str):
        self.base, self.hub, self.username = base, hub, username
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.add_init_script(MARKS)
        self.page = self.context.new_page()

    def log_in(self) -> None:
        page = self.page
        page.goto(f"{self.base}/accounts/login/")
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/")

    def lab(self):
        """The frame that shows this person's JupyterLab."""
        prefix = f"{self.hub.url}/user/{self.username}/lab"
        for frame in self.page.frames:
            if frame.url.startswith(prefix):
                return frame
        raise AssertionError(f"no lab frame among {[f.url for f in self.page.frames]}")

    def wait_launcher(self) -> None:
        self.page.frame_locator("#research-frame").locator(".jp-Launcher").first.wait_for(
            timeout=LAB_TIMEOUT_MS
        )

    def ready_count(self) -> int:
        return self.page.evaluate("window.__labReady.length")

    def wait_ready(self, after: int) -> None:
        """Until the lab has sent more than ``after`` quanthub:ready messages."""
        self.page.wait_for_function(
            "after => window.__labReady.length > after", arg=after, timeout=LAB_TIMEOUT_MS
        )

    def nav(self, label: str) -> None:
        self.page.locator("nav.nav a", has_text=label).first.click()

    def mark_documents(self) -> None:
        """Note the top document and the lab's, to tell a soft navigation from a load."""
        try:
            lab = self.lab()
        except AssertionError:
            raise Skipped("the lab's frame does not stay across the site's pages") from None
        self.page.evaluate("window.__benchDocument = 1")
        lab.evaluate("window.__benchDocument = 1")

    def documents_kept(self) -> tuple[bool, bool]:
        """(the top document, the lab's) since ``mark_documents``."""
        top = self.page.evaluate("window.__benchDocument === 1")
        try:
            lab = self.lab().evaluate("window.__benchDocument === 1")
        except AssertionError:
            lab = False
        return top, lab

    def hub_api(self, method: str, path: str):
        """A hub API request with this person's hub login (cookie and its XSRF token)."""
        cookies = self.context.cookies(f"{self.hub.url}/hub/")
        xsrf = next((c["value"] for c in cookies if c["name"] == "_xsrf"), "")
        return self.context.request.fetch(
            f"{self.hub.url}/hub/api{path}", method=method, headers={"X-XSRFToken": xsrf}
        )

    def server(self) -> dict | None:
        """This person's server as the hub reports it (None: none, or no hub login yet)."""
        response = self.hub_api("GET", f"/users/{self.username}")
        if not response.ok:
            return None
        return response.json().get("servers", {}).get("")

    def stop_server(self) -> None:
        """Stop this person's server through the hub's API, as its control panel does; wait
        until it has stopped. Leaves the page on the hub's home page."""
        self.page.goto(f"{self.hub.url}/hub/home")  # the hub's login, and its XSRF cookie
        response = self.hub_api("DELETE", f"/users/{self.username}/server")
        assert response.status in (202, 204), f"stop: {response.status} {response.text()}"
        deadline = time.monotonic() + 60
        while self.server() is not None:
            assert time.monotonic() < deadline, "the server did not stop"
            time.sleep(0.2)

    def close(self) -> None:
        self.context.close()


def lab_ready_times(browser, base, hub, usernames: list[str]) -> tuple[list[float], list[float]]:
    """/research to the Launcher in the frame, for each new person (cold), then again (warm)."""
    cold, warm = [], []
    for username in usernames:
        person = Person(browser, base, hub, username)
        person.log_in()
        for bucket in (cold, warm):
            started = time.perf_counter()
            person.page.goto(f"{base}/research")
            person.wait_launcher()
            bucket.append(time.perf_counter() - started)
        person.close()
    return cold, warm


def frame_to_launcher(browser, base, hub, username: str, rounds: int) -> list[float]:
    """The frame's navigation to its Launcher visible (the frame's own clock), warm server,
    cached assets: /research loaded in full each round."""
    person = Person(browser, base, hub, username)
    person.log_in()
    for _ in range(2):  # the spawn, then a load that fills the cache from a running server
        person.page.goto(f"{base}/research")
        person.wait_launcher()
    times = []
    for _ in range(rounds):
        person.page.goto(f"{base}/research")
        person.wait_launcher()
        at = person.lab().wait_for_function("() => window.__launcherAt", timeout=LAB_TIMEOUT_MS)
        times.append(at.json_value() / 1000)
    person.close()
    return times


def open_research_ready(person: Person) -> None:
    """/research loaded in full, until the lab is ready (its message, else its Launcher)."""
    person.page.goto(f"{person.base}/research")
    person.wait_launcher()


def back_to_research(browser, base, hub, username: str, rounds: int) -> tuple[list[float], str]:
    """Research link clicked on a Community page to the living frame shown."""
    person = Person(browser, base, hub, username)
    person.log_in()
    open_research_ready(person)
    times, loads = [], 0
    for _ in range(rounds):
        person.nav("Community")
        person.page.wait_for_url(f"{base}/community")
        person.page.wait_for_selector("#research-frame", state="hidden")
        person.mark_documents()
        ready = person.ready_count()
        started = time.perf_counter()
        person.nav("Research")
        person.page.wait_for_selector("#research-frame", state="visible")
        top, lab = person.documents_kept()
        if not top:
            raise Skipped("the Research link loaded a new page: the frame is not kept")
        if not lab:
            loads += 1
            person.wait_ready(ready)
        times.append(time.perf_counter() - started)
    person.close()
    return times, f"frame reloaded in {loads} of {rounds}" if loads else "frame kept every time"


def share_topic(author_name: str) -> str:
    """A shared notebook by ``author_name`` (its first version): the topic's title."""
    import nbformat

    from community.services.sharing import shared_notebook_share
    from quantsite.accounts.models import User
    from research.services.notebooks import directory_create, notebook_save

    author = User.objects.get(username=author_name)
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Momentum"),
            nbformat.v4.new_code_cell("returns = [0.01, -0.02, 0.03]\nsum(returns)"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    directory_create(user=author, path="shared")
    notebook_save(user=author, path="shared/momentum.ipynb", notebook=nb)
    title = "Momentum, for the research benchmark"
    shared_notebook_share(
        user=author, path="shared/momentum.ipynb", title=title, description="", showcase_cell=1
    )
    return title


def clone_to_notebook(
    browser, base, hub, username: str, title: str, rounds: int
) -> tuple[list[float], str]:
    """On the topic's page, reached by soft navigation, Clone clicked to the clone's cells in
    the living frame."""
    person = Person(browser, base, hub, username)
    person.log_in()
    open_research_ready(person)
    times, loads = [], 0
    count_panels = "() => document.querySelectorAll('.jp-NotebookPanel').length"
    for _ in range(rounds):
        person.nav("Community")
        person.page.wait_for_url(f"{base}/community")
        person.page.locator("a", has_text=title).first.click()
        person.page.wait_for_selector("text=Clone into my research")
        person.mark_documents()
        panels = person.lab().evaluate(count_panels)
        ready = person.ready_count()
        started = time.perf_counter()
        person.page.click("text=Clone into my research")
        person.page.wait_for_selector("#research-frame", state="visible", timeout=LAB_TIMEOUT_MS)
        top, lab = person.documents_kept()
        if not top:
            raise Skipped("Clone loaded a new page: the frame is not kept")
        if not lab:
            loads += 1
            person.wait_ready(ready)
            panels = 0
        # The clone's panel, shown, with its cells.
        person.lab().wait_for_function(
            """panels => document.querySelectorAll('.jp-NotebookPanel').length > panels
                && document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')""",
            arg=panels,
            timeout=LAB_TIMEOUT_MS,
        )
        times.append(time.perf_counter() - started)
    person.close()
    return times, f"frame reloaded in {loads} of {rounds}" if loads else "frame kept every time"


def site_sees_server(username: str, running: bool, timeout: float = 60) -> None:
    """Until the site has heard from the hub's heartbeats that ``username``'s server runs (or
    has stopped): what the site decides a pre-start on."""
    from research.models import Assignment

    deadline = time.monotonic() + timeout
    while not Assignment.objects.filter(
        user__username=username, ended_at__isnull=True, server_running=running
    ).exists():
        assert time.monotonic() < deadline, f"the site never saw the server running={running}"
        time.sleep(0.1)


def first_research_after_sign_in(
    browser, base, hub, usernames: list[str]
) -> tuple[list[float], list[float]]:
    """For each person: a visit to /research of their own (the site pre-starts only for
    people who used research lately, and not twice in a row), their server stopped, signed out
    (no cookies, for the site or the hub); then sign-in, which has the hub start the server,
    until that server runs; then the Research link clicked to the lab ready, with the lab's
    assets cached from the first visit. Returns (Research to ready, sign-in to server
    running)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    to_ready, prestart = [], []
    for username in usernames:
        person = Person(browser, base, hub, username)
        person.log_in()
        open_research_ready(person)
        site_sees_server(username, running=True)
        person.stop_server()
        site_sees_server(username, running=False)
        person.context.clear_cookies()
        signed_in = time.perf_counter()
        person.log_in()
        try:
            person.page.wait_for_function(
                f"() => [...document.querySelectorAll('iframe')]"
                f".some(f => f.src.startsWith({hub.url + '/hub/'!r}))",
                timeout=5000,
            )
        except PlaywrightTimeout:
            raise Skipped("sign-in starts no server (no hidden frame on the hub)") from None
        deadline = time.monotonic() + 120
        while not (person.server() or {}).get("ready"):
            assert time.monotonic() < deadline, "the pre-started server did not run"
            time.sleep(0.1)
        prestart.append(time.perf_counter() - signed_in)
        ready = person.ready_count()
        started = time.perf_counter()
        person.nav("Research")
        person.wait_ready(ready)
        to_ready.append(time.perf_counter() - started)
        person.close()
    return to_ready, prestart


def cold_with_cache(browser, base, hub, username: str, rounds: int) -> list[float]:
    """The server stopped, no pre-start, the lab's assets cached: /research loaded to the lab
    ready (from the hub's page, so that no page of the site starts the server first)."""
    person = Person(browser, base, hub, username)
    person.log_in()
    open_research_ready(person)
    times = []
    for _ in range(rounds):
        person.stop_server()
        started = time.perf_counter()
        person.page.goto(f"{base}/research")
        person.wait_ready(0)  # a new document: its count starts at none
        times.append(time.perf_counter() - started)
    person.close()
    return times


def show(label: str, values: list[float], note: str = "") -> None:
    ms = sorted(v * 1000 for v in values)
    print(
        f"{label}: n={len(ms)} median={statistics.median(ms):.0f} ms "
        f"min={ms[0]:.0f} ms max={ms[-1]:.0f} ms" + (f" ({note})" if note else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15, help="OAuth round trips")
    parser.add_argument("--lab-users", type=int, default=5, help="people for cold and warm")
    parser.add_argument("--lab-rounds", type=int, default=5, help="rounds of the other scenarios")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--database", default="quantsite_bench_research")
    args = parser.parse_args()
    chosen = [s for s in args.scenarios.split(",") if s]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")

    # The site runs its tasks inline here (gunicorn() gives it no broker); so does this process.
    os.environ.pop("REDIS_URL", None)
    database_url = fresh_database(args.database)
    django_setup(database_url)
    from django.contrib.auth.hashers import make_password
    from oauth2_provider.models import Application

    from quantsite.accounts.models import User
    from research.services.hubs import hub_register

    def people(prefix: str, count: int) -> list[str]:
        names = [f"{prefix}{i}" for i in range(count)]
        for name in names:
            user = User(username=name, email=f"{name}@bench.local")
            user.set_password(PASSWORD)
            user.save()
        return names

    oauth_user, author = people("bench", 1)[0], people("author", 1)[0]
    lab_users = people("lab", args.lab_users)
    scenario_users = dict(zip(SCENARIOS[3:], people("scene", len(SCENARIOS) - 3), strict=True))
    prestart_users = people("prestart", args.lab_rounds)

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
            print(f"site under gunicorn at {base}; hub-1 at {hub.url}", flush=True)
            if "oauth" in chosen:
                app = Application.objects.get(pk=registration.hub.application_id)
                show(
                    "OAuth round trip, client secret under keyed HMAC-SHA256",
                    oauth_round_trips(base, hub, oauth_user, args.rounds),
                )
                Application.objects.filter(pk=app.pk).update(
                    client_secret=make_password(secret, hasher="pbkdf2_sha256")
                )
                show(
                    "OAuth round trip, baseline: client secret under PBKDF2 (Django's default)",
                    oauth_round_trips(base, hub, oauth_user, args.rounds),
                )
                Application.objects.filter(pk=app.pk).update(
                    client_secret=make_password(secret, hasher="hmac_sha256")
                )
            # Made before the browser runs: Django refuses queries inside Playwright's loop.
            topic = share_topic(author) if "clone" in chosen else ""
            run_browser_scenarios(
                chosen, args, base, hub, lab_users, scenario_users, prestart_users, topic
            )
        finally:
            hub.stop()


def run_browser_scenarios(
    chosen, args, base, hub, lab_users, scenario_users, prestart_users, topic
) -> None:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the scenarios' own reads of
    # the database stay plain synchronous ones (Django's documented switch for this case).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    rounds = args.lab_rounds
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        if "cold" in chosen or "warm" in chosen:
            cold, warm = lab_ready_times(browser, base, hub, lab_users)
            if "cold" in chosen:
                show("/research to JupyterLab ready in the frame, cold (server spawn)", cold)
            if "warm" in chosen:
                show("/research to JupyterLab ready in the frame, warm", warm)
        scenarios = {
            "lab": lambda user: (
                "frame navigation to the Launcher visible, warm server, cached assets",
                frame_to_launcher(browser, base, hub, user, rounds),
                "",
            ),
            "back": lambda user: (
                "back to Research from a Community page, frame alive",
                *back_to_research(browser, base, hub, user, rounds),
            ),
            "clone": lambda user: (
                "Clone on a topic page to the cloned notebook open in the frame",
                *clone_to_notebook(browser, base, hub, user, topic, rounds),
            ),
            "prestart": lambda _user: prestart_figures(browser, base, hub, prestart_users),
            "cold-cached": lambda user: (
                "/research to the lab ready, server stopped, no pre-start, assets cached",
                cold_with_cache(browser, base, hub, user, rounds),
                "",
            ),
        }
        for name, scenario in scenarios.items():
            if name not in chosen:
                continue
            try:
                label, values, note = scenario(scenario_users[name])
            except Skipped as reason:
                print(f"{name}: skipped, {reason}", flush=True)
                continue
            show(label, values, note)
        browser.close()


def prestart_figures(browser, base, hub, usernames):
    to_ready, prestart = first_research_after_sign_in(browser, base, hub, usernames)
    ms = statistics.median(prestart) * 1000
    return (
        "first /research after sign-in, server pre-started: Research to the lab ready",
        to_ready,
        f"sign-in to the server running: median {ms:.0f} ms",
    )


if __name__ == "__main__":
    main()
