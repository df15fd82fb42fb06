"""A disabled or deleted hub's OAuth application issues nothing and signs nobody in."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Grant

from quantsite.accounts.services import application_enabled_set
from research.services.hubs import hub_delete, hub_disable, hub_enable
from research.tests.conftest import hub_token

pytestmark = pytest.mark.django_db

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


def basic(application, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()


def client_credentials(client, hub, secret):
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "discovery"},
        HTTP_AUTHORIZATION=basic(hub.application, secret),
    )


def authorize(client, hub):
    return client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": hub.application.client_id,
            "redirect_uri": f"{hub.url}/hub/oauth_callback",
            "scope": "openid profile",
            "state": "s",
            "code_challenge": CHALLENGE.decode(),
            "code_challenge_method": "S256",
        },
    )


def exchange(client, hub, secret, code):
    return client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{hub.url}/hub/oauth_callback",
            "code_verifier": VERIFIER,
        },
        HTTP_AUTHORIZATION=basic(hub.application, secret),
    )


def code_of(response) -> str:
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def test_a_disabled_hub_gets_no_client_credentials_token(client, make_hub):
    hub = make_hub("hub-1")
    secret = make_hub.secrets["hub-1"]

    hub_disable(hub=hub)
    response = client_credentials(client, hub, secret)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_a_disabled_hub_signs_nobody_in(client, make_hub, make_user):
    hub = make_hub("hub-1")
    client.force_login(make_user())

    hub_disable(hub=hub)
    response = authorize(client, hub)

    # An error page of the site's, never a redirect back to the hub with a code.
    assert response.status_code == 400
    assert not response.has_header("Location")
    assert not Grant.objects.exists()


def test_a_code_issued_before_the_hub_was_disabled_cannot_be_exchanged(client, make_hub, make_user):
    hub = make_hub("hub-1")
    client.force_login(make_user())
    code = code_of(authorize(client, hub))

    hub_disable(hub=hub)
    response = exchange(client, hub, make_hub.secrets["hub-1"], code)

    assert response.status_code == 401
    assert not AccessToken.objects.exists()


def test_a_user_token_through_a_disabled_hub_is_revoked(client, make_hub, make_user):
    hub = make_hub("hub-1")
    client.force_login(make_user())
    token = exchange(client, hub, make_hub.secrets["hub-1"], code_of(authorize(client, hub)))
    access, refresh = token.json()["access_token"], token.json()["refresh_token"]

    hub_disable(hub=hub)
    me = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {access}")
    refreshed = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh},
        HTTP_AUTHORIZATION=basic(hub.application, make_hub.secrets["hub-1"]),
    )

    assert me.status_code == 401
    assert refreshed.status_code == 401


def test_an_enabled_hub_gets_tokens_and_signs_users_in_again(client, make_hub, make_user):
    hub = make_hub("hub-1")
    hub_disable(hub=hub)
    client.force_login(make_user())

    assert hub_enable(hub=hub) is True

    assert hub_token(client, hub.application, make_hub.secrets["hub-1"])
    assert code_of(authorize(client, hub))


def test_a_deleted_hubs_credentials_get_nothing(client, make_hub):
    hub = make_hub("hub-1")
    application = hub.application
    secret = make_hub.secrets["hub-1"]

    hub_delete(hub=hub)
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "discovery"},
        HTTP_AUTHORIZATION=basic(application, secret),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_disabled_applications_hub_token_no_longer_reaches_discovery(client, make_hub):
    # Staff may untick "enabled" on the application itself, without disabling the hub.
    hub = make_hub("hub-1")
    token = hub_token(client, hub.application, make_hub.secrets["hub-1"])

    application_enabled_set(application=hub.application, enabled=False)
    response = Client().post(
        "/api/discovery/start",
        {"url": hub.url},
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 401
