"""Property-based fuzzing of every API: generated bodies, paths and query parameters never get a
server error, and every answer has the shape the OpenAPI schema documents.

Hypothesis runs derandomized (the same examples each run, no example database), so the suite
stays fast and repeatable; a failure prints the smallest request that shows it.
"""

import json
import string
from urllib.parse import quote, urlencode

import nbformat
import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantsite.accounts.tests.factories import UserFactory
from quantsite.tests.openapi import assert_documented, served_schema
from research.services.notebooks import directory_create, file_save, notebook_save
from research.tests.conftest import Hubs, hub_token

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what is thrown -------------------------------------------------------------------------

# Text with what breaks parsers and encoders: unicode digits, lone surrogates, controls, NUL,
# slashes, dots.
ODD_TEXT = [
    "",
    ".",
    "..",
    "/",
    "a/../b",
    "²",
    "\u0661",
    "\udc80",
    "a\ud800b",
    "\x00",
    "\n",
    "\u202e",
    "a" * 300,
    "-1",
    "1e9",
    "n.ipynb",
    "t.txt",
    "d",
    "notebook",
    "file",
    "directory",
    "json",
    "text",
    "base64",
]
nasty_text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), nasty_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)
    ),
    max_leaves=12,
)
# Nesting past the parsers' recursion: bare, or where a model or a notebook holds it.
deep = st.integers(min_value=90, max_value=3000).map(lambda n: "[" * n + "]" * n)
MODEL_FIELDS = {
    "type": st.sampled_from(["notebook", "file", "directory"]),
    "format": st.sampled_from(["json", "text", "base64"]),
    "content": st.one_of(nasty_text, st.just({})),
    "chunk": st.sampled_from([1, 2, -1, 0]),
    "path": nasty_text,
    "copy_from": nasty_text,
    "ext": nasty_text,
}
# A model: each field absent, well-typed, or any JSON value at all.
models = st.fixed_dictionaries(
    {},
    optional={name: st.one_of(valid, json_values) for name, valid in MODEL_FIELDS.items()},
)
cells = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "cell_type": st.one_of(st.sampled_from(["code", "markdown", "raw"]), json_values),
            "source": st.one_of(nasty_text, json_values),
            "outputs": st.one_of(st.just([]), json_values),
            "metadata": st.one_of(st.just({}), json_values),
            "id": json_values,
        },
    ),
    json_values,
)
notebooks = st.builds(
    lambda cells, major, minor, meta: {
        "type": "notebook",
        "content": {"nbformat": major, "nbformat_minor": minor, "metadata": meta, "cells": cells},
    },
    st.lists(cells, max_size=3),
    st.one_of(st.sampled_from([4, 3, 5, 99]), json_values),
    st.one_of(st.just(5), json_values),
    st.one_of(st.just({}), json_values),
)
bodies = st.one_of(
    models.map(json.dumps),
    notebooks.map(json.dumps),
    json_values.map(json.dumps),
    deep,
    deep.map(lambda nested: '{"type": "notebook", "content": ' + nested + "}"),
    deep.map(lambda nested: '{"path": ' + nested + ', "running": ' + nested + "}"),
    st.sampled_from(["", "{", "NaN", '{"a": Infinity}', "null", "[]", '"x"']),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
contents_paths = st.one_of(
    st.sampled_from(
        ["", "n.ipynb", "t.txt", "d", "d/new.txt", "new.ipynb", "d/", "old.ipynb", "bad.ipynb"]
    ),
    st.lists(nasty_text, max_size=4).map(lambda parts: "/".join(parts)),
)
query_params = st.dictionaries(
    st.sampled_from(["type", "format", "content", "hash", "hidden", "recursive", "x"]),
    nasty_text,
    max_size=3,
)
checkpoint_ids = st.one_of(nasty_text, st.integers().map(str))


def url_path(path: str) -> str:
    return quote(path.replace("\x00", ""), safe="/", errors="surrogatepass")


# -- the callers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return served_schema()


@pytest.fixture
def callers(client):
    """A signed-in user with notebooks, a file and a folder; a started hub's bearer token."""
    user = UserFactory(username="ada")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    notebook_save(user=user, path="n.ipynb", notebook=notebook)
    file_save(user=user, path="t.txt", data=b"text")
    directory_create(user=user, path="d")
    # Stored bytes no save through the API makes now: an nbformat 3 notebook, a broken one.
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    for path, stored in (("old.ipynb", v3), ("bad.ipynb", {"nbformat": 3, "worksheets": 1})):
        file_save(user=user, path=path, data=json.dumps(stored).encode())
    client.force_login(user)
    hubs = Hubs()
    hub = hubs("hub-a")
    token = hub_token(client, hub.application, hubs.secrets["hub-a"])
    hub_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    return {"user": client, "hub": hub_client}


def send(spec, who: Client, method: str, path: str, body: str | None = None, query=None):
    url = path + (f"?{urlencode(query, errors='surrogatepass')}" if query else "")
    response = who.generic(
        method,
        url,
        data=(body or "").encode("utf-8", "surrogatepass"),
        content_type="application/json",
    )
    assert response.status_code < 500 or (
        response.status_code == 503 and response.has_header("Retry-After")
    ), (method, url, body, response.status_code, response.content[:500])
    assert b"Traceback" not in response.content
    assert_documented(spec, response, method, path)
    return response


# -- the properties ---------------------------------------------------------------------------


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "PATCH", "DELETE"]),
    path=contents_paths,
    body=bodies,
    query=query_params,
)
def test_contents_api_never_fails(spec, callers, method, path, body, query):
    url = f"/api/contents/{url_path(path)}" if path else "/api/contents"
    send(spec, callers["user"], method, url, body, query)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=st.one_of(st.just("n.ipynb"), contents_paths.filter(bool)),
    checkpoint=st.one_of(st.none(), checkpoint_ids),
)
def test_checkpoints_api_never_fails(spec, callers, method, path, checkpoint):
    base = f"/api/contents/{url_path(path)}/checkpoints"
    if checkpoint is None:
        send(spec, callers["user"], "GET" if method == "DELETE" else method, base)
    else:
        cid = url_path(checkpoint).replace("/", "%2F") or "1"
        send(spec, callers["user"], "POST" if method == "GET" else method, f"{base}/{cid}")


