"""Staff's view of discovery: hubs with their computed state, events, and assignments."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone

from quantsite.exceptions import ApplicationError
from research.models import Assignment, Hub, HubEvent
from research.services.assignment import assignment_move
from research.services.hubs import hub_delete, hub_disable, hub_drain, hub_enable, hub_undrain


class HubEventInline(admin.TabularInline):
    model = HubEvent
    fields = ("at", "kind", "detail")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "recent events"

    def get_queryset(self, request):
        # The newest 20; a hub beats for months, so its history is long.
        queryset = super().get_queryset(request)
        recent = queryset.order_by("-at", "-pk").values_list("pk", flat=True)[:20]
        return queryset.filter(pk__in=list(recent))


@admin.register(Hub)
class HubAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "state",
        "users",
        "capacity",
        "heartbeat_age",
        "version",
        "started_at",
        "url",
    )
    list_filter = ("mode",)
    search_fields = ("name", "url")
    fields = (
        "name",
        "url",
        "capacity",
        "mode",
        "state",
        "users",
        "heartbeat_age",
        "version",
        "started_at",
        "stopped_at",
        "application",
    )
    readonly_fields = (
        "name",
        "url",
        "mode",
        "state",
        "users",
        "heartbeat_age",
        "version",
        "started_at",
        "stopped_at",
        "application",
    )
    inlines = [HubEventInline]
    actions = ["drain", "undrain", "disable", "enable"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                running_count=Count(
                    "assignments",
                    filter=Q(assignments__ended_at__isnull=True, assignments__server_running=True),
                )
            )
        )

    def has_add_permission(self, request) -> bool:
        return False  # hubs are registered with `manage.py register_hub`

    @admin.display(description="state")
    def state(self, hub: Hub) -> str:
        return hub.state(timezone.now())

    @admin.display(description="users (assigned / running)")
    def users(self, hub: Hub) -> str:
        return f"{hub.assigned_count} / {hub.running_count}"

    @admin.display(description="last heartbeat", ordering="-last_heartbeat_at")
    def heartbeat_age(self, hub: Hub) -> str:
        if hub.last_heartbeat_at is None:
            return "never"
        seconds = (timezone.now() - hub.last_heartbeat_at).total_seconds()
        return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"

    def _apply(self, request, queryset, service, verb: str) -> None:
        changed = [hub.name for hub in queryset if service(hub=hub)]
        if changed:
            self.message_user(request, f"{verb}: {', '.join(changed)}.", messages.SUCCESS)
        else:
            self.message_user(request, f"Nothing to change ({verb.lower()}).", messages.WARNING)

    @admin.action(description="Drain: no new users; current users stay until their servers stop")
    def drain(self, request, queryset):
        self._apply(request, queryset, hub_drain, "Draining")

    @admin.action(description="Undrain: take new users again")
    def undrain(self, request, queryset):
        self._apply(request, queryset, hub_undrain, "Undrained")

    @admin.action(description="Disable: end all assignments now and revoke the hub's tokens")
    def disable(self, request, queryset):
        self._apply(request, queryset, hub_disable, "Disabled")

    @admin.action(description="Enable a disabled hub")
    def enable(self, request, queryset):
        self._apply(request, queryset, hub_enable, "Enabled")

    def delete_model(self, request, hub: Hub) -> None:
        hub_delete(hub=hub)

    def delete_queryset(self, request, queryset) -> None:
        for hub in queryset:
            hub_delete(hub=hub)


class MoveForm(forms.Form):
    hub = forms.ModelChoiceField(
        queryset=Hub.objects.filter(mode=Hub.Mode.ACTIVE), label="Move to hub"
    )


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "hub",
        "is_open",
        "server_running",
        "prestarted",
        "created_at",
        "ended_at",
        "end_reason",
    )
    list_filter = (("ended_at", admin.EmptyFieldListFilter), "end_reason", "hub")
    search_fields = ("user__username", "hub__name")
    list_select_related = ("user", "hub")
    date_hierarchy = "created_at"
    actions = ["move"]
    readonly_fields = (
        "user",
        "hub",
        "created_at",
        "ended_at",
        "end_reason",
        "server_running",
        "server_seen_at",
        "server_stopped_at",
        "located_at",
        "prestarted_at",
        "logged_out_at",
    )

    def has_add_permission(self, request) -> bool:
        return False  # discovery assigns; staff move

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="open")
    def is_open(self, assignment: Assignment) -> bool:
        return assignment.is_open

    @admin.display(boolean=True, description="pre-started", ordering="prestarted_at")
    def prestarted(self, assignment: Assignment) -> bool:
        return assignment.prestarted_at is not None

    @admin.action(description="Move the selected user to another hub…")
    def move(self, request, queryset):
        if queryset.count() != 1 or not queryset.get().is_open:
            self.message_user(request, "Select one open assignment to move.", messages.ERROR)
            return None
        assignment = queryset.get()
        form = MoveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                moved = assignment_move(assignment=assignment, hub=form.cleaned_data["hub"])
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f"Moved {moved.user} to {moved.hub}.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/research/assignment/move.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Move {assignment.user} off {assignment.hub}",
                "assignment": assignment,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
