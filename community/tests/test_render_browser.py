"""In headless Chromium, at a laptop's and a phone's size: a shared notebook reads as GitHub's
and nbviewer's do. Its formulas are MathML drawn by the browser (no script), its code is
coloured in the light and the dark scheme, its SVG chart is an image, its long output scrolls
in its box, and the topic page's frame is as tall as the notebook. Screenshots go to
``var/test-artifacts/`` for a person to look at."""

import nbformat
import pytest

from community.models import SharedNotebookVersion, Topic
from community.services.sharing import shared_notebook_share
from community.tests.notebooks import reading_notebook
from quantsite.tests.browser import ARTIFACTS
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def reading_topic(media, make_user):
    ada = make_user(username="ada")
    notebook_save(user=ada, path="returns.ipynb", notebook=reading_notebook())
    version = shared_notebook_share(
        user=ada, path="returns.ipynb", title="Returns and risk", description="", showcase_cell=1
    )
    version.refresh_from_db()
    assert version.render_state == "ready"  # rendered inline (community/tests/conftest.py)
    return Topic.objects.get(shared_notebook=version.shared), version


def frame_of(page):
    return page.frame_locator("iframe.notebook-frame")


def test_a_formula_notebook_renders_math_highlighting_and_a_chart(
    browser, reading_topic, live_server
):
    topic, _version = reading_topic
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/community/topics/{topic.pk}")
    frame = frame_of(page)
    frame.locator("math").first.wait_for()

    # Math: MathML the browser lays out, one element per formula, fractions and matrices.
    assert frame.locator("math").count() >= 9
    assert frame.locator("math[display=block]").count() == 2
    assert frame.locator("mfrac").count() >= 3
    assert frame.locator("mtable").count() >= 2  # the matrix and the aligned equations
    fraction = frame.locator("mfrac").first.bounding_box()
    assert fraction["height"] > 20  # drawn as a fraction (two rows), not as a line of text
    assert "\\frac" not in frame.locator("body").inner_text()
    # Code: Pygments' classes, coloured by the site's stylesheet.
    keyword = frame.locator(".input_area .hl-kn").first
    assert keyword.inner_text() == "import"
    assert keyword.evaluate("e => getComputedStyle(e).color") == "rgb(0, 128, 0)"
    # Prompts in the margin, compact; the trailing empty cells are left out.
    assert frame.locator(".code_cell .input_prompt").first.inner_text() == "[3]"
    assert frame.locator(".cell").count() == 5
    # The SVG chart is an image of a data: URI, and loads (it has its size).
    chart = frame.locator(".output_svg img")
    assert chart.get_attribute("src").startswith("data:image/svg+xml;base64,")
    assert chart.evaluate("img => img.complete && img.naturalWidth") == 120
    assert frame.locator("svg").count() == 0  # never inline
    # The long output scrolls inside its box.
    stream = frame.locator(".output_stream pre")
    box = stream.evaluate("e => [e.clientHeight, e.scrollHeight, getComputedStyle(e).overflowY]")
    assert box[0] < box[1] and box[2] == "auto"
    # The frame fits the notebook: no blank half, no second scroll bar.
    page.wait_for_function(
        "() => document.querySelector('iframe.notebook-frame').classList.contains('fitted')"
    )
    frame_height = page.locator("iframe.notebook-frame").evaluate("f => f.clientHeight")
    content = frame.locator("html").evaluate("e => e.getBoundingClientRect().height")
    assert abs(frame_height - content) <= 4, (frame_height, content)
    assert frame_height > DESKTOP["height"]  # taller than the window: the page scrolls, once
    page.screenshot(path=ARTIFACTS / "render-desktop.png", full_page=True)
    context.close()


def test_the_notebook_reads_in_the_dark_scheme_and_on_a_phone(browser, reading_topic, live_server):
    _topic, version = reading_topic
    context = browser.new_context(viewport=PHONE, color_scheme="dark", is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/community/renders/{version.pk}.html")
    page.locator("math").first.wait_for()

    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    keyword = page.locator(".input_area .hl-kn").first.evaluate("e => getComputedStyle(e).color")
    assert background == "rgb(13, 17, 23)"
    assert keyword == "rgb(255, 123, 114)"  # github-dark's keyword: readable on the dark page
    # On a phone the page itself never scrolls sideways (wide things scroll in their boxes).
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(".prompt").first.is_hidden()
    page.screenshot(path=ARTIFACTS / "render-phone-dark.png", full_page=True)
    context.close()


def test_an_outline_link_scrolls_the_page_to_the_heading(browser, reading_topic, live_server):
    topic, _version = reading_topic
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{live_server.url}/community/topics/{topic.pk}")
    page.wait_for_function(
        "() => document.querySelector('iframe.notebook-frame').classList.contains('fitted')"
    )

    below = page.locator("iframe.notebook-frame").evaluate(
        "f => f.getBoundingClientRect().top", None
    ) + heading_top(frame_of(page).locator("#user-content-Conclusion"))
    assert below > DESKTOP["height"]  # out of sight before the click

    page.click("details.outline summary")
    page.click("details.outline >> text=Conclusion")

    heading = frame_of(page).locator("#user-content-Conclusion")
    frame = page.locator("iframe.notebook-frame")
    # The heading is far below the window before; the page scrolls (smoothly) until it shows.
    page.wait_for_function(
        "([f, top]) => { const y = f.getBoundingClientRect().top + top;"
        " return y >= 0 && y <= window.innerHeight - 40; }",
        arg=[frame.element_handle(), heading_top(heading)],
    )
    assert page.evaluate("() => window.scrollY") > 0


def heading_top(heading) -> int:
    """Where the heading is within its frame's document."""
    return round(heading.evaluate("h => h.getBoundingClientRect().top + window.scrollY"))


def test_a_version_with_a_broken_formula_still_renders(browser, media, make_user, live_server):
    ada = make_user(username="ada")
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(r"Broken: $\frac{1}{$ and fine: $x^2$")]
    )
    notebook_save(user=ada, path="b.ipynb", notebook=nb)
    version = shared_notebook_share(user=ada, path="b.ipynb", title="B", description="")
    version = SharedNotebookVersion.objects.get(pk=version.pk)
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.goto(f"{live_server.url}/community/renders/{version.pk}.html")

    assert page.locator("math").count() == 1
    assert "\\frac{1}{" in page.locator("code").first.inner_text()
