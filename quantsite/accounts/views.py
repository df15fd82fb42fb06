from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from quantsite.accounts.forms import ProfileForm, SignupForm
from quantsite.accounts.services import user_create, user_profile_update


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            name=form.cleaned_data.get("name", ""),
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Quantsite, {user.display_name}.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"name": user.name, "email": user.email}
    form = ProfileForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        user_profile_update(
            user=user, name=form.cleaned_data["name"], email=form.cleaned_data["email"]
        )
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})


class LogoutView(auth_views.LogoutView):
    """Log out on POST (CSRF-protected); on GET, a page that asks to confirm.

    Django's view is POST-only; a GET page gives hubs and links a logout address to send
    people to.
    """

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("home")
        return render(request, "registration/logout_confirm.html")
