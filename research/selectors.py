"""Reads of discovery state. Liveness is computed from timestamps, here, at query time."""

import datetime as dt

from django.conf import settings
from django.db.models import F, QuerySet
from oauth2_provider.models import AbstractAccessToken

from research.exceptions import HubNotRecognized
from research.models import Assignment, DiscoveryClock, Hub


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
    return (
        Assignment.objects.select_related("hub")
        .filter(user_id=user_id, ended_at__isnull=True)
        .first()
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


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


def _capacity_minus_headroom() -> F:
    return F("capacity") - settings.DISCOVERY_HEADROOM
