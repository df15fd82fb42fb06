from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from oauth2_provider import admin as oauth_admin

from quantsite.accounts.models import ApplicationPolicy, User
from quantsite.accounts.oauth import ALLOWED_GRANT_TYPES
from quantsite.accounts.selectors import application_enabled
from quantsite.accounts.services import user_disable


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:1],
        ("Personal info", {"fields": ("name", "email")}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    list_display = ("username", "email", "name", "is_active", "is_staff", "date_joined")
    search_fields = ("username", "name", "email")
    actions = ["disable_users"]

    def save_model(self, request, obj, form, change) -> None:
        # Unticking "active" disables the account through the service: tokens revoked and
        # sessions ended at once, not merely a flag for the next login.
        disabling = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if disabling:
            user_disable(user=obj)

    @admin.action(description="Disable selected users (revoke their tokens, end sessions)")
    def disable_users(self, request, queryset) -> None:
        count = sum(user_disable(user=user) for user in queryset)
        self.message_user(request, f"Disabled {count} user(s).")


class ApplicationPolicyInline(admin.StackedInline):
    model = ApplicationPolicy
    can_delete = True
    extra = 0
    max_num = 1
    verbose_name = "scope policy"
    verbose_name_plural = (
        "scope policy (without one, the application may ask for openid, profile and email)"
    )


class ApplicationForm(oauth_admin.ApplicationForm):
    """The library's form, offering only the grants the site supports."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "authorization_grant_type" in self.fields:
            field = self.fields["authorization_grant_type"]
            field.choices = [(v, label) for v, label in field.choices if v in ALLOWED_GRANT_TYPES]
        if "skip_authorization" in self.fields:
            self.fields["skip_authorization"].label = "Trusted (skips the consent page)"

    def clean_authorization_grant_type(self) -> str:
        value = self.cleaned_data["authorization_grant_type"]
        if value not in ALLOWED_GRANT_TYPES:
            raise forms.ValidationError(
                "The site supports authorization code and client credentials only."
            )
        return value


class ApplicationAdmin(oauth_admin.ApplicationAdmin):
    """Staff manage OAuth applications, with each one's scope policy inline."""

    form = ApplicationForm
    inlines = [ApplicationPolicyInline]
    list_select_related = ("policy",)
    list_display = (
        "name",
        "client_id",
        "enabled",
        "client_type",
        "authorization_grant_type",
        "skip_authorization",
        "created",
    )

    @admin.display(boolean=True, description="enabled")
    def enabled(self, application) -> bool:
        return application_enabled(application=application)
