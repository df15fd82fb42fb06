"""DRF glue shared by every API."""

import gzip
import io
import re
import zlib

from django.conf import settings
from django.utils.cache import patch_vary_headers
from rest_framework import exceptions, parsers, serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from quantsite.errors import database_unavailable
from quantsite.exceptions import ApplicationError
from research.exceptions import (
    BadNotebook,
    CopyTooLarge,
    DirectoryNotEmpty,
    EntryExists,
    InvalidModel,
    InvalidPath,
    IsADirectory,
    NoSuchEntry,
    NotADirectory,
    NotebookStoreError,
    QuotaExceeded,
    TooLarge,
)

# The notebook store's errors, with the status jupyter_server's own contents manager answers
# for each case (its test suite checks them; JupyterLab reads them). Most specific first.
_STORE_STATUS: dict[type[NotebookStoreError], int] = {
    NoSuchEntry: 404,
    EntryExists: 409,
    TooLarge: 413,
    # A full quota is 413, not 507 Insufficient Storage: JupyterLab shows either status the
    # same way (its dialog reads the message), but the refusal is about this user's request,
    # not a failing server, and a 5xx is treated as one: jupyter_server logs every 5xx it
    # relays at error level with the request's headers, Django's django.request logger and
    # the load balancer count it as a server error, and generic clients may retry it. 413 is
    # also what the per-file limit answers, so the hub's client needs nothing new.
    QuotaExceeded: 413,
    CopyTooLarge: 400,
    BadNotebook: 400,
    InvalidModel: 400,
    InvalidPath: 400,
    IsADirectory: 400,
    NotADirectory: 400,
    DirectoryNotEmpty: 400,
}


def error_status(error: ApplicationError) -> int:
    """The HTTP status of a domain error: the store's by the table above, any other by the
    ``status_code`` it declares. The API's handler and the HTML views both answer with it."""
    for cls in type(error).__mro__:
        if cls in _STORE_STATUS:
            return _STORE_STATUS[cls]
    return error.status_code


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API error as ``{"detail": message}`` (the ``Error`` schema), with its status.

    Our domain errors answer with ``error_status`` (and ``Retry-After``); a database outage is a
    503 with ``Retry-After``; DRF's validation errors keep their per-field messages under
    ``errors``, with ``detail`` saying them in one line.
    """
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return Response({"detail": exc.message}, status=error_status(exc), headers=headers)
    if database_unavailable(exc):
        return Response(
            {"detail": "The site's database is unavailable; try again shortly."},
            status=503,
            headers={"Retry-After": str(settings.DATABASE_RETRY_AFTER)},
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"body": response.data}
        response.data = {"detail": _one_line(errors), "errors": errors}
    return response


def _one_line(errors, prefix: str = "") -> str:
    if isinstance(errors, dict):
        return "; ".join(_one_line(value, f"{prefix}{key}: ") for key, value in errors.items())
    if isinstance(errors, list):
        return "; ".join(_one_line(value, prefix) for value in errors)
    return f"{prefix}{errors}"


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def request_body(stream, media_type, parser_context: dict) -> bytes:
    """A DRF parser's body, bounded: at most the view's ``max_body_bytes`` (else
    ``API_MAX_BODY_BYTES``; 413 past it), ``Content-Encoding: gzip`` inflated within that limit
    and ``API_GZIP_MAX_RATIO`` for views that declare ``request_encodings = ("gzip",)``, any
    other encoding a 415. Every parser of the APIs reads its body through here."""
    view = parser_context.get("view")
    request = parser_context.get("request")
    limit = getattr(view, "max_body_bytes", None) or settings.API_MAX_BODY_BYTES
    meta = request.META if request is not None else {}
    encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is over the limit of {limit} bytes.")
        return body
    if encoding == "gzip" and "gzip" in getattr(view, "request_encodings", ()):
        return inflate_gzip(stream, limit=limit, max_ratio=settings.API_GZIP_MAX_RATIO)
    raise exceptions.UnsupportedMediaType(
        media_type, f"Content-Encoding {encoding!r} is not accepted here."
    )


class JSONParser(parsers.JSONParser):
    """The one JSON parser of every API: bounded in size, depth and encoding.

    - The body is capped before parsing (``API_MAX_BODY_BYTES``; views that take larger bodies
      set ``max_body_bytes``, the contents API to ``NOTEBOOK_MAX_BODY_BYTES``): Django's own
      cap (``DATA_UPLOAD_MAX_MEMORY_SIZE``) does not apply to the stream DRF reads. 413.
    - ``Content-Encoding: gzip`` is inflated here, so after the view has authenticated the
      caller, and only for views that declare ``request_encodings = ("gzip",)``; the inflated
      size is capped by the same limit and by ``API_GZIP_MAX_RATIO`` times the bytes received,
      checked while inflating (413). Any other encoding is a 415.
    - Nesting deeper than ``API_MAX_JSON_DEPTH`` is a 400 (parsers and ``nbformat`` recurse).
    - Strings with lone surrogates (``"\\udc80"``) are a 400: they cannot be encoded as UTF-8,
      so no text of a request can hold one past this point.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        body = request_body(stream, media_type, parser_context)
        too_deep = f"JSON parse error - nested deeper than {settings.API_MAX_JSON_DEPTH} levels."
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(too_deep) from None
        if _too_deep(body, data):
            raise exceptions.ParseError(too_deep)
        if _SURROGATE_ESCAPE.search(body) and _has_surrogate(data):
            raise exceptions.ParseError(
                "JSON parse error - a string holds a lone surrogate (not a Unicode character)."
            )
        return data


# A lone surrogate can only come from a \\uD800-\\uDFFF escape: UTF-8 cannot carry one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\\ud800-\\udfff]")


def _too_deep(body: bytes, data) -> bool:
    limit = settings.API_MAX_JSON_DEPTH
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case, without a walk
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _has_surrogate(data) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def inflate_gzip(stream, *, limit: int, max_ratio: int, chunk: int = 64 * 1024) -> bytes:
    """The gzip body of ``stream`` inflated, never holding more than ``limit`` bytes of output.

    413 when the compressed or inflated size passes ``limit``, or the output passes
    ``max_ratio`` times the input read so far (past a first megabyte); 400 when it is not one
    complete gzip stream. Reads and inflates ``chunk`` bytes at a time, so a bomb is refused
    after a bounded amount of work.
    """
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    received = 0
    while not inflater.eof:
        data = stream.read(chunk) if stream is not None else b""
        if not data:
            break
        received += len(data)
        if received > limit:
            raise RequestTooLarge(f"The request body is over the limit of {limit} bytes.")
        while data:
            try:
                out += inflater.decompress(data, limit + 1 - len(out))
            except zlib.error:
                raise exceptions.ParseError("The body is not valid gzip.") from None
            if len(out) > limit:
                raise RequestTooLarge(
                    f"The inflated request body is over the limit of {limit} bytes."
                )
            if len(out) > max(max_ratio * received, _RATIO_FLOOR):
                raise RequestTooLarge(
                    f"The request body inflates more than {max_ratio} times; send it uncompressed."
                )
            data = inflater.unconsumed_tail
    if not inflater.eof or inflater.unused_data:
        raise exceptions.ParseError("The body is not valid gzip (one complete gzip stream).")
    return bytes(out)


_RATIO_FLOOR = 1024 * 1024


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
