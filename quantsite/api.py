"""DRF glue shared by every API."""

import gzip
import io

from django.conf import settings
from django.utils.cache import patch_vary_headers
from rest_framework import parsers, serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from quantsite.exceptions import ApplicationError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus our domain errors as ``{"detail": message}`` with their status."""
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return Response({"detail": exc.message}, status=exc.status_code, headers=headers)
    return drf_exception_handler(exc, context)


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a cap on the body, read before parsing (``API_MAX_BODY_BYTES``).

    Django's own cap (``DATA_UPLOAD_MAX_MEMORY_SIZE``) does not apply to the stream DRF reads.
    Views that take larger bodies set ``max_body_bytes``.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        view = parser_context.get("view")
        limit = getattr(view, "max_body_bytes", None) or settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is over the limit of {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """``data`` validated by ``serializer_class``; a ``ValidationError`` (400) otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def gzip_json_response(request, response, *, min_bytes: int = 64 * 1024, level: int = 1):
    """Gzip a large JSON response for a client that accepts it, at the fastest level.

    Notebooks are mostly base64 images that compress little: a fast level keeps most of the
    gain on text without spending hundreds of milliseconds on megabytes of PNG. The response
    is rendered here (DRF renders lazily).
    """
    if "gzip" not in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        return response
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    if response.has_header("Content-Encoding") or len(response.content) < min_bytes:
        return response
    response.content = gzip.compress(response.content, compresslevel=level)
    response["Content-Encoding"] = "gzip"
    response["Content-Length"] = str(len(response.content))
    patch_vary_headers(response, ("Accept-Encoding",))
    return response
