from django import forms
from django.contrib.auth.forms import UserCreationForm

from quantsite.accounts.models import User


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

    def clean_username(self) -> str:
        # JupyterHub lowercases names; taking the lowercase form here keeps the site and the
        # hubs on one name for each person.
        username = self.cleaned_data["username"].strip().lower()
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()


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
