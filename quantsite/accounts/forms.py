from django import forms
from django.contrib.auth.forms import UserCreationForm

from quantsite.accounts.models import User
from quantsite.accounts.services import signup_expired_before


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        max_length=254, help_text="For password resets. Never shown to others."
    )

    # The email is not a model field of this form, so the model's unique-email constraint is
    # not checked here: whether an address has an account is never said (user_signup mails
    # the address instead).
    field_order = ("username", "email", "name", "password1", "password2")

    class Meta:
        model = User
        fields = ("username", "name")
        labels = {"name": "Display name (optional)"}
        # What UsernameValidator and ReservedUsernameValidator accept (capitals are taken
        # as lowercase: clean_username).
        help_texts = {
            "username": (
                "2 to 32 characters: lowercase letters (a-z), digits, hyphens (-) and "
                "underscores (_), starting with a letter. System names such as root or admin, "
                "and names starting with qs-, are reserved. Shown to others."
            )
        }

    def clean_username(self) -> str:
        # JupyterHub lowercases names; taking the lowercase form here keeps the site and the
        # hubs on one name for each person.
        username = self.cleaned_data["username"].strip().lower()
        # A sign-up whose link has expired no longer holds its name (user_signup frees it).
        holders = User.objects.filter(username=username).exclude(
            signup_pending=True, date_joined__lt=signup_expired_before()
        )
        if holders.exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    def validate_unique(self) -> None:
        # clean_username has checked the username (the model's own check would count expired
        # sign-ups); the database settles a race (user_signup raises UsernameTaken).
        exclude = self._get_validation_exclusions() | {"username"}
        try:
            self.instance.validate_unique(exclude=exclude)
        except forms.ValidationError as error:
            self._update_errors(error)

    def validate_password_for_user(self, user, **kwargs):
        # A weak password is the first field's fault (Django's form puts it under the
        # confirmation); the similarity check also compares it with the address typed.
        user.email = self.cleaned_data.get("email", "")
        super().validate_password_for_user(user, "password1")


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Display name")
    email = forms.EmailField(max_length=254)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self) -> str:
        # Whether another account has the address is not said (user_email_change_request
        # mails the address instead), so this form cannot be used to find who has an account.
        return self.cleaned_data["email"].strip()
