"""One living JupyterLab per tab, in headless Chromium with real hubs: moving through the site
keeps the research frame (same lab, same open notebooks), Clone and My notebooks open files in
it by message, sign-in starts the server before it is asked for, logging out of the hub logs
out of the site, and without script the site still works page by page."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from community.models import Topic
from community.services.sharing import shared_notebook_share
from quantsite.accounts.models import User
from quantsite.tests.browser import ARTIFACTS, log_in
from research.models import Assignment, Hub
from research.services.bookkeeping import discovery_bookkeeping
from research.tests.live.conftest import hub_registered, wait_until

pytestmark = [pytest.mark.live, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def lab_of(page, username: str):
    """The lab's frame, once JupyterLab has restored in it."""
    page.frame_locator("#research-frame").locator(".jp-LabShell").wait_for(timeout=90_000)
    return next(f for f in page.frames if f"/user/{username}/lab" in f.url)


def open_tabs(lab) -> list[str]:
    return lab.eval_on_selector_all(
        ".lm-DockPanel-tabBar .lm-TabBar-tabLabel", "tabs => tabs.map(t => t.textContent)"
    )


def shell_shown(page) -> bool:
    return page.evaluate(
        "() => !document.getElementById('research-shell').classList.contains('parked')"
    )


@pytest.fixture
def hub(start_hub):
    hub = start_hub("hub-1")
    hub.wait_ready()
    hub_registered("hub-1")
    return hub


def test_jupyterlab_lives_across_the_sites_pages(browser, hub, person, site_url, make_user_files):
    person("ada")
    make_user_files("ada", {"keep.ipynb": "notebook", "other.ipynb": "notebook"})
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, site_url, "ada")

    page.goto(f"{site_url}/research?path=keep.ipynb")
    lab = lab_of(page, "ada")
    page.frame_locator("#research-frame").locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    lab.evaluate("() => { window.quantsiteProbe = 'the same lab'; }")
    page.evaluate("() => { window.quantsiteDocument = 'the first one'; }")

    page.click("nav.nav >> text=Community")
    page.wait_for_url(f"{site_url}/community")
    # The address changes as htmx swaps the page; the shell is parked as the swap settles.
    wait_until(lambda: not shell_shown(page), timeout=5, what="the research frame parked")
    assert page.locator("h1").first.is_visible()
    page.click("nav.nav >> text=Research")
    page.wait_for_url(f"{site_url}/research")
    wait_until(lambda: shell_shown(page), timeout=5, what="the research frame shown")

    assert page.evaluate("() => window.quantsiteDocument") == "the first one"
    assert lab.evaluate("() => window.quantsiteProbe") == "the same lab"
    assert "keep.ipynb" in open_tabs(lab)
    # Back and forward move between the pages without reloading the lab either.
    page.go_back()
    page.wait_for_url(f"{site_url}/community")
    page.go_forward()
    page.wait_for_url(f"{site_url}/research")
    wait_until(lambda: shell_shown(page), timeout=5, what="the research frame shown again")
    assert lab.evaluate("() => window.quantsiteProbe") == "the same lab"

    # My notebooks → open: the file opens in the living lab.
    page.click(".user-menu summary")
    page.click("text=My notebooks")
    page.wait_for_url(f"{site_url}/research/notebooks")
    page.click("table >> text=other.ipynb")
    page.wait_for_url(f"{site_url}/research?path=other.ipynb")
    wait_until(lambda: "other.ipynb" in open_tabs(lab), timeout=20, what="other.ipynb open")
    assert lab.evaluate("() => window.quantsiteProbe") == "the same lab"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "research-living-frame.png"))


def test_clone_opens_the_copy_in_the_living_lab(browser, hub, person, site_url, make_user_files):
    person("ada")
    person("bob")
    make_user_files("ada", {"signal.ipynb": "notebook"})
    shared = shared_notebook_share(
        user=User.objects.get(username="ada"),
        path="signal.ipynb",
        title="A signal",
        description="",
        showcase_cell=0,
    )
    topic = Topic.objects.get(shared_notebook=shared.shared)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, site_url, "bob")
    page.goto(f"{site_url}/research")
    lab = lab_of(page, "bob")
    page.frame_locator("#research-frame").locator(".jp-Launcher").first.wait_for(timeout=60_000)
    lab.evaluate("() => { window.quantsiteProbe = 'the same lab'; }")

    page.click("nav.nav >> text=Community")
    page.locator(f"a[href='/community/topics/{topic.pk}']").first.click()
    page.wait_for_url(f"{site_url}/community/topics/{topic.pk}")
    page.click("text=Clone into my research")
    page.wait_for_url(f"{site_url}/research?path=*")

    wait_until(lambda: any("signal" in t for t in open_tabs(lab)), timeout=20, what="the clone")
    assert lab.evaluate("() => window.quantsiteProbe") == "the same lab"
    assert shell_shown(page)


