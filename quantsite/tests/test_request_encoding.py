"""Compressed request bodies: inflated only by the APIs that take large bodies, after the
caller is authenticated, with the size and ratio capped; refused (415) everywhere else."""

import gzip
import json
import zlib

import nbformat
import pytest

from quantsite.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def bomb(inflated_bytes: int) -> bytes:
    """A gzip body of ``inflated_bytes`` zeros: about a thousandth of that, compressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(inflated_bytes // len(block))]
    return b"".join([*parts, compressor.flush()])


@pytest.fixture(scope="module")
def big_bomb() -> bytes:
    return bomb(64 * 1024 * 1024)  # 64 MB of zeros in about 64 KB


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/healthz"),
        ("get", "/readyz"),
        ("post", "/o/token/"),
        ("post", "/accounts/login/"),
        ("post", "/api/me"),
        ("post", "/api/discovery/heartbeat"),
        ("post", "/community/new"),
        ("post", "/no/such/page"),
    ],
)
def test_a_gzip_body_is_refused_unread_outside_the_contents_and_share_apis(
    client, method, path, big_bomb
):
    response = client.generic(
        method.upper(),
        path,
        data=big_bomb,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 415
    # Nothing read the body.
    assert response.wsgi_request._stream._pos == 0


def test_the_oauth_endpoints_refuse_in_the_oauth_shape(client, big_bomb):
    response = client.post(
        "/o/token/",
        data=big_bomb,
        content_type="application/x-www-form-urlencoded",
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 415
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Content-Encoding 'gzip' is not accepted here.",
    }


@pytest.mark.parametrize("path", ["/api/contents/bomb.txt", "/api/community/shares"])
def test_anonymous_gzip_to_the_accepting_apis_is_refused_before_inflating(client, path, big_bomb):
    response = client.put(
        path, data=big_bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )

    assert response.status_code in (401, 405)
    assert response.wsgi_request._stream._pos == 0


@pytest.fixture
def ada(client):
    client.force_login(UserFactory(username="ada"))
    return client


def put_gzip(client, path: str, body: bytes, encoding: str = "gzip"):
    return client.put(
        f"/api/contents/{path}",
        data=body,
        content_type="application/json",
        HTTP_CONTENT_ENCODING=encoding,
    )


def test_an_authenticated_gzip_save_is_stored(ada):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("zipped " * 1000)])
    body = gzip.compress(json.dumps({"type": "notebook", "content": nb}).encode(), 1)

    response = put_gzip(ada, "z.ipynb", body)

    assert response.status_code == 201
    got = ada.get("/api/contents/z.ipynb").json()
    assert got["content"]["cells"][0]["source"] == "zipped " * 1000


def test_a_bomb_past_the_ratio_is_413(ada):
    # 8 MB inflated from about 8 KB: under the size limit, far over the ratio.
    response = put_gzip(ada, "b.txt", bomb(8 * 1024 * 1024))

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body inflates more than 200 times; send it uncompressed."
    }


def test_a_bomb_past_the_size_limit_is_413(ada, settings):
    settings.NOTEBOOK_MAX_BODY_BYTES = 1024 * 1024  # the contents API's body limit
    settings.API_GZIP_MAX_RATIO = 100_000

    response = put_gzip(ada, "b.txt", bomb(8 * 1024 * 1024))

    assert response.status_code == 413
    assert "over the limit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"not gzip", "The body is not valid gzip."),
        # mtime=0: the same bytes in every process, so parallel workers collect the same tests
        (
            gzip.compress(b'{"type": "file"}', mtime=0)[:-4],
            "The body is not valid gzip (one complete",
        ),
        (gzip.compress(b"{}", mtime=0) * 2, "The body is not valid gzip (one complete"),
    ],
    ids=["not-gzip", "truncated", "two-members"],
)
def test_a_broken_gzip_body_is_a_400(ada, body, detail):
    response = put_gzip(ada, "z.txt", body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_other_encodings_are_415_on_the_contents_api(ada):
    response = put_gzip(ada, "z.txt", zlib.compress(b"{}"), encoding="deflate")

    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Encoding 'deflate' is not accepted here."}
