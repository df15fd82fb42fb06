"""The discovery API, with real client-credentials tokens from /o/token/."""

import base64
import json

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.tests.factories import (
    CLIENT_SECRET,
    ApplicationFactory,
    ApplicationPolicyFactory,
)
from research.models import Assignment, Hub, HubEvent
from research.services.assignment import assignment_locate
from research.services.hubs import hub_delete, hub_disable, hub_drain
from research.tests.conftest import heartbeat_age, hub_token

pytestmark = pytest.mark.django_db


def post(client, path, token, body=None, raw=None):
    return client.post(
        f"/api/discovery/{path}",
        data=raw if raw is not None else json.dumps(body or {}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def hub_one(make_hub, client):
    hub = make_hub("hub-1", start=False)
    return hub, hub_token(client, hub.application, make_hub.secrets["hub-1"])


def test_start_heartbeat_stop(client, hub_one, make_user):
    hub, token = hub_one

    started = post(client, "start", token, {"url": hub.url, "capacity": 30, "version": "5.2.1"})
    user = make_user(username="ada")
    assignment_locate(user=user)
    beat = post(client, "heartbeat", token, {"running": ["ada"]})
    stopped = post(client, "stop", token)

    assert started.status_code == 200
    assert started.json() == {
        "hub": "hub-1",
        "heartbeat_interval": 1.0,
        "stale_after": 5.0,
        "dead_after": 30.0,
    }
    assert beat.status_code == 200
    assert beat.json() == {"version": 1, "state": "active", "stop": [], "logout": []}
    assert stopped.status_code == 200
    assignment = Assignment.objects.get(user=user)
    assert (assignment.end_reason, assignment.server_seen_at is not None) == ("hub_stopped", True)
    assert list(HubEvent.objects.filter(hub=hub).order_by("pk").values_list("kind", flat=True)) == [
        "registered",
        "started",
        "stopped",
    ]


def test_heartbeat_tells_a_draining_hub(client, hub_one):
    hub, token = hub_one
    post(client, "start", token, {"url": hub.url})
    hub_drain(hub=hub)

    response = post(client, "heartbeat", token, {"running": []})

    assert response.json() == {"version": 1, "state": "draining", "stop": [], "logout": []}


def test_a_hubs_token_speaks_for_that_hub_only(client, make_hub):
    hub_a = make_hub("hub-a")
    hub_b = make_hub("hub-b")
    token_a = hub_token(client, hub_a.application, make_hub.secrets["hub-a"])
    heartbeat_age(hub_b, 20)

    beat = post(client, "heartbeat", token_a, {"running": []})
    pretend = post(client, "start", token_a, {"url": hub_b.url})
    stop = post(client, "stop", token_a)

    assert beat.status_code == 200
    assert pretend.status_code == 400
    assert "registered at http://127.0.0.1:8100" in pretend.json()["detail"]
    assert stop.status_code == 200
    hub_b.refresh_from_db()
    assert hub_b.stopped_at is None
    assert Hub.objects.get(name="hub-a").stopped_at is not None


@pytest.mark.parametrize("path", ["start", "heartbeat", "stop"])
def test_a_users_session_is_refused(client, make_user, path):
    client.force_login(make_user())

    response = client.post(f"/api/discovery/{path}", data={}, content_type="application/json")

    assert response.status_code == 403


@pytest.mark.parametrize("path", ["start", "heartbeat", "stop"])
def test_anonymous_is_refused(client, path):
    response = client.post(f"/api/discovery/{path}", data={}, content_type="application/json")

    assert response.status_code == 401


def test_a_client_credentials_token_of_an_application_that_is_no_hub(client):
    app = ApplicationFactory(skip_authorization=True)
    ApplicationPolicyFactory(
        application=app, allowed_scopes="discovery", allows_client_credentials=True
    )
    token = hub_token(client, app, CLIENT_SECRET)

    response = post(client, "heartbeat", token, {"running": []})

    assert response.status_code == 403
    assert response.json() == {"detail": "This application is not a registered hub."}


def test_a_hub_token_without_the_discovery_scope_is_refused(client, hub_one, make_hub):
    hub, _ = hub_one
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"], scope="openid")

    response = post(client, "start", token, {"url": hub.url})

    assert response.status_code == 403


def test_a_users_token_issued_to_a_hub_application_is_refused(client, hub_one, make_user):
    hub, _ = hub_one
    import datetime as dt

    from django.utils import timezone

    AccessToken.objects.create(
        user=make_user(),
        application=hub.application,
        token="user-token-via-hub",
        scope="openid profile discovery",
        expires=timezone.now() + dt.timedelta(hours=1),
    )

    response = post(client, "start", "user-token-via-hub", {"url": hub.url})

    assert response.status_code == 403


def test_a_disabled_hubs_token_stops_working(client, hub_one):
    hub, token = hub_one
    post(client, "start", token, {"url": hub.url})

    hub_disable(hub=hub)
    response = post(client, "heartbeat", token, {"running": []})

    assert response.status_code == 401


def test_a_deleted_hubs_token_stops_working(client, hub_one):
    hub, token = hub_one

    hub_delete(hub=hub)
    response = post(client, "heartbeat", token, {"running": []})

    assert response.status_code == 401


def test_a_disabled_hub_gets_no_new_token(client, hub_one, make_hub):
    # What the hub's discovery service sees, and counts as the site refusing it.
    hub, token = hub_one
    post(client, "start", token, {"url": hub.url})
    hub_disable(hub=hub)

    basic = base64.b64encode(f"{hub.application.client_id}:{make_hub.secrets['hub-1']}".encode())
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "discovery"},
        HTTP_AUTHORIZATION=f"Basic {basic.decode()}",
    )

    assert response.status_code == 401