def used_research_lately(username: str) -> None:
    """A past assignment whose server ran an hour ago: someone likely to open research."""
    ago = timezone.now() - dt.timedelta(hours=1)
    Assignment.objects.create(
        user=User.objects.get(username=username),
        hub=Hub.objects.get(name="hub-1"),
        server_running=False,
        server_seen_at=ago,
        ended_at=ago,
        end_reason=Assignment.EndReason.IDLE,
    )


def server_running(username: str) -> bool:
    """What the hub's heartbeats say."""
    return Assignment.objects.filter(
        user__username=username, ended_at__isnull=True, server_running=True
    ).exists()


def test_signing_in_starts_the_server_before_research_is_opened(browser, hub, person, site_url):
    person("ada")
    used_research_lately("ada")
    page = browser.new_page(viewport={"width": 1280, "height": 800})

    log_in(page, site_url, "ada")  # the start page, not /research

    wait_until(lambda: server_running("ada"), timeout=60, what="ada's server pre-started")
    assert page.url == f"{site_url}/"
    started = time.monotonic()
    page.click("nav.nav >> text=Research")
    page.frame_locator("#research-frame").locator(".jp-Launcher").first.wait_for(timeout=60_000)
    print(f"research after a pre-start: {time.monotonic() - started:.2f} s")


def test_a_pre_started_server_nobody_opens_is_culled_and_frees_its_seat(
    browser, start_hub, person, site_url, settings
):
    settings.DISCOVERY_IDLE_AFTER = 1
    hub = start_hub("hub-1", QUANTHUB_CULL_IDLE_TIMEOUT="10")
    hub.wait_ready()
    hub_registered("hub-1")
    person("ada")
    used_research_lately("ada")
    page = browser.new_page()
    log_in(page, site_url, "ada")
    wait_until(lambda: server_running("ada"), timeout=60, what="ada's server pre-started")

    # ada reads the forum and never opens research: the culler stops the server, and the
    # bookkeeping ends her assignment for idleness.
    page.click("nav.nav >> text=Community")
    wait_until(lambda: not server_running("ada"), timeout=60, what="the culler to stop it")
    wait_until(
        lambda: (
            discovery_bookkeeping(),
            not Assignment.objects.filter(user__username="ada", ended_at__isnull=True).exists(),
        )[1],
        timeout=30,
        what="the assignment to end",
    )
    ended = Assignment.objects.filter(user__username="ada").order_by("-created_at").first()
    assert ended.end_reason == Assignment.EndReason.IDLE
    assert Hub.objects.get(name="hub-1").assigned_count == 0


def test_logging_out_of_the_hub_logs_out_of_the_site(browser, hub, person, site_url):
    person("ada")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, site_url, "ada")
    page.goto(f"{site_url}/research")
    lab = lab_of(page, "ada")

    # JupyterLab's File → Log Out goes to the hub's logout, inside the frame.
    lab.evaluate("() => { window.location.href = '/hub/logout'; }")

    page.wait_for_url(f"{site_url}/", timeout=30_000)
    assert page.locator("text=Log in").first.is_visible()
    page.goto(f"{site_url}/research")
    assert page.url.startswith(f"{site_url}/accounts/login/")


def test_without_script_the_site_works_page_by_page(browser, hub, person, site_url):
    person("ada")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, site_url, "ada")

    page.click("nav.nav >> text=Community")
    page.wait_for_url(f"{site_url}/community")
    page.click("nav.nav >> text=Research")
    page.wait_for_url(f"{site_url}/research")

    frame = page.locator("#research-shell #research-frame")
    assert frame.get_attribute("src") == f"{hub.url}/hub/user-redirect/lab"
    assert frame.is_visible()
    context.close()
