"""Periodic discovery bookkeeping (Celery beat, every few seconds).

Routing does not depend on it: ``assignment_locate`` decides liveness from timestamps itself.
Bookkeeping keeps the record: hub events when liveness changes, and the assignments of dead,
stopped and disabled hubs (and of drained and disabled users) ended, so counts and the admin
are current. Liveness is judged as routing judges it (``Hub.liveness`` with the discovery
clock): a gap that covers the site's own outage kills no hub.

It also frees the seats of people without a server: an assignment on a live hub whose server
has not run for ``DISCOVERY_IDLE_AFTER`` ends (``Assignment.idle_since``): a pre-started
server the hub's idle culler stopped, a pre-start whose server never came, someone who only
reads the forum. Only on hubs the site hears now (live), whose reports of running servers are
current: never during the site's outage or a hub's silence.
"""

import dataclasses

from django.db import transaction
from django.utils import timezone

from research.models import Assignment, Hub, HubEvent, Liveness
from research.selectors.discovery import assignments_idle, discovery_listening_since
from research.services.assignment import assignments_end

# Which event a change of computed liveness records. Start and stop record their own events
# when they happen, so reaching LIVE after a start, or STOPPED, records nothing here.
TRANSITION_EVENTS = {
    (Liveness.LIVE, Liveness.STALE): HubEvent.Kind.WENT_STALE,
    (Liveness.LIVE, Liveness.DEAD): HubEvent.Kind.DIED,
    (Liveness.STALE, Liveness.DEAD): HubEvent.Kind.DIED,
    (Liveness.STALE, Liveness.LIVE): HubEvent.Kind.RECOVERED,
    (Liveness.DEAD, Liveness.LIVE): HubEvent.Kind.RECOVERED,
    (Liveness.DEAD, Liveness.STALE): HubEvent.Kind.RECOVERED,
}


@dataclasses.dataclass
class BookkeepingReport:
    events: int = 0
    assignments_ended: int = 0


def discovery_bookkeeping() -> BookkeepingReport:
    """Record liveness changes as hub events; end assignments that routing would end.

    Idempotent and safe to run concurrently: each hub row is taken with ``SKIP LOCKED`` (a
    second run skips what the first holds) and compared with the liveness already recorded,
    and ending assignments skips those already ended. Idle assignments (see the module) end
    last, in one statement over every live hub.
    """
    report = BookkeepingReport()
    now = timezone.now()
    listening_since = discovery_listening_since(now=now)
    # Disabled users lose their hub at once (their hub stops their server on its next
    # heartbeat: its stop list leaves them out already).
    with transaction.atomic():
        report.assignments_ended += assignments_end(
            Assignment.objects.filter(user__is_active=False),
            reason=Assignment.EndReason.USER_DISABLED,
            now=now,
        )
    for hub_id in Hub.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            hub = Hub.objects.select_for_update(skip_locked=True).filter(pk=hub_id).first()
            if hub is None:
                continue  # deleted, or another run is on it
            liveness = hub.liveness(now, listening_since=listening_since)
            if liveness != hub.recorded_liveness:
                kind = TRANSITION_EVENTS.get((hub.recorded_liveness, liveness))
                if kind is not None:
                    HubEvent.objects.create(hub=hub, kind=kind)
                    report.events += 1
                Hub.objects.filter(pk=hub.pk).update(recorded_liveness=liveness)
        # Outside the hub's lock: ending assignments locks assignments, then hubs.
        reason = _end_reason(hub, liveness) if hub is not None else None
        if reason is not None:
            with transaction.atomic():
                report.assignments_ended += assignments_end(
                    Assignment.objects.filter(hub_id=hub_id), reason=reason, now=now
                )
        if hub is not None and hub.mode == Hub.Mode.DRAINING:
            with transaction.atomic():
                report.assignments_ended += assignments_end(
                    Assignment.objects.filter(hub_id=hub_id, server_running=False),
                    reason=Assignment.EndReason.DRAINED,
                    now=now,
                )
    with transaction.atomic():
        report.assignments_ended += assignments_end(
            assignments_idle(now=now), reason=Assignment.EndReason.IDLE, now=now
        )
    return report


def _end_reason(hub: Hub, liveness: Liveness) -> str | None:
    if hub.mode == Hub.Mode.DISABLED:
        return Assignment.EndReason.HUB_DISABLED
    if liveness == Liveness.STOPPED:
        return Assignment.EndReason.HUB_STOPPED
    if liveness in (Liveness.DEAD, Liveness.NEW):
        return Assignment.EndReason.HUB_DEAD
    return None
