"""A hub's life: registration by an operator, start/heartbeat/stop by the hub, and staff's
drain, disable and delete.

Hub rows are updated in short transactions of their own and never while assignment rows are
locked (see ``research.services.assignment`` for the lock order)."""

import dataclasses
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    AccessToken,
    Application,
    Grant,
    IDToken,
    RefreshToken,
    set_token_value,
)

from quantsite.accounts.models import ApplicationPolicy, User
from quantsite.accounts.selectors import token_checksum
from quantsite.accounts.services import application_enabled_set
from research.exceptions import HubConflict, HubInvalid, HubNotAllowed
from research.models import Assignment, DiscoveryClock, Hub, HubEvent, Liveness
from research.selectors.discovery import hub_for_credential
from research.services.assignment import assignments_end

HUB_SCOPES = "openid profile email discovery"


@dataclasses.dataclass(frozen=True)
class HubRegistration:
    hub: Hub
    client_secret: str | None  # plain text, only when just created or rotated


def normalize_hub_url(url: str) -> str:
    """``scheme://host[:port][/path]`` without a trailing slash; http(s) only."""
    url = url.strip().rstrip("/")
    scheme, _, rest = url.partition("://")
    if scheme not in {"http", "https"} or not rest or any(c in url for c in "?#@ \\"):
        raise HubInvalid(f"Hub URL must be an http(s) URL without query or credentials: {url!r}")
    return url


@transaction.atomic
def hub_register(
    *, name: str, url: str, capacity: int | None = None, rotate_secret: bool = False
) -> HubRegistration:
    """Create or update a hub and its own trusted OAuth application.

    The application is confidential, authorization code (plus client credentials, by its
    policy), with the single redirect URI ``URL/hub/oauth_callback``. The plain client secret
    is returned when the application is created or ``rotate_secret`` is set, and never again
    (it is stored hashed). Raises ``HubInvalid`` for a bad name, URL or capacity, and
    ``HubConflict`` for a capacity below the users now assigned.
    """
    url = normalize_hub_url(url)
    hub = Hub.objects.select_for_update().filter(name=name).first()
    secret = None
    if hub is None:
        secret = generate_client_secret()
        application = Application(
            name=f"Hub {name}",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            client_secret=secret,
            skip_authorization=True,
            algorithm=Application.RS256_ALGORITHM,
        )
        hub = Hub(
            name=name,
            url=url,
            application=application,
            capacity=settings.DISCOVERY_DEFAULT_CAPACITY,
        )
    else:
        application = hub.application
        if rotate_secret:
            secret = generate_client_secret()
            application.client_secret = secret
    application.redirect_uris = f"{url}/hub/oauth_callback"
    hub.url = url
    if capacity is not None:
        _check_capacity(hub, capacity)
        hub.capacity = capacity
    try:
        hub.full_clean(exclude=["application"])
    except ValidationError as error:
        raise HubInvalid(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        ) from None
    application.save()
    hub.application = application
    created = hub.pk is None
    hub.save()
    ApplicationPolicy.objects.update_or_create(
        application=application,
        defaults={"allowed_scopes": HUB_SCOPES, "allows_client_credentials": True},
    )
    if created:
        HubEvent.objects.create(hub=hub, kind=HubEvent.Kind.REGISTERED, detail=url)
    if rotate_secret and not created:
        _tokens_revoke(application)
    return HubRegistration(hub=hub, client_secret=secret)


@transaction.atomic
def hub_start(*, hub: Hub, url: str, capacity: int | None = None, version: str = "") -> Hub:
    """A hub process starts (or restarts): it is live from now, and no longer stopped.

    ``url`` must be the registered URL (users are sent there, and logins return there).
    Raises ``HubInvalid`` for another URL, ``HubConflict`` for a capacity below the users now
    assigned. Idempotent apart from the timestamps and a ``started`` event.
    """
    if normalize_hub_url(url) != hub.url:
        raise HubInvalid(f"This hub is registered at {hub.url}; re-register it to change its URL.")
    hub = Hub.objects.select_for_update().get(pk=hub.pk)
    if capacity is not None:
        _check_capacity(hub, capacity)
        hub.capacity = capacity
    now = timezone.now()
    hub.version = version
    hub.started_at = hub.last_heartbeat_at = now
    hub.stopped_at = None
    hub.running_digest = ""
    hub.recorded_liveness = Liveness.LIVE
    hub.save()
    clock_touch(now=now)
    HubEvent.objects.create(hub=hub, kind=HubEvent.Kind.STARTED, detail=version[:255])
    return hub


