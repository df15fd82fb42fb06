"""Quantsite's rules for the OAuth2 / OpenID Connect provider (django-oauth-toolkit hooks)."""

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from oauth2_provider import oauth2_validators
from oauth2_provider.models import AbstractApplication, AccessToken, RefreshToken
from oauth2_provider.scopes import SettingsScopes
from oauthlib import openid
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.endpoints import AuthorizationEndpoint, TokenEndpoint
from oauthlib.openid.connect.core.exceptions import RequestNotSupported, RequestURINotSupported

from quantsite.accounts.models import AuthorizationCodeExchange
from quantsite.accounts.selectors import (
    application_allowed_scopes,
    application_allows_client_credentials,
    application_enabled,
)

# RFC 7636 4.2: an S256 challenge is 43 characters of base64url; 4.1 allows up to 128.
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# The grant's column for the nonce holds this many characters.
NONCE_MAX_LENGTH = 255


def code_digest(code: str) -> str:
    """What the database keeps of an authorization code: its SHA-256, hex (as for tokens)."""
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_from_header(headers) -> str:
    """The token of an ``Authorization: Bearer`` header, or ``""``."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


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
    """django-oauth-toolkit's validator with the site's claims and stricter rules.

    - A disabled application (``ApplicationPolicy.enabled`` off: a disabled hub's) does not
      exist for any grant: no code, no token, no refresh, and its tokens stop working.
    - Bearer tokens count only from the ``Authorization`` header (RFC 6750 2.1), never from a
      query string or form body, on every endpoint that checks a token through here.
    - Authorization codes are stored as their SHA-256; a code presented a second time
      revokes the tokens it was exchanged for (RFC 6749 4.1.2).
    - ``prompt=none`` answers ``login_required``/``consent_required`` (OIDC Core 3.1.2.6).
    """

    # -- applications -------------------------------------------------------------------

    def _load_application(self, client_id, request):
        # Every grant finds its client here (client authentication, validate_client_id,
        # authenticate_client_id): a disabled application is as good as unknown.
        client = super()._load_application(client_id, request)
        if client is not None and not application_enabled(application=client):
            request.client = None
            return None
        return client

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
        # oauthlib also takes `access_token` from the query string or a form body (userinfo
        # did): tokens in URLs end up in logs, histories and Referer headers. Only the header.
        if not token or bearer_from_header(request.headers) != token:
            request.oauth2_error = {
                "error": "invalid_request",
                "error_description": "Send the token in the Authorization header (Bearer).",
            }
            return False
        if not super().validate_bearer_token(token, scopes, request):
            return False
        # A deactivated account's tokens stop working at once, so hubs (which re-check their
        # users every auth_refresh_age) lose a disabled user within minutes.
        if request.user is not None and not request.user.is_active:
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The account is disabled.",
            }
            return False
        if request.client is not None and not application_enabled(application=request.client):
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The application is disabled.",
            }
            return False
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        return request.user is None or request.user.is_active

    # -- prompt=none (OIDC Core 3.1.2.6) ----------------------------------------------------

    def validate_silent_login(self, request) -> bool:
        # The authorization view itself answers an anonymous visitor (login_required to the
        # client, or the login page), so whoever gets this far is logged in.
        return True

    def validate_silent_authorization(self, request) -> bool:
        # Without a consent page only trusted applications can authorize.
        return bool(request.client and request.client.skip_authorization)

    # -- authorization codes: stored hashed; reuse revokes what they gave --------------------

    def _create_authorization_code(self, request, code, expires=None):
        return super()._create_authorization_code(
            request, {**code, "code": code_digest(code["code"])}, expires
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        digest = code_digest(code)
        if super().validate_code(client_id, digest, client, request, *args, **kwargs):
            return True
        # A code already exchanged is presented again: someone else has it. Revoke every
        # token of the exchange (the refresh-token family covers later rotations).
        exchange = AuthorizationCodeExchange.objects.filter(
            code_digest=digest, application=client
        ).first()
        if exchange is not None:
            RefreshToken.revoke_family(exchange.token_family)
            AccessToken.objects.filter(pk=exchange.access_token_id).delete()
        return False

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        return super().confirm_redirect_uri(
            client_id, code_digest(code), redirect_uri, client, *args, **kwargs
        )

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        return super().invalidate_authorization_code(
            client_id, code_digest(code), request, *args, **kwargs
        )

    def get_code_challenge(self, code, request):
        return super().get_code_challenge(code_digest(code), request)

    def get_code_challenge_method(self, code, request):
        return super().get_code_challenge_method(code_digest(code), request)

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_scopes(
            client_id, code_digest(code), redirect_uri, request
        )

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        return super().get_authorization_code_nonce(
            client_id, code_digest(code), redirect_uri, request
        )

    def _check_and_set_request_resource(self, request):
        # The library looks the grant up by `request.code` here (RFC 8707 resources).
        code = getattr(request, "code", None)
        if request.grant_type != "authorization_code" or not code:
            return super()._check_and_set_request_resource(request)
        request.code = code_digest(code)
        try:
            return super()._check_and_set_request_resource(request)
        finally:
            request.code = code

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous
        )
        if request.grant_type == "authorization_code" and previous is None and request.code:
            AuthorizationCodeExchange.objects.create(
                code_digest=code_digest(request.code),
                application=request.client,
                token_family=refresh_token.token_family,
                access_token=access_token,
            )
        return refresh_token

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

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # Called for every authorization request once client and redirect URI are known, so
        # its errors go back to the client; the checks keep odd parameters from being
        # ignored or failing later on a column's length.
        if request.response_mode not in (None, "", "query"):
            raise errors.InvalidRequestError(
                description="Only response_mode=query is supported.", request=request
            )
        # Request objects (OIDC Core 6) are not supported: say so rather than ignore them.
        # (`request.request` is the library's own Django request, so read the query.)
        sent = parse_qs(urlsplit(request.uri).query, keep_blank_values=True)
        if "request" in sent:
            raise RequestNotSupported(request=request)
        if "request_uri" in sent:
            raise RequestURINotSupported(request=request)
        if request.code_challenge and not CODE_CHALLENGE.fullmatch(request.code_challenge):
            raise errors.InvalidRequestError(
                description="code_challenge must be 43 to 128 characters of base64url.",
                request=request,
            )
        if request.nonce and len(request.nonce) > NONCE_MAX_LENGTH:
            raise errors.InvalidRequestError(
                description=f"nonce must be at most {NONCE_MAX_LENGTH} characters.",
                request=request,
            )
        return super().validate_response_type(
            client_id, response_type, client, request, *args, **kwargs
        )

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
