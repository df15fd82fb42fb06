"""The OpenAPI schema is served, valid, and complete: every API view declares its scopes."""

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.validation import validate_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.views import APIView

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
