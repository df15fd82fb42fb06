from drf_spectacular.utils import extend_schema
from oauth2_provider.contrib.rest_framework import IsAuthenticatedOrTokenHasScope
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quantsite.permissions import TokenHasUser


class MeApi(APIView):
    """Who is calling: the OIDC facts about the session's user or the bearer token's owner.

    A bearer token needs scope ``profile``; ``email`` is included only when the token also has
    scope ``email`` (as in ``/o/userinfo/``). Tokens without a user (client credentials) get 403.
    """

    permission_classes = [IsAuthenticatedOrTokenHasScope, TokenHasUser]
    required_scopes = ["profile"]

    class MeOutputSerializer(serializers.Serializer):
        sub = serializers.CharField(help_text="Stable subject identifier, as in ID tokens.")
        preferred_username = serializers.CharField(help_text="The site's stable username.")
        name = serializers.CharField()
        email = serializers.EmailField(required=False)

    @extend_schema(responses=MeOutputSerializer, summary="The calling user")
    def get(self, request: Request) -> Response:
        user = request.user
        data = {"sub": str(user.pk), "preferred_username": user.username, "name": user.display_name}
        token = request.auth
        if token is None or token.allow_scopes(["email"]):
            data["email"] = user.email
        return Response(self.MeOutputSerializer(data).data)
