"""Site-wide request guards, and the request metrics."""

import functools
import time
from collections.abc import Callable

from csp.constants import SELF
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve, reverse

from quantsite.metrics import request_observe

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulBytesMiddleware:
    """Answer 400 to a query string or form field that contains a NUL character.

    PostgreSQL text cannot hold NUL, so such a value would otherwise reach a query in a view we
    do not own (the OAuth endpoints) and fail there as a server error. Django's forms and DRF's
    serializers already refuse NUL in the fields they validate; this covers everything else.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.GET) or (
            request.content_type in FORM_TYPES
            and request.method == "POST"
            and _has_nul(request.POST)
        ):
            message = "NUL characters are not allowed."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return JsonResponse(
                {"error": "invalid_request", "error_description": message}, status=400
            )
        return self.get_response(request)


def _has_nul(query_dict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in query_dict.lists()
    )


class RequestEncodingMiddleware:
    """Answer 415 to an encoded request body (``Content-Encoding`` other than ``identity``)
    unless the view it is for inflates it itself, after authenticating the caller.

    Nothing is read or inflated here: a compressed body sent anonymously to any other path
    (``/healthz``, ``/o/token/``, a login form) costs the site nothing. The APIs that take large
    bodies declare ``request_encodings = ("gzip",)``; their parser
    (``quantsite.api.JSONParser``) inflates it with the size and ratio capped.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity") or encoding in _view_encodings(request.path_info):
            return self.get_response(request)
        message = f"Content-Encoding {encoding!r} is not accepted here."
        if request.path.startswith(("/api/", "/o/")):
            body = (
                {"error": "invalid_request", "error_description": message}
                if request.path.startswith("/o/")
                else {"detail": message}
            )
            response = JsonResponse(body, status=415)
        else:
            response = HttpResponse(message, status=415, content_type="text/plain")
        return response


def _view_encodings(path: str) -> tuple[str, ...]:
    try:
        match = resolve(path)
    except Resolver404:
        return ()
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return tuple(getattr(view_class, "request_encodings", ()))


class SiteCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the two per-request parts of the site's one policy
    (``CONTENT_SECURITY_POLICY``):

    - ``frame-src`` adds the origins in ``request.csp_frame_origins`` (the research shell puts
      the user's hub there when a page renders it), unless the view set a policy of its own;
    - the admin, Django's own pages, loads its scripts as files without a nonce: there
      ``script-src`` is ``'self'`` (the admin shows no user markup and is never soft-navigated).
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.csp_frame_origins = []

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only or parts.config is not None:
            return parts
        update = dict(parts.update or {})
        origins = getattr(request, "csp_frame_origins", ())
        if origins:
            update["frame-src"] = [*update.get("frame-src", ()), *origins]
        if request.path_info.startswith(_admin_prefix()):
            parts.replace = {**(parts.replace or {}), "script-src": [SELF]}
        parts.update = update or None
        return parts


@functools.cache
def _admin_prefix() -> str:
    return reverse("admin:index")


class RequestMetricsMiddleware:
    """Count and time every answer for ``/metrics`` (``quantsite.metrics``), by the name of
    the URL pattern that served it and the status class.

    First in ``MIDDLEWARE``, so that it sees every answer, those of the middleware below it
    included (the hubs' fast path, static files, refusals); for a streamed answer the time
    is to its first byte. The label is the resolved pattern's ``view_name``, never the path:
    an answer given before URL resolution is labelled by resolving its path here (cached),
    ``static`` under ``STATIC_URL``, and ``unmatched`` for a path no pattern matches.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        request_observe(
            view=match.view_name if match is not None else _path_view_name(request.path_info),
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


# Bounded: paths are the client's choice; the patterns they resolve to are few.
@functools.lru_cache(maxsize=256)
def _path_view_name(path: str) -> str:
    if path.startswith(settings.STATIC_URL):
        return "static"
    try:
        return resolve(path).view_name
    except Resolver404:
        return "unmatched"
