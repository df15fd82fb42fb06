"""OpenAPI schema (drf-spectacular): the site's AutoSchema and extensions, loaded when the apps
are ready. Every operation documents the errors every API answers, in the one ``Error`` shape
``quantsite.api.exception_handler`` gives them."""

from django.conf import settings
from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every API error (4xx, 5xx): ``detail`` says what went wrong; a validation error also
    lists its messages per field under ``errors``."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="Per-field messages of a validation error (400): field name to messages.",
    )

    class Meta:
        component_name = "Error"


_ERRORS = {
    "400": "The request is malformed or invalid; `detail` says why.",
    "401": "No valid credential was sent.",
    "403": "The credential may not do this.",
    "404": "No such resource for this caller.",
    "409": "The request conflicts with the current state.",
    "413": "The request body is over the limit.",
    "415": "Unsupported media type or Content-Encoding.",
    "503": "Unavailable for now (database outage, no hub free): retry after `Retry-After`.",
}
_WITH_BODY = ("POST", "PUT", "PATCH")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus every error status each API can answer, as ``Error``.

    A view's own ``@extend_schema(responses=...)`` for an error status wins."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "503"]
        if "{" in self.path or self.method in _WITH_BODY:
            codes.append("404")  # the path, or something the body names
        if self.method in _WITH_BODY:
            codes += ["409", "413", "415"]
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=_ERRORS[code]), code
                )
        return dict(sorted(responses.items()))


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """Our bearer authentications (quantsite.authentication and its subclasses) are the
    library's OAuth2 scheme, with each view's required scopes."""

    target_class = "quantsite.authentication.BearerTokenAuthentication"


class HubTokenScheme(DjangoOAuthToolkitScheme):
    """Hubs' discovery credential: the client-credentials grant with scope ``discovery``."""

    target_class = "research.api.authentication.HubTokenAuthentication"
    name = "hubOAuth2"

    def get_security_requirement(self, auto_schema):
        # The hub API judges the credential in its views, so no permission class names the
        # scope: the view's ``required_scopes`` does.
        return {self.name: list(auto_schema.view.required_scopes)}

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A hub's own client-credentials token with scope `discovery`.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": settings.SPECTACULAR_SETTINGS["OAUTH2_TOKEN_URL"],
                    "scopes": {"discovery": settings.OAUTH_SCOPES["discovery"]},
                }
            },
        }