@dataclasses.dataclass(frozen=True)
class HubLogout:
    """A user of the hub logged out of the site at ``at`` (epoch seconds): the hub ends their
    logins made on it before then."""

    user: str
    at: float


@dataclasses.dataclass(frozen=True)
class HeartbeatAnswer:
    """What a heartbeat tells the hub (contract version ``HEARTBEAT_VERSION``, README)."""

    state: str  # the hub's mode: active, draining, disabled
    stop: list[str]  # reported users who must not run on this hub
    # Its users (open assignments) who logged out of the site lately, by username.
    logout: list[HubLogout] = dataclasses.field(default_factory=list)


# The heartbeat answer's version. Raised only for a change an older hub would misread; new
# fields are added without raising it (hubs ignore fields they do not know).
HEARTBEAT_VERSION = 1


def hub_heartbeat(*, credential: str, running: Sequence[str]) -> HeartbeatAnswer:
    """The heartbeat of the hub whose discovery credential is ``credential``: checks the
    credential, records the beat and answers it, as ``hub_heartbeat_record`` does.

    On PostgreSQL, in one statement (``_heartbeat_sql``): the credential is judged, the beat
    recorded, the discovery clock touched, a changed running set recorded and the stop list
    read in one round trip, every time from the rows as they are (no cache: a revoked token,
    a disabled or deleted hub, a disabled user count from the next beat). When that statement
    records nothing (a refused credential, a hub not started), and on other databases, the
    same steps run one by one, and they raise what the hub is told: ``HubCredentialRejected``
    (401), ``HubNotRecognized`` (403), ``HubConflict`` (409).
    """
    if connection.vendor == "postgresql":
        answer = _heartbeat_in_one_statement(credential=credential, running=running)
        if answer is not None:
            return answer
    return hub_heartbeat_record(hub=hub_for_credential(raw_token=credential), running=running)


def hub_heartbeat_record(*, hub: Hub, running: Sequence[str]) -> HeartbeatAnswer:
    """Record a heartbeat and which users have a running server there; answer the hub.

    The answer's ``stop`` lists the reported users who must not run on this hub: no open
    assignment to it (moved, ended, or the assignment of a hub found dead), disabled, or
    deleted; the hub stops their servers and ends their hub login. Its ``logout`` lists the
    users with an open assignment here who logged out of the site within
    ``DISCOVERY_LOGOUT_ANNOUNCE_SECONDS`` (``user_hub_sessions_end``), with the time; the hub
    ends their logins made before it. A server seen stopping records when
    (``server_stopped_at``: the idle rule counts from it). On a draining hub, the
    assignments of users without a running server end (they move on their next visit).
    Every heartbeat also tells the discovery clock that the site hears hubs (``clock_touch``).
    Raises ``HubConflict`` if the hub has not started or has stopped. Idempotent: the same
    report twice changes nothing more than the timestamps.
    """
    if hub.started_at is None or hub.stopped_at is not None:
        raise HubConflict("This hub has not started; call start first.")
    now = timezone.now()
    digest = _running_digest(running)
    changed = digest != hub.running_digest
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        Hub.objects.filter(pk=hub.pk).update(last_heartbeat_at=now, running_digest=digest)
        clock_touch(now=now)
    if changed:
        _running_record(hub=hub, running=running, now=now)
    if hub.mode == Hub.Mode.DRAINING:
        _drained_end(hub_id=hub.pk, now=now)
    return HeartbeatAnswer(
        state=hub.mode,
        stop=_users_to_stop(hub=hub, running=running),
        logout=_logouts(hub_id=hub.pk, now=now),
    )


