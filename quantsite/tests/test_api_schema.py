"""The OpenAPI schema is served, valid, and complete: every API view declares its scopes."""

import json

import nbformat
import pytest
import yaml
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.views import APIView

from quantsite.accounts.tests.factories import UserFactory
from quantsite.tests.openapi import assert_documented, served_schema, template_for
from research.tests.conftest import Hubs, hub_token

pytestmark = pytest.mark.django_db


def _views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), getattr(pattern.callback, "cls", None)


API_VIEWS = [
    (route, view)
    for route, view in _views(get_resolver().url_patterns)
    if view is not None and issubclass(view, APIView) and view is not SpectacularAPIView
]


def test_there_are_api_views_to_check():
    assert ("api/me", "MeApi") in [(route, view.__name__) for route, view in API_VIEWS]


@pytest.mark.parametrize(("route", "view"), API_VIEWS, ids=[route for route, _ in API_VIEWS])
def test_every_api_view_declares_its_scopes(route, view):
    assert getattr(view, "required_scopes", None), f"{route} declares no required_scopes"


def test_schema_is_served_and_valid(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["paths"]["/api/me"]["get"]["security"] == [
        {"oauth2": ["profile"]},
        {"cookieAuth": []},
    ]
    assert schema["paths"]["/api/discovery/heartbeat"]["post"]["security"][0] == {
        "hubOAuth2": ["discovery"]
    }
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(flows) == {"authorizationCode", "clientCredentials"}
    assert set(flows["authorizationCode"]["scopes"]) == {
        "openid",
        "profile",
        "email",
        "notebooks",
        "discovery",
    }


# -- answers agree with the schema -----------------------------------------------------------


@pytest.fixture(scope="module")
def spec(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return served_schema()


def test_every_answer_of_every_api_has_the_documented_shape(spec, client):
    """Real requests, successes and errors, to every API; each answer checked against the
    schema. The same calls cover each operation of the schema at least once."""
    user = UserFactory(username="ada")
    hubs = Hubs()
    hub = hubs("hub-a")
    hub_bearer = {
        "HTTP_AUTHORIZATION": f"Bearer {hub_token(client, hub.application, hubs.secrets['hub-a'])}"
    }
    anonymous = Client()
    client.force_login(user)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")])
    seen: set[tuple[str, str]] = set()

    def check(method, path, body=None, who=client, status=None, raw=None, **extra):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = who.generic(
            method, path, data=data or "", content_type="application/json", **extra
        )
        if status is not None:
            assert response.status_code == status, (method, path, response.content)
        assert_documented(spec, response, method, path)
        seen.add((template_for(spec, path.split("?")[0]), method.lower()))
        return response

    check("GET", "/api/me", status=200)
    check("GET", "/api/me", who=anonymous, status=401)
    check("GET", "/api/me", who=anonymous, status=401, HTTP_AUTHORIZATION="Bearer nope")
    check("GET", "/api/me", status=403, **hub_bearer)
    nb = {"type": "notebook", "content": notebook}
    check("PUT", "/api/contents/n.ipynb", nb, status=201)
    check("PUT", "/api/contents/n.ipynb", nb, status=200)
    check("PUT", "/api/contents/n.ipynb", {"type": ["a"]}, status=400)
    check("PUT", "/api/contents/n.ipynb", raw="{", status=400)
    check("PUT", "/api/contents/n.ipynb", raw="x", status=415, HTTP_CONTENT_ENCODING="br")
    check("PUT", "/api/contents", nb, status=400)
    check("GET", "/api/contents/n.ipynb", status=200)
    check("GET", "/api/contents/n.ipynb?content=0&hash=1", status=200)
    check("GET", "/api/contents/n.ipynb?content=x", status=400)
    check("GET", "/api/contents/missing.txt", status=404)
    check("GET", "/api/contents", status=200)
    check("GET", "/api/contents", who=anonymous, status=401)
    check("POST", "/api/contents", {"type": "directory"}, status=201)
    check("POST", "/api/contents/Untitled Folder", {"type": "file", "ext": ".txt"}, status=201)
    check("POST", "/api/contents", {"copy_from": "n.ipynb"}, status=201)
    check("PATCH", "/api/contents/n-Copy1.ipynb", {"path": "m.ipynb"}, status=200)
    check("PATCH", "/api/contents", {"path": "x"}, status=400)
    check("DELETE", "/api/contents/m.ipynb", status=204)
    check("DELETE", "/api/contents", status=400)
    made = check("POST", "/api/contents/n.ipynb/checkpoints", status=201).json()
    check("GET", "/api/contents/n.ipynb/checkpoints", status=200)
    check("POST", f"/api/contents/n.ipynb/checkpoints/{made['id']}", status=204)
    check("POST", "/api/contents/n.ipynb/checkpoints/²", status=404)
    check("DELETE", f"/api/contents/n.ipynb/checkpoints/{made['id']}", status=204)
    check("DELETE", "/api/contents/n.ipynb/checkpoints/1", who=anonymous, status=401)
    check("POST", "/api/community/shares", {"path": "n.ipynb"}, status=400)
    check("POST", "/api/community/shares", {"path": "n.ipynb", "title": "T"}, status=201)
    check("POST", "/api/community/shares", {"path": "none.ipynb", "title": "T"}, status=404)
    check("GET", "/api/community/shares", status=200, QUERY_STRING="path=n.ipynb")
    check("GET", "/api/community/shares", status=404, QUERY_STRING="path=none.ipynb")
    check("GET", "/api/community/shares", status=400)
    check("POST", "/api/discovery/start", {"url": hub.url}, status=200, **hub_bearer)
    check("POST", "/api/discovery/start", {"url": "http://elsewhere"}, status=400, **hub_bearer)
    check("POST", "/api/discovery/start", {"url": hub.url}, status=403)
    check("POST", "/api/discovery/heartbeat", {"running": []}, status=200, **hub_bearer)
    check("POST", "/api/discovery/heartbeat", {"running": "ada"}, status=400, **hub_bearer)
    check("GET", "/api/discovery/locate", status=200)
    check("POST", "/api/discovery/tokens", {"user": "ada"}, status=201, **hub_bearer)
    check("POST", "/api/discovery/tokens", {"user": "bob"}, **hub_bearer)
    check("POST", "/api/discovery/stop", status=200, **hub_bearer)
    check("GET", "/api/discovery/locate", who=anonymous, status=401)
    client.force_login(UserFactory(username="bob"))
    check("GET", "/api/discovery/locate", status=503)

    operations = {
        (template, method)
        for template, methods in spec["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations - seen == set()
