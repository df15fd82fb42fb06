from rest_framework.permissions import BasePermission

from research.api.authentication import HubCredential


class HasHubCredential(BasePermission):
    """A bearer token came with the request (``HubTokenAuthentication``); whether it is a
    hub's discovery credential the view judges (``hub_for_credential``). Sessions are refused
    (403), callers without a credential 401."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, HubCredential)
