"""Who may call an API, beside django-oauth-toolkit's scope checks (DRF permission classes)."""

from rest_framework.permissions import BasePermission


class TokenHasUser(BasePermission):
    """The caller is a person: a signed-in session, or a bearer token issued to a user.

    A client-credentials token (a hub's, an application's own) has no user: 403. Listed after
    the library's ``IsAuthenticatedOrTokenHasScope``, which answers 401 to an anonymous caller
    and checks the token's scopes against the view's ``required_scopes``; DRF checks the list in
    order, all must pass, and each refusal keeps its own message::

        permission_classes = [IsAuthenticatedOrTokenHasScope, TokenHasUser]
    """

    message = "This token does not belong to a user."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
