"""Property: no request to the OAuth endpoints gets a server error, whatever its parameters
(missing, repeated, empty, huge, non-ASCII, lone surrogates, JSON where text is expected)."""

import base64
import hashlib
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantsite.accounts.tests.factories import (
    CLIENT_SECRET,
    ApplicationFactory,
    ApplicationPolicyFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REDIRECT_URI = "http://127.0.0.1:9999/callback"
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")

AUTHORIZE_KEYS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "nonce",
    "claims",
    "max_age",
    "ui_locales",
    "id_token_hint",
    "login_hint",
    "response_mode",
    "request",
    "request_uri",
    "resource",
    "approval_prompt",
]
TOKEN_KEYS = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "resource",
    "device_code",
]
GRANTS = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "implicit",
]
ODD = st.one_of(
    st.sampled_from(
        [
            *["", " ", "none", "login", "none login", "query", "fragment", "form_post", "[]"],
            *['{"userinfo": 5}', '{"id_token": {"email": {"essential": "yes"}}}', "-1", "1e999"],
            *["openid profile email notebooks discovery", "x" * 300, "é" * 200, "\udc80", "{}"],
        ]
    ),
    st.text(max_size=40),
)


FORM = "application/x-www-form-urlencoded"


def encoded(value: str) -> bytes:
    # Lone surrogates cannot be UTF-8 encoded; send what a careless client would.
    return value.encode("utf-8", "surrogatepass")


def form(pairs: list[tuple[str, bytes]]) -> str:
    return urlencode(pairs)


@pytest.fixture
def parties():
    trusted = ApplicationFactory(skip_authorization=True, redirect_uris=REDIRECT_URI)
    ApplicationPolicyFactory(application=trusted, allowed_scopes="openid profile email discovery")
    untrusted = ApplicationFactory(redirect_uris=REDIRECT_URI)
    return UserFactory(username="ada"), trusted, untrusted


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    overrides=st.dictionaries(st.sampled_from(AUTHORIZE_KEYS), ODD, max_size=4),
    repeated=st.lists(st.sampled_from(AUTHORIZE_KEYS), max_size=2),
    trusted=st.booleans(),
    signed_in=st.booleans(),
)
def test_authorize_never_fails(parties, overrides, repeated, trusted, signed_in):
    user, trusted_app, untrusted_app = parties
    app = trusted_app if trusted else untrusted_app
    client = Client()
    if signed_in:
        client.force_login(user)
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "s",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        **overrides,
    }
    query = [(key, encoded(value)) for key, value in params.items()]
    query += [(key, b"again") for key in repeated]

    response = client.get("/o/authorize/", query)

    assert response.status_code < 500
    if response.status_code == 200 and b'name="allow"' in response.content:
        # The consent form, posted back with the same parameters.
        posted = client.post("/o/authorize/", dict(query) | {"allow": "Authorize"}, QUERY_STRING="")
        assert posted.status_code < 500


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    grant=st.one_of(st.sampled_from(GRANTS), ODD),
    overrides=st.dictionaries(st.sampled_from(TOKEN_KEYS), ODD, max_size=4),
    authenticated=st.booleans(),
)
def test_token_endpoint_never_fails(parties, grant, overrides, authenticated):
    _user, trusted_app, _untrusted = parties
    headers = {}
    if authenticated:
        basic = base64.b64encode(f"{trusted_app.client_id}:{CLIENT_SECRET}".encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {basic}"
    data = {"grant_type": grant, **overrides}

    response = Client().post(
        "/o/token/", form([(key, encoded(value)) for key, value in data.items()]), FORM, **headers
    )

    assert response.status_code < 500


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/o/revoke_token/", "/o/introspect/", "/o/userinfo/"]),
    token=ODD,
    hint=ODD,
    bearer=st.one_of(st.none(), ODD),
)
def test_revoke_introspect_and_userinfo_never_fail(parties, path, token, hint, bearer):
    _user, trusted_app, _untrusted = parties
    basic = base64.b64encode(f"{trusted_app.client_id}:{CLIENT_SECRET}".encode()).decode()
    header = f"Bearer {bearer}" if bearer is not None else f"Basic {basic}"

    response = Client().post(
        path,
        form([("token", encoded(token)), ("token_type_hint", encoded(hint))]),
        FORM,
        HTTP_AUTHORIZATION=header.encode("utf-8", "surrogatepass").decode("latin-1"),
    )

    assert response.status_code < 500
