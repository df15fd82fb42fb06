"""The OAuth2 / OpenID Connect provider, end to end: a standard OAuth client library against a
live server. Failures must carry the error code the RFCs name (RFC 6749 4.1.2.1 and 5.2,
RFC 7636 4.6, RFC 6750 3.1), never a 500."""

import datetime as dt
import hashlib
import json

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError
from requests_oauthlib import OAuth2Session

from quantsite.accounts.models import ApplicationPolicy
from quantsite.accounts.tests.factories import (
    CLIENT_SECRET,
    ApplicationFactory,
    ApplicationPolicyFactory,
    UserFactory,
)
from quantsite.accounts.tests.oauth_client import authorize, browser_login, query_of

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT_URI = "http://127.0.0.1:9999/callback"


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture
def user():
    return UserFactory(username="ada", email="ada@example.org", name="Ada Lovelace")


@pytest.fixture
def trusted_app():
    return ApplicationFactory(name="Hub One", skip_authorization=True, redirect_uris=REDIRECT_URI)


@pytest.fixture
def browser(base_url, user):
    return browser_login(base_url, user.username)


def new_session(app: Application, scope=("openid", "profile", "email"), **kwargs) -> OAuth2Session:
    return OAuth2Session(
        app.client_id,
        redirect_uri=kwargs.pop("redirect_uri", REDIRECT_URI),
        scope=list(scope),
        pkce="S256",
        **kwargs,
    )


def code_flow(base_url, browser, app, scope=("openid", "profile", "email")):
    """Run authorization code + PKCE to the end; return (session, token)."""
    oauth = new_session(app, scope)
    response = authorize(browser, oauth, base_url)
    assert response.status_code == 302
    token = oauth.fetch_token(
        f"{base_url}/o/token/",
        authorization_response=response.headers["Location"],
        client_secret=CLIENT_SECRET,
    )
    return oauth, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- authorization code + PKCE -----------------------------------------------------------


def test_trusted_application_gets_a_code_without_consent(base_url, browser, trusted_app):
    oauth = new_session(trusted_app)

    response = authorize(browser, oauth, base_url)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query_of(location)
    assert set(params) == {"code", "state", "iss"}
    assert params["iss"] == f"{settings.SITE_URL}/o"


def test_code_exchange_issues_tokens_with_bounded_lifetimes(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    assert token["token_type"] == "Bearer"
    assert token["scope"] == ["openid", "profile", "email"]
    assert token["expires_in"] == 3600
    assert token["refresh_token"]
    stored = RefreshToken.objects.get(access_token__application=trusted_app)
    # Tokens are kept hashed at rest: the database never holds a usable token.
    assert stored.token == ""
    assert AccessToken.objects.get(application=trusted_app).token == ""


def test_id_token_is_signed_by_the_published_key_and_names_the_user(
    base_url, browser, trusted_app, user
):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    jwks = requests.get(f"{base_url}/o/.well-known/jwks.json", timeout=10).json()
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))

    claims = json.loads(jwt.JWT(jwt=token["id_token"], key=keyset).claims)

    assert claims["iss"] == f"{settings.SITE_URL}/o"
    assert claims["aud"] == trusted_app.client_id
    assert claims["sub"] == str(user.pk)
    assert claims["preferred_username"] == "ada"
    assert claims["email"] == "ada@example.org"
    assert claims["exp"] - claims["iat"] == 3600


def test_userinfo_and_api_me_tell_the_same_facts(base_url, browser, trusted_app, user):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    userinfo = requests.get(
        f"{base_url}/o/userinfo/", headers=bearer(token["access_token"]), timeout=10
    )
    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)

    expected = {
        "sub": str(user.pk),
        "preferred_username": "ada",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
    }
    assert userinfo.status_code == 200
    assert userinfo.json() == expected
    assert me.status_code == 200
    assert me.json() == expected


def test_claims_follow_the_granted_scopes(base_url, browser, trusted_app, user):
    _oauth, token = code_flow(base_url, browser, trusted_app, scope=("openid", "profile"))

    userinfo = requests.get(
        f"{base_url}/o/userinfo/", headers=bearer(token["access_token"]), timeout=10
    )
    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)

    assert userinfo.json() == {
        "sub": str(user.pk),
        "preferred_username": "ada",
        "name": "Ada Lovelace",
    }
    assert me.json() == {"sub": str(user.pk), "preferred_username": "ada", "name": "Ada Lovelace"}


