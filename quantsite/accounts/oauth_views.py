"""The OAuth2 / OpenID Connect endpoints whose library views the site narrows.

Only these are mounted under ``/o/`` (``quantsite/accounts/oauth_urls.py``): authorize, token,
revoke_token, introspect, userinfo, the discovery documents and the JWKS. Applications are
staff's, in the admin; there are no device, registration or token-management pages.
"""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749.errors import InvalidClientIdError

from quantsite.accounts.selectors import (
    access_token_introspect,
    application_enabled,
    application_is_resource_server,
)

# The grants the token endpoint serves (quantsite.accounts.oauth.Server); the discovery
# documents say exactly these.
GRANT_TYPES_SUPPORTED = ["authorization_code", "refresh_token", "client_credentials"]


class AuthorizationView(oauth_views.AuthorizationView):
    """The library's authorization endpoint; a consent form posted back naming an unknown (or
    disabled) client gets the invalid-client page instead of a 500 (the library looks the
    application up before validating)."""

    def form_valid(self, form):
        client_id = form.cleaned_data["client_id"]
        application = get_application_model().objects.filter(client_id=client_id).first()
        if application is None or not application_enabled(application=application):
            error = OAuthToolkitError(error=InvalidClientIdError())
            return self.error_response(error, application=None)
        return super().form_valid(form)


class TokenView(oauth_views.TokenView):
    """The library's token endpoint without its device-code shortcut.

    The library answers ``grant_type=urn:ietf:params:oauth:grant-type:device_code`` itself,
    before oauthlib, and fails with a 500 when ``device_code`` is missing. The site serves no
    device grant: every request goes to oauthlib, which answers ``unsupported_grant_type``.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self.authorization_flow_token_response(request)


class ConnectDiscoveryInfoView(oauth_views.ConnectDiscoveryInfoView):
    """OpenID Provider Metadata, naming the grants served (without ``grant_types_supported``
    a client assumes ``authorization_code`` and ``implicit``) and the one response mode."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = {
            **json.loads(response.content),
            "grant_types_supported": GRANT_TYPES_SUPPORTED,
            "response_modes_supported": ["query"],
            "revocation_endpoint": self._get_endpoint_url(request, "revoke-token"),
            "introspection_endpoint": self._get_endpoint_url(request, "introspect"),
        }
        out = JsonResponse(data)
        out["Access-Control-Allow-Origin"] = "*"
        return out


class OAuthServerMetadataView(oauth_views.OAuthServerMetadataView):
    """RFC 8414 metadata with the grants served (the library lists the device grant too)."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = {**json.loads(response.content), "grant_types_supported": GRANT_TYPES_SUPPORTED}
        data.pop("registration_endpoint", None)
        out = JsonResponse(data)
        for header in ("Access-Control-Allow-Origin", "Cache-Control"):
            if header in response:
                out[header] = response[header]
        return out


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(OAuthLibMixin, View):
    """RFC 7662 token introspection, for resource servers only.

    POST with the resource server's client credentials (HTTP Basic, or ``client_id`` and
    ``client_secret`` in the body) and ``token``. Answers: 401 ``invalid_client`` for missing
    or wrong credentials; 403 ``unauthorized_client`` for a client staff have not marked a
    resource server (``ApplicationPolicy.resource_server``); 400 without ``token``; otherwise
    200 with ``access_token_introspect``'s answer (``{"active": false}`` for a token of a
    disabled account or application).
    """

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        uri, method, body, headers = self.get_oauthlib_core()._extract_params(request)
        oauth_request = OAuthlibRequest(uri, method, body, headers)
        validator = self.get_server().request_validator
        if not validator.authenticate_client(oauth_request):
            response = JsonResponse({"error": "invalid_client"}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="introspection"'
            return response
        if not application_is_resource_server(application=oauth_request.client):
            return JsonResponse(
                {
                    "error": "unauthorized_client",
                    "error_description": "Only resource servers may introspect tokens.",
                },
                status=403,
            )
        token = request.POST.get("token")
        if not token:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "The token is missing."},
                status=400,
            )
        return JsonResponse(access_token_introspect(token=token))
