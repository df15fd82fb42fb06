"""In headless Chromium: script carried by a shared notebook or a post never runs in the
site's origin, whether a page is loaded whole or reached by the site's soft navigation. Every
payload calls ``__hit(name)``, a hook the browser defines in every frame before any page
script; after each page, every frame must have recorded nothing.

The same payloads served raw from a plain loopback page do run (the control), so their
silence on our pages is the sanitizer and the sandbox at work, not a broken payload.
"""

import http.server
import threading

import nbformat
import pytest

from community.models import SharedNotebookVersion, Topic
from community.services.forum import reply_create
from community.services.sharing import shared_notebook_share
from community.storage import storage
from quantsite.tests.browser import ARTIFACTS, log_in
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOOK = """
window.__hits = [];
window.__hit = (name) => window.__hits.push(String(name));
window.alert = (message) => window.__hit('alert:' + message);
"""

# What users can put in Markdown (posts, replies, Markdown cells) and in HTML outputs.
MARKUP = [
    "<script>__hit('script')</script>",
    "<img src=x onerror=\"__hit('onerror')\">",
    "[link](javascript:__hit('javascript-link'))",
    '<a href="javascript:__hit(\'javascript-href\')" id="js-link">go</a>',
    "<svg><script>__hit('svg-script')</script></svg>",
    "<svg onload=\"__hit('svg-onload')\"></svg>",
    "<iframe srcdoc=\"<script>parent.__hit('srcdoc')</script>\"></iframe>",
    "<details open ontoggle=\"__hit('ontoggle')\"><summary>x</summary></details>",
    "<object data=\"data:text/html,<script>parent.__hit('object')</script>\"></object>",
    "<form><button formaction=\"javascript:__hit('formaction')\">b</button></form>",
    "<style>@import 'javascript:__hit(\"style\")';</style>",
    "<base href=\"javascript:__hit('base')//\">",
    "<a href=\"data:text/html,<script>__hit('data-link')</script>\">data</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"__hit('mxss')\">",
    # MathML and SVG, now that formulas are MathML and SVG outputs are images of SVG.
    '<math><semantics><mi>x</mi><annotation-xml encoding="text/html">'
    "<img src=x onerror=\"__hit('annotation-xml')\"></annotation-xml></semantics></math>",
    '<math><maction actiontype="toggle"><mi onclick="__hit(\'maction\')">a</mi></maction></math>',
    "<math><mi><svg><foreignObject><img src=x onerror=\"__hit('foreign')\"></foreignObject>"
    "</svg></mi></math>",
    '<svg><animate attributeName="onload" to="__hit(\'animate\')"/></svg>',
    "$x$ <math><mtext><img src=x onerror=\"__hit('mtext')\"></mtext></math> $$\\frac{1}{2}$$",
    "![svg](data:image/svg+xml;base64,"
    "PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIG9ubG9hZD0nX19oaXQoMSknLz4=)",
    # The site's soft navigation (htmx) would act on these if they survived.
    '<div hx-get="/community" hx-trigger="load" hx-on::after-request="__hit(\'hx-on\')">h</div>',
    '<a href="/community" data-hx-on:click="__hit(\'data-hx-on\')" id="hx-link">hx</a>',
    '<img src="/static/css/site.css" hx-on:htmx:load="__hit(\'hx-load\')">',
]
SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' onload=\"__hit('svg-output')\">"
    "<script>__hit('svg-output-script')</script></svg>"
)


def hostile_notebook():
    markdown = nbformat.v4.new_markdown_cell("# Payloads\n\n" + "\n\n".join(MARKUP))
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output("display_data", {"text/html": "".join(MARKUP)}),
        nbformat.v4.new_output("display_data", {"image/svg+xml": SVG}),
        nbformat.v4.new_output("display_data", {"application/javascript": "__hit('js-output')"}),
        nbformat.v4.new_output("display_data", {"text/markdown": "\n\n".join(MARKUP)}),
    ]
    return nbformat.v4.new_notebook(cells=[markdown, code])


@pytest.fixture
def hostile_topic(media, make_user):
    ada = make_user(username="ada")
    make_user(username="bob")
    notebook_save(user=ada, path="x.ipynb", notebook=hostile_notebook())
    version = shared_notebook_share(
        user=ada,
        path="x.ipynb",
        title="<script>__hit('title')</script>Payloads",
        description="\n\n".join(MARKUP),
        showcase_cell=1,
        tags=["xss"],
    )
    topic = Topic.objects.get(shared_notebook=version.shared)
    reply_create(topic=topic, author=ada, body="\n\n".join(MARKUP))
    version.refresh_from_db()
    assert version.render_state == "ready"  # rendered inline (community/tests/conftest.py)
    return topic, version


