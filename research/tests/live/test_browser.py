"""What a person sees, in headless Chromium (Debian's): JupyterLab inside /research, and a
hub that no foreign page can frame. Screenshots go to var/test-artifacts/ (git-ignored)."""

import http.server
import re
import threading

import pytest

from community.models import SharedNotebookVersion
from quantsite.tests.browser import ARTIFACTS, log_in
from research.tests.live.conftest import hub_registered

pytestmark = [pytest.mark.live, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_research_shows_jupyterlab_inside_the_frame(browser, start_hub, person, site_url):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")  # the account
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, site_url, "ada")

    page.goto(f"{site_url}/research")
    frame = page.frame_locator("#research-frame")
    frame.locator(".jp-LabShell").wait_for(timeout=90_000)
    frame.locator(".jp-Launcher").first.wait_for(timeout=60_000)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "research-jupyterlab.png"))
    assert page.locator(".research-status").inner_text().startswith("Research server hub-1")
    lab_frame = next(f for f in page.frames if "/user/ada/lab" in f.url)
    assert lab_frame.url.startswith(f"{hub.url}/user/ada/lab")
    # No news pop-up inside the embedded lab.
    assert (
        frame.locator("text=Would you like to get notified about official Jupyter news?").count()
        == 0
    )


def test_a_foreign_page_cannot_frame_the_hub(browser, start_hub):
    hub = start_hub("hub-1")
    hub.wait_ready()
    html = f'<iframe id="f" src="{hub.url}/hub/login" width="600" height="400"></iframe>'.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        blocked = []
        page.on("console", lambda message: blocked.append(message.text))
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_timeout(2000)
        frame = page.frames[1]
        content = (
            frame.evaluate("() => document.body ? document.body.innerText : ''")
            if (frame.url.startswith(hub.url))
            else ""
        )
    finally:
        server.shutdown()

    # The browser refused to render the hub in a foreign frame (CSP frame-ancestors).
    assert "Sign in" not in content
    assert "Quantsite" not in content
    assert any("frame-ancestors" in text for text in blocked)


def test_share_from_jupyterlab_then_another_user_clones_it(
    browser, start_hub, person, site_url, make_user_files
):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")
    person("bob")
    make_user_files("ada", {"research/alpha.ipynb": "notebook"})

    ada = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(ada, site_url, "ada")
    ada.goto(f"{site_url}/research?path=research/alpha.ipynb")
    lab = ada.frame_locator("#research-frame")
    second_cell = lab.locator(".jp-Notebook .jp-Cell").nth(1)
    second_cell.wait_for(timeout=120_000)
    lab.locator(".jp-Spinner").first.wait_for(state="hidden", timeout=120_000)
    assert lab.locator(".quanthub-share-button").first.is_visible()  # the notebook's Share
    # The cell toolbar shows on the active cell: select the second cell, share from its button.
    second_cell.click()
    share_cell = second_cell.locator('.jp-cell-toolbar [data-command="quanthub:share-cell"]')
    share_cell.wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ada.screenshot(path=str(ARTIFACTS / "share-cell-button.png"))
    share_cell.click()
    lab.locator(".jp-Dialog input").fill("Alpha strategy")
    lab.locator(".jp-Dialog .jp-mod-accept").click()
    lab.locator(".jp-Dialog input").fill("Trend following, **daily**")
    lab.locator(".jp-Dialog .jp-mod-accept").click()
    lab.locator(".jp-Dialog input").fill("momentum, daily")
    lab.locator(".jp-Dialog .jp-mod-accept").click()
    ada.wait_for_url(re.compile(rf"{re.escape(site_url)}/community/topics/\d+$"), timeout=60_000)
    topic_url = ada.url
    ada.screenshot(path=str(ARTIFACTS / "shared-topic.png"))
    version = SharedNotebookVersion.objects.get(shared__author__username="ada")
    assert version.showcase_cell == 1

    bob = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(bob, site_url, "bob")
    bob.goto(topic_url)
    assert "Alpha strategy" in bob.locator("h1").inner_text()
    bob.click("text=Clone into my research")
    bob.wait_for_url(f"{site_url}/research?path=cloned%2Falpha.ipynb", timeout=60_000)
    bob.frame_locator("#research-frame").locator(".jp-Notebook .jp-Cell").first.wait_for(
        timeout=120_000
    )
    bob.screenshot(path=str(ARTIFACTS / "cloned-in-research.png"))
    lab_frame = next(f for f in bob.frames if "/user/bob/lab" in f.url)
    assert "cloned/alpha.ipynb" in lab_frame.url
