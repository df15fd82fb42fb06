"""Checking API answers against the site's OpenAPI schema (``/api/schema/``)."""

import re

import yaml
from django.test import Client
from openapi_schema_validator import OAS30Validator, oas30_format_checker


def served_schema() -> dict:
    """The schema as ``/api/schema/`` serves it."""
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def template_for(spec: dict, path: str) -> str:
    """The schema's path template that routes ``path``: the most specific that matches."""
    matches = []
    for template in spec["paths"]:
        pattern = re.sub(
            r"\\\{(\w+)\\\}",
            lambda m: ".+" if m.group(1) == "path" else "[^/]+",
            re.escape(template),
        )
        if re.fullmatch(pattern, path, flags=re.DOTALL):
            matches.append(template)
    assert matches, f"{path} is not in the schema"
    return max(matches, key=lambda t: len(re.sub(r"\{\w+\}", "", t)))


def assert_documented(spec: dict, response, method: str, path: str) -> None:
    """The answer's status is declared for the operation, and its body has the declared shape."""
    status = str(response.status_code)
    operations = spec["paths"][template_for(spec, path)]
    if method.lower() not in operations:
        # A path that routes to an API without this method (``a/checkpoints/checkpoints``).
        assert (status, set(response.json())) == ("405", {"detail"}), (method, path)
        return
    operation = operations[method.lower()]
    assert status in operation["responses"], f"{method} {path}: {status} is not documented"
    declared = operation["responses"][status]
    if not response.content:
        assert "content" not in declared, f"{method} {path}: {status} has no body"
        return
    schema = declared["content"]["application/json"]["schema"]
    OAS30Validator(
        {**schema, "components": spec["components"]}, format_checker=oas30_format_checker
    ).validate(response.json())
