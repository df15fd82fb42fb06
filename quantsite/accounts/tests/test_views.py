"""Accounts pages: sign up, log in (rate-limited), log out, passwords, profile."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from quantsite.accounts.lockout import client_ip
from quantsite.accounts.models import User
from quantsite.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet-otter-meadow-42"


def signup_data(**overrides):
    data = {
        "username": "grace",
        "email": "grace@example.org",
        "name": "Grace Hopper",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


# -- sign up -----------------------------------------------------------------------------


@pytest.fixture
def signup(client, django_capture_on_commit_callbacks):
    """POST the sign-up form; the mails it sends after commit are sent before it returns
    (the test's transaction never commits)."""

    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("signup"), data)

    return post


def confirmation_link(message) -> str:
    return re.search(r"http://\S+/accounts/signup/confirm/\S+/", message.body).group(0)


def test_signup_creates_an_inactive_account_and_mails_a_confirmation_link(client, signup):
    response = signup(signup_data())

    assert response.status_code == 200
    assert b"We sent a message to <strong>grace@example.org</strong>" in response.content
    user = User.objects.get(username="grace")
    assert (user.email, user.name) == ("grace@example.org", "Grace Hopper")
    assert user.check_password(NEW_PASSWORD)
    assert not user.is_active
    assert not user.is_staff
    assert [m.to for m in mail.outbox] == [["grace@example.org"]]
    assert mail.outbox[0].subject == "Confirm your Quantsite account"
    assert client.get(reverse("profile")).status_code == 302  # not logged in yet


def test_following_the_confirmation_link_activates_and_logs_in(client, signup):
    signup(signup_data())
    path = confirmation_link(mail.outbox[0]).removeprefix(settings.SITE_URL)

    page = client.get(path)
    confirmed = client.post(path)

    assert page.status_code == 200
    assert confirmed.status_code == 302
    assert User.objects.get(username="grace").is_active
    assert client.get(reverse("profile")).status_code == 200
    # The link works once.
    client.logout()
    assert client.post(path).status_code == 400


def test_a_confirmation_link_get_changes_nothing(client, signup):
    signup(signup_data())
    path = confirmation_link(mail.outbox[0]).removeprefix(settings.SITE_URL)

    client.get(path)

    assert not User.objects.get(username="grace").is_active


@pytest.mark.parametrize(
    "path", ["/accounts/signup/confirm/Mg/nonsense/", "/accounts/signup/confirm/%F0/x/"]
)
def test_a_forged_confirmation_link_is_refused(client, signup, path):
    signup(signup_data())

    assert client.get(path).status_code == 400
    assert client.post(path).status_code == 400
    assert not User.objects.get(username="grace").is_active


def test_signup_with_a_taken_email_answers_the_same_and_tells_the_owner(client, signup):
    UserFactory(username="other", email="grace@example.org")
    fresh = signup(signup_data(username="fresh", email="new@example.org"))
    mail.outbox.clear()

    taken = signup(signup_data(email="Grace@Example.org"))

    assert taken.status_code == fresh.status_code == 200
    assert "accounts/signup_sent.html" in [t.name for t in taken.templates]
    assert "accounts/signup_sent.html" in [t.name for t in fresh.templates]
    assert b"We sent a message to <strong>Grace@Example.org</strong>" in taken.content
    # The username is held, as a new sign-up's is, by an account nobody can open.
    held = User.objects.get(username="grace")
    assert (held.email, held.is_active, held.has_usable_password()) == ("", False, False)
    assert [m.to for m in mail.outbox] == [["grace@example.org"]]
    assert mail.outbox[0].subject == "Someone tried to sign up for Quantsite with your address"
    assert '"other"' in mail.outbox[0].body
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_an_unconfirmed_signup_gives_its_address_back_when_its_link_has_expired(
    client, signup, settings
):
    signup(signup_data(username="squatter"))
    User.objects.filter(username="squatter").update(
        date_joined=timezone.now() - dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    )

    signup(signup_data(username="grace"))

    assert list(User.objects.values_list("username", flat=True)) == ["grace"]


@pytest.mark.parametrize(
    "username", ["root", "postgres", "admin", "Admin", "www-data", "jovyan", "qs-ada"]
)
def test_signup_refuses_a_reserved_username(client, signup, username):
    response = signup(signup_data(username=username))

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == [
        "That username is reserved for the system. Please choose another."
    ]
    assert not User.objects.exists()


