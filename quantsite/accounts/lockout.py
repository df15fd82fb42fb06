"""Failed-login lockout (django-axes): who the client is behind proxies, and two limits.

Wired in settings: ``AXES_CLIENT_IP_CALLABLE = "quantsite.accounts.lockout.client_ip"`` and
``AXES_HANDLER = "quantsite.accounts.lockout.LockoutHandler"``.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the site's own proxies saw it.

    With ``TRUSTED_PROXY_COUNT = 0`` (no proxy in front), ``REMOTE_ADDR``: an
    ``X-Forwarded-For`` header is the client's own claim and ignored. With N trusted proxies,
    each appends the address it received from, so the N-th entry from the right of
    ``X-Forwarded-For`` was written by the outermost trusted proxy; anything left of it is
    whatever the client sent. A header with fewer entries (the request did not pass through
    every proxy) or an entry that is not an address falls back to ``REMOTE_ADDR``.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a separate, higher limit for an address.

    ``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]`` counts failures
    for a username from one address, and for the address across all usernames. django-axes
    compares the larger count with one ``AXES_FAILURE_LIMIT``; here the pair locks at
    ``AXES_FAILURE_LIMIT`` and the address at ``AXES_ADDRESS_FAILURE_LIMIT``. So nobody can
    lock a username out from elsewhere, and one address guessing many usernames is stopped.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        worst = 0
        for parameter, attempts in zip(
            parameters, self.get_user_attempts(request, credentials), strict=True
        ):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "ip_address":
                # Scaled onto the pair's limit: at the address limit it reads as locked.
                if failures >= settings.AXES_ADDRESS_FAILURE_LIMIT:
                    failures = max(failures, limit)
                else:
                    failures = min(failures, limit - 1)
            worst = max(worst, failures)
        return worst

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        # A successful login clears the failures of that username from that address only:
        # logging into one's own account must not reset the address's count of failures
        # against everybody else's.
        parameters = get_lockout_parameters(request, credentials)
        count = 0
        for parameter, attempts in zip(
            parameters, self.filter_user_attempts(request, credentials), strict=True
        ):
            if parameter != "ip_address":
                count += attempts.delete()[0]
        return count
