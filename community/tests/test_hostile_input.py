"""Whatever a visitor puts in a forum address or form (author, tag, sort, page, q, version,
ids and usernames in the path), the answer is a page or a clear 400/404, never a 500."""

from urllib.parse import quote

import pytest

from community.tests.test_forum import chart_notebook, share
from research.services.notebooks import notebook_save

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

HOSTILE = [
    "a/b",
    "../../etc/passwd",
    "/",
    "\x00",
    "x" * 5_000,
    "%",
    "%00",
    "'; DROP TABLE community_topic; --",
    "<script>alert(1)</script>",
    "²",
    "-1",
    "0",
    "99999999999999999999999999",
    "1e400",
    "NaN",
    " ",
    "a\nb",
    "\u202e\u0000",
    "🙂",
]
# Percent-encoded bytes that are not UTF-8 (a lone surrogate's encoding among them).
RAW = ["%ED%A0%80", "%FF%FE", "%C0%AF"]
QUERY_PARAMETERS = ["author", "tag", "sort", "page", "q"]
OK = {200, 302, 400, 404}


@pytest.fixture
def topic_url(client, ada):
    """A shared notebook's topic (its version left pending: no render is needed here)."""
    notebook_save(user=ada, path="s.ipynb", notebook=chart_notebook())
    return share(client).json()["url"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("parameter", QUERY_PARAMETERS)
def test_list_and_profile_parameters(client, topic_url, parameter, value):
    for path in ["/community", "/community/users/ada"]:
        response = client.get(path, {parameter: value})
        assert response.status_code in OK, (path, parameter, value, response.status_code)


@pytest.mark.parametrize("value", RAW)
@pytest.mark.parametrize("parameter", [*QUERY_PARAMETERS, "version"])
def test_bytes_that_are_not_utf8(client, topic_url, parameter, value):
    for path in ["/community", "/community/users/ada", topic_url]:
        response = client.get(f"{path}?{parameter}={value}")
        assert response.status_code in OK, (path, parameter, value, response.status_code)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_topics_version_parameter(client, topic_url, value):
    assert client.get(topic_url, {"version": value}).status_code in OK


@pytest.mark.parametrize("value", HOSTILE)
def test_a_clones_version_parameter(client, topic_url, value):
    shared_id = client.get(topic_url).context["shared"].pk
    response = client.post(f"/community/shares/{shared_id}/clone", {"version": value})
    assert response.status_code in OK


@pytest.mark.parametrize("value", HOSTILE + RAW)
def test_usernames_in_the_path(client, topic_url, value):
    response = client.get("/community/users/" + (value if value in RAW else quote(value)))
    assert response.status_code in {400, 404}


@pytest.mark.parametrize("number", ["99999999999999999999999999", "9223372036854775808", "0"])
@pytest.mark.parametrize(
    "path",
    [
        "/community/topics/{}",
        "/community/topics/{}/edit",
        "/community/replies/{}/edit",
        "/community/renders/{}.html",
        "/community/versions/{}/thumbnail.png",
        "/community/versions/{}/download",
    ],
)
def test_ids_in_the_path(client, topic_url, path, number):
    assert client.get(path.format(number)).status_code == 404


def test_the_old_profile_address_still_redirects(client, topic_url):
    response = client.get("/community", {"author": "Ada"})

    assert (response.status_code, response.headers["Location"]) == (302, "/community/users/ada")
