"""Staff see hubs with their state and events, drain/disable them, and move users."""

import pytest

from research.models import Assignment, Hub
from research.services.assignment import assignment_locate
from research.tests.conftest import heartbeat_age

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, make_user):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_hub_list_shows_mode_liveness_users_seats_and_heartbeat(staff, make_hub, make_user):
    make_hub("hub-live", capacity=8)
    heartbeat_age(make_hub("hub-stale"), 10)
    heartbeat_age(make_hub("hub-dead"), 40)
    assignment_locate(user=make_user())

    html = staff.get("/admin/research/hub/").content.decode()

    for text in ["hub-live", "active", ">live<", ">stale<", ">dead<", "1 / 8", "s ago"]:
        assert text in html
    assert "1 assigned, 0 running, 8 seats" in html


def test_hub_page_lists_recent_events(staff, make_hub):
    hub = make_hub("hub-1")

    html = staff.get(f"/admin/research/hub/{hub.pk}/change/").content.decode()

    assert "Registered at " in html
    assert "Started at " in html


def test_drain_action(staff, make_hub):
    hub = make_hub("hub-1")

    response = staff.post(
        "/admin/research/hub/", {"action": "drain", "_selected_action": [hub.pk]}, follow=True
    )

    assert "Draining: hub-1." in response.content.decode()
    hub.refresh_from_db()
    assert hub.mode == "draining"
    assert hub.state(hub.last_heartbeat_at) == "draining"


def test_disable_action(staff, make_hub, make_user):
    hub = make_hub("hub-1")
    assignment_locate(user=make_user())

    staff.post("/admin/research/hub/", {"action": "disable", "_selected_action": [hub.pk]})

    hub.refresh_from_db()
    assert (hub.mode, hub.assigned_count) == ("disabled", 0)


def test_move_action_asks_for_a_hub_then_moves(staff, make_hub, make_user):
    make_hub("hub-1")
    target = make_hub("hub-2")
    user = make_user()
    assignment_locate(user=user)
    assignment = Assignment.objects.get(user=user)

    form = staff.post(
        "/admin/research/assignment/", {"action": "move", "_selected_action": [assignment.pk]}
    )
    done = staff.post(
        "/admin/research/assignment/",
        {"action": "move", "_selected_action": [assignment.pk], "apply": "1", "hub": target.pk},
        follow=True,
    )

    assert "Move to hub" in form.content.decode()
    assert f"Moved {user.username} to hub-2." in done.content.decode()
    assert Assignment.objects.get(user=user, ended_at__isnull=True).hub == target


def test_deleting_a_hub_in_the_admin_deletes_its_application(staff, make_hub):
    hub = make_hub("hub-1")

    staff.post(f"/admin/research/hub/{hub.pk}/delete/", {"post": "yes"})

    assert not Hub.objects.exists()
    from oauth2_provider.models import Application

    assert not Application.objects.exists()


def test_assignments_are_listed_with_history(staff, make_hub, make_user):
    dead = make_hub("hub-1")
    user = make_user(username="ada")
    assignment_locate(user=user)
    make_hub("hub-2")
    heartbeat_age(dead, 40)
    assignment_locate(user=user)

    html = staff.get("/admin/research/assignment/?q=ada").content.decode()

    assert "hub died" in html
    assert html.count("ada") >= 2
