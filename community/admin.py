"""Staff moderate the forum: hide, lock and delete topics and replies."""

from django.contrib import admin

from community.models import Clone, Reply, SharedNotebook, SharedNotebookVersion, Tag, Topic
from community.sanitize import markdown_to_html


class ForumPostAdmin(admin.ModelAdmin):
    """What topics and replies share in the admin: staff edits of the Markdown body are
    sanitized as authors' are, and posts are hidden from the forum or shown again."""

    actions = ["hide", "unhide"]

    def save_model(self, request, obj, form, change):
        obj.body_html = markdown_to_html(obj.body)
        super().save_model(request, obj, form, change)

    @admin.action(description="Hide from the forum")
    def hide(self, request, queryset):
        queryset.update(hidden=True)

    @admin.action(description="Show again")
    def unhide(self, request, queryset):
        queryset.update(hidden=False)


class ReplyInline(admin.TabularInline):
    model = Reply
    fields = ("author", "body", "hidden", "created")
    readonly_fields = ("author", "body", "created")
    extra = 0


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
        queryset.update(locked=True)

    @admin.action(description="Unlock")
    def unlock(self, request, queryset):
        queryset.update(locked=False)


@admin.register(Reply)
class ReplyAdmin(ForumPostAdmin):
    list_display = ("topic", "author", "created", "hidden")
    list_filter = ("hidden",)
    search_fields = ("body", "author__username")
    readonly_fields = ("topic", "author", "body_html", "created", "edited")


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
