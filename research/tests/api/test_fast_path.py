"""The hub API's fast path (``research.api.fast_path``) answers exactly what the API views
answer, and leaves everything else to them."""

import json

import pytest
from django.test import Client

from community.tests.policies import directives
from quantsite.tests.test_authentication import ada_token  # noqa: F401 (a fixture)
from research.services.assignment import assignment_locate
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db

FAST_PATH = "research.api.fast_path.HubApiFastPath"
# Headers that differ between any two answers.
VOLATILE = {"Date", "Content-Length"}


@pytest.fixture
def without_fast_path(settings):
    def switch_off():
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST_PATH]

    return switch_off


@pytest.fixture
def beating_hub(client, make_hub, make_user):
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    return hub, token


def answer(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    # The same policy, whatever order django-csp writes its directives in.
    headers["Content-Security-Policy"] = directives(headers["Content-Security-Policy"])
    return response.status_code, json.loads(response.content), headers


def beat(client, token, body):
    return client.post(
        "/api/discovery/heartbeat",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_heartbeat_is_answered_as_the_view_answers_it(client, beating_hub, without_fast_path):
    _hub, token = beating_hub
    body = {"version": 1, "running": ["ada", "ghost"]}
    fast = answer(beat(client, token, body))
    without_fast_path()

    assert answer(beat(Client(), token, body)) == fast
    assert fast[:2] == (
        200,
        {"version": 1, "state": "active", "stop": ["ghost"], "logout": []},
    )


def test_a_locate_is_answered_as_the_view_answers_it(
    client,
    ada_token,  # noqa: F811 (the fixture)
    make_hub,
    without_fast_path,
):
    make_hub("hub-1")
    ada_token.scope = "profile"
    ada_token.save()

    def locate(c):
        return c.get("/api/discovery/locate", HTTP_AUTHORIZATION="Bearer ada-token")

    fast = answer(locate(client))
    without_fast_path()

    assert answer(locate(Client())) == fast
    assert fast[:2] == (200, {"hub": "hub-1", "url": "http://127.0.0.1:8100"})


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"running": "ada"}, 400),  # not a list: the view's 400, with the field
        ({"running": ["x" * 151]}, 400),
    ],
)
def test_what_the_fast_path_does_not_answer_the_view_does(client, beating_hub, body, status):
    _hub, token = beating_hub

    response = beat(client, token, body)

    assert response.status_code == status
    assert "running" in response.json()["errors"]


def test_a_refused_credential_gets_the_views_401(client, beating_hub):
    response = beat(client, "not-a-token", {"running": []})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_returning_users_locate_is_one_statement(client, make_hub, make_user):
    from django.db import connection
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    hub = make_hub("hub-1")
    ada = make_user(username="ada")
    assignment_locate(user=ada)
    AccessToken.objects.create(
        user=ada,
        application=hub.application,
        token="ada-profile",
        scope="profile",
        expires=timezone.now() + timezone.timedelta(hours=1),
    )
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get("/api/discovery/locate", HTTP_AUTHORIZATION="Bearer ada-profile")

    assert response.json() == {"hub": "hub-1", "url": hub.url}
    assert len(statements) == 1


def test_a_well_formed_heartbeat_is_answered_by_the_fast_path_itself(rf, beating_hub):
    from research.api.fast_path import HubApiFastPath

    _hub, token = beating_hub

    def the_view(request):
        raise AssertionError("the fast path passed a well-formed heartbeat on to the view")

    request = rf.post(
        "/api/discovery/heartbeat",
        data=json.dumps({"running": ["ada"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    response = HubApiFastPath(the_view)(request)

    assert (response.status_code, json.loads(response.content)) == (
        200,
        {"version": 1, "state": "active", "stop": [], "logout": []},
    )
