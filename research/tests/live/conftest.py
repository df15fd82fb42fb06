"""Real JupyterHub processes logging in through, and heartbeating to, the site under test.

The site is pytest-django's live server on 127.0.0.1 (same host as the hubs, so cookies and
frames are same-site). Discovery timings are short so that death is seen in seconds.
"""

import re
import time

import pytest
import requests

from hubs.local import PROXY, LocalHub, free_port_block
from quantsite.accounts.tests.factories import PASSWORD, UserFactory
from research.services.hubs import hub_register

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def discovery_timings(settings):
    settings.DISCOVERY_HEARTBEAT_INTERVAL = 0.5
    settings.DISCOVERY_STALE_AFTER = 2.0
    settings.DISCOVERY_DEAD_AFTER = 4.0


@pytest.fixture
def site_url(live_server, discovery_timings) -> str:
    assert live_server.url.startswith("http://127.0.0.1:"), "run pytest with --liveserver=127.0.0.1"
    return live_server.url


@pytest.fixture
def start_hub(site_url, tmp_path):
    """Start a registered hub: ``start_hub("hub-1")``; every hub is stopped after the test."""
    if not PROXY.exists():
        pytest.skip("configurable-http-proxy is not installed (npm ci)")
    started: list[LocalHub] = []

    def start(name: str, *, capacity: int = 10, site: str | None = None, **env) -> LocalHub:
        hub = LocalHub(name, free_port_block(), tmp_path / name)
        registration = hub_register(name=name, url=hub.url, capacity=capacity)
        hub.log_path = tmp_path / f"{name}.log"

        def run() -> LocalHub:
            # Appended to by a restart; the file is closed with the process.
            log = open(hub.log_path, "ab")  # noqa: SIM115
            return hub.start(
                site_url=site or site_url,
                client_id=registration.hub.application.client_id,
                client_secret=registration.client_secret,
                extra_env={"QUANTHUB_CULL_IDLE_TIMEOUT": "0", **env},
                log=log,
            )

        hub.restart = run  # the same hub again (after ``hub.kill()``, a crash)
        started.append(run())
        return hub

    yield start
    for hub in started:
        # Everything the hub started goes, even after a SIGKILL left its proxy and servers.
        hub.cleanup(timeout=20)
        if hub.process.returncode not in (0, None, -15, -9):
            print(hub.log_path.read_text()[-3000:])


def wait_until(condition, timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def hub_registered(name: str) -> None:
    from research.models import Hub

    wait_until(
        lambda: Hub.objects.filter(
            name=name, started_at__isnull=False, stopped_at__isnull=True
        ).exists(),
        what=f"{name} to start with discovery",
    )


class Person:
    """Someone with a browser-like session (one cookie jar for site and hubs, as on one host)."""

    def __init__(self, site_url: str, username: str):
        self.site_url = site_url
        self.username = username
        UserFactory(username=username)
        self.http = requests.Session()
        self.http.get(f"{site_url}/accounts/login/", timeout=10)
        response = self.http.post(
            f"{site_url}/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            headers={"Referer": f"{site_url}/accounts/login/"},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302

    def research(self) -> requests.Response:
        return self.http.get(f"{self.site_url}/research", timeout=30)

    def frame_url(self) -> str:
        page = self.research()
        assert page.status_code == 200, page.text[:500]
        return re.search(r'<iframe[^>]*src="([^"]+)"', page.text)[1]

    def open_lab(self) -> str:
        """Follow the frame's URL as the browser would: login through the site, spawn; wait
        until the server answers. Returns the hub's base URL."""
        src = self.frame_url()
        hub_url = src.split("/hub/")[0]
        response = self.http.get(src, timeout=90)
        assert response.status_code == 200, response.text[:500]
        # While the server spawns, the hub answers with its spawn-pending page; once it runs,
        # opening the lab passes the server's own OAuth handshake with the hub.
        wait_until(
            lambda: (
                "/user/"
                in (page := self.http.get(f"{hub_url}/user/{self.username}/lab", timeout=30)).url
                and page.status_code == 200
                and "spawn-pending" not in page.url
            ),
            timeout=90,
            interval=0.5,
            what=f"{self.username}'s server",
        )
        return hub_url


@pytest.fixture
def person(site_url):
    return lambda username: Person(site_url, username)


@pytest.fixture
def make_user_files():
    """Put files in a user's store through the site's service: {path: "notebook" | text}."""
    import nbformat

    from quantsite.accounts.models import User
    from research.services.notebooks import directory_create, file_save, notebook_save

    def make(username: str, files: dict[str, str]) -> None:
        user = User.objects.get(username=username)
        for path, kind in files.items():
            parts = path.split("/")
            for depth in range(1, len(parts)):
                directory_create(user=user, path="/".join(parts[:depth]))
            if kind == "notebook":
                kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
                nb = nbformat.v4.new_notebook(
                    cells=[
                        nbformat.v4.new_code_cell("print('hello')"),
                        nbformat.v4.new_code_cell("print('world')"),
                    ],
                    metadata={"origin": "the site", "kernelspec": kernel},
                )
                notebook_save(user=user, path=path, notebook=nb)
            else:
                file_save(user=user, path=path, data=kind.encode())

    return make
