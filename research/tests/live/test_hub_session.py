"""Real hubs and a person's hub session: the wait for a server in the site's look, logging out
of the hub into the site's logout, and the site's logout ending the hub login (and the
person's sessions on their server) while the server keeps running."""

import re
from pathlib import Path

import pytest

from research.models import Assignment
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SITE_CSS = Path(__file__).resolve().parents[3] / "static" / "css" / "site.css"


def site_look() -> dict[str, str]:
    """The site's accent colour and font stack, from its own stylesheet."""
    css = SITE_CSS.read_text()
    return {
        "accent": re.search(r"--accent:\s*(#[0-9a-fA-F]+)", css)[1],
        "font": re.search(r"font-family:\s*([^;]+);", css)[1],
    }


def test_the_wait_for_a_server_looks_like_the_site(start_hub, person):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")

    # The frame's first page, after the login through the site: the hub's wait, at once.
    wait = ada.http.get(ada.frame_url(), timeout=30)

    assert wait.status_code == 200, wait.text[:500]
    assert wait.url.startswith(f"{hub.url}/hub/spawn-pending/ada")
    assert "<nav" not in wait.text  # the site's bar, above the frame, is the only one
    assert "Logout" not in wait.text
    look = site_look()
    assert f"--qs-accent: {look['accent']}" in wait.text
    assert f"--qs-font: {look['font']}" in wait.text
    assert "Starting your research server" in wait.text
    assert ada.open_lab() == hub.url  # and the wait ends in JupyterLab


def test_logging_out_of_the_hub_leads_to_the_sites_logout(start_hub, person, site_url):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    hub_url = ada.open_lab()

    logout = ada.http.get(f"{hub_url}/hub/logout", allow_redirects=False, timeout=10)

    assert logout.status_code == 302
    assert logout.headers["Location"] == f"{site_url}/accounts/logout/hub/"
    # The hub's own login is over: its pages send her back through the site's login.
    assert ada.http.get(f"{hub_url}/hub/home", allow_redirects=False, timeout=10).status_code == 302


def test_logging_out_of_the_site_ends_the_hub_login_and_keeps_the_server(
    start_hub, person, site_url
):
    # Servers ask the hub about a browser's login every second here (60 s by default).
    hub = start_hub("hub-1", QUANTHUB_SERVER_LOGIN_CHECK_INTERVAL="1")
    hub.wait_ready()
    hub_registered("hub-1")
    ada = person("ada")
    hub_url = ada.open_lab()
    assert ada.http.get(f"{hub_url}/user/ada/api/status", timeout=10).status_code == 200
    wait_until(
        lambda: Assignment.objects.filter(user__username="ada", server_running=True).exists(),
        what="ada's server in a heartbeat",
    )

    ada.http.post(
        f"{site_url}/accounts/logout/",
        data={"csrfmiddlewaretoken": ada.http.cookies["csrftoken"]},
        headers={"Referer": f"{site_url}/"},
        timeout=10,
    )

    # Within a heartbeat or two the hub sends her to log in again, on the site.
    wait_until(
        lambda: "/accounts/login" in ada.http.get(f"{hub_url}/hub/home", timeout=10).url,
        timeout=10,
        what="the hub to end ada's login",
    )
    # Her session on her server ends too: its API refuses the old cookie, and the lab sends
    # her through the hub's login to the site's.
    wait_until(
        lambda: ada.http.get(f"{hub_url}/user/ada/api/status", timeout=10).status_code == 403,
        timeout=10,
        what="ada's server to refuse her ended session",
    )
    assert "/accounts/login" in ada.http.get(f"{hub_url}/user/ada/lab", timeout=10).url
    # The server itself keeps running (a logout is not a stop).
    assert "stopped ada's server" not in hub.log_path.read_text()
    assert Assignment.objects.filter(user__username="ada", server_running=True).exists()
