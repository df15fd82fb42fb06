"""Staff manage OAuth applications, their scope policies and tokens in the Django admin."""

import pytest
from oauth2_provider.models import Application

from quantsite.accounts.models import ApplicationPolicy
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def application_form(**overrides):
    data = {
        "name": "hub-9",
        "client_id": "hub-9-client",
        "client_secret": "x" * 40,
        "hash_client_secret": "on",
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
        "redirect_uris": "http://127.0.0.1:8101/hub/oauth_callback",
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": Application.RS256_ALGORITHM,
        "skip_authorization": "on",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-allowed_scopes": "openid profile email discovery",
    }
    data.update(overrides)
    return data


def test_add_page_offers_only_the_supported_grants(staff_client):
    html = staff_client.get("/admin/oauth2_provider/application/add/").content.decode()

    assert 'value="authorization-code"' in html
    assert 'value="client-credentials"' in html
    assert 'value="implicit"' not in html
    assert 'value="password"' not in html
    assert "Trusted (skips the consent page)" in html


def test_staff_create_a_trusted_application_with_a_scope_policy(staff_client):
    response = staff_client.post("/admin/oauth2_provider/application/add/", application_form())

    assert response.status_code == 302, response.context["adminform"].form.errors
    app = Application.objects.get(name="hub-9")
    assert app.skip_authorization
    assert app.policy.allowed_scopes == "openid profile email discovery"


def test_admin_refuses_an_implicit_application(staff_client):
    response = staff_client.post(
        "/admin/oauth2_provider/application/add/",
        application_form(authorization_grant_type=Application.GRANT_IMPLICIT),
    )

    assert response.status_code == 200
    assert not Application.objects.filter(name="hub-9").exists()


def test_admin_refuses_an_unknown_scope(staff_client):
    response = staff_client.post(
        "/admin/oauth2_provider/application/add/",
        application_form(**{"policy-0-allowed_scopes": "openid everything"}),
    )

    assert response.status_code == 200
    assert "Unknown scopes: everything." in response.content.decode()
    assert not ApplicationPolicy.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/oauth2_provider/application/",
        "/admin/oauth2_provider/accesstoken/",
        "/admin/oauth2_provider/refreshtoken/",
        "/admin/accounts/user/",
        "/admin/axes/accessattempt/",
    ],
)
def test_staff_see_applications_tokens_users_and_login_attempts(staff_client, url):
    ApplicationFactory()

    assert staff_client.get(url).status_code == 200


def test_non_staff_cannot_reach_the_admin(client):
    client.force_login(UserFactory())

    response = client.get("/admin/oauth2_provider/application/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")
