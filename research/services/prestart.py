"""Pre-starting research: a person's server starts when they load a site page, before they
open /research, so that JupyterLab is there when they do.

The site decides here; the person's own browser does the starting (the page loads the hub's
``/hub/spawn`` in a hidden frame, the normal login), so no hub gains a permission. A pre-start
costs a seat and a server, so it is given only to people likely to open research, never on a
nearly full hub, and at a bounded rate per hub; a pre-started server nobody uses is stopped by
the hub's idle culler, and its seat is freed by the bookkeeping's idle rule
(``DISCOVERY_IDLE_AFTER``).

Locks follow ``research.services.assignment``: the user's assignment row, then the hub's row.
The hub's row lock serializes every pre-start on that hub, wherever the site runs, so the rate
is counted exactly.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from quantsite.accounts.models import User
from research.exceptions import NoHubAvailable
from research.models import Assignment, Hub, Liveness
from research.selectors.discovery import assignment_open_for_user
from research.services.assignment import assignment_locate

# The window of the pre-start rate (``DISCOVERY_PRESTART_PER_MINUTE``), and how long a
# pre-start is taken to be under way (its server still starting).
PRESTART_WINDOW = dt.timedelta(minutes=1)


def research_prestart(*, user: User) -> Hub | None:
    """The hub whose server the user's browser should start now, or None for nothing to do.

    A hub only when all of these hold:

    - ``RESEARCH_PRESTART`` is on and the user is active;
    - they used research lately: a server of theirs was seen running within
      ``RESEARCH_PRESTART_RECENT_DAYS`` (``research_used_lately``);
    - no open assignment of theirs has a running server, or a pre-start in the last minute
      (its server is still starting);
    - the hub is live and active: the hub of their open assignment (sticky, as
      ``assignment_locate`` keeps it), or, without one, the hub ``assignment_locate`` places
      them on, if that seat leaves the hub at most ``DISCOVERY_PRESTART_MAX_FILL`` full
      (of its capacity beyond ``DISCOVERY_HEADROOM``);
    - that hub had fewer than ``DISCOVERY_PRESTART_PER_MINUTE`` pre-starts in the last minute,
      counted in the database (``Assignment.prestarted_at``) under the hub's row lock, so the
      bound holds exactly across every copy of the site (on PostgreSQL; SQLite has no row
      locks, and serves one process).

    The assignment's ``prestarted_at`` is set (its idle clock starts again). All or nothing:
    when the answer is None no seat was taken and nothing was marked. Never raises
    ``NoHubAvailable`` (no hub is None).
    """
    if not settings.RESEARCH_PRESTART or not user.is_active:
        return None
    now = timezone.now()
    current = assignment_open_for_user(user_id=user.pk)
    if current is not None and _under_way_or_running(current, now):
        return None
    if not research_used_lately(user=user, now=now):
        return None
    try:
        return _prestart(user=user, placed_before=current.pk if current else None)
    except NoHubAvailable:
        return None


def research_used_lately(*, user: User, now: dt.datetime) -> bool:
    """Did a server of the user's run within ``RESEARCH_PRESTART_RECENT_DAYS`` of ``now``: seen
    starting or stopping then, on any of their assignments?

    A run that a pre-start began does not count (the server seen after the assignment's last
    pre-start), or every pre-start would earn the next one, for someone who never opens
    research again. Someone who only ever uses pre-started servers misses one pre-start every
    ``RESEARCH_PRESTART_RECENT_DAYS``: their next visit to /research starts a server of their
    own, which counts again.
    """
    since = now - dt.timedelta(days=settings.RESEARCH_PRESTART_RECENT_DAYS)
    return Assignment.objects.filter(
        Q(server_seen_at__gte=since) | Q(server_stopped_at__gte=since),
        Q(prestarted_at__isnull=True) | Q(server_seen_at__lt=F("prestarted_at")),
        user_id=user.pk,
    ).exists()


def _under_way_or_running(assignment: Assignment, now: dt.datetime) -> bool:
    return assignment.server_running or (
        assignment.prestarted_at is not None and now - assignment.prestarted_at < PRESTART_WINDOW
    )


@transaction.atomic
def _prestart(*, user: User, placed_before: int | None) -> Hub | None:
    """Locate (or place) the user and mark the pre-start, or roll all of it back (None)."""
    hub = assignment_locate(user=user)
    # Locate placed the user in this transaction (its locks are held until it ends) or kept
    # their assignment; either way, lock that assignment, then its hub (the module's order).
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(user_id=user.pk, hub_id=hub.pk, ended_at__isnull=True)
        .first()
    )
    hub = Hub.objects.select_for_update().get(pk=hub.pk)
    # The clock again, under the locks: a pre-start that waited here counts the ones before it.
    now = timezone.now()
    if assignment is None or not _prestart_allowed(
        assignment=assignment, hub=hub, placed=assignment.pk != placed_before, now=now
    ):
        # Nothing of this call stays: a seat it took is given back.
        transaction.set_rollback(True)
        return None
    Assignment.objects.filter(pk=assignment.pk).update(prestarted_at=now)
    return hub


def _prestart_allowed(*, assignment: Assignment, hub: Hub, placed: bool, now: dt.datetime) -> bool:
    """The rules that need the locks: the assignment as it is now, the hub's mode, liveness and
    seats, and the hub's pre-starts in the last minute."""
    if _under_way_or_running(assignment, now):
        return False  # a concurrent pre-start or a heartbeat got here first
    if hub.mode != Hub.Mode.ACTIVE or hub.liveness(now) != Liveness.LIVE:
        return False  # a draining hub ends a server-less assignment at once; a stale one is unheard
    if placed:
        seats = hub.capacity - settings.DISCOVERY_HEADROOM
        if hub.assigned_count > settings.DISCOVERY_PRESTART_MAX_FILL * seats:
            return False
    recent = Assignment.objects.filter(hub_id=hub.pk, prestarted_at__gt=now - PRESTART_WINDOW)
    return recent.count() < settings.DISCOVERY_PRESTART_PER_MINUTE
