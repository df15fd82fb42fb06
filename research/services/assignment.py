"""Placing users on hubs: locate (sticky, then fewest users), end, move.

Locking, the same everywhere so that concurrent calls cannot deadlock: a user's row, then
assignment rows, then hub rows, each set in primary-key order. Placement picks its hub with
``SKIP LOCKED``, so concurrent first visits spread over hubs instead of queueing on one.
"""

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from oauth2_provider.models import AccessToken

from quantsite.accounts.models import User
from research.exceptions import HubConflict, NoHubAvailable
from research.models import Assignment, Hub, Liveness
from research.selectors.discovery import (
    assignment_open_for_user,
    discovery_listening_since,
    hubs_accepting_users,
)


def assignment_locate(*, user: User) -> Hub:
    """The hub the user works on, placing them on one if they have none.

    Sticky: an open assignment is kept while its hub keeps users (not dead, stopped or
    disabled; a stale or draining hub keeps them). Otherwise it ends here and now (routing is
    right even when bookkeeping is behind), and the user goes to the live, active hub with the
    fewest users that has a seat beyond the headroom, counted the moment they are placed.

    Asking for the hub with no server running there restarts the assignment's idle clock
    (``Assignment.located_at``; written at most once per half ``DISCOVERY_IDLE_AFTER``): the
    user's server is about to start, and the bookkeeping must not end the assignment under it.

    Concurrent calls for one user end with one assignment and the same hub. Raises
    ``NoHubAvailable`` when no hub can take the user.
    """
    now = timezone.now()
    # Fast path, one query and no locks: the common visit of a user already placed.
    current = assignment_open_for_user(user_id=user.pk)
    if current is not None and current.hub.keeps_users(now):
        if _assignment_located(current, now=now):
            return current.hub
        current = None  # it ended meanwhile (idle): place the user again
    # Its hub has been silent long: judge it against the time the site has been hearing
    # heartbeats, so the site's own outage does not end the assignments of live hubs.
    listening_since = discovery_listening_since(now=now)
    if (
        current is not None
        and current.hub.keeps_users(now, listening_since=listening_since)
        and _assignment_located(current, now=now)
    ):
        return current.hub
    try:
        hub = _assignment_place(user=user, now=now, listening_since=listening_since)
    except IntegrityError:
        # Only possible where row locks do not exist (SQLite): a concurrent call placed the
        # user first; the unique constraint kept one assignment. Answer with that one.
        current = assignment_open_for_user(user_id=user.pk)
        if current is None:
            raise
        return current.hub
    if hub is None:
        raise NoHubAvailable()
    return hub


@transaction.atomic
def _assignment_place(
    *, user: User, now: dt.datetime, listening_since: dt.datetime | None
) -> Hub | None:
    """Place the user, ending an assignment to a hub that no longer keeps users; None when no
    hub has a seat (the ended assignment stays ended: it is returned, not raised, so that the
    transaction commits)."""
    # The user's row lock serializes placements of one user: the second of two concurrent
    # first visits waits here, then finds the first one's assignment below.
    _lock_user(user.pk)
    # The clock again, under the lock: a call that waited here must not judge hubs or end an
    # assignment with the earlier time it arrived at.
    now = max(now, timezone.now())
    current = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("hub")
        .filter(user=user, ended_at__isnull=True)
        .first()
    )
    if current is not None:
        if current.hub.keeps_users(now, listening_since=listening_since):
            _assignment_located(current, now=now)  # locked: it stays open
            return current.hub
        assignments_end(
            Assignment.objects.filter(pk=current.pk),
            reason=_end_reason_for(current.hub, now),
            now=now,
        )
    # Skip hubs other placements hold, so a burst spreads instead of queueing on the emptiest.
    hub = hubs_accepting_users(now=now).select_for_update(skip_locked=True).first()
    if hub is None:
        hub = _hub_lock_waiting(now=now)
    if hub is not None:
        _assignment_open(user=user, hub=hub)
    return hub


def _assignment_located(assignment: Assignment, *, now: dt.datetime) -> bool:
    """The user asks for the hub of their open ``assignment``: with no server running there,
    restart its idle clock, unless it restarted within half ``DISCOVERY_IDLE_AFTER`` (so a
    visit with a server running, the common one, writes nothing). False when the assignment
    has ended meanwhile: the bookkeeping's idle ending and this update lock the same row, so
    either the assignment stays open past now or the user is placed again."""
    if assignment.server_running:
        return True
    if (now - assignment.idle_since).total_seconds() < settings.DISCOVERY_IDLE_AFTER / 2:
        return True
    assignment.located_at = now
    return bool(
        Assignment.objects.filter(pk=assignment.pk, ended_at__isnull=True).update(located_at=now)
    )


