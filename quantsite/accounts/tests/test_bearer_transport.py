"""Bearer tokens count only in the Authorization header (RFC 6750 2.1), on every endpoint
that takes one: never from a query string or a form body, where they end up in logs."""

import secrets

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value

from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory
from research.services.hubs import hub_register
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db

HOUR = timezone.timedelta(hours=1)


def user_token(scope: str) -> str:
    raw = secrets.token_urlsafe(32)
    token = AccessToken(
        user=UserFactory(username="ada"),
        application=ApplicationFactory(),
        scope=scope,
        expires=timezone.now() + HOUR,
    )
    set_token_value(token, raw)
    token.save()
    return raw


USER_ENDPOINTS = [
    ("get", "/o/userinfo/", "openid profile"),
    ("get", "/api/me", "profile"),
    ("get", "/api/contents", "notebooks"),
    ("get", "/api/contents/", "notebooks"),
    ("post", "/api/community/shares", "notebooks"),
    ("post", "/api/discovery/locate", "profile"),
]


@pytest.mark.parametrize(("method", "path", "scope"), USER_ENDPOINTS)
@pytest.mark.parametrize("where", ["query", "body"])
def test_a_user_token_outside_the_header_is_refused(client, method, path, scope, where):
    raw = user_token(scope)
    send = getattr(client, method)

    if where == "query":
        response = send(f"{path}?access_token={raw}")
    else:
        response = send(path, {"access_token": raw})

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "scope"), USER_ENDPOINTS[:3])
def test_the_same_token_in_the_header_is_accepted(client, method, path, scope):
    raw = user_token(scope)

    response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_hub_token_outside_the_header_is_refused(client, where):
    registration = hub_register(name="hub-1", url="http://127.0.0.1:8101")
    raw = hub_token(client, registration.hub.application, registration.client_secret)
    beat = {"users": [], "access_token": raw}

    if where == "query":
        response = client.post(
            f"/api/discovery/heartbeat?access_token={raw}", {"users": []}, "application/json"
        )
    else:
        response = client.post("/api/discovery/heartbeat", beat)

    assert response.status_code == 401