def test_api_me_needs_the_profile_scope(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app, scope=("openid",))

    response = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)

    assert response.status_code == 403


# -- consent -----------------------------------------------------------------------------


def test_untrusted_application_gets_a_consent_page_naming_it_and_the_scopes(base_url, browser):
    app = ApplicationFactory(name="Notebook Viewer")
    oauth = new_session(app, scope=("openid", "email"))

    response = authorize(browser, oauth, base_url)

    assert response.status_code == 200
    assert "Allow Notebook Viewer?" in response.text
    assert "Know who you are on Quantsite" in response.text
    assert "See your email address" in response.text


def test_consent_granted_redirects_with_a_code(base_url, browser):
    app = ApplicationFactory(name="Notebook Viewer")
    oauth = new_session(app)
    page = authorize(browser, oauth, base_url)
    form = _hidden_fields(page.text)

    response = browser.post(
        page.url,
        data={**form, "allow": "Authorize", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    assert "code" in query_of(response.headers["Location"])
    token = oauth.fetch_token(
        f"{base_url}/o/token/",
        authorization_response=response.headers["Location"],
        client_secret=CLIENT_SECRET,
    )
    assert token["access_token"]


def test_consent_denied_redirects_with_access_denied(base_url, browser):
    app = ApplicationFactory(name="Notebook Viewer")
    oauth = new_session(app)
    page = authorize(browser, oauth, base_url)
    form = _hidden_fields(page.text)

    response = browser.post(
        page.url,
        data={**form, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "access_denied"


def test_anonymous_visitor_is_sent_to_log_in_first(base_url, trusted_app):
    oauth = new_session(trusted_app)

    response = authorize(requests.Session(), oauth, base_url)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=/o/authorize/")


# -- refresh tokens ----------------------------------------------------------------------


def test_refresh_rotates_both_tokens(base_url, browser, trusted_app):
    oauth, first = code_flow(base_url, browser, trusted_app)

    second = oauth.refresh_token(
        f"{base_url}/o/token/", client_id=trusted_app.client_id, client_secret=CLIENT_SECRET
    )

    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    me = requests.get(f"{base_url}/api/me", headers=bearer(second["access_token"]), timeout=10)
    assert me.status_code == 200


def test_reusing_a_rotated_refresh_token_fails_and_revokes_the_family(
    base_url, browser, trusted_app
):
    oauth, first = code_flow(base_url, browser, trusted_app)
    second = oauth.refresh_token(
        f"{base_url}/o/token/", client_id=trusted_app.client_id, client_secret=CLIENT_SECRET
    )

    reuse = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )
    after = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # RFC 9700 4.14.2: a replayed refresh token means theft; the newer one dies with it.
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


def test_expired_refresh_token_is_refused(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    # A refresh token lives REFRESH_TOKEN_EXPIRE_SECONDS (14 days) past its access token.
    AccessToken.objects.filter(application=trusted_app).update(
        expires=timezone.now() - dt.timedelta(days=14, seconds=1)
    )

    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# -- client credentials ------------------------------------------------------------------


@pytest.fixture
def hub_app():
    app = ApplicationFactory(
        name="hub-1",
        skip_authorization=True,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    ApplicationPolicyFactory(application=app, allowed_scopes="openid profile email discovery")
    return app


def client_credentials(base_url, app, scope):
    return requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(app.client_id, CLIENT_SECRET),
        timeout=10,
    )


def test_client_credentials_issue_a_token_without_a_user(base_url, hub_app):
    response = client_credentials(base_url, hub_app, "discovery")

    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "discovery"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    token = AccessToken.objects.get(application=hub_app)
    assert token.user is None
    # A token that speaks for no user cannot ask who the user is.
    me = requests.get(f"{base_url}/api/me", headers=bearer(body["access_token"]), timeout=10)
    assert me.status_code == 403


def test_client_credentials_with_a_scope_the_client_may_not_have(base_url, hub_app):
    response = client_credentials(base_url, hub_app, "notebooks")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_client_credentials_with_a_wrong_secret(base_url, hub_app):
    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "client_credentials", "scope": "discovery"},
        auth=(hub_app.client_id, "not-the-secret"),
        timeout=10,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_code_flow_client_cannot_use_client_credentials(base_url, trusted_app):
    response = client_credentials(base_url, trusted_app, "openid")

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


# -- authorization failures --------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:9998/callback",  # another port on loopback: another hub
        "http://127.0.0.1:9999/callback/other",
        "http://localhost:9999/callback",
        "http://127.0.0.1:9999/callback?x=1",
    ],
)
def test_redirect_uri_must_match_exactly(base_url, browser, trusted_app, redirect_uri):
    oauth = new_session(trusted_app, redirect_uri=redirect_uri)

    response = authorize(browser, oauth, base_url)

    # RFC 6749 4.1.2.1: never redirect to an unregistered URI; tell the user instead.
    assert response.status_code == 400
    assert "invalid_request" in response.text
    assert "Location" not in response.headers


def test_authorization_without_pkce_is_refused(base_url, browser, trusted_app):
    oauth = OAuth2Session(trusted_app.client_id, redirect_uri=REDIRECT_URI, scope=["openid"])

    response = authorize(browser, oauth, base_url)

    assert response.status_code == 302
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_request"
    assert params["error_description"] == "Code challenge required."


def test_plain_pkce_method_is_refused(base_url, browser, trusted_app):
    oauth = OAuth2Session(trusted_app.client_id, redirect_uri=REDIRECT_URI, scope=["openid"])

    response = authorize(
        browser, oauth, base_url, code_challenge="a" * 43, code_challenge_method="plain"
    )

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def _code(base_url, browser, oauth) -> str:
    response = authorize(browser, oauth, base_url)
    return query_of(response.headers["Location"])["code"]


def _exchange(base_url, app, code, **extra):
    return requests.post(
        f"{base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            **extra,
        },
        auth=(app.client_id, CLIENT_SECRET),
        timeout=10,
    )


