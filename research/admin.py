"""Staff's view of discovery: hubs with their computed state, events, and assignments."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from quantsite.exceptions import ApplicationError
from research.models import Assignment, Hub, HubEvent
from research.services.assignment import assignment_move
from research.services.hubs import hub_delete, hub_disable, hub_drain, hub_enable, hub_undrain


@dataclasses.dataclass(frozen=True)
class ModeChange:
    """A staff action on a hub's mode: the list action and the button on the hub's page
    both call ``service``, and say ``done`` (or why nothing changed: ``unchanged``)."""

    name: str
    label: str
    help: str
    service: Callable[..., bool]
    done: str  # "Draining: hub-1." and the admin history's change message
    unchanged: str  # "Nothing to change: hub-1 is not active."
    event: str  # the HubEvent kind the service records

    def applies_to(self, hub: Hub) -> bool:
        return {
            "drain": hub.mode == Hub.Mode.ACTIVE,
            "undrain": hub.mode == Hub.Mode.DRAINING,
            "disable": hub.mode != Hub.Mode.DISABLED,
            "enable": hub.mode == Hub.Mode.DISABLED,
        }[self.name]


MODE_CHANGES = {
    change.name: change
    for change in [
        ModeChange(
            "drain",
            "Drain",
            "No new users; current users stay until their servers stop",
            hub_drain,
            "Draining",
            "not active",
            HubEvent.Kind.DRAINING,
        ),
        ModeChange(
            "undrain",
            "Undrain",
            "Take new users again",
            hub_undrain,
            "Undrained",
            "not draining",
            HubEvent.Kind.UNDRAINED,
        ),
        ModeChange(
            "disable",
            "Disable",
            "End all assignments now and revoke the hub's tokens",
            hub_disable,
            "Disabled",
            "already disabled",
            HubEvent.Kind.DISABLED,
        ),
        ModeChange(
            "enable",
            "Enable",
            "Let a disabled hub back in (it must get a new token and start again)",
            hub_enable,
            "Enabled",
            "not disabled",
            HubEvent.Kind.ENABLED,
        ),
    ]
}

# How staff's own mode changes read in a hub's history (matched with the admin's log).
_BY_STAFF = {
    HubEvent.Kind.DRAINING: ("Drained", "Drain started"),
    HubEvent.Kind.UNDRAINED: ("Drain cancelled", "Drain cancelled"),
    HubEvent.Kind.DISABLED: ("Disabled", "Disabled"),
    HubEvent.Kind.ENABLED: ("Enabled", "Enabled"),
}
# A mode change's event and the admin's log entry of it are written one after the other
# by the same request; an entry this much later than the event is someone else's.
_LOG_WINDOW = dt.timedelta(seconds=60)


def _when(at: dt.datetime, now: dt.datetime) -> str:
    local, today = timezone.localtime(at), timezone.localtime(now).date()
    return f"{local:%H:%M:%S}" if local.date() == today else f"{local:%Y-%m-%d %H:%M:%S}"


def _silence(hub: Hub, event: HubEvent, threshold: float) -> str:
    """How long the hub had been silent when ``event`` was recorded: exact while its last
    heartbeat is still the one before the event, else the threshold it passed."""
    if hub.last_heartbeat_at is not None and hub.last_heartbeat_at <= event.at:
        return f"no heartbeat for {(event.at - hub.last_heartbeat_at).total_seconds():.0f} s"
    return f"no heartbeat for over {threshold:g} s"


def hub_event_sentences(*, hub: Hub, events: Iterable[HubEvent], now: dt.datetime) -> list[str]:
    """``events`` of ``hub`` as sentences staff read ("Drained by ada at 12:03:05", "Went
    dead at 12:04:10: no heartbeat for 45 s"), in the order given. Mode changes made in the
    admin name who made them, from the admin's history (``HubAdmin`` logs each one)."""
    events = list(events)
    entries = []
    if events:
        entries = list(
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Hub),
                object_id=str(hub.pk),
                action_flag=CHANGE,
                action_time__gte=min(event.at for event in events),
                action_time__lte=max(event.at for event in events) + _LOG_WINDOW,
            )
            .select_related("user")
            .order_by("action_time", "pk")
        )
    done_by_kind = {change.event: change.done for change in MODE_CHANGES.values()}
    used: set[int] = set()

    def actor(event: HubEvent) -> str | None:
        for entry in entries:
            if (
                entry.pk not in used
                and entry.change_message == done_by_kind[event.kind]
                and event.at <= entry.action_time <= event.at + _LOG_WINDOW
            ):
                used.add(entry.pk)
                return entry.user.get_username()
        return None

    Kind = HubEvent.Kind
    sentences = []
    # Oldest first, so that each log entry goes to the earliest event it can be.
    for event in sorted(events, key=lambda event: (event.at, event.pk)):
        at = f"at {_when(event.at, now)}"
        if event.kind in _BY_STAFF:
            by, alone = _BY_STAFF[event.kind]
            who = actor(event)
            sentence = f"{by} by {who} {at}" if who else f"{alone} {at}"
        elif event.kind == Kind.REGISTERED:
            sentence = f"Registered {at}" + (f" with URL {event.detail}" if event.detail else "")
        elif event.kind == Kind.STARTED:
            sentence = f"Started {at}" + (f", version {event.detail}" if event.detail else "")
        elif event.kind == Kind.STOPPED:
            sentence = f"Stopped {at}"
        elif event.kind == Kind.WENT_STALE:
            silence = _silence(hub, event, settings.DISCOVERY_STALE_AFTER)
            sentence = f"Went stale {at}: {silence}; no new users"
        elif event.kind == Kind.DIED:
            silence = _silence(hub, event, settings.DISCOVERY_DEAD_AFTER)
            sentence = f"Went dead {at}: {silence}; its users move on their next visit"
        elif event.kind == Kind.RECOVERED:
            sentence = f"Recovered {at}: heartbeats again"
        else:
            sentence = f"{event.get_kind_display().capitalize()} {at}"
        sentences.append((event, sentence))
    order = {event.pk: i for i, event in enumerate(events)}
    return [sentence for event, sentence in sorted(sentences, key=lambda p: order[p[0].pk])]


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, the whole of it on hover."""
    if len(text) <= limit:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: limit - 1])


# The hub's page: what it is and what discovery knows of it.
HUB_FIELDS = (
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


@admin.register(Hub)
class HubAdmin(admin.ModelAdmin):
    # What an operator scans, narrow enough for a 1366 px screen with the filter beside it;
    # URL, version and start time are on the hub's page.
    list_display = ("short_name", "mode_short", "live", "users", "heartbeat_age")
    list_display_links = ("short_name",)
    list_filter = ("mode",)
    search_fields = ("name", "url")
    # Everything on the hub's page is shown as it is, but its capacity (staff change that).
    fieldsets = [
        (None, {"fields": HUB_FIELDS}),
        ("Recent events", {"fields": ("recent_events",)}),
    ]
    readonly_fields = (*(f for f in HUB_FIELDS if f != "capacity"), "recent_events")
    actions = list(MODE_CHANGES)
    change_form_template = "admin/research/hub/change_form.html"

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

    @admin.display(description="name", ordering="name")
    def short_name(self, hub: Hub) -> str:
        return _shorten(hub.name, 24)

    @admin.display(description="mode", ordering="mode")
    def mode_short(self, hub: Hub) -> str:
        return hub.mode

    @admin.display(description="live")
    def live(self, hub: Hub) -> str:
        return hub.liveness(timezone.now()).value

    @admin.display(description="state")
    def state(self, hub: Hub) -> str:
        return hub.state(timezone.now())

    @admin.display(description="users / seats")
    def users(self, hub: Hub) -> str:
        return format_html(
            '<span title="{} assigned, {} running, {} seats">{} / {}</span>',
            hub.assigned_count,
            hub.running_count,
            hub.capacity,
            hub.assigned_count,
            hub.capacity,
        )

    @admin.display(description="heartbeat", ordering="-last_heartbeat_at")
    def heartbeat_age(self, hub: Hub) -> str:
        if hub.last_heartbeat_at is None:
            return "never"
        seconds = (timezone.now() - hub.last_heartbeat_at).total_seconds()
        return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"

    @admin.display(description="newest first")
    def recent_events(self, hub: Hub) -> str:
        # The newest 20; a hub beats for months, so its history is long.
        events = hub.events.order_by("-at", "-pk")[:20]
        sentences = hub_event_sentences(hub=hub, events=events, now=timezone.now())
        if not sentences:
            return "None yet."
        return format_html_join("", "<div>{}.</div>", ((sentence,) for sentence in sentences))

    # -- drain, undrain, disable, enable: list actions and buttons on the hub's page ------

    def _apply(self, request: HttpRequest, hubs: Iterable[Hub], change: ModeChange) -> None:
        changed, unchanged = [], []
        for hub in hubs:
            if change.service(hub=hub):
                changed.append(hub.name)
                self.log_change(request, hub, change.done)
            else:
                unchanged.append(hub.name)
        if changed:
            message = f"{change.done}: {', '.join(changed)}."
            if unchanged:
                message += f" Left as they were ({change.unchanged}): {', '.join(unchanged)}."
            self.message_user(request, message, messages.SUCCESS)
        else:
            verb = "is" if len(unchanged) == 1 else "are"
            self.message_user(
                request,
                f"Nothing to change: {', '.join(unchanged)} {verb} {change.unchanged}.",
                messages.WARNING,
            )

    @admin.action(description="Drain: no new users; current users stay until their servers stop")
    def drain(self, request, queryset):
        self._apply(request, queryset, MODE_CHANGES["drain"])

    @admin.action(description="Undrain: take new users again")
    def undrain(self, request, queryset):
        self._apply(request, queryset, MODE_CHANGES["undrain"])

    @admin.action(description="Disable: end all assignments now and revoke the hub's tokens")
    def disable(self, request, queryset):
        self._apply(request, queryset, MODE_CHANGES["disable"])

    @admin.action(description="Enable a disabled hub")
    def enable(self, request, queryset):
        self._apply(request, queryset, MODE_CHANGES["enable"])

    def get_urls(self):
        # Before the default URLs: their "<path:object_id>/" catch-all would take it.
        mode = path(
            "<path:object_id>/mode/<str:change>/",
            self.admin_site.admin_view(self.mode_view),
            name="research_hub_mode",
        )
        return [mode, *super().get_urls()]

    @staticmethod
    def _mode_url(hub: Hub, change: str) -> str:
        return reverse("admin:research_hub_mode", args=[hub.pk, change])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        hub = self.get_object(request, unquote(object_id))
        buttons = []
        if hub is not None and self.has_change_permission(request, hub):
            buttons = [
                {
                    "url": self._mode_url(hub, change.name),
                    "label": change.label,
                    "help": change.help,
                }
                for change in MODE_CHANGES.values()
                if change.applies_to(hub)
            ]
        extra_context = {**(extra_context or {}), "mode_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    def mode_view(self, request: HttpRequest, object_id: str, change: str):
        """POST from a button on the hub's page: the same service as the list action, the
        same message, then back to the page. 404 for an unknown hub or change, 403 without
        the change permission, 405 for anything but POST."""
        return require_POST(self._mode_post)(request, object_id, change)

    def _mode_post(self, request: HttpRequest, object_id: str, change: str):
        if change not in MODE_CHANGES:
            raise Http404("No such change.")
        hub = self.get_object(request, unquote(object_id))
        if hub is None:
            raise Http404("No such hub.")
        if not self.has_change_permission(request, hub):
            raise PermissionDenied
        self._apply(request, [hub], MODE_CHANGES[change])
        return HttpResponseRedirect(reverse("admin:research_hub_change", args=[hub.pk]))

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
