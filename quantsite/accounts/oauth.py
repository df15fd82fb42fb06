"""Quantsite's rules for the OAuth2 / OpenID Connect provider (django-oauth-toolkit hooks)."""

from django.conf import settings
from oauth2_provider import oauth2_validators
from oauth2_provider.models import AbstractApplication
from oauth2_provider.scopes import SettingsScopes
from oauthlib import openid
from oauthlib.oauth2.rfc6749.endpoints import AuthorizationEndpoint, TokenEndpoint

from quantsite.accounts.selectors import (
    application_allowed_scopes,
    application_allows_client_credentials,
)


class ApplicationPolicyScopes(SettingsScopes):
    """Scopes backend: an application may be granted only what its policy allows.

    Asking for anything else gets the RFC 6749 ``invalid_scope`` error.
    """

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return list(settings.OAUTH_SCOPES)
        return application_allowed_scopes(application=application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        defaults = super().get_default_scopes(application, request, *args, **kwargs)
        if application is None:
            return defaults
        allowed = set(application_allowed_scopes(application=application))
        return [scope for scope in defaults if scope in allowed]


class OAuth2Validator(oauth2_validators.OAuth2Validator):
    """django-oauth-toolkit's validator with the site's claims and stricter matching."""

    def get_additional_claims(self) -> dict:
        # Claims as callables of the request, so the discovery document can list them
        # (claims_supported). Filtered by granted scope (oidc_claim_scope): name and
        # preferred_username need `profile`, email needs `email`. Hubs take
        # preferred_username as the user's name.
        return {
            "preferred_username": lambda request: request.user.username,
            "name": lambda request: request.user.display_name,
            "email": lambda request: request.user.email,
        }

    def validate_bearer_token(self, token, scopes, request) -> bool:
        # A deactivated account's tokens stop working at once, so hubs (which re-check their
        # users every auth_refresh_age) lose a disabled user within minutes.
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if request.user is not None and not request.user.is_active:
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The account is disabled.",
            }
            return False
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        return request.user is None or request.user.is_active

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        # The library gives an application one grant type; a hub needs the code grant for
        # users and client credentials for itself, which its policy allows.
        if (
            grant_type == "client_credentials"
            and client.authorization_grant_type == AbstractApplication.GRANT_AUTHORIZATION_CODE
            and application_allows_client_credentials(application=client)
        ):
            return True
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs) -> bool:
        # Simple string comparison (OpenID Connect Core 3.1.2.1, RFC 9700 2.1). The library
        # also lets a registered loopback URI match any port (RFC 8252, for native apps); our
        # clients are hubs, and two hubs on one host differ only by port.
        return redirect_uri in request.client.redirect_uris.split()


ALLOWED_GRANT_TYPES = (
    AbstractApplication.GRANT_AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
)


class Server(openid.Server):
    """oauthlib's OpenID Connect server with only the grants the site offers.

    Authorization code (with PKCE, enforced by the validator), its refresh tokens, and client
    credentials. Implicit, hybrid, password and device grants are not merely refused per
    application: their endpoints do not exist, so a password sent to ``/o/token/`` is never
    checked (the token endpoint would otherwise be a password oracle beside the login form).
    """

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": self.auth_grant_choice},
            default_token_type=self.bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": self.token_grant_choice,
                "refresh_token": self.refresh_grant,
                "client_credentials": self.credentials_grant,
            },
            default_token_type=self.bearer,
        )