def test_code_exchange_with_a_wrong_verifier(base_url, browser, trusted_app):
    code = _code(base_url, browser, new_session(trusted_app))

    response = _exchange(base_url, trusted_app, code, code_verifier="w" * 64)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_exchange_without_a_verifier(base_url, browser, trusted_app):
    code = _code(base_url, browser, new_session(trusted_app))

    response = _exchange(base_url, trusted_app, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_code_works_once(base_url, browser, trusted_app):
    oauth = new_session(trusted_app)
    location = authorize(browser, oauth, base_url).headers["Location"]
    oauth.fetch_token(
        f"{base_url}/o/token/", authorization_response=location, client_secret=CLIENT_SECRET
    )

    with pytest.raises(InvalidGrantError):
        oauth.fetch_token(
            f"{base_url}/o/token/", authorization_response=location, client_secret=CLIENT_SECRET
        )


def test_code_exchange_with_another_redirect_uri(base_url, browser, trusted_app):
    code = _code(base_url, browser, new_session(trusted_app))

    response = requests.post(
        f"{base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9999/other",
        },
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_authorization_with_a_scope_the_client_may_not_have(base_url, browser, trusted_app):
    oauth = new_session(trusted_app, scope=("openid", "discovery"))

    response = authorize(browser, oauth, base_url)

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_scope"


def test_openid_scope_needs_a_signing_algorithm(base_url, browser):
    app = ApplicationFactory(skip_authorization=True, algorithm=Application.NO_ALGORITHM)
    oauth = new_session(app, scope=("openid",))

    response = authorize(browser, oauth, base_url)

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("response_type", "error"),
    [
        ("token", "unsupported_response_type"),
        ("id_token", "unsupported_response_type"),
        ("id_token token", "unsupported_response_type"),
        # Unknown combinations fall to the code grant, which refuses the client (4.1.2.1).
        ("code id_token", "unauthorized_client"),
    ],
)
def test_implicit_and_hybrid_response_types_are_refused(
    base_url, browser, trusted_app, response_type, error
):
    oauth = new_session(trusted_app)
    url, _ = oauth.authorization_url(f"{base_url}/o/authorize/", nonce="n-0S6_WzA2Mj")
    url = url.replace("response_type=code", f"response_type={response_type.replace(' ', '+')}")

    response = browser.get(url, allow_redirects=False, timeout=10)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")  # an error in the query, no token in a fragment
    assert query_of(location)["error"] == error


def test_unknown_client_id(base_url, browser):
    oauth = OAuth2Session(
        "no-such-client", redirect_uri=REDIRECT_URI, scope=["openid"], pkce="S256"
    )

    response = authorize(browser, oauth, base_url)

    # Unknown client: nowhere trusted to redirect to, so the error is shown (RFC 6749 4.1.2.1).
    assert response.status_code == 400
    assert "invalid_request: Invalid client_id parameter value." in response.text
    assert "Location" not in response.headers


