import hashlib

from oauth2_provider.models import AccessToken

from oauth2_provider.contrib.rest_framework import OAuth2Authentication


class HubTokenAuthentication(OAuth2Authentication):
    """A hub's discovery token, with its hub, in one narrow query.

    Every hub beats every second, so this is the site's hottest authentication. Any live
    token authenticates (so a user's token is refused with 403 by ``IsHub``, not 401); an
    unknown or expired one does not. Scope is checked by the token model's own ``is_valid``
    in ``IsHub``; tokens are looked up by their SHA-256 checksum, as django-oauth-toolkit
    stores them.
    """

    def authenticate(self, request):
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            return None
        token = (
            AccessToken.objects.select_related("application__hub")
            .only(
                "expires",
                "scope",
                "user_id",
                "application__id",
                *(f"application__hub__{field}" for field in HUB_FIELDS),
            )
            .filter(token_checksum=hashlib.sha256(raw.encode()).hexdigest())
            .first()
        )
        if token is None or not token.is_valid():
            request.oauth2_error = {"error": "invalid_token"}
            return None
        return None, token


# What the hub API reads of a hub; the rest of the row is never loaded on this path.
HUB_FIELDS = (
    "id",
    "name",
    "url",
    "mode",
    "capacity",
    "assigned_count",
    "started_at",
    "stopped_at",
    "running_digest",
    "application_id",
)
