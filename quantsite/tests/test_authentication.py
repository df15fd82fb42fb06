"""Bearer tokens on the APIs for people (``BearerTokenAuthentication``): judged at every
request from the rows as they are, as django-oauth-toolkit's validator judges them, so a
revoked token, an expired one, a disabled user or a disabled application stops at once."""

import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.services import application_enabled_set
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db

PEOPLE_APIS = ["/api/me", "/api/discovery/locate", "/api/contents"]


@pytest.fixture
def ada_token():
    token = AccessToken.objects.create(
        user=UserFactory(username="ada"),
        application=ApplicationFactory(),
        token="ada-token",
        scope="openid profile email notebooks",
        expires=timezone.now() + dt.timedelta(hours=1),
    )
    return token


def get(client, path, raw="ada-token"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_live_token_speaks_for_its_user(client, ada_token):
    response = get(client, "/api/me")

    assert response.status_code == 200
    assert response.json()["preferred_username"] == "ada"


@pytest.mark.parametrize("path", PEOPLE_APIS)
@pytest.mark.parametrize("change", ["revoked", "expired", "user disabled", "application disabled"])
def test_a_token_stops_at_the_next_request(client, ada_token, path, change):
    assert get(client, "/api/me").status_code == 200
    if change == "revoked":
        ada_token.delete()
    elif change == "expired":
        AccessToken.objects.filter(pk=ada_token.pk).update(expires=timezone.now())
    elif change == "user disabled":
        type(ada_token.user).objects.filter(pk=ada_token.user_id).update(is_active=False)
    else:
        application_enabled_set(application=ada_token.application, enabled=False)

    response = get(client, path)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_an_unknown_token_is_refused(client, ada_token):
    assert get(client, "/api/me", raw="not-a-token").status_code == 401


def test_a_token_restricted_to_another_resource_is_refused(client, ada_token):
    # RFC 8707: such a token is judged by the library's validator, audience included.
    AccessToken.objects.filter(pk=ada_token.pk).update(resource=["https://elsewhere.example/api"])

    assert get(client, "/api/me").status_code == 401