def _heartbeat_in_one_statement(
    *, credential: str, running: Sequence[str]
) -> HeartbeatAnswer | None:
    """``hub_heartbeat`` in one statement; None when it recorded nothing (see there)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _heartbeat_sql(),
            {
                "checksum": token_checksum(credential),
                "now": now,
                "digest": _running_digest(running),
                "running": list(running),
                "touched_before": now - dt.timedelta(seconds=1),
                "gap": now - dt.timedelta(seconds=settings.DISCOVERY_STALE_AFTER),
                "logout_since": _logout_since(now),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    hub_id, mode, stop, clock_exists, _, logout_users, logout_times = row
    if not clock_exists:  # the very first beat the site hears
        clock_touch(now=now)
    if mode == Hub.Mode.DRAINING:
        _drained_end(hub_id=hub_id, now=now)
    logout = [
        HubLogout(user=user, at=at.timestamp())
        for user, at in zip(logout_users or (), logout_times or (), strict=True)
    ]
    return HeartbeatAnswer(state=mode, stop=sorted(stop), logout=logout)


@functools.cache
def _heartbeat_sql() -> str:
    """The one-statement heartbeat (PostgreSQL), built once from the models' tables.

    Each part is the ORM step of ``hub_heartbeat_record`` it stands for: ``credential`` is
    ``hub_for_credential`` (a live client-credentials token with scope ``discovery`` of an
    enabled application), ``previous``/``beat`` the hub's update (started, not stopped),
    ``clock`` is ``clock_touch``, ``started``/``stopped`` are ``_running_record`` (only when the
    running set's digest changed), the ``stop`` column is ``_users_to_stop``, ``logout`` is
    ``_logouts`` (its two columns, usernames and times, in username order). ``synchronous``
    is ``_commit_without_waiting_for_disk``: a local setting for this statement's own
    transaction, read when it commits. All parts see one snapshot.
    """
    token, policy = AccessToken._meta.db_table, ApplicationPolicy._meta.db_table
    hub, clock = Hub._meta.db_table, DiscoveryClock._meta.db_table
    assignment, user = Assignment._meta.db_table, User._meta.db_table
    # Table names come from model metadata (no outside input); every value is a parameter.
    return f"""
        WITH synchronous AS (SELECT set_config('synchronous_commit', 'off', true) AS value),
        credential AS (
            SELECT t.application_id FROM "{token}" t
            LEFT JOIN "{policy}" p ON p.application_id = t.application_id
            WHERE t.token_checksum = %(checksum)s AND t.user_id IS NULL
              AND t.application_id IS NOT NULL AND t.expires > %(now)s
              AND 'discovery' = ANY(string_to_array(t.scope, ' '))
              AND (p.enabled IS NULL OR p.enabled)
        ),
        previous AS (
            SELECT h.id, h.running_digest FROM "{hub}" h
            JOIN credential c ON h.application_id = c.application_id
            WHERE h.started_at IS NOT NULL AND h.stopped_at IS NULL
        ),
        beat AS (
            UPDATE "{hub}" h SET last_heartbeat_at = %(now)s, running_digest = %(digest)s
            FROM previous WHERE h.id = previous.id
            RETURNING h.id, h.mode, previous.running_digest <> %(digest)s AS changed
        ),
        clock AS (
            UPDATE "{clock}" k SET heard_at = %(now)s,
                listening_since = CASE WHEN k.heard_at < %(gap)s THEN %(now)s
                                       ELSE k.listening_since END
            WHERE k.id = 1 AND k.heard_at < %(touched_before)s AND EXISTS (SELECT 1 FROM beat)
            RETURNING k.id
        ),
        started AS (
            UPDATE "{assignment}" a SET server_running = true, server_seen_at = %(now)s
            FROM beat, "{user}" u
            WHERE beat.changed AND a.hub_id = beat.id AND a.ended_at IS NULL
              AND NOT a.server_running AND u.id = a.user_id AND u.username = ANY(%(running)s)
            RETURNING a.id
        ),
        stopped AS (
            UPDATE "{assignment}" a SET server_running = false, server_stopped_at = %(now)s
            FROM beat
            WHERE beat.changed AND a.hub_id = beat.id AND a.ended_at IS NULL
              AND a.server_running AND NOT EXISTS (
                SELECT 1 FROM "{user}" u WHERE u.id = a.user_id AND u.username = ANY(%(running)s)
              )
            RETURNING a.id
        ),
        logout AS (
            SELECT array_agg(u.username ORDER BY u.username) AS users,
                array_agg(a.logged_out_at ORDER BY u.username) AS times
            FROM beat JOIN "{assignment}" a ON a.hub_id = beat.id
            JOIN "{user}" u ON u.id = a.user_id
            WHERE a.ended_at IS NULL AND a.logged_out_at >= %(logout_since)s
        )
        SELECT beat.id, beat.mode,
            ARRAY(
                SELECT DISTINCT r.name FROM unnest(%(running)s::text[]) AS r(name)
                WHERE NOT EXISTS (
                    SELECT 1 FROM "{assignment}" a JOIN "{user}" u ON u.id = a.user_id
                    WHERE a.hub_id = beat.id AND a.ended_at IS NULL AND u.is_active
                      AND u.username = r.name
                )
            ),
            (SELECT count(*) FROM clock) > 0 OR EXISTS (SELECT 1 FROM "{clock}" WHERE id = 1),
            (SELECT value FROM synchronous),
            (SELECT users FROM logout), (SELECT times FROM logout)
        FROM beat
    """  # noqa: S608


def _running_digest(running: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(running))).encode()).hexdigest()


def _drained_end(*, hub_id: int, now: dt.datetime) -> None:
    """On a draining hub, the assignments of users without a running server end."""
    with transaction.atomic():
        assignments_end(
            Assignment.objects.filter(hub_id=hub_id, server_running=False),
            reason=Assignment.EndReason.DRAINED,
            now=now,
        )


def _users_to_stop(*, hub: Hub, running: Sequence[str]) -> list[str]:
    """The reported users without an open assignment here held by an active user."""
    if not running:
        return []
    allowed = set(
        Assignment.objects.filter(
            hub=hub, ended_at__isnull=True, user__is_active=True, user__username__in=running
        ).values_list("user__username", flat=True)
    )
    return sorted(set(running) - allowed)


def _logouts(*, hub_id: int, now: dt.datetime) -> list[HubLogout]:
    """The hub's open assignments whose users logged out of the site lately, by username."""
    rows = (
        Assignment.objects.filter(
            hub_id=hub_id, ended_at__isnull=True, logged_out_at__gte=_logout_since(now)
        )
        .order_by("user__username")
        .values_list("user__username", "logged_out_at")
    )
    return [HubLogout(user=user, at=at.timestamp()) for user, at in rows]


def _logout_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.DISCOVERY_LOGOUT_ANNOUNCE_SECONDS)