# -- using tokens ------------------------------------------------------------------------


def test_expired_access_token_is_refused(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    AccessToken.objects.filter(application=trusted_app).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )

    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)
    userinfo = requests.get(
        f"{base_url}/o/userinfo/", headers=bearer(token["access_token"]), timeout=10
    )

    assert me.status_code == 401
    assert 'error="invalid_token"' in me.headers["WWW-Authenticate"]
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]


def test_revoked_access_token_is_refused(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    revoke = requests.post(
        f"{base_url}/o/revoke_token/",
        data={"token": token["access_token"], "token_type_hint": "access_token"},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )
    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)

    assert revoke.status_code == 200
    assert me.status_code == 401


def test_a_disabled_accounts_tokens_stop_working(base_url, browser, trusted_app, user):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    user.is_active = False
    user.save(update_fields=["is_active"])

    userinfo = requests.get(
        f"{base_url}/o/userinfo/", headers=bearer(token["access_token"]), timeout=10
    )
    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)
    refresh = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert userinfo.status_code == 401
    assert me.status_code == 401
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer ", "Bearer a b c", "Basic Zm9vOmJhcg=="]
)
def test_garbage_credentials_are_refused(base_url, header):
    response = requests.get(f"{base_url}/api/me", headers={"Authorization": header}, timeout=10)

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "unsupported_grant_type"),
        ({"grant_type": "nonsense"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        (
            {
                "grant_type": "authorization_code",
                "code": "no-such-code",
                "redirect_uri": REDIRECT_URI,
                "code_verifier": "v" * 43,
            },
            "invalid_grant",
        ),
        # PostgreSQL text cannot hold NUL: refused before any query.
        (
            {
                "grant_type": "authorization_code",
                "code": "abc\x00def",
                "redirect_uri": REDIRECT_URI,
                "code_verifier": "v" * 43,
            },
            "invalid_request",
        ),
    ],
)
def test_malformed_token_requests_get_an_oauth_error(base_url, trusted_app, data, error):
    response = requests.post(
        f"{base_url}/o/token/", data=data, auth=(trusted_app.client_id, CLIENT_SECRET), timeout=10
    )

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_nul_in_an_authorization_request_is_refused(base_url, browser, trusted_app):
    oauth = new_session(trusted_app)

    response = authorize(browser, oauth, base_url, state="abc\x00def")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("password", ["wrong-password", "correct-horse-battery-staple"])
def test_password_grant_does_not_exist(base_url, trusted_app, user, password):
    # Right or wrong password, the same answer: the token endpoint never checks passwords.
    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "password", "username": user.username, "password": password},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


# -- discovery documents -----------------------------------------------------------------


def test_openid_configuration_describes_the_provider(base_url):
    response = requests.get(f"{base_url}/o/.well-known/openid-configuration", timeout=10)

    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == f"{settings.SITE_URL}/o"
    assert config["response_types_supported"] == ["code"]
    assert config["userinfo_endpoint"].endswith("/o/userinfo/")
    assert config["jwks_uri"].endswith("/o/.well-known/jwks.json")
    assert "S256" in config["code_challenge_methods_supported"]
    assert "plain" not in config["code_challenge_methods_supported"]
    assert {"preferred_username", "email", "name"} <= set(config["claims_supported"])


def test_jwks_publishes_one_rsa_signing_key(base_url):
    keys = requests.get(f"{base_url}/o/.well-known/jwks.json", timeout=10).json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["use"] == "sig"
    assert "d" not in keys[0]  # never the private part


