"""Staff moderate the forum: hide, lock and delete topics and replies."""

from django.contrib import admin

from community.models import Reply, SharedNotebook, SharedNotebookVersion, Topic


class ReplyInline(admin.TabularInline):
    model = Reply
    fields = ("author", "body", "hidden", "created")
    readonly_fields = ("author", "body", "created")
    extra = 0


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("title", "author", "created", "hidden", "locked")
    list_filter = ("hidden", "locked")
    search_fields = ("title", "author__username")
    readonly_fields = ("author", "body_html", "shared_notebook", "created", "updated")
    inlines = [ReplyInline]
    actions = ["hide", "unhide", "lock", "unlock"]

    @admin.action(description="Hide from the forum")
    def hide(self, request, queryset):
        queryset.update(hidden=True)

    @admin.action(description="Show again")
    def unhide(self, request, queryset):
        queryset.update(hidden=False)

    @admin.action(description="Lock (no new replies)")
    def lock(self, request, queryset):
        queryset.update(locked=True)

    @admin.action(description="Unlock")
    def unlock(self, request, queryset):
        queryset.update(locked=False)


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ("topic", "author", "created", "hidden")
    list_filter = ("hidden",)
    search_fields = ("body", "author__username")
    actions = ["hide"]

    @admin.action(description="Hide from the forum")
    def hide(self, request, queryset):
        queryset.update(hidden=True)


class VersionInline(admin.TabularInline):
    model = SharedNotebookVersion
    fields = ("number", "render_state", "ipynb_key", "html_key", "created", "rendered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SharedNotebook)
class SharedNotebookAdmin(admin.ModelAdmin):
    list_display = ("source_path", "author", "clone_count", "created")
    search_fields = ("source_path", "author__username")
    inlines = [VersionInline]
