"""The discovery API: hubs start, heartbeat and stop; users (or their tokens) locate their hub.

Contract in ARCHITECTURE.md ("Find my hub") and README.md; the hub package depends on it."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from oauth2_provider.contrib.rest_framework import IsAuthenticatedOrTokenHasScope
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quantsite.api import validated
from quantsite.permissions import TokenHasUser
from research.api.authentication import HubTokenAuthentication
from research.api.permissions import HasHubCredential
from research.exceptions import HubCredentialRejected
from research.models import Hub
from research.selectors.discovery import hub_for_credential
from research.services.assignment import assignment_locate
from research.services.hubs import (
    HEARTBEAT_VERSION,
    HeartbeatAnswer,
    hub_heartbeat,
    hub_start,
    hub_stop,
    server_token_issue,
)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class HubApi(APIView):
    # Sessions authenticate too, so that a signed-in person is refused with 403, not 401.
    authentication_classes = [HubTokenAuthentication, SessionAuthentication]
    permission_classes = [HasHubCredential]
    required_scopes = ["discovery"]

    def hub(self) -> Hub:
        """The hub the request's credential speaks for (one query); raises what the hub is
        told (401, 403)."""
        return hub_for_credential(raw_token=self.request.auth.raw)

    def handle_exception(self, exc):
        if isinstance(exc, HubCredentialRejected):
            # DRF's 401, with the WWW-Authenticate header its authentication classes give.
            self.request.oauth2_error = {"error": "invalid_token"}
            exc = NotAuthenticated(exc.message)
        return super().handle_exception(exc)


class HubStartApi(HubApi):
    class HubStartInputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=255, help_text="The hub's registered base URL.")
        capacity = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
        version = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    class HubStartOutputSerializer(serializers.Serializer):
        hub = serializers.CharField()
        heartbeat_interval = serializers.FloatField()
        stale_after = serializers.FloatField()
        dead_after = serializers.FloatField()

    @extend_schema(
        request=HubStartInputSerializer,
        responses={200: HubStartOutputSerializer, 400: DetailSerializer, 409: DetailSerializer},
        summary="A hub starts",
    )
    def post(self, request: Request) -> Response:
        hub = self.hub()
        data = validated(self.HubStartInputSerializer, request.data)
        hub = hub_start(
            hub=hub,
            url=data["url"],
            capacity=data.get("capacity"),
            version=data["version"],
        )
        return Response(
            {
                "hub": hub.name,
                "heartbeat_interval": settings.DISCOVERY_HEARTBEAT_INTERVAL,
                "stale_after": settings.DISCOVERY_STALE_AFTER,
                "dead_after": settings.DISCOVERY_DEAD_AFTER,
            }
        )


class HubLogoutSerializer(serializers.Serializer):
    user = serializers.CharField()
    at = serializers.FloatField(help_text="When they logged out of the site (epoch seconds).")


class HubHeartbeatApi(HubApi):
    """A hub's heartbeat, the site's most frequent request: its credential is judged by the
    statement that records it (``hub_heartbeat``).

    The answer is a versioned contract (README, "The heartbeat's answer"): ``version`` rises
    only for a change an older hub would misread; new fields are added beside the old ones,
    and hubs ignore fields they do not know."""

    class HubHeartbeatInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(
            min_value=1,
            max_value=1_000,
            required=False,
            help_text="The answer version the hub understands (absent: 1).",
        )
        running = serializers.ListField(
            child=serializers.CharField(max_length=150, trim_whitespace=False),
            max_length=10_000,
            allow_empty=True,
            help_text="Usernames with a running server on this hub.",
        )

    class HubHeartbeatOutputSerializer(serializers.Serializer):
        version = serializers.IntegerField(help_text="The answer's contract version.")
        state = serializers.ChoiceField(choices=["active", "draining", "disabled"])
        stop = serializers.ListField(
            child=serializers.CharField(),
            help_text="Reported users who must not run on this hub (moved, disabled, deleted): "
            "the hub stops their servers and ends their hub login.",
        )
        logout = serializers.ListField(
            child=HubLogoutSerializer(),
            help_text="This hub's users who logged out of the site lately: the hub ends their "
            "logins made before `at` (their servers keep running). Repeated while recent.",
        )

    @extend_schema(
        request=HubHeartbeatInputSerializer,
        responses={200: HubHeartbeatOutputSerializer, 400: DetailSerializer, 409: DetailSerializer},
        summary="A hub is alive, with these users running",
    )
    def post(self, request: Request) -> Response:
        credential = request.auth.raw
        try:
            data = validated(self.HubHeartbeatInputSerializer, request.data)
        except ValidationError:
            # Who is asking comes first, as on every other API: a caller that is not a hub
            # learns nothing from its body's faults.
            self.hub()
            raise
        answer = hub_heartbeat(credential=credential, running=data["running"])
        return Response(heartbeat_answer(answer))


def heartbeat_answer(answer: HeartbeatAnswer) -> dict:
    """The heartbeat's answer (contract version ``HEARTBEAT_VERSION``), as the API sends it."""
    return {
        "version": HEARTBEAT_VERSION,
        "state": answer.state,
        "stop": answer.stop,
        "logout": [{"user": logout.user, "at": logout.at} for logout in answer.logout],
    }


class HubStopApi(HubApi):
    @extend_schema(request=None, responses={200: DetailSerializer}, summary="A hub goes away")
    def post(self, request: Request) -> Response:
        hub_stop(hub=self.hub())
        return Response({"detail": "Stopped; this hub's users will be placed elsewhere."})


class LocateApi(APIView):
    """The hub of the calling user (session, or bearer token with scope ``profile``)."""

    permission_classes = [IsAuthenticatedOrTokenHasScope, TokenHasUser]
    required_scopes = ["profile"]

    class LocateOutputSerializer(serializers.Serializer):
        hub = serializers.CharField()
        url = serializers.URLField()

    @extend_schema(
        responses={
            200: LocateOutputSerializer,
            503: OpenApiResponse(
                DetailSerializer,
                description="No hub can take the user now; "
                "retry after the Retry-After header's seconds.",
            ),
        },
        summary="Find my hub",
    )
    def get(self, request: Request) -> Response:
        return Response(locate_answer(assignment_locate(user=request.user)))


def locate_answer(hub: Hub) -> dict:
    """Locate's answer: the user's hub."""
    return {"hub": hub.name, "url": hub.url}


class ServerTokenApi(HubApi):
    """A user's server credential, asked for by the user's hub when it spawns the server."""

    class ServerTokenInputSerializer(serializers.Serializer):
        user = serializers.CharField(max_length=150)

    class ServerTokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=ServerTokenInputSerializer,
        responses={201: ServerTokenOutputSerializer, 403: DetailSerializer, 400: DetailSerializer},
        summary="A token for a user's server (scope notebooks)",
    )
    def post(self, request: Request) -> Response:
        hub = self.hub()
        data = validated(self.ServerTokenInputSerializer, request.data)
        raw, token = server_token_issue(hub=hub, username=data["user"])
        return Response({"token": raw, "expires_at": token.expires}, status=201)