def test_heartbeat_before_start_is_a_conflict(client, hub_one):
    _hub, token = hub_one

    response = post(client, "heartbeat", token, {"running": []})

    assert response.status_code == 409
    assert response.json() == {"detail": "This hub has not started; call start first."}


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("start", "{not json", "detail"),
        ("start", "[]", "non_field_errors"),
        ("start", '{"capacity": 5}', "url"),
        ("start", '{"url": "http://127.0.0.1:8100", "capacity": 0}', "capacity"),
        ("start", '{"url": "http://127.0.0.1:8100", "capacity": "many"}', "capacity"),
        ("start", '{"url": "http://127.0.0.1:8100", "version": "' + "v" * 65 + '"}', "version"),
        ("start", '{"url": "' + "u" * 300 + '"}', "url"),
        ("heartbeat", "{}", "running"),
        ("heartbeat", '{"running": "ada"}', "running"),
        ("heartbeat", '{"running": [1, {"a": 2}]}', "running"),
        ("heartbeat", '{"running": ["' + "n" * 151 + '"]}', "running"),
        ("heartbeat", r'{"running": ["ada\u0000"]}', "running"),
        ("heartbeat", json.dumps({"running": ["u"] * 10_001}), "running"),
    ],
)
def test_malformed_bodies_get_a_clear_400(client, make_hub, path, raw, field):
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    before = Hub.objects.values().get(pk=hub.pk)

    response = post(client, path, token, raw=raw)

    body = response.json()
    assert response.status_code == 400
    assert field in body.get("errors", body)
    assert Hub.objects.values().get(pk=hub.pk) == before


def test_an_oversized_body_is_refused_before_parsing(client, make_hub):
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])

    response = post(client, "heartbeat", token, raw='{"running": ["' + "x" * 3_000_000 + '"]}')

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is over the limit of 2097152 bytes."}


# -- locate ------------------------------------------------------------------------------


def test_locate_with_the_session(client, make_hub, make_user):
    make_hub("hub-1")
    client.force_login(make_user())

    response = client.get("/api/discovery/locate")

    assert response.status_code == 200
    assert response.json() == {"hub": "hub-1", "url": "http://127.0.0.1:8100"}


def test_locate_without_a_hub_says_when_to_retry(client, make_user):
    client.force_login(make_user())

    response = client.get("/api/discovery/locate")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"detail": "No research server can take you right now."}


def test_locate_with_a_hub_token_is_refused(client, make_hub):
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])

    response = client.get("/api/discovery/locate", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 403


def test_locate_anonymous_is_refused(client):
    assert client.get("/api/discovery/locate").status_code == 401


def test_heartbeat_answer_lists_reported_users_who_must_not_run_here(client, make_hub, make_user):
    hub_a = make_hub("hub-a")
    make_hub("hub-b")
    token = hub_token(client, hub_a.application, make_hub.secrets["hub-a"])
    users = {name: make_user(username=name) for name in ["ada", "bob", "cy", "dee", "eve"]}
    placed = {name: assignment_locate(user=user).name for name, user in users.items()}
    # ada stays; bob is on hub-b; cy was moved away (ended); dee is disabled; eve is deleted.
    assert placed["ada"] == "hub-a" and placed["bob"] == "hub-b"
    Assignment.objects.filter(user__username="cy").update(
        ended_at=timezone.now(), end_reason="moved"
    )
    users["dee"].is_active = False
    users["dee"].save()
    users["eve"].delete()

    response = post(
        client, "heartbeat", token, {"running": ["ada", "bob", "cy", "dee", "eve", "zed"]}
    )

    assert response.status_code == 200
    assert response.json() == {
        "version": 1,
        "state": "active",
        "stop": ["bob", "cy", "dee", "eve", "zed"],
        "logout": [],
    }


def test_heartbeat_accepts_the_request_of_any_hub_version(client, hub_one, make_user):
    hub, token = hub_one
    post(client, "start", token, {"url": hub.url})

    old = post(client, "heartbeat", token, {"running": []})
    newer = post(client, "heartbeat", token, {"version": 2, "running": [], "pending": ["x"]})

    assert (old.status_code, newer.status_code) == (200, 200)
    assert (
        old.json()
        == newer.json()
        == {
            "version": 1,
            "state": "active",
            "stop": [],
            "logout": [],
        }
    )


def test_a_disabled_user_gets_no_server_token(client, make_hub, make_user):
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    ada.is_active = False
    ada.save()

    response = post(client, "tokens", token, {"user": "ada"})

    assert response.status_code == 403
    assert response.json() == {"detail": "ada is disabled."}
    assert not AccessToken.objects.filter(user=ada, scope="notebooks").exists()
