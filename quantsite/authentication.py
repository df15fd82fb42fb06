"""How API callers authenticate (DRF authentication classes)."""

from types import SimpleNamespace

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.settings import oauth2_settings


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), or None.

    The only place a token is read from (RFC 6750 2.1): never a query string or a form body,
    as the library's settings require.
    """
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class BearerTokenAuthentication(OAuth2Authentication):
    """django-oauth-toolkit's DRF authentication, checking the token with the library's own
    validator (``validate_bearer_token``: hashed lookup, expiry, audience, usable application)
    but without building an oauthlib request first.

    That plumbing (absolute URI, header copies, re-encoding the body) cost 3.3 ms a request
    here, more than the rest of a hub heartbeat; see bench/RESULTS.md. Only the
    ``Authorization: Bearer`` header is read (``bearer_token``).
    """

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            return None
        checked = SimpleNamespace(
            uri=request.build_absolute_uri(),
            headers={"Authorization": request.META["HTTP_AUTHORIZATION"]},
        )
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        if validator.validate_bearer_token(token, scopes=[], request=checked):
            return checked.user, checked.access_token
        request.oauth2_error = getattr(checked, "oauth2_error", {})
        return None
