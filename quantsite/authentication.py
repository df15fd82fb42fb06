"""How API callers authenticate (DRF authentication classes)."""

from types import SimpleNamespace

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.settings import oauth2_settings

from quantsite.accounts.selectors import access_token_with_user


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme in any case), or None.

    The only place a token is read from (RFC 6750 2.1): never a query string or a form body,
    as the library's settings require.
    """
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class BearerTokenAuthentication(OAuth2Authentication):
    """django-oauth-toolkit's DRF authentication, judging the token as the library's validator
    (``quantsite.accounts.oauth.OAuth2Validator.validate_bearer_token``) does, from one
    prepared query (``access_token_with_user``): the token exists, its application is enabled,
    it has not expired, and its user (if any) is active. A token restricted to a resource
    (RFC 8707) is judged by the validator itself, audience included.

    The library's own path (an oauthlib request, then the ORM's three-table join) cost more
    than the rest of a heartbeat or a locate; see bench/RESULTS.md. Only the
    ``Authorization: Bearer`` header is read (``bearer_token``).
    """

    def authenticate(self, request):
        raw = bearer_token(request)
        if raw is None:
            return None
        token = access_token_with_user(raw_token=raw)
        if token is not None and token.resource:
            return self._authenticate_with_the_validator(request, raw)
        user = getattr(token, "user", None)
        if token is None or not token.is_valid() or (user is not None and not user.is_active):
            request.oauth2_error = {"error": "invalid_token"}
            return None
        return user, token

    def _authenticate_with_the_validator(self, request, raw: str):
        checked = SimpleNamespace(
            uri=request.build_absolute_uri(),
            headers={"Authorization": request.META["HTTP_AUTHORIZATION"]},
        )
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        if validator.validate_bearer_token(raw, scopes=[], request=checked):
            return checked.user, checked.access_token
        request.oauth2_error = getattr(checked, "oauth2_error", {})
        return None
