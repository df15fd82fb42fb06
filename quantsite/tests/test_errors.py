"""Errors in the shape each caller reads: ``{"detail"}`` on the APIs, OAuth's on /o/, pages for
people."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_unrouted_api_url_is_a_json_404(client):
    response = client.get("/api/no/such/api")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_unrouted_oauth_url_is_an_oauth_404(client):
    response = client.get("/o/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {"error": "invalid_request", "error_description": "Not found."}


def test_an_unrouted_page_is_the_sites_404_page(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/me?x=%00", {"detail": "NUL characters are not allowed."}),
        (
            "/o/userinfo/?x=%00",
            {"error": "invalid_request", "error_description": "NUL characters are not allowed."},
        ),
    ],
)
def test_nul_in_a_query_is_a_400_in_the_callers_shape(client, path, body):
    response = client.get(path)

    assert response.status_code == 400
    assert response.json() == body
