"""The heartbeat answer's ``logout`` field, as the API view and the fast path send it: added
beside the version-1 fields, which keep their meaning for a hub one release behind."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from research.models import Assignment
from research.services.assignment import assignment_locate
from research.services.hubs import user_hub_sessions_end
from research.tests.api.test_fast_path import FAST_PATH, beat
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_out(client, make_hub, make_user):
    """hub-1 with ada (running, logged out of the site) and bob (running)."""
    hub = make_hub("hub-1")
    for name in ["ada", "bob"]:
        assignment_locate(user=make_user(username=name))
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    user_hub_sessions_end(user=Assignment.objects.get(user__username="ada").user)
    at = Assignment.objects.get(user__username="ada").logged_out_at.timestamp()
    return token, at


def test_the_fast_path_sends_the_logouts(client, logged_out):
    token, at = logged_out

    response = beat(client, token, {"version": 1, "running": ["ada", "bob"]})

    assert response.status_code == 200
    assert json.loads(response.content) == {
        "version": 1,
        "state": "active",
        "stop": [],
        "logout": [{"user": "ada", "at": at}],
    }


def test_the_view_sends_what_the_fast_path_sends(client, logged_out, settings):
    token, _at = logged_out
    body = {"version": 1, "running": ["ada", "bob"]}
    fast = beat(client, token, body).json()
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST_PATH]

    assert beat(Client(), token, body).json() == fast


def test_an_older_hubs_request_gets_the_version_1_fields_unchanged(client, logged_out):
    """A hub one release behind sends no version and reads only version, state and stop: they
    are what they were; it ignores ``logout``."""
    token, _at = logged_out

    answer = beat(client, token, {"running": ["ada", "bob", "ghost"]}).json()

    assert {key: answer[key] for key in ("version", "state", "stop")} == {
        "version": 1,
        "state": "active",
        "stop": ["ghost"],
    }
    assert sorted(answer) == ["logout", "state", "stop", "version"]


def test_the_schema_describes_the_logout_field(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    ref = schema["paths"]["/api/discovery/heartbeat"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    answer = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    entry = answer["properties"]["logout"]["items"]["$ref"].rsplit("/", 1)[1]

    assert sorted(answer["required"]) == ["logout", "state", "stop", "version"]
    assert schema["components"]["schemas"][entry]["properties"] == {
        "user": {"type": "string"},
        "at": {
            "type": "number",
            "format": "double",
            "description": "When they logged out of the site (epoch seconds).",
        },
    }


def test_a_logout_older_than_the_announcement_window_is_not_sent(client, logged_out):
    token, _at = logged_out
    Assignment.objects.filter(user__username="ada").update(
        logged_out_at=timezone.now() - timezone.timedelta(seconds=121)
    )

    assert beat(client, token, {"running": ["ada"]}).json()["logout"] == []
