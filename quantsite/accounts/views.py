from csp.constants import NONCE, NONE, SELF
from csp.decorators import csp
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from quantsite.accounts.forms import ProfileForm, SignupForm
from quantsite.accounts.selectors import signup_confirmation_user
from quantsite.accounts.services import (
    EmailChangeRefused,
    UsernameTaken,
    user_email_change_confirm,
    user_email_change_request,
    user_profile_update,
    user_signup,
    user_signup_confirm,
)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for where a page names no icon: the site's icon
    (its static URL changes with each release, so the redirect is cached for a day only)."""
    response = redirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up; the answer never tells whether the email address already has an account
    (``user_signup`` mails the address either way)."""
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            user_signup(
                username=form.cleaned_data["username"],
                email=email,
                password=form.cleaned_data["password1"],
                name=form.cleaned_data.get("name", ""),
            )
        except UsernameTaken:
            form.add_error("username", "That username is taken.")
        else:
            return render(request, "accounts/signup_sent.html", {"email": email})
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link from the confirmation email: GET asks to confirm (so that mail scanners
    following links confirm nothing), POST activates the account and logs in."""
    if request.method == "GET":
        valid = signup_confirmation_user(uidb64=uidb64, token=token) is not None
        return render(
            request,
            "accounts/signup_confirm.html",
            {"validlink": valid},
            status=200 if valid else 400,
        )
    user = user_signup_confirm(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/signup_confirm.html", {"validlink": False}, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome to Quantsite, {user.display_name}.")
    return redirect("home")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The display name changes at once; a new email address only once the link sent there
    is followed (and the page never tells whether another account has that address)."""
    user = request.user
    initial = {"name": user.name, "email": user.email}
    form = ProfileForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        user_profile_update(user=user, name=form.cleaned_data["name"])
        email = form.cleaned_data["email"]
        if email.lower() != user.email.lower():
            user_email_change_request(user=user, email=email)
            messages.success(
                request, f"Profile saved. To use {email}, follow the link we sent there."
            )
        else:
            messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})


@require_http_methods(["GET", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the email-change message: GET asks to confirm, POST makes the change."""
    if request.method == "GET":
        return render(request, "accounts/email_change_confirm.html", {"validlink": True})
    try:
        user_email_change_confirm(token=token)
    except EmailChangeRefused as refused:
        return render(
            request,
            "accounts/email_change_confirm.html",
            {"validlink": False, "reason": str(refused)},
            status=400,
        )
    messages.success(request, "Your email address is changed.")
    return redirect("profile" if request.user.is_authenticated else "login")


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


# The page a hub's Logout leads to runs inside the research frame: only the site's own pages
# may frame it, and its one script (by nonce) finishes the logout at the top of the tab.
HUB_LOGOUT_CSP = {
    "default-src": [SELF],
    "script-src": [NONCE],
    "object-src": [NONE],
    "base-uri": [NONE],
    "frame-ancestors": [SELF],
}


@xframe_options_sameorigin
@csp(HUB_LOGOUT_CSP)
@require_GET
def logout_from_hub(request: HttpRequest) -> HttpResponse:
    """Where a hub sends a person who logged out of it (oauthenticator's
    ``logout_redirect_url``): logging out of research logs out of the site too.

    The hub has ended its own login already; this page ends the site's, at the top of the tab
    (inside the research frame, or on its own), by posting the site's CSRF-protected logout
    form, so every page of the site sees it and nothing loops back into a login. Without
    script the form is a button. Someone already logged out gets links to the start page and
    to log in again.
    """
    return render(request, "registration/logout_from_hub.html")