def test_signup_lowercases_the_username(client):
    client.post(reverse("signup"), signup_data(username="Grace"))

    assert User.objects.filter(username="grace").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "g"}, "username", "Use 2 to 32 characters"),
        ({"username": "grace hopper"}, "username", "Use 2 to 32 characters"),
        ({"username": "1grace"}, "username", "Use 2 to 32 characters"),
        ({"username": "grace@home"}, "username", "Use 2 to 32 characters"),
        ({"username": "g" * 33}, "username", "at most 32 characters"),
        ({"username": ""}, "username", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "This field is required."),
        ({"password2": "something-else-entirely"}, "password2", "The two password fields didn"),
        ({"password1": "password", "password2": "password"}, "password1", "too common"),
        ({"password1": "12345678901", "password2": "12345678901"}, "password1", "entirely numeric"),
        ({"name": "x" * 151}, "name", "at most 150 characters"),
    ],
)
def test_signup_rejects_bad_input_with_a_message(client, overrides, field, message):
    response = client.post(reverse("signup"), signup_data(**overrides))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors
    assert not User.objects.exists()


def test_signup_rejects_a_taken_username_whatever_the_case(client):
    UserFactory(username="grace")

    response = client.post(reverse("signup"), signup_data(username="GRACE", email="g2@example.org"))

    assert response.context["form"].errors["username"] == ["That username is taken."]
    assert User.objects.count() == 1


def test_signup_page_renders(client):
    response = client.get(reverse("signup"))

    assert response.status_code == 200
    assert b'name="username"' in response.content


# -- log in and log out ------------------------------------------------------------------


