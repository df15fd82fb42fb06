"""Drive the OAuth flows as a real client would: ``requests`` + ``requests-oauthlib`` over HTTP."""

from urllib.parse import parse_qs, urlsplit

import requests
from requests_oauthlib import OAuth2Session

from quantsite.accounts.tests.factories import PASSWORD


def browser_login(base_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    """A ``requests`` session logged into the site through its login form."""
    session = requests.Session()
    session.get(f"{base_url}/accounts/login/", timeout=10).raise_for_status()
    response = session.post(
        f"{base_url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session


def authorize(
    browser: requests.Session, oauth: OAuth2Session, base_url: str, **params
) -> requests.Response:
    """GET the authorization endpoint with the browser's session; do not follow the redirect."""
    url, _state = oauth.authorization_url(f"{base_url}/o/authorize/", **params)
    return browser.get(url, allow_redirects=False, timeout=10)


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
