"""Error pages: JSON for API clients, the site's templates for people."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as django_bad_request

API_PREFIXES = ("/api/", "/o/")


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