def _hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the consent form (names and values), parsed with the stdlib."""
    from html.parser import HTMLParser

    fields: dict[str, str] = {}

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
                fields[attrs["name"]] = attrs.get("value") or ""

    Parser().feed(html)
    fields.pop("csrfmiddlewaretoken", None)
    return fields


# -- only the endpoints the site serves ----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/o/applications/",
        "/o/applications/register/",
        "/o/authorized_tokens/",
        "/o/device/",
        "/o/device-authorization/",
        "/o/register/",
        "/o/logout/",
    ],
)
def test_library_management_device_and_registration_pages_do_not_exist(base_url, browser, path):
    response = browser.get(f"{base_url}{path}", allow_redirects=False, timeout=10)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "path", ["/o/.well-known/openid-configuration", "/o/.well-known/oauth-authorization-server"]
)
def test_metadata_lists_only_the_grants_served(base_url, path):
    config = requests.get(f"{base_url}{path}", timeout=10).json()

    assert config["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    assert "registration_endpoint" not in config
    assert "device_authorization_endpoint" not in config


def test_device_grant_without_a_device_code_is_an_unsupported_grant(base_url, trusted_app):
    response = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


# -- prompt=none and other odd authorization parameters (no 500) ---------------------------


def test_prompt_none_with_a_trusted_application_gives_a_code(base_url, browser, trusted_app):
    response = authorize(browser, new_session(trusted_app), base_url, prompt="none")

    assert response.status_code == 302
    assert set(query_of(response.headers["Location"])) == {"code", "state", "iss"}


def test_prompt_none_without_a_session_says_login_required(base_url, trusted_app):
    response = authorize(requests.Session(), new_session(trusted_app), base_url, prompt="none")

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    assert query_of(location)["error"] == "login_required"


def test_prompt_none_needing_consent_says_consent_required(base_url, browser):
    app = ApplicationFactory(name="Untrusted", skip_authorization=False)

    response = authorize(browser, new_session(app), base_url, prompt="none")

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "consent_required"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"prompt": "none login"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "nonsense"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://evil.example/req"}, "request_uri_not_supported"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"code_challenge": "x" * 129}, "invalid_request"),
        ({"nonce": "n" * 256}, "invalid_request"),
    ],
)
def test_odd_authorization_parameters_go_back_as_oauth_errors(
    base_url, browser, trusted_app, params, error
):
    oauth = new_session(trusted_app)
    url, _state = oauth.authorization_url(f"{base_url}/o/authorize/")
    query = {**query_of(url), **params}

    response = browser.get(f"{base_url}/o/authorize/", params=query, allow_redirects=False)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")  # never in a fragment
    assert query_of(location)["error"] == error
    assert Grant.objects.count() == 0


# -- tokens only in the Authorization header -----------------------------------------------


@pytest.mark.parametrize("path", ["/o/userinfo/", "/api/me"])
@pytest.mark.parametrize("where", ["query", "body"])
def test_a_token_outside_the_header_is_not_accepted(base_url, browser, trusted_app, path, where):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    sent = {"access_token": token["access_token"]}

    if where == "query":
        response = requests.get(f"{base_url}{path}", params=sent, timeout=10)
    else:
        response = requests.post(f"{base_url}{path}", data=sent, timeout=10)

    assert response.status_code == 401
    in_header = requests.get(f"{base_url}{path}", headers=bearer(token["access_token"]), timeout=10)
    assert in_header.status_code == 200


def test_a_token_in_the_query_does_not_count_beside_another_in_the_header(
    base_url, browser, trusted_app
):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    response = requests.get(
        f"{base_url}/o/userinfo/",
        params={"access_token": token["access_token"]},
        headers=bearer("nonsense"),
        timeout=10,
    )

    assert response.status_code == 401


# -- authorization codes: hashed at rest, reuse revokes ------------------------------------


def test_authorization_codes_are_stored_hashed(base_url, browser, trusted_app):
    response = authorize(browser, new_session(trusted_app), base_url)
    code = query_of(response.headers["Location"])["code"]

    stored = Grant.objects.get(application=trusted_app)

    assert stored.code != code
    assert stored.code == hashlib.sha256(code.encode()).hexdigest()


def test_a_reused_code_revokes_the_tokens_it_gave(base_url, browser, trusted_app):
    oauth = new_session(trusted_app)
    response = authorize(browser, oauth, base_url)
    location = response.headers["Location"]
    token = oauth.fetch_token(
        f"{base_url}/o/token/", authorization_response=location, client_secret=CLIENT_SECRET
    )
    refreshed = oauth.refresh_token(
        f"{base_url}/o/token/", client_id=trusted_app.client_id, client_secret=CLIENT_SECRET
    )

    again = requests.post(
        f"{base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": oauth._code_verifier,
        },
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # RFC 6749 4.1.2: the tokens issued from the code, and those rotated from them, die.
    for access_token in (token["access_token"], refreshed["access_token"]):
        userinfo = requests.get(f"{base_url}/o/userinfo/", headers=bearer(access_token), timeout=10)
        assert userinfo.status_code == 401
    refresh = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )
    assert refresh.status_code == 400


# -- disabled applications ------------------------------------------------------------------


def disable(app: Application) -> None:
    ApplicationPolicy.objects.update_or_create(
        application=app,
        defaults={"allowed_scopes": "openid profile email discovery", "enabled": False},
    )


def test_a_disabled_application_authorizes_nobody(base_url, browser, trusted_app):
    disable(trusted_app)

    response = authorize(browser, new_session(trusted_app), base_url, prompt="none")

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert Grant.objects.count() == 0


def test_a_disabled_application_gets_no_client_credentials_token(base_url, hub_app):
    ApplicationPolicy.objects.filter(application=hub_app).update(enabled=False)

    response = client_credentials(base_url, hub_app, "discovery")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.count() == 0


def test_a_disabled_application_cannot_exchange_a_code_or_refresh(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    second = new_session(trusted_app)
    pending = authorize(browser, second, base_url).headers["Location"]
    disable(trusted_app)

    exchange = requests.post(
        f"{base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": query_of(pending)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": second._code_verifier,
        },
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )
    refresh = requests.post(
        f"{base_url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(trusted_app.client_id, CLIENT_SECRET),
        timeout=10,
    )
    userinfo = requests.get(
        f"{base_url}/o/userinfo/", headers=bearer(token["access_token"]), timeout=10
    )
    me = requests.get(f"{base_url}/api/me", headers=bearer(token["access_token"]), timeout=10)

    assert exchange.status_code == 401
    assert refresh.status_code == 401
    assert userinfo.status_code == 401
    assert me.status_code == 401


def test_an_enabled_application_works_again(base_url, browser, trusted_app):
    disable(trusted_app)
    ApplicationPolicy.objects.filter(application=trusted_app).update(enabled=True)

    _oauth, token = code_flow(base_url, browser, trusted_app)

    assert token["access_token"]


# -- introspection: resource servers only ---------------------------------------------------


@pytest.fixture
def resource_server():
    app = ApplicationFactory(
        name="Resource server", authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS
    )
    ApplicationPolicyFactory(application=app, allowed_scopes="openid", resource_server=True)
    return app


def introspect(base_url, client, token):
    return requests.post(
        f"{base_url}/o/introspect/",
        data={"token": token},
        auth=(client.client_id, CLIENT_SECRET),
        timeout=10,
    )


def test_a_resource_server_introspects_a_token(
    base_url, browser, trusted_app, user, resource_server
):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    response = introspect(base_url, resource_server, token["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["username"] == "ada"
    assert body["client_id"] == trusted_app.client_id
    assert body["scope"] == "openid profile email"


def test_other_clients_may_not_introspect(base_url, browser, trusted_app):
    _oauth, token = code_flow(base_url, browser, trusted_app)

    own = introspect(base_url, trusted_app, token["access_token"])
    anonymous = requests.post(
        f"{base_url}/o/introspect/", data={"token": token["access_token"]}, timeout=10
    )
    with_bearer = requests.post(
        f"{base_url}/o/introspect/",
        data={"token": token["access_token"]},
        headers=bearer(token["access_token"]),
        timeout=10,
    )

    assert own.status_code == 403
    assert own.json()["error"] == "unauthorized_client"
    assert anonymous.status_code == 401
    assert with_bearer.status_code == 401


def test_introspection_reports_a_disabled_accounts_token_inactive(
    base_url, browser, trusted_app, user, resource_server
):
    _oauth, token = code_flow(base_url, browser, trusted_app)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = introspect(base_url, resource_server, token["access_token"])

    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspection_by_get_with_the_token_in_the_url_is_refused(base_url, resource_server):
    response = requests.get(
        f"{base_url}/o/introspect/",
        params={"token": "x"},
        auth=(resource_server.client_id, CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 405


@pytest.mark.parametrize(("client_id", "status"), [("no-such-client", 400), ("", 200)])
def test_a_consent_form_posted_for_an_unknown_client_is_refused(
    base_url, browser, client_id, status
):
    browser.get(f"{base_url}/o/.well-known/jwks.json", timeout=10)
    response = browser.post(
        f"{base_url}/o/authorize/",
        data={
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid",
            "allow": "Authorize",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"{base_url}/o/authorize/"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == status  # the error page, or the form again
    assert "Location" not in response.headers
