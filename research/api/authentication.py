import datetime as dt
import hashlib

from django.db import connection
from django.utils import timezone
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AccessToken

from quantsite.accounts.models import ApplicationPolicy
from research.models import Hub

# What the hub API reads of a hub; the rest of the row is never loaded on this path.
HUB_FIELDS = (
    "id",
    "name",
    "url",
    "mode",
    "capacity",
    "assigned_count",
    "started_at",
    "stopped_at",
    "running_digest",
    "application_id",
)
TOKEN_FIELDS = ("id", "expires", "scope", "user_id", "application_id")


def _hub_token_sql() -> str:
    token, hub, policy = AccessToken._meta, Hub._meta, ApplicationPolicy._meta
    columns = [f't."{token.get_field(f).column}"' for f in TOKEN_FIELDS] + [
        f'h."{hub.get_field(f).column}"' for f in HUB_FIELDS
    ]
    # Built once from model metadata (no outside input); the checksum is a bound parameter.
    # A disabled application's tokens count as unknown (ApplicationPolicy.enabled).
    return (
        f'SELECT {", ".join(columns)} FROM "{token.db_table}" t '  # noqa: S608
        f'LEFT JOIN "{hub.db_table}" h ON h."application_id" = t."application_id" '
        f'LEFT JOIN "{policy.db_table}" p ON p."application_id" = t."application_id" '
        f'WHERE t."token_checksum" = %s AND (p."enabled" IS NULL OR p."enabled" = %s)'
    )


def _aware(value):
    # PostgreSQL returns aware datetimes; SQLite's driver returns naive UTC ones.
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


class HubTokenAuthentication(OAuth2Authentication):
    """A hub's discovery token, with its hub, in one query.

    Every hub beats every second, so this is the site's hottest authentication: one
    hand-written join instead of the ORM's (whose compilation alone cost 2 ms a request on
    this machine; bench/RESULTS.md). Any live token authenticates, so a user's token is refused
    with 403 by ``IsHub`` rather than 401; an unknown or expired one does not. Expiry and scope
    are the token model's own ``is_valid``; tokens are found by the SHA-256 checksum
    django-oauth-toolkit stores them under. The hub, if any, is ``token.hub``.
    """

    sql = None

    def authenticate(self, request):
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            return None
        if HubTokenAuthentication.sql is None:
            HubTokenAuthentication.sql = _hub_token_sql()
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [hashlib.sha256(raw.encode()).hexdigest(), True])
            row = cursor.fetchone()
        if row is None:
            request.oauth2_error = {"error": "invalid_token"}
            return None
        row = [_aware(value) for value in row]
        token = AccessToken(**dict(zip(TOKEN_FIELDS, row[: len(TOKEN_FIELDS)], strict=True)))
        if not token.is_valid():
            request.oauth2_error = {"error": "invalid_token"}
            return None
        hub_row = row[len(TOKEN_FIELDS) :]
        token.hub = Hub(**dict(zip(HUB_FIELDS, hub_row, strict=True))) if hub_row[0] else None
        return None, token
