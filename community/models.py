"""Shared notebooks (each share of a path adds a version) and the forum topics about them."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class SharedNotebook(models.Model):
    """A notebook a user shared, by its path in their store; re-sharing adds a version."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_notebooks"
    )
    source_path = models.CharField(max_length=1024)
    # Lineage: the shared version this notebook was cloned from (from the ``Clone`` record of
    # the author's file, never from the notebook's metadata), if it still exists.
    cloned_from = models.ForeignKey(
        "SharedNotebookVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="derived",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["author", "source_path"], name="community_shared_unique_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.author}:{self.source_path}"


class SharedNotebookVersion(models.Model):
    """One version: the .ipynb, its rendered HTML and the showcase preview, in storage under
    content-addressed keys (immutable; the same bytes share one object)."""

    class RenderState(models.TextChoices):
        PENDING = "pending", "rendering"
        READY = "ready", "ready"
        FAILED = "failed", "failed"

    shared = models.ForeignKey(SharedNotebook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    ipynb_key = models.CharField(max_length=255)
    html_key = models.CharField(max_length=255, blank=True)
    preview_html = models.TextField(blank=True)  # sanitized HTML of the showcase cell
    thumbnail_key = models.CharField(max_length=255, blank=True)  # a PNG the server made
    showcase_cell = models.PositiveIntegerField()
    render_state = models.CharField(
        max_length=16, choices=RenderState.choices, default=RenderState.PENDING
    )
    render_error = models.CharField(max_length=255, blank=True)
    # The headings of its Markdown cells, made when it is rendered
    # (``community.services.outline``); empty for a version rendered before outlines were.
    outline = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["shared", "number"]
        constraints = [
            models.UniqueConstraint(fields=["shared", "number"], name="community_version_unique")
        ]
        indexes = [
            models.Index(
                fields=["render_state", "created"],
                condition=models.Q(render_state="pending"),
                name="community_version_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.shared} v{self.number}"


class Tag(models.Model):
    """A topic's label: lowercase letters, digits and dashes."""

    name = models.SlugField(max_length=32, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Topic(models.Model):
    """A forum topic; one per shared notebook (about its latest version), or plain talk."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="topics"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)  # Markdown, as written
    body_html = models.TextField(blank=True)  # sanitized, rendered when saved
    shared_notebook = models.OneToOneField(
        SharedNotebook, null=True, blank=True, on_delete=models.CASCADE, related_name="topic"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="topics")
    hidden = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    edited = models.DateTimeField(null=True, blank=True)  # when its author last edited it
    # Counters kept with each like and clone, so that the forum sorts by an index.
    like_count = models.PositiveIntegerField(default=0)
    clone_count = models.PositiveIntegerField(default=0)
    # Full-text search on PostgreSQL: title (weight A) and body (B), kept by a trigger and
    # indexed with GIN (migration 0004). Unused, and left empty, on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(
                fields=["-created", "-id"],
                condition=models.Q(hidden=False),
                name="community_topic_latest",
            ),
            models.Index(
                fields=["-like_count", "-created", "-id"],
                condition=models.Q(hidden=False),
                name="community_topic_liked",
            ),
            models.Index(
                fields=["-clone_count", "-created", "-id"],
                condition=models.Q(hidden=False),
                name="community_topic_cloned",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Reply(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="replies"
    )
    body = models.TextField()
    body_html = models.TextField()
    hidden = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    edited = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "pk"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"reply {self.pk} on {self.topic_id}"


class Like(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "user"], name="community_like_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.topic_id}"


class Clone(models.Model):
    """Lineage as the server saw it: ``user`` cloned ``version`` into the stored file ``entry``.

    Made only by the clone itself, keyed on the file's row: it follows the file through
    renames and saves, and goes with the file when the file (or the version) is deleted.
    Notebook metadata, which anyone can write, is never read for lineage.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clones"
    )
    version = models.ForeignKey(
        SharedNotebookVersion, on_delete=models.CASCADE, related_name="clones"
    )
    entry = models.OneToOneField(
        "research.ContentEntry", on_delete=models.CASCADE, related_name="clone"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id} cloned {self.version_id} into {self.entry_id}"