def login(client, username, password, ip="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_with_the_right_password(client):
    user = UserFactory()

    response = login(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_a_wrong_password_says_so(client):
    user = UserFactory()

    response = login(client, user.username, "wrong")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_username_is_locked_for_the_address_that_failed_five_times(client):
    user = UserFactory()
    for _ in range(5):
        login(client, user.username, "wrong", ip="10.0.1.1")

    response = login(client, user.username, PASSWORD, ip="10.0.1.1")

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_from_elsewhere_do_not_lock_the_owner_out(client):
    user = UserFactory()
    for attempt in range(20):
        login(client, user.username, "wrong", ip=f"10.0.2.{attempt}")

    response = login(client, user.username, PASSWORD, ip="10.0.3.1")

    assert response.status_code == 302


def test_an_address_is_locked_for_every_username_at_its_own_higher_limit(client, settings):
    settings.AXES_ADDRESS_FAILURE_LIMIT = 12
    victim = UserFactory()
    for attempt in range(11):
        login(client, f"guess{attempt}", "wrong", ip="10.0.4.4")

    before = login(client, victim.username, PASSWORD, ip="10.0.4.4")
    client.logout()
    login(client, "guess-last", "wrong", ip="10.0.4.4")
    locked = login(client, victim.username, PASSWORD, ip="10.0.4.4")
    elsewhere = login(client, victim.username, PASSWORD, ip="10.0.4.5")

    assert before.status_code == 302  # 11 failures: below the address limit
    assert locked.status_code == 429
    assert elsewhere.status_code == 302


def login_via(client, username, password, remote, forwarded):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_without_trusted_proxies_a_forwarded_for_header_is_ignored(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    user = UserFactory()
    for attempt in range(5):
        # Each attempt claims another address; the connection's own address is what counts.
        login_via(client, user.username, "wrong", "10.0.5.5", f"203.0.113.{attempt}")

    response = login_via(client, user.username, PASSWORD, "10.0.5.5", "203.0.113.99")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_client_is_counted_apart(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    for _ in range(5):
        login_via(client, user.username, "wrong", "10.0.0.2", "198.51.100.7")

    attacker = login_via(client, user.username, PASSWORD, "10.0.0.2", "198.51.100.7")
    # A client-made entry left of the proxy's does not change who the client is.
    spoofing = login_via(client, user.username, PASSWORD, "10.0.0.2", "1.2.3.4, 198.51.100.7")
    owner = login_via(client, user.username, PASSWORD, "10.0.0.2", "198.51.100.8")

    assert attacker.status_code == 429
    assert spoofing.status_code == 429
    assert owner.status_code == 302


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "10.0.0.2"),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        (2, "1.2.3.4, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.2"),  # fewer entries than proxies: not through them all
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(rf, settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_four_failures_then_success_resets_the_count(client):
    user = UserFactory()
    for _ in range(4):
        login(client, user.username, "wrong")
    assert login(client, user.username, PASSWORD).status_code == 302
    client.logout()

    for _ in range(4):
        login(client, user.username, "wrong")

    assert login(client, user.username, PASSWORD).status_code == 302


def test_logout_get_asks_for_confirmation_and_post_logs_out(client):
    user = UserFactory()
    client.force_login(user)

    page = client.get(reverse("logout"))
    response = client.post(reverse("logout"))

    assert page.status_code == 200
    assert "Log out?" in page.content.decode()
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# -- passwords ---------------------------------------------------------------------------


def test_password_change(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_change_needs_the_old_password(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_by_email_link(client):
    user = UserFactory(email="reset@example.org")

    client.post(reverse("password_reset"), {"email": "reset@example.org"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Reset your Quantsite password"
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_tells_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert response.headers["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_password_reset_with_a_forged_link(client):
    response = client.get("/accounts/password/reset/Mg/forged-token/")

    assert response.status_code == 200
    assert "This link has expired" in response.content.decode()


# -- profile -----------------------------------------------------------------------------


def test_profile_requires_login(client):
    response = client.get(reverse("profile"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/accounts/profile/"


@pytest.fixture
def profile_post(client, django_capture_on_commit_callbacks):
    """POST the profile form; the mails it sends after commit are sent before it returns."""

    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("profile"), data, follow=True)

    return post


def email_change_link(message) -> str:
    url = re.search(r"http://\S+/accounts/email/confirm/\S+/", message.body).group(0)
    return url.removeprefix(settings.SITE_URL)


def test_profile_shows_and_updates_the_name_at_once(client, profile_post):
    user = UserFactory(username="ada", name="Ada", email="ada@old.example")
    client.force_login(user)

    page = client.get(reverse("profile"))
    response = profile_post({"name": "Ada Lovelace", "email": "ada@old.example"})

    assert "ada" in page.content.decode()
    assert "Profile saved." in response.content.decode()
    user.refresh_from_db()
    assert (user.name, user.email) == ("Ada Lovelace", "ada@old.example")
    assert mail.outbox == []


def test_a_new_email_address_takes_effect_once_its_link_is_followed(client, profile_post):
    user = UserFactory(username="ada", email="ada@old.example")
    client.force_login(user)

    response = profile_post({"name": "", "email": "ada@new.example"})
    user.refresh_from_db()
    before = user.email
    link = email_change_link(mail.outbox[0])
    confirmed = client.post(link)
    again = client.post(link)

    assert "To use ada@new.example, follow the link we sent there." in response.content.decode()
    assert [m.to for m in mail.outbox] == [["ada@new.example"]]
    assert before == "ada@old.example"
    assert confirmed.status_code == 302
    user.refresh_from_db()
    assert user.email == "ada@new.example"
    assert again.status_code == 400  # a link works once


def test_profile_does_not_tell_whether_another_account_has_an_address(client, profile_post):
    UserFactory(username="owner", email="taken@example.org")
    user = UserFactory(email="mine@example.org")
    client.force_login(user)

    free = profile_post({"name": "", "email": "free@example.org"})
    mail.outbox.clear()
    taken = profile_post({"name": "", "email": "TAKEN@example.org"})

    assert free.status_code == taken.status_code == 200
    assert "follow the link we sent there" in taken.content.decode()
    assert [m.to for m in mail.outbox] == [["taken@example.org"]]
    assert mail.outbox[0].subject == "Someone tried to use your address on Quantsite"
    user.refresh_from_db()
    assert user.email == "mine@example.org"


def test_an_email_change_link_is_refused_once_the_address_is_taken(client, profile_post):
    user = UserFactory(email="mine@example.org")
    client.force_login(user)
    profile_post({"name": "", "email": "wanted@example.org"})
    UserFactory(email="wanted@example.org")

    response = client.post(email_change_link(mail.outbox[0]))

    assert response.status_code == 400
    assert "Another account has this address now." in response.content.decode()
    user.refresh_from_db()
    assert user.email == "mine@example.org"


def test_a_forged_email_change_link_is_refused(client):
    response = client.post("/accounts/email/confirm/eyJ1c2VyIjoxfQ:forged:sig/")

    assert response.status_code == 400


# -- layout ------------------------------------------------------------------------------


def test_pages_have_the_navigation_bar_and_user_menu(client):
    user = UserFactory(name="Ada Lovelace")
    client.force_login(user)

    html = client.get(reverse("home")).content.decode()

    assert 'aria-label="Main"' in html
    assert "Ada Lovelace" in html
    assert 'action="/accounts/logout/"' in html
    assert 'name="viewport"' in html


def test_unknown_page_is_a_plain_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404


def test_nul_characters_in_a_form_are_refused(client):
    response = client.post(reverse("login"), {"username": "ada\x00", "password": "x"})

    assert response.status_code == 400


def test_signup_with_a_taken_email_hashes_the_password_as_a_new_signup_does(
    client, signup, settings
):
    # The slow hasher is the time of a sign-up; a taken address must not answer faster.
    settings.PASSWORD_HASHERS = ["quantsite.accounts.tests.test_views.CountingHasher"]
    UserFactory(username="other", email="grace@example.org")
    CountingHasher.calls = 0
    signup(signup_data(username="fresh", email="new@example.org"))
    fresh = CountingHasher.calls
    CountingHasher.calls = 0

    signup(signup_data(email="grace@example.org"))

    assert CountingHasher.calls == fresh == 1


class CountingHasher(MD5PasswordHasher):
    algorithm = "counting_md5"
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)
