"""Discovery: the hubs, which user is on which hub, and what happened to each hub."""

import datetime as dt

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from oauth2_provider.settings import oauth2_settings


class Liveness(models.TextChoices):
    """What a hub's own timestamps say about it (see ``Hub.liveness``)."""

    NEW = "new", "never started"
    LIVE = "live", "live"
    STALE = "stale", "stale"
    DEAD = "dead", "dead"
    STOPPED = "stopped", "stopped"


class Hub(models.Model):
    """A JupyterHub that registered with discovery.

    ``assigned_count`` is the number of open assignments, kept in step by the assignment
    services under a row lock and bounded by ``capacity`` in the database itself.
    """

    class Mode(models.TextChoices):
        ACTIVE = "active", "active"
        DRAINING = "draining", "draining"  # no new users; current users stay until they stop
        DISABLED = "disabled", "disabled"  # no users at all; its tokens are revoked

    name = models.CharField(
        max_length=63,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z",
                "Use lowercase letters, digits and inner hyphens (a DNS label).",
            )
        ],
    )
    url = models.URLField("URL", max_length=255, help_text="The hub's public base URL.")
    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="hub"
    )
    capacity = models.PositiveIntegerField(default=100)
    assigned_count = models.PositiveIntegerField(default=0, editable=False)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ACTIVE)
    version = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # A digest of the last reported running users: an unchanged report skips the updates.
    running_digest = models.CharField(max_length=64, blank=True, editable=False)
    # The liveness bookkeeping last recorded as an event; compared with the computed one.
    recorded_liveness = models.CharField(
        max_length=16, choices=Liveness.choices, default=Liveness.NEW, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1), name="research_hub_capacity_positive"
            ),
            # The database, not Python, guarantees that a hub never holds more users than seats.
            models.CheckConstraint(
                condition=models.Q(assigned_count__lte=models.F("capacity")),
                name="research_hub_within_capacity",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def origin(self) -> str:
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    def liveness(self, now: dt.datetime, *, listening_since: dt.datetime | None = None) -> Liveness:
        """Live, stale or dead from the last heartbeat's age; stopped; or never started.

        Live (it gets new users) only while its own last heartbeat is younger than
        ``DISCOVERY_STALE_AFTER``. Dead only when neither its last heartbeat nor
        ``listening_since`` (since when the site has been hearing heartbeats without a gap:
        ``DiscoveryClock``) is within ``DISCOVERY_DEAD_AFTER``: a silence that covers the
        site's own outage is not the hub's death.
        """
        if self.stopped_at is not None:
            return Liveness.STOPPED
        if self.last_heartbeat_at is None:
            return Liveness.NEW
        if (now - self.last_heartbeat_at).total_seconds() <= settings.DISCOVERY_STALE_AFTER:
            return Liveness.LIVE
        heard = max(self.last_heartbeat_at, listening_since or self.last_heartbeat_at)
        if (now - heard).total_seconds() <= settings.DISCOVERY_DEAD_AFTER:
            return Liveness.STALE
        return Liveness.DEAD

    def keeps_users(self, now: dt.datetime, *, listening_since: dt.datetime | None = None) -> bool:
        """Do its current users stay? Yes unless disabled, stopped, dead or never started."""
        return self.mode != self.Mode.DISABLED and self.liveness(
            now, listening_since=listening_since
        ) in (Liveness.LIVE, Liveness.STALE)

    def state(self, now: dt.datetime, *, listening_since: dt.datetime | None = None) -> str:
        """What staff see: disabled, else liveness, with draining noted on a live hub."""
        if self.mode == self.Mode.DISABLED:
            return "disabled"
        liveness = self.liveness(now, listening_since=listening_since)
        if liveness == Liveness.LIVE and self.mode == self.Mode.DRAINING:
            return "draining"
        return liveness.value


class Assignment(models.Model):
    """A user placed on a hub, from ``created_at`` until ``ended_at``."""

    class EndReason(models.TextChoices):
        HUB_DEAD = "hub_dead", "hub died"
        HUB_STOPPED = "hub_stopped", "hub stopped"
        HUB_DISABLED = "hub_disabled", "hub disabled"
        DRAINED = "drained", "drained: server stopped on a draining hub"
        MOVED = "moved", "moved by staff"
        USER_DISABLED = "user_disabled", "user disabled"
        IDLE = "idle", "idle: no server for a while"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hub_assignments"
    )
    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    # From the hub's heartbeats: does the user have a running server there? When was it last
    # seen starting, and when seen stopping (``idle_since``)?
    server_running = models.BooleanField(default=False)
    server_seen_at = models.DateTimeField(null=True, blank=True)
    server_stopped_at = models.DateTimeField(null=True, blank=True)
    # When the user last asked for this hub with no server running there (``assignment_locate``):
    # a server is about to start, so the assignment is not idle.
    located_at = models.DateTimeField(null=True, blank=True)
    # When the site last had the user's browser start their server before they asked
    # (``research.services.prestart``): counted per hub for the pre-start rate.
    prestarted_at = models.DateTimeField(null=True, blank=True)
    # When the user last logged out of the site: the hub's heartbeat answer announces it
    # (``logout``) for ``DISCOVERY_LOGOUT_ANNOUNCE_SECONDS``, and the hub ends older logins.
    logged_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open assignment per user, whatever races happen above.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(ended_at__isnull=True),
                name="research_assignment_one_open_per_user",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, end_reason="")
                | models.Q(ended_at__isnull=False) & ~models.Q(end_reason=""),
                name="research_assignment_end_has_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["hub", "user"],
                condition=models.Q(ended_at__isnull=True),
                name="research_assignment_open_hub",
            ),
            # The pre-start rate: a hub's pre-starts of the last minute.
            models.Index(
                fields=["hub", "prestarted_at"],
                condition=models.Q(prestarted_at__isnull=False),
                name="research_assignment_prestarts",
            ),
            # Every heartbeat reads its hub's recent logouts: almost always none, so the index
            # is almost empty and the read costs one probe.
            models.Index(
                fields=["hub", "logged_out_at"],
                condition=models.Q(ended_at__isnull=True, logged_out_at__isnull=False),
                name="research_assignment_logouts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.hub}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    # What restarts the idle clock (``idle_since``), besides the assignment's creation.
    IDLE_CLOCK = ("server_seen_at", "server_stopped_at", "located_at", "prestarted_at")

    @property
    def idle_since(self) -> dt.datetime | None:
        """Since when the user has had no server here; None while it runs. The latest of the
        assignment's creation, its server last seen starting or stopping, and the user last
        asking for this hub or being pre-started on it (a server about to start is not idle).
        ``DISCOVERY_IDLE_AFTER`` past it, the bookkeeping ends the assignment (``idle_filter``
        is the same rule as a query)."""
        if self.server_running:
            return None
        moments = [getattr(self, name) for name in self.IDLE_CLOCK]
        return max([self.created_at, *(moment for moment in moments if moment is not None)])

    @classmethod
    def idle_filter(cls, *, before: dt.datetime) -> models.Q:
        """Assignments idle since before ``before`` (``idle_since`` as a query)."""
        q = models.Q(server_running=False, created_at__lt=before)
        for name in cls.IDLE_CLOCK:
            q &= models.Q(**{f"{name}__isnull": True}) | models.Q(**{f"{name}__lt": before})
        return q


class DiscoveryClock(models.Model):
    """One row: when the site last heard a heartbeat, and since when it has heard them
    without a gap (``listening_since``). Heartbeats touch it at most once a second; a touch
    after a silence longer than ``DISCOVERY_STALE_AFTER`` (the site or its database was down,
    or no hub was beating) restarts ``listening_since``, so no hub is declared dead until it
    has had ``DISCOVERY_DEAD_AFTER`` to beat again."""

    heard_at = models.DateTimeField()
    listening_since = models.DateTimeField()

    def __str__(self) -> str:
        return f"heard {self.heard_at:%H:%M:%S}, listening since {self.listening_since:%H:%M:%S}"


class HubEvent(models.Model):
    """Something that happened to a hub, for staff: a start, a death, a drain."""

    class Kind(models.TextChoices):
        REGISTERED = "registered", "registered"
        STARTED = "started", "started"
        STOPPED = "stopped", "stopped"
        WENT_STALE = "went_stale", "went stale"
        DIED = "died", "died"
        RECOVERED = "recovered", "recovered"
        DRAINING = "draining", "drain started"
        UNDRAINED = "undrained", "drain cancelled"
        DISABLED = "disabled", "disabled"
        ENABLED = "enabled", "enabled"

    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(auto_now_add=True)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["hub", "-at"], name="research_hubevent_recent")]

    def __str__(self) -> str:
        return f"{self.hub} {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class ContentEntry(models.Model):
    """A file, notebook or directory in a user's research space (PGContents' model).

    ``path`` is the full normalized path ("dir/sub/name.ipynb"), unique per user; ``parent``
    and ``name`` split it for listings. The root directory is implicit. ``content`` holds the
    file's bytes (a notebook's JSON), encrypted when ``key_id`` names the master key used.
    """

    class Type(models.TextChoices):
        # A notebook is a file: like Jupyter, reads decide from the name (.ipynb) or the
        # type asked for, so a file saved as text can be opened as a notebook and back.
        DIRECTORY = "directory", "directory"
        FILE = "file", "file"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_entries"
    )
    path = models.CharField(max_length=1024)
    parent = models.CharField(max_length=1024, blank=True)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=Type.choices)
    content = models.BinaryField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)  # logical (unencrypted) bytes
    hash = models.CharField(max_length=64, blank=True)  # sha256 of the logical bytes
    key_id = models.CharField(max_length=16, blank=True)  # "" = stored in plain text
    created = models.DateTimeField()
    last_modified = models.DateTimeField()

    class Meta:
        verbose_name_plural = "content entries"
        constraints = [
            models.UniqueConstraint(fields=["user", "path"], name="research_content_unique_path"),
            models.CheckConstraint(
                condition=models.Q(type="directory", content__isnull=True)
                | ~models.Q(type="directory") & models.Q(content__isnull=False),
                name="research_content_files_have_content",
            ),
        ]
        indexes = [models.Index(fields=["user", "parent"], name="research_content_listing")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.path}"


class ContentCheckpoint(models.Model):
    """A saved version of a file: many per file, restorable, pruned by policy."""

    entry = models.ForeignKey(ContentEntry, on_delete=models.CASCADE, related_name="checkpoints")
    content = models.BinaryField()
    size = models.BigIntegerField()
    key_id = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["entry", "created"], name="research_checkpoint_entry")]

    def __str__(self) -> str:
        return f"checkpoint {self.pk} of {self.entry_id}"


class ContentUploadChunk(models.Model):
    """A chunk of a large upload in progress (JupyterLab sends chunks 1, 2, ..., -1).

    The first chunk is saved as the file itself; each later one is staged here, sealed on its
    own, so no chunk rewrites what came before; the last chunk joins them into the file in one
    write and deletes these rows. Until then the file reads as it was after the first chunk.
    A new first chunk or a whole save of the file discards what an abandoned upload staged.
    """

    entry = models.ForeignKey(ContentEntry, on_delete=models.CASCADE, related_name="upload_chunks")
    content = models.BinaryField()
    size = models.BigIntegerField()  # logical (unencrypted) bytes
    key_id = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField()

    class Meta:
        # Chunks join in the order they were staged: each is staged under the file's row lock.
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"upload chunk {self.pk} of {self.entry_id}"
