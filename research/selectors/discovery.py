"""Reads of discovery state. Liveness is computed from timestamps, here, at query time."""

import dataclasses
import datetime as dt
import functools
import hashlib

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone
from oauth2_provider.models import AbstractAccessToken, AccessToken

from quantsite.accounts.models import ApplicationPolicy, User
from quantsite.db.rows import column_names, concrete_names, instance_from_row
from research.exceptions import HubCredentialRejected, HubNotRecognized
from research.models import Assignment, DiscoveryClock, Hub

# What the hub API reads of a hub and its token; the rest of the rows is never loaded.
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


def hubs_accepting_users(*, now: dt.datetime) -> QuerySet[Hub]:
    """Hubs that may get a new user now: active, live (fresh heartbeat), a seat free beyond
    the headroom. Ordered emptiest first."""
    return Hub.objects.filter(
        mode=Hub.Mode.ACTIVE,
        stopped_at__isnull=True,
        last_heartbeat_at__gte=now - _seconds(settings.DISCOVERY_STALE_AFTER),
        assigned_count__lt=_capacity_minus_headroom(),
    ).order_by("assigned_count", "pk")


def discovery_listening_since(*, now: dt.datetime) -> dt.datetime | None:
    """Since when the site has been hearing heartbeats without a gap (``DiscoveryClock``), for
    ``Hub.liveness``: now, while it hears none (its own outage may be under way, or no hub
    beats); None before any hub ever started."""
    clock = DiscoveryClock.objects.filter(pk=1).first()
    if clock is None:
        return None
    if (now - clock.heard_at).total_seconds() > settings.DISCOVERY_STALE_AFTER:
        return now
    return clock.listening_since


def assignment_open_for_user(*, user_id: int) -> Assignment | None:
    """The user's open assignment with its hub (``assignment.hub``), in one prepared join:
    every visit to /research and every locate reads it."""
    with connection.cursor() as cursor:
        cursor.execute(_assignment_open_for_user_sql(), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(Assignment._meta.concrete_fields)
    assignment = instance_from_row(Assignment, concrete_names(Assignment), row[:split])
    assignment.hub = instance_from_row(Hub, concrete_names(Hub), row[split:])
    return assignment


@functools.cache
def _assignment_open_for_user_sql() -> str:
    columns = column_names(Assignment, "a", concrete_names(Assignment))
    columns += column_names(Hub, "h", concrete_names(Hub))
    assignment, hub = Assignment._meta, Hub._meta
    # Built once from model metadata (no outside input); the user id is a bound parameter.
    return (
        f'SELECT {", ".join(columns)} FROM "{assignment.db_table}" a '  # noqa: S608
        f'JOIN "{hub.db_table}" h ON h."id" = a."hub_id" '
        f'WHERE a."user_id" = %s AND a."ended_at" IS NULL'
    )


@dataclasses.dataclass(frozen=True)
class TokenHub:
    """What a locate by bearer token reads in one statement (``token_hub``): the token (its
    expiry, scopes and audience, as ``AccessToken``), whether its user is active, and the hub of
    the user's open assignment (None without one)."""

    token: AccessToken
    user_active: bool
    hub: Hub | None


# Of a hub, what locate's answer and ``Hub.keeps_users`` read.
_LOCATE_HUB_FIELDS = ["id", "name", "url", "mode", "stopped_at", "last_heartbeat_at"]
_LOCATE_TOKEN_FIELDS = ["id", "user_id", "application_id", "expires", "scope", "resource"]


def token_hub(*, raw_token: str) -> TokenHub | None:
    """The user's token ``raw_token`` with its user's state and current hub, in one prepared
    join: a returning user's locate (every /research visit, every hub login) needs nothing
    else. None for an unknown token, a client-credentials token (no user), or a disabled
    application's. The caller judges expiry, scopes, the user's state and the hub's, and sends
    anything else down the full path (``assignment_locate``)."""
    with connection.cursor() as cursor:
        cursor.execute(_token_hub_sql(), [token_checksum(raw_token), True])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_LOCATE_TOKEN_FIELDS)
    token = instance_from_row(AccessToken, _LOCATE_TOKEN_FIELDS, row[:split])
    user_active, hub_row = bool(row[split]), row[split + 1 :]
    hub = instance_from_row(Hub, _LOCATE_HUB_FIELDS, hub_row) if hub_row[0] is not None else None
    return TokenHub(token=token, user_active=user_active, hub=hub)


