"""Site-wide request guards."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

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
            return JsonResponse(
                {
                    "error": "invalid_request",
                    "error_description": "NUL characters are not allowed.",
                },
                status=400,
            )
        return self.get_response(request)


def _has_nul(query_dict) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in query_dict.lists()
    )


class FrameAncestorsMiddleware:
    """No other site may frame ours: ``Content-Security-Policy: frame-ancestors 'none'``.

    The CSP form of ``X-Frame-Options: DENY`` (both are sent). A view that sets its own policy
    (``/research`` adds ``frame-src`` for its hub) keeps ``frame-ancestors 'none'`` in it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response
