"""The hub API's two hottest requests, answered before the rest of the site's middleware.

Every hub beats every second, and every visit to /research (and every hub login) locates its
user. Both are answered here, near the top of ``MIDDLEWARE`` (after the security and request
guards), without the middleware a bearer-token API never uses (sessions, CSRF, messages,
whitenoise, django-axes) and without DRF's request machinery: the same serializer, the same
authentication and the same services as the API views (``research.api.discovery``), one
statement for a beat and one for a returning user's locate.

The fast path answers only what the view would answer 200; anything else goes on to the view,
which answers it from the start as it always has: a session instead of a token, a body that is
not a well-formed heartbeat, a refused credential, no hub free, any other error. Those are
the rare requests, and answering them once, in one place, keeps one set of error rules.
"""

from collections.abc import Callable

import orjson
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from quantsite.authentication import bearer_token
from quantsite.exceptions import ApplicationError
from research.api.discovery import HubHeartbeatApi, LocateApi, heartbeat_answer, locate_answer
from research.selectors.discovery import token_hub
from research.services.hubs import hub_heartbeat

# The view's own input serializer, made once: validating with a new instance per request
# (what ``is_valid`` needs) deep-copies its fields, four times the cost of the validation.
_HEARTBEAT_INPUT = HubHeartbeatApi.HubHeartbeatInputSerializer()

HEARTBEAT_PATH = "/api/discovery/heartbeat"
LOCATE_PATH = "/api/discovery/locate"


class HubApiFastPath:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        # What the middleware it skips (django-csp, X-Frame-Options) and DRF add to the views'
        # answers; the middleware above this one adds the rest to both.
        headers = {
            "Content-Security-Policy": build_policy(
                config=settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
            ),
            "X-Frame-Options": settings.X_FRAME_OPTIONS,
        }
        self.headers = {
            HEARTBEAT_PATH: {**headers, "Allow": "POST, OPTIONS"},
            LOCATE_PATH: {**headers, "Allow": "GET, HEAD, OPTIONS"},
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path, method = request.path_info, request.method
        answer = None
        if path == HEARTBEAT_PATH and method == "POST":
            answer = _heartbeat(request)
        elif path == LOCATE_PATH and method == "GET":
            answer = _locate(request)
        if answer is None:
            return self.get_response(request)
        return HttpResponse(
            orjson.dumps(answer), content_type="application/json", headers=self.headers[path]
        )


def _heartbeat(request: HttpRequest) -> dict | None:
    credential = bearer_token(request)
    if (
        credential is None
        or request.content_type != "application/json"
        or request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower() != "identity"
        or int(request.META.get("CONTENT_LENGTH") or 0) > settings.API_MAX_BODY_BYTES
    ):
        return None
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    try:
        valid = _HEARTBEAT_INPUT.run_validation(data)
    except ValidationError:
        return None
    try:
        answer = hub_heartbeat(credential=credential, running=valid["running"])
    except ApplicationError:
        return None
    return heartbeat_answer(answer)


def _locate(request: HttpRequest) -> dict | None:
    """A returning user's locate by bearer token: the user's hub, from one statement, while
    it keeps its users. A new placement, a person's session (sessions, CSRF, axes) and every
    refusal go to the view (``assignment_locate``, ``BearerTokenAuthentication``)."""
    raw = bearer_token(request)
    if raw is None:
        return None
    found = token_hub(raw_token=raw)
    if (
        found is None
        or found.token.resource  # an audience-restricted token: the library's validator judges it
        or not found.user_active
        or not found.token.is_valid(LocateApi.required_scopes)
        or found.hub is None
        or not found.hub.keeps_users(timezone.now())
    ):
        return None
    return locate_answer(found.hub)