def _lock_user(user_id: int) -> None:
    """Lock the user's row: placements and moves of one user happen one at a time."""
    User.objects.select_for_update().filter(pk=user_id).values_list("pk").first()


def _hub_lock_waiting(*, now: dt.datetime) -> Hub | None:
    """Every candidate hub is held by other placements: wait for them one at a time.

    Each wait locks a single row in a savepoint; a hub that filled up meanwhile fails the
    re-checked condition and its savepoint is rolled back, releasing the lock before the next
    wait. So a placement never holds one hub while waiting for another (no deadlock).
    """
    for pk in hubs_accepting_users(now=now).values_list("pk", flat=True):
        with transaction.atomic():
            hub = hubs_accepting_users(now=now).select_for_update().filter(pk=pk).first()
            if hub is not None:
                return hub
            transaction.set_rollback(True)
    return None


def _assignment_open(*, user: User, hub: Hub) -> Assignment:
    """Create an open assignment and count it against the hub, whose row the caller locked.

    The hub's check constraint refuses a count over capacity, so even a caller that forgot a
    check cannot overfill a hub.
    """
    assignment = Assignment.objects.create(user=user, hub=hub)
    # The hub's next heartbeat records its running set in full (its digest no longer matches):
    # a server the user still runs there from an assignment that has just ended, before the
    # hub was told to stop it, then shows as running on this one, and is never taken for idle.
    Hub.objects.filter(pk=hub.pk).update(assigned_count=F("assigned_count") + 1, running_digest="")
    return assignment


def assignments_end(assignments: QuerySet[Assignment], *, reason: str, now: dt.datetime) -> int:
    """End the open assignments among ``assignments`` and uncount them from their hubs.

    Must run inside a transaction. Idempotent: rows another transaction ended first are
    skipped (the lock re-reads them), so each assignment is uncounted once. Returns how many
    this call ended.
    """
    rows = list(
        assignments.filter(ended_at__isnull=True)
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "hub_id", "user_id")
    )
    if not rows:
        return 0
    Assignment.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        ended_at=now, end_reason=reason, server_running=False
    )
    per_hub = Counter(hub_id for _, hub_id, _ in rows)
    for hub_id in sorted(per_hub):
        Hub.objects.filter(pk=hub_id).update(assigned_count=F("assigned_count") - per_hub[hub_id])
    # The users' server credentials on those hubs stop working with the assignment.
    for hub_id, user_ids in _users_per_hub(rows).items():
        AccessToken.objects.filter(
            user_id__in=user_ids, application__hub__id=hub_id, scope="notebooks"
        ).delete()
    return len(rows)


def _users_per_hub(rows) -> dict[int, list[int]]:
    users: dict[int, list[int]] = {}
    for _, hub_id, user_id in rows:
        users.setdefault(hub_id, []).append(user_id)
    return users


@transaction.atomic
def assignment_move(*, assignment: Assignment, hub: Hub) -> Assignment:
    """Move an open assignment's user to ``hub`` (a staff action).

    The target must keep users and have a seat (headroom may be used: staff decide). Raises
    ``HubConflict`` otherwise, or if the assignment has ended or is already on that hub.
    """
    _lock_user(assignment.user_id)
    now = timezone.now()  # under the lock, so that the assignment does not end in the past
    current = Assignment.objects.select_for_update().filter(pk=assignment.pk).first()
    if current is None or current.ended_at is not None:
        raise HubConflict("This assignment has already ended.")
    if current.hub_id == hub.pk:
        raise HubConflict(f"{assignment.user} is already on {hub}.")
    assignments_end(
        Assignment.objects.filter(pk=current.pk), reason=Assignment.EndReason.MOVED, now=now
    )
    target = Hub.objects.select_for_update().get(pk=hub.pk)
    if target.mode != Hub.Mode.ACTIVE or target.liveness(now) != Liveness.LIVE:
        raise HubConflict(f"{target} is not live and active; choose another hub.")
    if target.assigned_count >= target.capacity:
        raise HubConflict(f"{target} is full ({target.capacity} users).")
    return _assignment_open(user=current.user, hub=target)


def _end_reason_for(hub: Hub, now: dt.datetime) -> str:
    if hub.mode == Hub.Mode.DISABLED:
        return Assignment.EndReason.HUB_DISABLED
    if hub.stopped_at is not None:
        return Assignment.EndReason.HUB_STOPPED
    return Assignment.EndReason.HUB_DEAD
