from oauth2_provider.contrib.rest_framework import TokenHasScope


class IsHub(TokenHasScope):
    """A bearer token with scope ``discovery`` issued to an application by client credentials.

    Sessions and users' tokens are refused (403). Which hub it is comes from
    ``research.selectors.discovery.hub_for_token``.
    """

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if token is None or getattr(token, "user_id", None) is not None:
            return False
        return super().has_permission(request, view)
