"""Staff manage OAuth applications, their scope policies and tokens in the Django admin."""

import datetime as dt
import re
import secrets

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken, set_token_value

from quantsite.accounts.models import ApplicationPolicy, User
from quantsite.accounts.tests.factories import ApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


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
        "policy-0-enabled": "on",
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


def test_staff_mark_a_resource_server_and_can_disable_an_application(staff_client):
    staff_client.post(
        "/admin/oauth2_provider/application/add/",
        application_form(**{"policy-0-resource_server": "on", "policy-0-enabled": ""}),
    )

    policy = Application.objects.get(name="hub-9").policy
    assert policy.resource_server is True
    assert policy.enabled is False


def test_the_add_page_offers_enabled_ticked_and_resource_server_unticked(staff_client):
    html = staff_client.get("/admin/oauth2_provider/application/add/").content.decode()

    assert re.search(r'<input[^>]*name="policy-__prefix__-enabled"[^>]*checked', html)
    assert not re.search(r'<input[^>]*name="policy-__prefix__-resource_server"[^>]*checked', html)


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


# -- users: reserved names, disabling ------------------------------------------------------


def test_admin_refuses_a_reserved_username(staff_client):
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "postgres",
            "password1": "violet-otter-meadow-42",
            "password2": "violet-otter-meadow-42",
            "usable_password": "true",
        },
    )

    assert response.status_code == 200
    assert "That username is reserved for the system." in response.content.decode()
    assert not User.objects.filter(username="postgres").exists()


def test_admin_refuses_renaming_a_user_to_a_reserved_name(staff_client):
    user = UserFactory(username="grace")

    response = staff_client.post(
        f"/admin/accounts/user/{user.pk}/change/", user_change_form(user, username="root")
    )

    assert response.status_code == 200
    assert "That username is reserved for the system." in response.content.decode()
    user.refresh_from_db()
    assert user.username == "grace"


def test_createsuperuser_refuses_a_reserved_username(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "violet-otter-meadow-42")

    with pytest.raises(CommandError, match="reserved for the system"):
        call_command("createsuperuser", "--noinput", "--username=root", "--email=root@example.org")

    assert not User.objects.filter(username="root").exists()


def user_change_form(user, **overrides):
    data = {
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def tokens_of():
    def make(user):
        app = ApplicationFactory()
        access = AccessToken(user=user, application=app, expires=timezone.now() + HOUR)
        set_token_value(access, secrets.token_urlsafe())
        access.save()
        refresh = RefreshToken(user=user, application=app, access_token=access)
        set_token_value(refresh, secrets.token_urlsafe())
        refresh.save()
        return app

    return make


def test_unticking_active_disables_the_user_at_once(client, staff_client, tokens_of):
    user = UserFactory(username="grace")
    tokens_of(user)
    own = Client()
    own.force_login(user)

    response = staff_client.post(
        f"/admin/accounts/user/{user.pk}/change/", user_change_form(user, is_active=None)
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not AccessToken.objects.filter(user=user).exists()
    assert not RefreshToken.objects.filter(user=user).exists()
    assert own.get("/accounts/profile/").status_code == 302  # their session is over


def test_the_disable_action_disables_each_selected_user(staff_client, tokens_of):
    grace, alan, kept = (UserFactory(username=n) for n in ("grace", "alan", "kept"))
    for user in (grace, alan, kept):
        tokens_of(user)

    response = staff_client.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [grace.pk, alan.pk]},
    )

    assert response.status_code == 302
    active = dict(User.objects.filter(is_staff=False).values_list("username", "is_active"))
    assert active == {"grace": False, "alan": False, "kept": True}
    assert set(AccessToken.objects.values_list("user__username", flat=True)) == {"kept"}
