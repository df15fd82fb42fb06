"""How hubs authenticate to the discovery API (a DRF authentication class)."""

from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from quantsite.authentication import bearer_token
from research.selectors.discovery import access_token_with_hub


class HubTokenAuthentication(OAuth2Authentication):
    """A hub's discovery token, with its hub as ``token.hub``, in one query
    (``access_token_with_hub``).

    Any live token authenticates, so that a user's token is refused with 403 by ``IsHub``
    (which checks the ``discovery`` scope and that the token has no user) rather than 401; an
    unknown, expired or disabled application's token does not authenticate (401).
    """

    def authenticate(self, request):
        raw = bearer_token(request)
        if raw is None:
            return None
        token = access_token_with_hub(raw_token=raw)
        if token is None or not token.is_valid():
            request.oauth2_error = {"error": "invalid_token"}
            return None
        return None, token