def hits(page) -> dict[str, list[str]]:
    """What each frame of the page recorded, by frame URL (frames without the hook: none)."""
    found = {}
    for frame in page.frames:
        recorded = frame.evaluate("() => window.__hits || []")
        if recorded:
            found[frame.url] = recorded
    return found


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(HOOK)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def test_the_payloads_do_run_when_served_raw(page):
    """The control: the same markup, unsanitized and without our headers, runs."""
    body = "".join(MARKUP).encode() + SVG.encode()

    class Raw(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><body>" + body + b"</body>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Raw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.click("#js-link")
        page.wait_for_timeout(500)
        recorded = page.evaluate("() => window.__hits")
    finally:
        server.shutdown()

    for name in ["script", "onerror", "javascript-href", "svg-script", "svg-onload", "ontoggle"]:
        assert name in recorded


def test_no_payload_runs_on_any_forum_page(page, hostile_topic, live_server):
    topic, version = hostile_topic
    site = live_server.url
    log_in(page, site, "bob")
    pages = {
        "forum": f"{site}/community",
        "tag": f"{site}/community?tag=xss",
        "profile": f"{site}/community/users/ada",
        "topic": f"{site}/community/topics/{topic.pk}",
        "render": f"{site}/community/renders/{version.pk}.html",
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("load")
        if name == "topic":
            page.frame_locator("iframe.notebook-frame").locator("body").wait_for()
            # Links that were javascript: lead nowhere now: there is nothing to click.
            assert page.locator("a[href^='javascript:' i]").count() == 0
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / f"xss-{name}.png"), full_page=True)
        # The hook is there in the page (so a payload that ran would have been recorded)...
        assert page.evaluate("() => typeof window.__hit") == "function", name
        # ...and no frame recorded anything.
        assert hits(page) == {}, name
    assert page.dialogs == []
    # What bob saw was the content, made harmless: the title as text, the notebook rendered.
    page.goto(pages["topic"])
    assert "<script>__hit('title')</script>Payloads" in page.locator("h1").inner_text()
    frame = page.frame_locator("iframe.notebook-frame")
    assert "Payloads" in frame.locator("h1").first.inner_text()


def test_script_that_got_past_the_sanitizer_still_cannot_run(page, hostile_topic, live_server):
    """Defence in depth: stored HTML with script in it (as if the sanitizer had a hole) is
    stopped by the sandbox (rendered notebook) and by the forum's CSP (previews)."""
    topic, version = hostile_topic
    with storage().open(version.html_key, "wb") as handle:
        handle.write(b"<h1>raw</h1><script>__hit('render-bypass')</script>")
    SharedNotebookVersion.objects.filter(pk=version.pk).update(
        preview_html="<p>raw</p><script>__hit('preview-bypass')</script>"
        "<img src=x onerror=\"__hit('preview-onerror')\">"
    )
    site = live_server.url

    for url in [
        f"{site}/community",
        f"{site}/community/topics/{topic.pk}",
        f"{site}/community/renders/{version.pk}.html",
    ]:
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        assert page.evaluate("() => typeof window.__hit") == "function", url
        assert hits(page) == {}, url
    page.goto(f"{site}/community/topics/{topic.pk}")
    assert page.frame_locator("iframe.notebook-frame").locator("h1").inner_text() == "raw"


def test_no_payload_runs_on_pages_reached_by_soft_navigation(page, hostile_topic, live_server):
    """The forum reached as people move through the site: htmx swaps #page into the document
    first loaded (its policy and its hook stay), so swapped-in markup must stay inert too,
    including script stored past the sanitizer."""
    topic, version = hostile_topic
    SharedNotebookVersion.objects.filter(pk=version.pk).update(
        preview_html="<p>raw</p><script>__hit('preview-bypass')</script>"
        "<img src=x onerror=\"__hit('preview-onerror')\">"
    )
    site = live_server.url
    log_in(page, site, "bob")
    page.evaluate("() => { window.__document = 'the first one'; }")

    page.click("nav.nav >> text=Community")
    page.wait_for_url(f"{site}/community")
    page.locator(f"a[href='/community/topics/{topic.pk}']").first.click()
    page.wait_for_url(f"{site}/community/topics/{topic.pk}")
    page.frame_locator("iframe.notebook-frame").locator("body").wait_for()
    page.locator("article a[href='/community/users/ada']").first.click()
    page.wait_for_url(f"{site}/community/users/ada")
    page.go_back()
    page.wait_for_url(f"{site}/community/topics/{topic.pk}")
    page.locator("h1").first.wait_for()
    page.wait_for_timeout(500)

    # Every move was a swap within one document...
    assert page.evaluate("() => window.__document") == "the first one"
    assert page.evaluate("() => typeof window.__hit") == "function"
    # ...and nothing ran in any frame.
    assert hits(page) == {}
    assert page.dialogs == []
    assert "Payloads" in page.locator("h1").first.inner_text()