def clock_touch(*, now: dt.datetime) -> None:
    """The site hears a hub now: move the discovery clock (at most once a second).

    When the previous touch is older than ``DISCOVERY_STALE_AFTER``, the site was not hearing
    heartbeats (its own or its database's outage, or no hub beating): ``listening_since``
    starts again now, so hubs silent through that gap get ``DISCOVERY_DEAD_AFTER`` to beat
    again before they are declared dead (``Hub.liveness``).
    """
    gap = now - dt.timedelta(seconds=settings.DISCOVERY_STALE_AFTER)
    touched = DiscoveryClock.objects.filter(
        pk=1, heard_at__lt=now - dt.timedelta(seconds=1)
    ).update(
        heard_at=now,
        listening_since=Case(When(heard_at__lt=gap, then=Value(now)), default=F("listening_since")),
    )
    if not touched:
        DiscoveryClock.objects.get_or_create(
            pk=1, defaults={"heard_at": now, "listening_since": now}
        )


def _commit_without_waiting_for_disk() -> None:
    """A heartbeat is worth little once the next one arrives: this transaction commits
    without waiting for its WAL to reach disk (PostgreSQL ``synchronous_commit``), so each beat
    costs no fsync. A crash can lose the last few beats, never consistency."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@transaction.atomic
def _running_record(*, hub: Hub, running: Sequence[str], now) -> None:
    open_here = Assignment.objects.filter(hub=hub, ended_at__isnull=True)
    open_here.filter(server_running=False, user__username__in=running).update(
        server_running=True, server_seen_at=now
    )
    open_here.filter(server_running=True).exclude(user__username__in=running).update(
        server_running=False, server_stopped_at=now
    )


def hub_stop(*, hub: Hub) -> None:
    """The hub is going away: it is stopped, and its open assignments end now. Idempotent."""
    now = timezone.now()
    with transaction.atomic():
        updated = Hub.objects.filter(pk=hub.pk, stopped_at__isnull=True).update(
            stopped_at=now, recorded_liveness=Liveness.STOPPED
        )
        if updated:
            HubEvent.objects.create(hub=hub, kind=HubEvent.Kind.STOPPED)
    with transaction.atomic():
        assignments_end(
            Assignment.objects.filter(hub=hub), reason=Assignment.EndReason.HUB_STOPPED, now=now
        )


def hub_drain(*, hub: Hub) -> bool:
    """No new users for this hub; its users stay until their servers stop. Returns whether the
    mode changed (False if it was not active)."""
    return _mode_change(hub, Hub.Mode.ACTIVE, Hub.Mode.DRAINING, HubEvent.Kind.DRAINING)


def hub_undrain(*, hub: Hub) -> bool:
    """Cancel a drain: the hub takes new users again."""
    return _mode_change(hub, Hub.Mode.DRAINING, Hub.Mode.ACTIVE, HubEvent.Kind.UNDRAINED)


def hub_enable(*, hub: Hub) -> bool:
    """Let a disabled hub back in (it must get a new token and start again): its OAuth
    application issues tokens and authorizes users again."""
    changed = _mode_change(hub, Hub.Mode.DISABLED, Hub.Mode.ACTIVE, HubEvent.Kind.ENABLED)
    if changed:
        application_enabled_set(application=hub.application, enabled=True)
    return changed


def hub_disable(*, hub: Hub) -> bool:
    """Take a hub out: its assignments end now and every token of its application is revoked
    (users' logins through it and its own discovery credential)."""
    changed = False
    for mode in (Hub.Mode.ACTIVE, Hub.Mode.DRAINING):
        changed |= _mode_change(hub, mode, Hub.Mode.DISABLED, HubEvent.Kind.DISABLED)
    # Its application first, so no grant issues a token between the revocation and this: a
    # disabled hub gets no token, code or refresh and signs nobody in until enabled again.
    application_enabled_set(application=hub.application, enabled=False)
    with transaction.atomic():
        assignments_end(
            Assignment.objects.filter(hub=hub),
            reason=Assignment.EndReason.HUB_DISABLED,
            now=timezone.now(),
        )
    _tokens_revoke(hub.application)
    return changed


@transaction.atomic
def hub_delete(*, hub: Hub) -> None:
    """Delete a hub with its application; that revokes its tokens, and its assignments go."""
    Application.objects.filter(pk=hub.application_id).delete()


@transaction.atomic
def _mode_change(hub: Hub, old: str, new: str, event: str) -> bool:
    changed = Hub.objects.filter(pk=hub.pk, mode=old).update(mode=new)
    if changed:
        HubEvent.objects.create(hub_id=hub.pk, kind=event)
        hub.mode = new
    return bool(changed)


def _check_capacity(hub: Hub, capacity: int) -> None:
    if not 1 <= capacity <= 100_000:
        raise HubInvalid("capacity must be between 1 and 100000.")
    if hub.pk is not None and capacity < hub.assigned_count:
        raise HubConflict(
            f"{hub.assigned_count} users are assigned to {hub}; capacity cannot go below that. "
            "Drain the hub first."
        )


@transaction.atomic
def user_hub_sessions_end(*, user: User) -> None:
    """The user logs out of the site: their logins on every hub end too.

    Revokes what hub applications were issued for the user's hub logins: refresh tokens,
    access tokens, ID tokens and unused authorization codes, but not their servers'
    credentials (scope ``notebooks``: a running server keeps saving until its assignment
    ends). A hub holding such a login finds its token refused at its next check with the
    site, and sooner: the time is recorded on the user's open assignment, and that hub's
    heartbeat answers list the user in ``logout`` for ``DISCOVERY_LOGOUT_ANNOUNCE_SECONDS``
    (the hub ends their logins made before it). Idempotent: a second call revokes nothing
    more and announces the later time.
    """
    now = timezone.now()
    # The assignment's row first, as ``assignments_end`` does before it revokes tokens.
    Assignment.objects.filter(user=user, ended_at__isnull=True).update(logged_out_at=now)
    hub_applications = Hub.objects.values("application_id")
    # Refresh tokens first: each points at the access token it renews.
    RefreshToken.objects.filter(user=user, application_id__in=hub_applications).delete()
    AccessToken.objects.filter(user=user, application_id__in=hub_applications).exclude(
        scope="notebooks"
    ).delete()
    IDToken.objects.filter(user=user, application_id__in=hub_applications).delete()
    Grant.objects.filter(user=user, application_id__in=hub_applications).delete()


def _tokens_revoke(application: Application) -> None:
    RefreshToken.objects.filter(application=application).delete()
    AccessToken.objects.filter(application=application).delete()


@transaction.atomic
def server_token_issue(*, hub: Hub, username: str) -> tuple[str, AccessToken]:
    """A scope-``notebooks`` token for ``username``'s server on ``hub``: ``(raw, token)``.

    Only for an active user with an open assignment to this hub (403 otherwise, so no hub
    can reach the files of users placed elsewhere, and a disabled user gets no credential).
    The token is issued to the hub's application and is revoked when the assignment ends
    (``assignments_end``), or expires after ``NOTEBOOK_SERVER_TOKEN_SECONDS``. The server
    renews it through its hub when it expires or is revoked (``quanthub.client``).
    """
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(hub=hub, user__username=username, ended_at__isnull=True)
        .select_related("user")
        .first()
    )
    if assignment is None:
        raise HubNotAllowed(f"{username} is not assigned to {hub}.")
    if not assignment.user.is_active:
        raise HubNotAllowed(f"{username} is disabled.")
    raw = secrets.token_urlsafe(32)
    token = AccessToken(
        user=assignment.user,
        application_id=hub.application_id,
        scope="notebooks",
        expires=timezone.now() + dt.timedelta(seconds=settings.NOTEBOOK_SERVER_TOKEN_SECONDS),
    )
    set_token_value(token, raw)
    token.save()
    return raw, token