@FUZZ
@given(
    endpoint=st.sampled_from(["start", "heartbeat", "tokens", "stop"]),
    body=bodies,
    as_user=st.booleans(),
)
def test_discovery_api_never_fails(spec, callers, endpoint, body, as_user):
    who = callers["user"] if as_user else callers["hub"]
    send(spec, who, "POST", f"/api/discovery/{endpoint}", body)


@FUZZ
@given(body=bodies, query=query_params, as_hub=st.booleans())
def test_share_me_and_locate_never_fail(spec, callers, body, query, as_hub):
    who = callers["hub"] if as_hub else callers["user"]
    send(spec, who, "POST", "/api/community/shares", body)
    send(spec, who, "GET", "/api/me", query=query)
    send(spec, who, "GET", "/api/discovery/locate", query=query)


def test_the_fuzzers_reach_every_api(spec):
    reached = {
        "/api/contents",
        "/api/contents/{path}",
        "/api/contents/{path}/checkpoints",
        "/api/contents/{path}/checkpoints/{checkpoint_id}",
        "/api/community/shares",
        "/api/me",
        "/api/discovery/locate",
        "/api/discovery/start",
        "/api/discovery/heartbeat",
        "/api/discovery/tokens",
        "/api/discovery/stop",
    }
    assert set(spec["paths"]) == reached, "a new API: add it to the fuzzers"
    assert string.digits  # plain ASCII digits remain the only checkpoint ids (see the 404s)
