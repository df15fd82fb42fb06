"""A hub's admin page: Drain / Undrain / Disable / Enable buttons that POST to the same
services as the list actions, and the hub's events as sentences."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from research.admin import hub_event_sentences
from research.models import Hub, HubEvent
from research.services.assignment import assignment_locate
from research.services.bookkeeping import discovery_bookkeeping
from research.services.hubs import hub_drain
from research.tests.conftest import heartbeat_age

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, make_user):
    client.force_login(make_user(username="ada", is_staff=True, is_superuser=True))
    return client


def page(hub: Hub) -> str:
    return f"/admin/research/hub/{hub.pk}/change/"


def mode_url(hub: Hub, change: str) -> str:
    return f"/admin/research/hub/{hub.pk}/mode/{change}/"


def at(event: HubEvent) -> str:
    return f"{timezone.localtime(event.at):%H:%M:%S}"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_an_active_hubs_page_has_drain_and_disable_buttons(staff, make_hub):
    hub = make_hub("hub-1")

    html = staff.get(page(hub)).content.decode()

    forms = re.findall(r'<form method="post" action="([^"]+)">', html)
    assert forms == [mode_url(hub, "drain"), mode_url(hub, "disable")]
    for change in ["drain", "disable"]:
        assert re.search(
            f'action="{mode_url(hub, change)}"><input type="hidden" name="csrfmiddlewaretoken"',
            html,
        )
    assert 'value="Drain"' in html
    assert 'value="Undrain"' not in html


def test_a_draining_hubs_page_has_undrain_and_disable(staff, make_hub):
    hub = make_hub("hub-1")
    hub_drain(hub=hub)

    html = staff.get(page(hub)).content.decode()

    forms = re.findall(r'<form method="post" action="([^"]+)">', html)
    assert forms == [mode_url(hub, "undrain"), mode_url(hub, "disable")]
    assert "This hub is <strong>draining</strong>." in html


@pytest.mark.parametrize(
    ("steps", "mode", "message"),
    [
        (["drain"], "draining", "Draining: hub-1."),
        (["drain", "undrain"], "active", "Undrained: hub-1."),
        (["disable"], "disabled", "Disabled: hub-1."),
        (["drain", "disable"], "disabled", "Disabled: hub-1."),
        (["disable", "enable"], "active", "Enabled: hub-1."),
    ],
)
def test_a_button_changes_the_mode_says_so_and_returns_to_the_page(
    staff, make_hub, steps, mode, message
):
    hub = make_hub("hub-1")

    for step in steps:
        response = staff.post(mode_url(hub, step), follow=True)

    assert response.redirect_chain == [(page(hub), 302)]
    assert messages_of(response) == [message]
    assert message in response.content.decode()
    hub.refresh_from_db()
    assert hub.mode == mode


def test_the_disable_button_ends_assignments_as_the_list_action_does(staff, make_hub, make_user):
    hub = make_hub("hub-1")
    assignment_locate(user=make_user())

    staff.post(mode_url(hub, "disable"))

    hub.refresh_from_db()
    assert (hub.mode, hub.assigned_count) == ("disabled", 0)


def test_a_button_for_a_change_already_made_says_nothing_changed(staff, make_hub):
    hub = make_hub("hub-1")
    staff.post(mode_url(hub, "drain"), follow=True)  # (its message shown)

    response = staff.post(mode_url(hub, "drain"), follow=True)

    assert messages_of(response) == ["Nothing to change: hub-1 is not active."]


def test_the_buttons_work_with_csrf_checks_on(make_user, make_hub):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(is_staff=True, is_superuser=True))
    hub = make_hub("hub-1")
    html = client.get(page(hub)).content.decode()
    token = re.search(
        r'action="' + re.escape(mode_url(hub, "drain")) + r'">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        html,
    ).group(1)

    refused = client.post(mode_url(hub, "drain"))
    accepted = client.post(mode_url(hub, "drain"), {"csrfmiddlewaretoken": token})

    assert (refused.status_code, accepted.status_code) == (403, 302)
    hub.refresh_from_db()
    assert hub.mode == "draining"


def test_someone_not_staff_is_sent_to_log_in_and_nothing_changes(client, make_user, make_hub):
    hub = make_hub("hub-1")
    client.force_login(make_user())

    response = client.post(mode_url(hub, "disable"))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    hub.refresh_from_db()
    assert hub.mode == "active"


def test_staff_who_may_only_view_hubs_get_403_and_no_buttons(client, make_user, make_hub):
    viewer = make_user(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_hub"))
    client.force_login(viewer)
    hub = make_hub("hub-1")

    html = client.get(page(hub)).content.decode()
    response = client.post(mode_url(hub, "drain"))

    assert "/mode/" not in html
    assert response.status_code == 403
    hub.refresh_from_db()
    assert hub.mode == "active"


def test_a_get_an_unknown_change_or_an_unknown_hub_is_refused(staff, make_hub):
    hub = make_hub("hub-1")

    assert staff.get(mode_url(hub, "drain")).status_code == 405
    assert staff.post(mode_url(hub, "explode")).status_code == 404
    assert staff.post(f"/admin/research/hub/{hub.pk + 99}/mode/drain/").status_code == 404
    hub.refresh_from_db()
    assert hub.mode == "active"


def test_events_read_as_sentences_naming_who_changed_the_mode(staff, make_hub):
    hub = make_hub("hub-1")
    staff.post(mode_url(hub, "drain"))
    staff.post("/admin/research/hub/", {"action": "undrain", "_selected_action": [hub.pk]})
    staff.post(mode_url(hub, "disable"))
    events = {event.kind: event for event in hub.events.all()}

    html = staff.get(page(hub)).content.decode()

    assert f"<div>Disabled by ada at {at(events['disabled'])}.</div>" in html
    assert f"<div>Drain cancelled by ada at {at(events['undrained'])}.</div>" in html
    assert f"<div>Drained by ada at {at(events['draining'])}.</div>" in html
    assert f"<div>Started at {at(events['started'])}, version test.</div>" in html
    registered = f"Registered at {at(events['registered'])} with URL http://127.0.0.1:8100."
    assert f"<div>{registered}</div>" in html
    assert html.index("Disabled by ada") < html.index("Drained by ada")  # newest first


def test_a_hub_that_went_stale_then_dead_says_how_long_it_was_silent(make_hub):
    hub = make_hub("hub-1")
    heartbeat_age(hub, 10)
    discovery_bookkeeping()
    heartbeat_age(hub, 45)
    discovery_bookkeeping()
    hub.refresh_from_db()
    died, stale = hub.events.order_by("-pk")[:2]

    sentences = hub_event_sentences(hub=hub, events=[died, stale], now=timezone.now())

    assert sentences == [
        f"Went dead at {at(died)}: no heartbeat for 45 s; its users move on their next visit",
        # Its last heartbeat is the one before the stale event too (10 s then, 45 s now).
        f"Went stale at {at(stale)}: no heartbeat for 45 s; no new users",
    ]


def test_a_silence_the_hub_has_since_broken_is_told_by_its_threshold(make_hub, settings):
    settings.DISCOVERY_DEAD_AFTER = 30
    hub = make_hub("hub-1")
    heartbeat_age(hub, 40)
    discovery_bookkeeping()
    heartbeat_age(hub, 0)
    discovery_bookkeeping()
    hub.refresh_from_db()
    recovered, died = hub.events.order_by("-pk")[:2]

    sentences = hub_event_sentences(hub=hub, events=[recovered, died], now=timezone.now())

    assert sentences == [
        f"Recovered at {at(recovered)}: heartbeats again",
        f"Went dead at {at(died)}: no heartbeat for over 30 s; its users move on their next visit",
    ]


def test_a_drain_not_made_in_the_admin_names_no_one_and_old_events_have_a_date(make_hub):
    hub = make_hub("hub-1")
    hub_drain(hub=hub)
    event = hub.events.get(kind="draining")
    then = timezone.now() - dt.timedelta(days=3)
    HubEvent.objects.filter(pk=event.pk).update(at=then)
    event.refresh_from_db()

    sentences = hub_event_sentences(hub=hub, events=[event], now=timezone.now())

    assert sentences == [f"Drain started at {timezone.localtime(then):%Y-%m-%d %H:%M:%S}"]


def test_the_hub_list_is_short_columns_with_long_names_cut(staff, make_hub):
    name = "hub-with-a-very-long-name-for-a-narrow-list"
    make_hub(name, capacity=50)

    html = staff.get("/admin/research/hub/").content.decode()

    headers = re.findall(r'<th scope="col"[^>]*>.*?<a [^>]*>([^<]+)</a>', html, re.S)
    headers += re.findall(r'<th scope="col"[^>]*>\s*<div class="text"><span>([^<]+)</span>', html)
    assert {"Name", "Mode", "Live", "Users / seats", "Heartbeat"} <= set(headers)
    assert "URL" not in headers
    assert f'<span title="{name}">{name[:23]}…</span>' in html
    assert "0 / 50" in html


def test_the_list_action_names_the_hubs_it_changed_and_those_it_left(staff, make_hub):
    make_hub("hub-1")
    hub_drain(hub=make_hub("hub-2"))
    hubs = list(Hub.objects.order_by("name"))

    response = staff.post(
        "/admin/research/hub/",
        {"action": "drain", "_selected_action": [hub.pk for hub in hubs]},
        follow=True,
    )

    assert messages_of(response) == ["Draining: hub-1. Left as they were (not active): hub-2."]
