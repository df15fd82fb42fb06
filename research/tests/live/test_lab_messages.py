"""The messages between the site page and the JupyterLab it frames (the quanthub extension), in
headless Chromium against a real hub: the lab answers only the site's own page, at the site's
origin, and speaks only to it.

Messages are posted from the pages themselves (``window.postMessage``), as the site's script
does; what the lab sends is recorded by the top page as it arrives."""

import pytest

from quantsite.tests.browser import log_in
from research.tests.live.conftest import hub_registered

pytestmark = [pytest.mark.live, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 120_000

# In the top page: every message it receives, with its origin, in order.
RECORD = """
if (window === window.top) {
  window.__received = [];
  window.addEventListener('message', event => {
    window.__received.push({origin: event.origin, data: event.data});
  });
}
"""


def received(page, type_: str) -> list:
    """The data of the messages of ``type_`` the top page has received, in order."""
    return page.evaluate(
        "type => window.__received.filter(m => m.data && m.data.type === type).map(m => m.data)",
        type_,
    )


def wait_received(page, type_: str, count: int = 1) -> list:
    page.wait_for_function(
        """([type, count]) =>
            window.__received.filter(m => m.data && m.data.type === type).length >= count""",
        arg=[type_, count],
        timeout=TIMEOUT_MS,
    )
    return received(page, type_)


def post_to_lab(page, hub_url: str, message: dict) -> None:
    """Post ``message`` to the research frame from the top page, to the hub's origin."""
    page.evaluate(
        """([message, origin]) => document.getElementById('research-frame')
            .contentWindow.postMessage(message, origin)""",
        [message, hub_url],
    )


def lab_frame(page, hub_url: str, username: str):
    return next(f for f in page.frames if f.url.startswith(f"{hub_url}/user/{username}/lab"))


def open_tabs(frame) -> list[str]:
    """The labels of the main area's tabs in the lab."""
    return frame.eval_on_selector_all(
        "#jp-main-dock-panel .lm-TabBar-tab .lm-TabBar-tabLabel",
        "tabs => tabs.map(t => t.textContent)",
    )


@pytest.fixture
def lab_page(browser, start_hub, person, site_url, make_user_files):
    """ada's /research with the lab ready (its quanthub:ready received): (page, hub)."""
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")
    make_user_files("ada", {"research/alpha.ipynb": "notebook", "research/beta.ipynb": "notebook"})
    # One context for the test's pages: they share ada's cookies, as tabs do.
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.add_init_script(RECORD)
    log_in(page, site_url, "ada")
    page.goto(f"{site_url}/research")
    wait_received(page, "quanthub:ready")
    return page, hub


def test_the_site_page_opens_a_file_in_the_lab(lab_page):
    page, hub = lab_page

    ready = page.evaluate("window.__received.find(m => m.data.type === 'quanthub:ready')")
    post_to_lab(page, hub.url, {"type": "quanthub:open", "id": "1", "path": "research/alpha.ipynb"})
    opened = wait_received(page, "quanthub:opened")

    # The lab spoke to the site's page from the hub's origin.
    assert ready == {"origin": hub.url, "data": {"type": "quanthub:ready"}}
    assert opened == [
        {"type": "quanthub:opened", "id": "1", "path": "research/alpha.ipynb", "ok": True}
    ]
    lab = lab_frame(page, hub.url, "ada")
    current = lab.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    assert current.inner_text() == "alpha.ipynb"
    cells = lab.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    cells.first.wait_for(timeout=TIMEOUT_MS)
    assert cells.count() == 2


def test_a_missing_file_is_answered_with_its_error(lab_page):
    page, hub = lab_page

    post_to_lab(page, hub.url, {"type": "quanthub:open", "id": "7", "path": "research/nope.ipynb"})
    opened = wait_received(page, "quanthub:opened")

    assert opened == [
        {
            "type": "quanthub:opened",
            "id": "7",
            "path": "research/nope.ipynb",
            "ok": False,
            "error": "No such file: research/nope.ipynb",
        }
    ]


def test_a_ping_is_answered_with_ready(lab_page):
    page, hub = lab_page
    before = len(received(page, "quanthub:ready"))

    post_to_lab(page, hub.url, {"type": "quanthub:ping"})

    assert len(wait_received(page, "quanthub:ready", before + 1)) == before + 1


def test_only_the_framing_page_is_heard(lab_page):
    page, hub = lab_page
    # Two other windows in the site's page post to the lab: a frame of the site's own
    # origin (right origin, wrong window) and a sandboxed one (an opaque origin).
    page.evaluate(
        """() => {
          for (const [name, sandbox] of [['same-origin', null], ['opaque', 'allow-scripts']]) {
            const frame = document.createElement('iframe');
            frame.name = name;
            if (sandbox) frame.setAttribute('sandbox', sandbox);
            document.body.appendChild(frame);
          }
        }"""
    )
    page.wait_for_function("() => window.frames['opaque'] && window.frames['same-origin']")
    intruders = {f.name: f for f in page.frames if f.name in ("same-origin", "opaque")}
    intruders["same-origin"].evaluate(
        """origin => parent.document.getElementById('research-frame').contentWindow
            .postMessage({type: 'quanthub:open', id: 'a', path: 'research/beta.ipynb'}, origin)""",
        hub.url,
    )
    intruders["opaque"].evaluate(
        """() => {
          const open = {type: 'quanthub:open', id: 'b', path: 'research/beta.ipynb'};
          for (let i = 0; i < parent.frames.length; i++) {
            parent.frames[i].postMessage(open, '*');
            parent.frames[i].postMessage({type: 'quanthub:ping'}, '*');
          }
        }"""
    )
    pings_answered = len(received(page, "quanthub:ready"))
    # Then the page itself: messages are taken in order, so by this answer the others
    # would have been acted on.
    post_to_lab(page, hub.url, {"type": "quanthub:open", "id": "c", "path": "research/alpha.ipynb"})
    wait_received(page, "quanthub:opened")
    page.wait_for_timeout(2000)

    assert [m["id"] for m in received(page, "quanthub:opened")] == ["c"]
    assert len(received(page, "quanthub:ready")) == pings_answered
    assert "beta.ipynb" not in open_tabs(lab_frame(page, hub.url, "ada"))


def test_a_page_of_another_origin_is_neither_heard_nor_told(lab_page):
    page, hub = lab_page
    # The hub's own pages may frame the lab (its frame-ancestors allow 'self'): a parent at
    # the hub's origin, which is not the site's.
    other = page.context.new_page()
    other.add_init_script(RECORD)
    other.goto(f"{hub.url}/hub/home")
    other.evaluate(
        """url => {
          const frame = document.createElement('iframe');
          frame.id = 'research-frame';
          frame.src = url;
          frame.style.width = '1200px';
          frame.style.height = '700px';
          document.body.appendChild(frame);
        }""",
        f"{hub.url}/user/ada/lab",
    )
    lab = other.frame_locator("#research-frame")
    lab.locator(".jp-Launcher").first.wait_for(timeout=TIMEOUT_MS)  # restored: it would be ready
    post_to_lab(other, hub.url, {"type": "quanthub:open", "id": "x", "path": "research/beta.ipynb"})
    post_to_lab(other, hub.url, {"type": "quanthub:ping"})
    other.wait_for_timeout(3000)

    assert other.evaluate("window.__received") == []
    assert "beta.ipynb" not in open_tabs(lab_frame(other, hub.url, "ada"))