@functools.cache
def _token_hub_sql() -> str:
    token, policy, user = AccessToken._meta, ApplicationPolicy._meta, User._meta
    assignment, hub = Assignment._meta, Hub._meta
    columns = column_names(AccessToken, "t", _LOCATE_TOKEN_FIELDS)
    columns += [f'u."{user.get_field("is_active").column}"']
    columns += column_names(Hub, "h", _LOCATE_HUB_FIELDS)
    # Built once from model metadata (no outside input); the checksum is a bound parameter.
    return (
        f'SELECT {", ".join(columns)} FROM "{token.db_table}" t '  # noqa: S608
        f'JOIN "{user.db_table}" u ON u."id" = t."user_id" '
        f'LEFT JOIN "{policy.db_table}" p ON p."application_id" = t."application_id" '
        f'LEFT JOIN "{assignment.db_table}" a ON a."user_id" = u."id" AND a."ended_at" IS NULL '
        f'LEFT JOIN "{hub.db_table}" h ON h."id" = a."hub_id" '
        f'WHERE t."token_checksum" = %s AND (p."enabled" IS NULL OR p."enabled" = %s)'
    )


def hub_for_token(*, token: AbstractAccessToken | None) -> Hub:
    """The hub a discovery credential speaks for.

    Only a client-credentials token (no user) of a hub's own application counts: a user's
    token, even one issued to a hub's application, does not. Raises ``HubNotRecognized``.
    """
    if token is None or token.user_id is not None or token.application_id is None:
        raise HubNotRecognized("This endpoint is for hubs, with their discovery credential.")
    # HubTokenAuthentication loads the hub with the token; any other token is looked up.
    hub = (
        token.hub
        if hasattr(token, "hub")
        else (Hub.objects.filter(application_id=token.application_id).first())
    )
    if hub is None:
        raise HubNotRecognized("This application is not a registered hub.")
    return hub


def hub_for_credential(*, raw_token: str) -> Hub:
    """The hub whose discovery credential ``raw_token`` is, judged as the hub API judges it.

    Raises ``HubCredentialRejected`` (401) for an unknown or expired token or a disabled
    application's, and ``HubNotRecognized`` (403) for a live token that is not a hub's
    discovery credential: a user's token, one without scope ``discovery``, or the token of an
    application that is not a hub.
    """
    token = access_token_with_hub(raw_token=raw_token)
    if token is None or not token.is_valid():
        raise HubCredentialRejected()
    if token.user_id is not None or not token.allow_scopes(["discovery"]):
        raise HubNotRecognized("This endpoint is for hubs, with their discovery credential.")
    return hub_for_token(token=token)


def access_token_with_hub(*, raw_token: str) -> AccessToken | None:
    """The access token ``raw_token`` names, with the hub of its application as ``token.hub``
    (None for an application that is not a hub), in one query; None for an unknown token or a
    disabled application's (``ApplicationPolicy.enabled``).

    Every hub beats every second, so this is the site's hottest read: one hand-written join
    instead of the ORM's (whose compilation alone cost 2 ms a request on this machine;
    bench/RESULTS.md). Tokens are found by the SHA-256 checksum django-oauth-toolkit stores
    them under. Expiry and scope are not judged here: the caller asks ``token.is_valid()``,
    and the view's permission (``IsHub``) checks the scope.
    """
    with connection.cursor() as cursor:
        cursor.execute(_access_token_with_hub_sql(), [token_checksum(raw_token), True])
        row = cursor.fetchone()
    if row is None:
        return None
    row = [_aware(value) for value in row]
    token = AccessToken(**dict(zip(TOKEN_FIELDS, row[: len(TOKEN_FIELDS)], strict=True)))
    hub_row = row[len(TOKEN_FIELDS) :]
    token.hub = Hub(**dict(zip(HUB_FIELDS, hub_row, strict=True))) if hub_row[0] else None
    return token


@functools.cache
def _access_token_with_hub_sql() -> str:
    token, hub, policy = AccessToken._meta, Hub._meta, ApplicationPolicy._meta
    columns = [f't."{token.get_field(f).column}"' for f in TOKEN_FIELDS] + [
        f'h."{hub.get_field(f).column}"' for f in HUB_FIELDS
    ]
    # Built once from model metadata (no outside input); the checksum is a bound parameter.
    return (
        f'SELECT {", ".join(columns)} FROM "{token.db_table}" t '  # noqa: S608
        f'LEFT JOIN "{hub.db_table}" h ON h."application_id" = t."application_id" '
        f'LEFT JOIN "{policy.db_table}" p ON p."application_id" = t."application_id" '
        f'WHERE t."token_checksum" = %s AND (p."enabled" IS NULL OR p."enabled" = %s)'
    )


def token_checksum(raw_token: str) -> str:
    """What django-oauth-toolkit stores a token under (``AccessToken.token_checksum``)."""
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _aware(value):
    # PostgreSQL returns aware datetimes; SQLite's driver returns naive UTC ones.
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def _capacity_minus_headroom() -> F:
    return F("capacity") - settings.DISCOVERY_HEADROOM
