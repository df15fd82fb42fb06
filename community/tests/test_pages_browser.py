"""In headless Chromium: the site's pages at a laptop's size (1366 x 900) and a phone's
(390 x 844). No page scrolls sideways on the phone, the top bar folds into a menu there, and
the user menu stays readable on hover. Screenshots go to ``var/test-artifacts/``."""

import nbformat
import pytest

from community.models import Topic
from community.services.forum import reply_create
from community.services.sharing import shared_notebook_share
from quantsite.tests.browser import ARTIFACTS, log_in
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG_NAME = "Maximiliana Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh"


@pytest.fixture
def forum(media, make_user):
    """ada (a long name) shared a notebook twice, with a long title and a reply."""
    ada = make_user(username="ada_" + "q" * 25, name=LONG_NAME)
    wide = nbformat.v4.new_code_cell("x = " + "1" * 300)
    wide.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * 400 + "\n")]
    path = "a-very-long-notebook-name-" + "n" * 60 + ".ipynb"
    for source in ("a = 1", "a = 2"):
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell("# Wide\n\n" + "w" * 200), wide]
        )
        nb.cells.append(nbformat.v4.new_code_cell(source))
        notebook_save(user=ada, path=path, notebook=nb)
        version = shared_notebook_share(
            user=ada,
            path=path,
            title="Momentum" + "m" * 120,
            description="A description with a long word " + "d" * 150,
            tags=["momentum", "a-rather-long-tag-name"],
        )
    topic = Topic.objects.get(shared_notebook=version.shared)
    reply_create(topic=topic, author=ada, body="A reply " + "r" * 200)
    return ada, topic


def overflow(page) -> int:
    """How many CSS pixels the page scrolls sideways (0: none)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


def pages_of(topic, ada) -> dict[str, str]:
    return {
        "home": "/",
        "community": "/community",
        "topic": f"/community/topics/{topic.pk}",
        "changes": f"/community/topics/{topic.pk}/changes",
        "user": f"/community/users/{ada.username}",
        "new": "/community/new",
        "notebooks": "/research/notebooks",
        "profile": "/accounts/profile/",
        "password": "/accounts/password/change/",
        "missing": "/community/topics/999999",
    }


def test_no_page_scrolls_sideways_on_a_phone(browser, forum, live_server):
    ada, topic = forum
    site = live_server.url
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    wide = {}
    for name, path in {"login": "/accounts/login/", "signup": "/accounts/signup/"}.items():
        page.goto(site + path)
        wide[name] = overflow(page)
        page.screenshot(path=ARTIFACTS / f"phone-{name}.png", full_page=True)
    log_in(page, site, ada.username)
    for name, path in pages_of(topic, ada).items():
        page.goto(site + path)
        page.wait_for_load_state("load")
        if name == "topic":  # the notebook's frame fits it on a phone too
            page.wait_for_selector("iframe.notebook-frame.fitted")
            page.locator("iframe.notebook-frame").scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "phone-topic-notebook.png")
        wide[name] = overflow(page)
        page.screenshot(path=ARTIFACTS / f"phone-{name}.png", full_page=True)

    assert wide == dict.fromkeys(wide, 0)
    # My notebooks: one card per file, each value under its label, not a squeezed table.
    page.goto(f"{site}/research/notebooks")
    assert page.locator(".table thead").is_hidden()
    size = page.locator(".table td[data-label=Size]").first
    assert size.evaluate("e => getComputedStyle(e, '::before').content") == '"Size"'
    assert size.evaluate("e => e.getBoundingClientRect().width") > PHONE["width"] / 2
    context.close()


def test_on_a_phone_the_top_bar_folds_into_a_menu(browser, forum, live_server):
    ada, _topic = forum
    site = live_server.url
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(page, site, ada.username)
    page.goto(f"{site}/community")

    sections = page.locator("nav.nav .nav-sections")
    assert sections.is_hidden()
    page.locator("nav.nav .nav-toggle").tap()
    assert sections.is_visible()
    page.screenshot(path=ARTIFACTS / "phone-menu-open.png")
    page.locator("nav.nav .nav-sections >> text=Research").wait_for()
    # The name in the bar is cut to fit, whole in its title.
    name = page.locator(".user-menu summary")
    assert name.evaluate("e => e.scrollWidth > e.clientWidth")
    assert name.get_attribute("title") == LONG_NAME
    context.close()


def test_the_user_menu_is_readable_on_hover(browser, forum, live_server):
    ada, _topic = forum
    site = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, site, ada.username)
    assert page.locator("nav.nav .nav-toggle").is_hidden()  # the bar is whole on a laptop

    page.locator(".user-menu summary").click()
    item = page.locator(".user-menu a", has_text="My notebooks")
    item.hover()
    colours = item.evaluate(
        """e => {
          const c = getComputedStyle(e).color;
          let n = e, bg = 'rgba(0, 0, 0, 0)';
          while (n && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
            bg = getComputedStyle(n).backgroundColor; n = n.parentElement;
          }
          return [c, bg];
        }"""
    )
    page.screenshot(path=ARTIFACTS / "desktop-user-menu-hover.png")

    assert contrast(*colours) >= 4.5, colours
    context.close()


def test_reply_actions_are_on_one_line(browser, forum, live_server):
    ada, topic = forum
    site = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, site, ada.username)
    page.goto(f"{site}/community/topics/{topic.pk}")

    reply = page.locator(".reply").first
    edit = reply.locator("a", has_text="Edit").bounding_box()
    delete = reply.locator("button", has_text="Delete").bounding_box()
    assert abs((edit["y"] + edit["height"] / 2) - (delete["y"] + delete["height"] / 2)) < 4
    page.screenshot(path=ARTIFACTS / "desktop-topic.png", full_page=True)
    context.close()


def test_the_site_has_a_favicon(client):
    response = client.get("/favicon.ico")

    assert response.status_code in (200, 301, 302)
    follow = client.get("/favicon.ico", follow=True)
    assert follow.status_code == 200
    assert follow.headers["Content-Type"].startswith("image/")


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG's contrast ratio of two computed ``rgb(…)`` colours."""
    high, low = sorted([_luminance(foreground), _luminance(background)], reverse=True)
    return (high + 0.05) / (low + 0.05)
