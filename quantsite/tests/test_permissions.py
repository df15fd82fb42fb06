"""The APIs for people refuse a token that speaks for no user, each the same way."""

import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.tests.factories import ApplicationFactory

pytestmark = pytest.mark.django_db

# Every API that acts for a person, with the method it is called with.
PEOPLE_APIS = [
    ("get", "/api/me"),
    ("get", "/api/discovery/locate"),
    ("get", "/api/contents"),
    ("post", "/api/community/shares"),
]


@pytest.fixture
def application_token():
    """A client-credentials token (no user) that holds every scope those APIs ask for."""
    AccessToken.objects.create(
        user=None,
        application=ApplicationFactory(),
        token="no-user-token",
        scope="openid profile email notebooks",
        expires=timezone.now() + dt.timedelta(hours=1),
    )
    return "no-user-token"


@pytest.mark.parametrize(("method", "path"), PEOPLE_APIS)
def test_a_token_without_a_user_gets_403(client, application_token, method, path):
    call = getattr(client, method)

    response = call(path, HTTP_AUTHORIZATION=f"Bearer {application_token}")

    assert response.status_code == 403
    assert response.json() == {"detail": "This token does not belong to a user."}


@pytest.mark.parametrize(("method", "path"), PEOPLE_APIS)
def test_no_credential_gets_401(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code == 401
