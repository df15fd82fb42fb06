"""Reads of discovery state. Liveness is computed from timestamps, here, at query time."""

import dataclasses
import datetime as dt
import functools

from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from oauth2_provider.models import AbstractAccessToken, AccessToken

from quantsite.accounts.models import User
from quantsite.accounts.selectors import TOKEN_FIELDS, token_lookup
from quantsite.db.rows import column_names, concrete_names, instance_from_row
from research.exceptions import HubCredentialRejected, HubNotRecognized
from research.models import Assignment, DiscoveryClock, Hub, Liveness

# What the hub API reads of a hub (the rest of the row is loaded only if asked for).
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


def hubs_accepting_users(*, now: dt.datetime) -> QuerySet[Hub]:
    """Hubs that may get a new user now: active, live (fresh heartbeat), a seat free beyond
    the headroom. Ordered emptiest first."""
    return Hub.objects.filter(
        mode=Hub.Mode.ACTIVE,
        stopped_at__isnull=True,
        last_heartbeat_at__gte=now - _seconds(settings.DISCOVERY_STALE_AFTER),
        assigned_count__lt=_capacity_minus_headroom(),
    ).order_by("assigned_count", "pk")


def assignments_idle(*, now: dt.datetime) -> QuerySet[Assignment]:
    """Open assignments idle for longer than ``DISCOVERY_IDLE_AFTER`` (``Assignment.idle_since``)
    on hubs the site hears now: live (a heartbeat within ``DISCOVERY_STALE_AFTER``), not stopped
    or disabled. So a hub's silence, or the site's own outage, ends nothing here: the running
    servers a hub reports are current only while it beats."""
    return Assignment.objects.filter(
        Assignment.idle_filter(before=now - _seconds(settings.DISCOVERY_IDLE_AFTER)),
        ended_at__isnull=True,
        hub__stopped_at__isnull=True,
        hub__last_heartbeat_at__gte=now - _seconds(settings.DISCOVERY_STALE_AFTER),
        hub__mode__in=[Hub.Mode.ACTIVE, Hub.Mode.DRAINING],
    )


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


def token_hub(*, raw_token: str) -> TokenHub | None:
    """The user's token ``raw_token`` with its user's state and current hub, in one prepared
    join (``token_lookup``): a returning user's locate (every /research visit, every hub login)
    needs nothing else. None for an unknown token, a client-credentials token (no user), or a
    disabled application's. The caller judges expiry, scopes, the user's state and the hub's,
    and sends anything else down the full path (``assignment_locate``)."""
    row = token_lookup(raw_token=raw_token, columns=_token_hub_columns(), joins=_TOKEN_HUB_JOINS)
    if row is None:
        return None
    split = len(TOKEN_FIELDS)
    token = instance_from_row(AccessToken, list(TOKEN_FIELDS), row[:split])
    user_active, hub_row = bool(row[split]), row[split + 1 :]
    hub = instance_from_row(Hub, _LOCATE_HUB_FIELDS, hub_row) if hub_row[0] is not None else None
    return TokenHub(token=token, user_active=user_active, hub=hub)


_TOKEN_HUB_JOINS = (
    f'JOIN "{User._meta.db_table}" u ON u."id" = t."user_id"',
    f'LEFT JOIN "{Assignment._meta.db_table}" a ON a."user_id" = u."id" AND a."ended_at" IS NULL',
    f'LEFT JOIN "{Hub._meta.db_table}" h ON h."id" = a."hub_id"',
)


@functools.cache
def _token_hub_columns() -> tuple[str, ...]:
    return (
        *column_names(AccessToken, "t", list(TOKEN_FIELDS)),
        *column_names(User, "u", ["is_active"]),
        *column_names(Hub, "h", _LOCATE_HUB_FIELDS),
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
    (None for an application that is not a hub), in one prepared join (``token_lookup``); None
    for an unknown token or a disabled application's.

    Expiry and scope are not judged here: ``hub_for_credential`` judges them.
    """
    row = token_lookup(raw_token=raw_token, columns=_with_hub_columns(), joins=_WITH_HUB)
    if row is None:
        return None
    token = instance_from_row(AccessToken, list(TOKEN_FIELDS), row[: len(TOKEN_FIELDS)])
    hub_row = row[len(TOKEN_FIELDS) :]
    token.hub = instance_from_row(Hub, list(HUB_FIELDS), hub_row) if hub_row[0] else None
    return token


_WITH_HUB = (f'LEFT JOIN "{Hub._meta.db_table}" h ON h."application_id" = t."application_id"',)


@functools.cache
def _with_hub_columns() -> tuple[str, ...]:
    return (
        *column_names(AccessToken, "t", list(TOKEN_FIELDS)),
        *column_names(Hub, "h", list(HUB_FIELDS)),
    )


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def _capacity_minus_headroom() -> F:
    return F("capacity") - settings.DISCOVERY_HEADROOM


@dataclasses.dataclass(frozen=True)
class DiscoveryGauges:
    """Discovery's state in numbers (``discovery_gauges``)."""

    # (mode, liveness) -> hubs; every pair is present, 0 when no hub is in it.
    hubs: dict[tuple[str, str], int]
    # mode (active, draining) -> (seats, seats taken) of the live hubs in that mode.
    seats: dict[str, tuple[int, int]]
    assignments_open: int


def discovery_gauges(*, now: dt.datetime) -> DiscoveryGauges:
    """How many hubs are in each mode and liveness (``Hub.liveness`` at ``now``, with the
    site's own listening time, as routing judges it), the seats and taken seats of the live
    hubs that are not disabled, and the open assignments on every hub. Two queries, whatever
    the number of hubs; for the metrics scrape (quantsite/metrics.py)."""
    listening_since = discovery_listening_since(now=now)
    hubs = {(mode, liveness): 0 for mode in Hub.Mode.values for liveness in Liveness.values}
    seats = {Hub.Mode.ACTIVE.value: (0, 0), Hub.Mode.DRAINING.value: (0, 0)}
    fields = ("mode", "capacity", "assigned_count", "last_heartbeat_at", "stopped_at")
    for hub in Hub.objects.only(*fields).order_by():
        liveness = hub.liveness(now, listening_since=listening_since)
        hubs[(hub.mode, liveness.value)] += 1
        if liveness == Liveness.LIVE and hub.mode in seats:
            total, used = seats[hub.mode]
            seats[hub.mode] = (total + hub.capacity, used + hub.assigned_count)
    return DiscoveryGauges(
        hubs=hubs,
        seats=seats,
        assignments_open=Assignment.objects.filter(ended_at__isnull=True).count(),
    )
