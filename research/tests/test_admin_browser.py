"""In headless Chromium: the hub list fits a 1366 px screen, and the hub page's buttons
work from a real browser (its CSRF token, its redirect, its message)."""

import pytest

from quantsite.tests.browser import ARTIFACTS, log_in
from research.models import Hub

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_hub_list_fits_1366_px_and_the_drain_button_drains(
    browser, live_server, make_hub, make_user
):
    make_user(username="ada", is_staff=True, is_superuser=True)
    for n in range(3):
        make_hub(f"hub-{n}-in-the-eu-west-region-behind-the-second-balancer", capacity=1000)
    hub = make_hub("hub-short")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    log_in(page, live_server.url, "ada")

    page.goto(f"{live_server.url}/admin/research/hub/")
    page.screenshot(path=ARTIFACTS / "admin-hub-list.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.goto(f"{live_server.url}/admin/research/hub/{hub.pk}/change/")
    page.click("input[type=submit][value=Drain]")
    page.wait_for_url(f"{live_server.url}/admin/research/hub/{hub.pk}/change/")
    page.screenshot(path=ARTIFACTS / "admin-hub-page.png", full_page=True)
    message = page.inner_text("ul.messagelist")

    assert width <= 1366
    assert message == "Draining: hub-short."
    assert Hub.objects.get(pk=hub.pk).mode == "draining"
