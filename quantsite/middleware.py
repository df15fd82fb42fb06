"""Site-wide request guards."""

import io
import zlib
from collections.abc import Callable

from django.conf import settings
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


class GzipRequestMiddleware:
    """Accept ``Content-Encoding: gzip`` request bodies (large notebook saves from hubs).

    The body is inflated up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or the notebook size limit,
    whichever is larger; past that, or if it is not valid gzip, the answer is a clear 4xx.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            limit = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.NOTEBOOK_MAX_FILE_BYTES * 2)
            inflater = zlib.decompressobj(wbits=31)
            try:
                body = inflater.decompress(request.read(limit + 1), limit + 1)
            except zlib.error:
                return JsonResponse({"detail": "The body is not valid gzip."}, status=400)
            if len(body) > limit or inflater.unconsumed_tail:
                return JsonResponse(
                    {"detail": f"The request body is over the limit of {limit} bytes."}, status=413
                )
            request._body = body
            request._stream = io.BytesIO(body)
            request._read_started = False
            request.META["CONTENT_LENGTH"] = str(len(body))
            del request.META["HTTP_CONTENT_ENCODING"]
        return self.get_response(request)
