"""What a person sees, in headless Chromium (Debian's): JupyterLab inside /research, and a
hub that no foreign page can frame. Screenshots go to var/test-artifacts/ (git-ignored)."""

import http.server
import re
import threading

import pytest
from playwright.sync_api import expect

from community.models import SharedNotebookVersion, Topic
from community.selectors import topic_tag_names
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
    dialog = lab.locator(".jp-Dialog")
    dialog.locator(".quanthub-share-title").fill("Alpha strategy")
    dialog.locator(".quanthub-share-description").fill("Trend following, **daily**")
    dialog.locator(".quanthub-share-tags").fill("momentum, daily")
    dialog.locator(".jp-mod-accept").click()
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


def _open_notebook_and_share(page, site_url: str, path: str):
    """Open ``path`` in /research, click the notebook's Share; the Share dialog's locator."""
    page.goto(f"{site_url}/research?path={path}")
    lab = page.frame_locator("#research-frame")
    lab.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
    lab.locator(".jp-Spinner").first.wait_for(state="hidden", timeout=120_000)
    lab.locator(".quanthub-share-button").first.click()
    dialog = lab.locator(".jp-Dialog")
    dialog.locator(".quanthub-share-title").wait_for(timeout=30_000)
    return dialog


def test_reshare_keeps_description_and_tags(browser, start_hub, person, site_url, make_user_files):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")
    make_user_files("ada", {"research/beta.ipynb": "notebook"})
    ada = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(ada, site_url, "ada")
    topic_address = re.compile(rf"{re.escape(site_url)}/community/topics/\d+$")

    dialog = _open_notebook_and_share(ada, site_url, "research/beta.ipynb")
    # A first share starts from the file's name; Share without a title keeps the dialog open.
    expect(dialog.locator(".quanthub-share-title")).to_have_value("beta.ipynb")
    dialog.locator(".quanthub-share-title").fill("")
    dialog.locator(".jp-mod-accept").click()
    expect(dialog.locator(".quanthub-share-error")).to_be_visible()
    expect(dialog.locator(".quanthub-share-error")).to_have_text("A title is required.")
    dialog.locator(".quanthub-share-title").fill("Beta strategy")
    dialog.locator(".quanthub-share-description").fill("Mean **reversion**\n\nWeekly.")
    dialog.locator(".quanthub-share-preview-toggle").click()
    expect(dialog.locator(".quanthub-share-preview strong")).to_have_text("reversion")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ada.screenshot(path=str(ARTIFACTS / "share-dialog-preview.png"))
    dialog.locator(".quanthub-share-tags").fill("Reversion, weekly")
    dialog.locator(".jp-mod-accept").click()
    ada.wait_for_url(topic_address, timeout=60_000)
    topic = Topic.objects.get(author__username="ada")
    assert topic.body == "Mean **reversion**\n\nWeekly."
    assert topic_tag_names(topic=topic) == ["reversion", "weekly"]

    dialog = _open_notebook_and_share(ada, site_url, "research/beta.ipynb")
    expect(dialog.locator(".quanthub-share-title")).to_have_value("Beta strategy")
    expect(dialog.locator(".quanthub-share-description")).to_have_value(
        "Mean **reversion**\n\nWeekly."
    )
    expect(dialog.locator(".quanthub-share-tags")).to_have_value("reversion, weekly")
    ada.screenshot(path=str(ARTIFACTS / "share-dialog-prefilled.png"))
    dialog.locator(".jp-mod-accept").click()
    ada.wait_for_url(topic_address, timeout=60_000)
    # The lab also says so, with a link to the post (a toast for a while, seen back in
    # /research, then in the lab's notifications).
    assert ada.url.endswith(f"/community/topics/{topic.pk}")
    ada.click("nav.nav >> text=Research")
    lab = ada.frame_locator("#research-frame")
    toast = lab.locator("#react-toastify-container .jp-Notification-Toast-success")
    expect(toast).to_contain_text("Shared to the community", timeout=8_000)
    expect(toast.locator(".jp-toast-button")).to_have_text("Open post")
    ada.screenshot(path=str(ARTIFACTS / "share-notification.png"))
    lab.locator(".jp-Notification-Status").click()
    shared = lab.locator(".jp-Notification-Center").get_by_text("Shared to the community")
    expect(shared).to_be_visible(timeout=10_000)
    expect(lab.locator(".jp-Notification-Center .jp-toast-button")).to_have_text("Open post")

    assert SharedNotebookVersion.objects.filter(shared__topic=topic).count() == 2
    topic.refresh_from_db()
    assert topic.title == "Beta strategy"
    assert topic.body == "Mean **reversion**\n\nWeekly."
    assert "<strong>reversion</strong>" in topic.body_html
    assert topic_tag_names(topic=topic) == ["reversion", "weekly"]


def test_on_a_phone_research_opens_one_document_with_the_file_browser_closed(
    browser, start_hub, person, site_url, make_user_files
):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")
    make_user_files("ada", {"phone.ipynb": "notebook"})
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    log_in(page, site_url, "ada")

    page.goto(f"{site_url}/research?path=phone.ipynb")
    frame = page.frame_locator("#research-frame")
    shell = frame.locator(".jp-LabShell")
    shell.wait_for(timeout=90_000)
    frame.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)

    expect(shell).to_have_attribute("data-shell-mode", "single-document", timeout=30_000)
    expect(frame.locator("#jp-left-stack")).to_be_hidden()
    expect(frame.locator(".jp-NotebookPanel").first).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0  # the site's page around the lab never scrolls sideways
    page.screenshot(path=str(ARTIFACTS / "phone-research.png"))
    context.close()
