"""Staff moderate the forum: hide, lock and delete topics and replies, through the forum's
services (``community.services.forum``), as the forum's own pages do."""

from django.contrib import admin, messages
from django.contrib.admin.utils import get_deleted_objects, model_ngettext

from community.models import Clone, Reply, SharedNotebook, SharedNotebookVersion, Tag, Topic
from community.services import forum


class ForumPostAdmin(admin.ModelAdmin):
    """What topics and replies share in the admin: staff edits of the Markdown body are
    sanitized as authors' are, and posts are hidden from the forum or shown again.

    Each moderation action says what it did, with counts ("Hid 3 topics. 1 was already
    hidden."); posts already in the asked-for state are left alone and counted apart.
    Deleting (one post, or the bulk action) goes through the forum's delete services, and
    Django's own message ("Successfully deleted 2 topics.") reports it."""

    actions = ["hide", "unhide"]

    def save_model(self, request, obj, form, change):
        forum.post_staff_save(post=obj)

    @admin.action(description="Hide from the forum")
    def hide(self, request, queryset):
        self._moderate(request, queryset, {"hidden": True}, done="Hid", already="hidden")

    @admin.action(description="Show again")
    def unhide(self, request, queryset):
        self._moderate(
            request, queryset, {"hidden": False}, done="Showed", already="shown", again=" again"
        )

    def _moderate(
        self, request, queryset, flags: dict, *, done: str, already: str, again: str = ""
    ) -> None:
        """Apply ``flags`` to the selected posts not already so, and say what changed."""
        selected = queryset.count()
        changed = self.moderate(queryset.exclude(**flags), **flags)
        unchanged = selected - changed
        if not changed:
            self.message_user(
                request,
                f"Nothing to change: {self._count(unchanged)} already {already}.",
                messages.WARNING,
            )
            return
        message = f"{done} {self._count(changed)}{again}."
        if unchanged:
            message += f" {unchanged} {'was' if unchanged == 1 else 'were'} already {already}."
        self.message_user(request, message, messages.SUCCESS)

    def _count(self, n: int) -> str:
        return f"{n} {model_ngettext(self.opts, n)}"

    def moderate(self, queryset, **flags) -> int:
        """Apply ``flags`` through the forum's services; return how many posts changed."""
        raise NotImplementedError


class ReplyInline(admin.TabularInline):
    """A topic's replies, to hide or delete (``TopicAdmin.save_formset`` sends both through
    the forum's services); replies are written in the forum, not here."""

    model = Reply
    fields = ("author", "body", "hidden", "created")
    readonly_fields = ("author", "body", "created")
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(ForumPostAdmin):
    list_display = ("title", "author", "created", "like_count", "clone_count", "hidden", "locked")
    list_filter = ("hidden", "locked", "tags")
    search_fields = ("title", "author__username")
    readonly_fields = (
        "author",
        "body_html",
        "shared_notebook",
        "like_count",
        "clone_count",
        "created",
        "updated",
        "edited",
    )
    filter_horizontal = ("tags",)
    inlines = [ReplyInline]
    actions = [*ForumPostAdmin.actions, "lock", "unlock"]

    @admin.action(description="Lock (no new replies)")
    def lock(self, request, queryset):
        self._moderate(request, queryset, {"locked": True}, done="Locked", already="locked")

    @admin.action(description="Unlock")
    def unlock(self, request, queryset):
        self._moderate(request, queryset, {"locked": False}, done="Unlocked", already="unlocked")

    def moderate(self, queryset, **flags) -> int:
        return forum.topics_moderate(topics=queryset, **flags)

    def delete_model(self, request, obj):
        forum.topic_delete(topic=obj, editor=request.user)

    def save_formset(self, request, form, formset, change):
        # The replies inline: deleting and hiding go through the forum's services.
        if formset.model is not Reply:
            super().save_formset(request, form, formset, change)
            return
        changed = formset.save(commit=False)
        for reply in formset.deleted_objects:
            forum.reply_delete(reply=reply, editor=request.user)
        for reply in changed:
            forum.replies_moderate(replies=Reply.objects.filter(pk=reply.pk), hidden=reply.hidden)

    def delete_queryset(self, request, queryset):
        forum.topics_delete(topics=queryset, editor=request.user)

    def get_deleted_objects(self, objs, request):
        """What the confirmation page lists: a topic with a shared notebook goes with the
        notebook's record (``forum.topic_delete``), so that record and all it holds are
        listed (and its delete permission is needed)."""
        topics = [topic for topic in objs if not topic.shared_notebook_id]
        notebooks = [topic.shared_notebook for topic in objs if topic.shared_notebook_id]
        listed, counts, perms_needed, protected = [], {}, set(), []
        for group in (topics, notebooks):
            if not group:
                continue
            more, more_counts, more_perms, more_protected = get_deleted_objects(
                group, request, self.admin_site
            )
            listed += more
            for name, count in more_counts.items():
                counts[name] = counts.get(name, 0) + count
            perms_needed |= more_perms
            protected += more_protected
        return listed, counts, perms_needed, protected


@admin.register(Reply)
class ReplyAdmin(ForumPostAdmin):
    list_display = ("topic", "author", "created", "hidden")
    list_filter = ("hidden",)
    search_fields = ("body", "author__username")
    readonly_fields = ("topic", "author", "body_html", "created", "edited")

    def moderate(self, queryset, **flags) -> int:
        return forum.replies_moderate(replies=queryset, **flags)

    def delete_model(self, request, obj):
        forum.reply_delete(reply=obj, editor=request.user)

    def delete_queryset(self, request, queryset):
        forum.replies_delete(replies=queryset, editor=request.user)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class VersionInline(admin.TabularInline):
    model = SharedNotebookVersion
    fields = (
        "number",
        "render_state",
        "render_error",
        "ipynb_key",
        "html_key",
        "thumbnail_key",
        "created",
        "rendered_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SharedNotebook)
class SharedNotebookAdmin(admin.ModelAdmin):
    list_display = ("source_path", "author", "created")
    search_fields = ("source_path", "author__username")
    readonly_fields = ("author", "cloned_from", "created")
    inlines = [VersionInline]


@admin.register(Clone)
class CloneAdmin(admin.ModelAdmin):
    """Lineage records, as clones made them: read-only (they go with their file)."""

    list_display = ("user", "version", "entry", "created")
    search_fields = ("user__username",)
    readonly_fields = ("user", "version", "entry", "created")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
