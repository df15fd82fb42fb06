"""The sign-up page: each error under its own field, a username help text that says what the
validator accepts, and no way to learn from it whether an address has an account."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from quantsite.accounts.forms import SignupForm
from quantsite.accounts.models import ReservedUsernameValidator, User, UsernameValidator
from quantsite.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "violet-otter-meadow-42"


def data(**overrides) -> dict:
    return {
        "username": "grace",
        "email": "grace@example.org",
        "name": "",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


@pytest.fixture
def signup(client, django_capture_on_commit_callbacks):
    """POST the form; the mails sent after commit are in the outbox when it returns."""

    def post(form: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("signup"), form)

    return post


def field_blocks(html: str) -> dict[str, str]:
    """Each field's block of the page (label, input, errors, help), by the input's name."""
    blocks = re.findall(r'<div class="field[^"]*">(.*?)\n      </div>', html, re.S)
    return {re.search(r'name="(\w+)"', block).group(1): block for block in blocks}


def test_each_error_is_under_its_own_field(signup):
    response = signup(data(username="1grace", email="nope", password1="password"))
    html = response.content.decode()

    blocks = field_blocks(html)

    assert list(blocks) == ["username", "email", "name", "password1", "password2"]
    assert 'id="id_username_error"' in blocks["username"]
    assert "starting with a letter" in blocks["username"].split('id="id_username_error"')[1]
    assert "Enter a valid email address." in blocks["email"]
    # A weak password is the password's fault; the mismatch, the confirmation's.
    assert "too common" in blocks["password1"]
    assert "The two password fields didn" in blocks["password2"]
    assert "too common" not in blocks["password2"]
    assert "error" not in blocks["name"]
    assert html.index("Please correct the errors below.") < html.index('name="username"')


def test_every_id_an_input_points_at_is_on_the_page(signup):
    html = signup(data(username="g", email="nope")).content.decode()

    described = re.findall(r'aria-describedby="([^"]+)"', html)
    ids = set(re.findall(r'\bid="([^"]+)"', html))

    assert described
    for names in described:
        for name in names.split():
            assert name in ids


def test_a_valid_form_shows_no_errors(client):
    html = client.get(reverse("signup")).content.decode()

    assert "errorlist" not in html
    assert "Please correct" not in html


USERNAME_HELP = (
    "2 to 32 characters: lowercase letters (a-z), digits, hyphens (-) and underscores (_), "
    "starting with a letter. System names such as root or admin, and names starting with qs-, "
    "are reserved. Shown to others."
)


def test_the_username_help_says_what_the_validators_accept(client):
    html = client.get(reverse("signup")).content.decode()

    assert SignupForm().fields["username"].help_text == USERNAME_HELP
    assert f'<div class="help" id="id_username_helptext">{USERNAME_HELP}</div>' in html


@pytest.mark.parametrize(
    ("username", "accepted"),
    [
        ("ab", True),  # 2 characters
        ("a" * 32, True),  # 32 characters
        ("a-b_9", True),  # letters, digits, - and _
        ("a", False),  # 1 character
        ("a" * 33, False),
        ("9ab", False),  # starts with a digit
        ("-ab", False),
        ("_ab", False),
        ("ab.c", False),  # no other characters
        ("a b", False),
        ("grâce", False),  # a to z only
        ("root", False),  # reserved
        ("admin", False),
        ("qs-ada", False),  # qs- prefix
    ],
)
def test_the_validators_accept_exactly_what_the_help_says(username, accepted):
    def valid(value: str) -> bool:
        try:
            UsernameValidator()(value)
            ReservedUsernameValidator()(value)
        except ValidationError:
            return False
        return True

    assert valid(username) is accepted


def page_without_tokens(response, email: str) -> str:
    """The page with its per-request CSRF tokens and the address typed taken out."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    html = re.sub(r'<meta name="csrf-token" content="[^"]+"', "", html)
    html = re.sub(r'nonce="[^"]+"', "", html)
    return html.replace(email, "ADDRESS")


def test_a_taken_address_gets_the_very_page_a_new_one_gets_and_its_owner_a_mail(signup):
    UserFactory(username="owner", email="taken@example.org")

    new = signup(data(username="fresh", email="new@example.org"))
    new_mail = [(m.to, m.subject) for m in mail.outbox]
    mail.outbox.clear()
    taken = signup(data(username="grace", email="taken@example.org"))

    assert (taken.status_code, new.status_code) == (200, 200)
    pages = [[t.name for t in r.templates if "/email/" not in t.name] for r in (taken, new)]
    assert pages[0] == pages[1]
    assert page_without_tokens(taken, "taken@example.org") == page_without_tokens(
        new, "new@example.org"
    )
    assert sorted(taken.cookies) == sorted(new.cookies)
    assert new_mail == [(["new@example.org"], "Confirm your Quantsite account")]
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["taken@example.org"], "Someone tried to sign up for Quantsite with your address")
    ]


def test_trying_the_username_again_does_not_tell_whether_the_address_was_taken(signup):
    UserFactory(username="owner", email="taken@example.org")
    signup(data(username="probe-new", email="new@example.org"))
    signup(data(username="probe-taken", email="taken@example.org"))

    again_new = signup(data(username="probe-new", email="other1@example.org"))
    again_taken = signup(data(username="probe-taken", email="other2@example.org"))

    assert again_new.context["form"].errors == {"username": ["That username is taken."]}
    assert again_taken.context["form"].errors == {"username": ["That username is taken."]}


def test_the_account_holding_a_username_for_a_taken_address_cannot_be_opened(client, signup):
    UserFactory(username="owner", email="taken@example.org")

    signup(data(username="grace", email="taken@example.org"))
    login = client.post(reverse("login"), {"username": "grace", "password": PASSWORD})

    held = User.objects.get(username="grace")
    assert (held.email, held.is_active, held.signup_pending) == ("", False, True)
    assert not held.has_usable_password()
    assert login.status_code == 200  # the login form again, with its error
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("address", ["new@example.org", "taken@example.org"])
def test_a_held_username_is_free_again_once_the_link_would_have_expired(signup, address):
    UserFactory(username="owner", email="taken@example.org")
    signup(data(username="grace", email=address))
    User.objects.filter(username="grace").update(
        date_joined=timezone.now() - dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    )
    mail.outbox.clear()

    response = signup(data(username="grace", email="grace@example.org"))

    assert "accounts/signup_sent.html" in [t.name for t in response.templates]
    assert User.objects.get(username="grace").email == "grace@example.org"
    assert [m.to for m in mail.outbox] == [["grace@example.org"]]
