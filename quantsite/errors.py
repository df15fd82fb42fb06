"""Error pages: JSON for API clients, the site's templates for people.

A database outage is a 503 with ``Retry-After`` everywhere, never Django's HTML 500: JSON
``{"detail"}`` on ``/api/``, an OAuth-shaped ``{"error": "temporarily_unavailable"}`` on ``/o/``
(RFC 6749 4.1.2.1), the ``503.html`` page for people. ``database_unavailable`` decides what is an
outage; ``DatabaseUnavailableMiddleware`` (view errors) and ``server_error`` (``handler500``,
errors raised in middleware) answer it.
"""

import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found as django_page_not_found
from django.views.defaults import server_error as django_server_error

API_PREFIXES = ("/api/", "/o/")
OAUTH_PREFIX = "/o/"

# PostgreSQL SQLSTATEs that mean "the server cannot serve us now", not "this query is wrong":
# connection exceptions (class 08), shutdowns and startup (57P0x), too many connections.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}
# SQLite's words for a file it cannot open or a database another process holds.
_SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked", "disk i/o error")


def database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` says the database cannot be reached (an outage), as opposed to a
    query the database refused (a bug or bad input, which stays a 500 or its own 4xx).

    Django's ``InterfaceError`` (a connection already closed) always is; an ``OperationalError``
    is when the driver's error has no SQLSTATE (the client could not connect or lost the
    connection), a connection-class SQLSTATE, or SQLite's "cannot open / locked".
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if cause is not None and type(cause).__module__.startswith("psycopg"):
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return any(words in str(error).lower() for words in _SQLITE_UNAVAILABLE)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 for a database outage, shaped for the caller, with ``Retry-After``."""
    retry_after = settings.DATABASE_RETRY_AFTER
    message = "The site's database is unavailable; try again shortly."
    if request.path.startswith(OAUTH_PREFIX):
        response = JsonResponse(
            {"error": "temporarily_unavailable", "error_description": message}, status=503
        )
    elif request.path.startswith(API_PREFIXES):
        response = JsonResponse({"detail": message}, status=503)
    else:
        # Rendered without a request context: the context processors may need the database.
        template = loader.get_template("503.html")
        response = HttpResponse(template.render({"retry_after": retry_after}), status=503)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """A view that fails because the database is unreachable answers 503, not 500.

    Errors raised in other middleware (sessions, authentication) reach ``server_error``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            return service_unavailable(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 for a database outage; otherwise a 500, JSON on the APIs."""
    if database_unavailable(sys.exc_info()[1]):
        return service_unavailable(request)
    if request.path.startswith(OAUTH_PREFIX):
        return JsonResponse(
            {"error": "server_error", "error_description": "Server error."}, status=500
        )
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"detail": "Server error."}, status=500)
    return django_server_error(request)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON ``{"detail"}`` (OAuth's error shape on ``/o/``) for a URL under the
    APIs that no API routes; the site's page otherwise."""
    if request.path.startswith(OAUTH_PREFIX):
        return JsonResponse(
            {"error": "invalid_request", "error_description": "Not found."}, status=404
        )
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=404)
    return django_page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400, or 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``; JSON on the APIs."""
    too_big = isinstance(exception, RequestDataTooBig)
    status = 413 if too_big else 400
    if request.path.startswith(API_PREFIXES):
        detail = (
            f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            if too_big
            else "Bad request."
        )
        return JsonResponse({"detail": detail}, status=status)
    response = django_bad_request(request, exception)
    response.status_code = status
    return response
