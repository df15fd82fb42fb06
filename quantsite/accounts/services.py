import datetime as dt

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from oauth2_provider.models import (
    AbstractApplication,
    AccessToken,
    Grant,
    IDToken,
    RefreshToken,
    clear_expired,
)

from quantsite.accounts.models import ApplicationPolicy, AuthorizationCodeExchange, User
from quantsite.accounts.selectors import signup_confirmation_user
from quantsite.accounts.tokens import signup_confirmation_token


class UsernameTaken(Exception):
    """The username was taken between the form's check and the insert."""


def signup_expired_before() -> dt.datetime:
    """Sign-ups still pending since before this moment have expired (their confirmation link
    has): they hold neither their username nor their address any more."""
    return timezone.now() - dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)


def user_signup(*, username: str, email: str, password: str, name: str = "") -> None:
    """Sign someone up without telling whether ``email`` already has an account.

    A free address gets a new account, inactive until its owner follows the confirmation
    link sent there (``user_signup_confirm``). An address that has an account gets an email
    telling its owner someone tried to sign up with it (and how to log in or reset the
    password), and the username is held by an account with no address and no usable password
    that can never be confirmed. Either way one email goes to the address, after commit, the
    password is hashed once, the caller shows the same answer, and the username is taken
    until the link's lifetime (``PASSWORD_RESET_TIMEOUT``) is over: trying the username again
    tells nothing about the address. Raises ``UsernameTaken`` if the username was taken
    meanwhile (usernames are public: the form says so).
    """
    # A sign-up never confirmed within its link's lifetime gives its address and its username
    # back (so no one holds someone else's address, or a name, by signing up with it).
    User.objects.filter(
        Q(email__iexact=email) | Q(username=username),
        signup_pending=True,
        date_joined__lt=signup_expired_before(),
    ).delete()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            user = _signup_pending_create(
                username=username, email=email, password=password, name=name
            )
        except IntegrityError:
            existing = User.objects.filter(email__iexact=email).first()
            if existing is None:
                raise
        else:
            link = settings.SITE_URL + reverse(
                "signup_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": signup_confirmation_token.make_token(user),
                },
            )
            _mail(email, "signup_confirm", {"user": user, "link": link})
            return
    # The username is held as a new sign-up's would be, and the password hashed as one's is
    # (the slow hasher would otherwise tell a taken address by its speed); the account made
    # has no address and no usable password, so no link and no login can ever open it.
    _signup_pending_create(username=username, email="", password=password, name="", hold=True)
    _mail(
        existing.email,
        "signup_attempt",
        {
            "user": existing,
            "login": settings.SITE_URL + reverse("login"),
            "reset": settings.SITE_URL + reverse("password_reset"),
        },
    )


def _signup_pending_create(
    *, username: str, email: str, password: str, name: str, hold: bool = False
) -> User:
    """An inactive, pending account; ``hold``: one that only holds ``username`` (its
    password hashed, then made unusable). Raises ``UsernameTaken`` for a username taken
    meanwhile, ``IntegrityError`` for an address taken meanwhile."""
    try:
        with transaction.atomic():
            user = User(username=username, email=email, name=name, is_active=False)
            user.signup_pending = True
            user.set_password(password)
            if hold:
                user.set_unusable_password()
            # The database decides who got the username or the address first.
            user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
            user.save()
    except IntegrityError:
        if User.objects.filter(username=username).exists():
            raise UsernameTaken(username) from None
        raise
    return user


def _mail(to: str, template: str, context: dict) -> None:
    subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"accounts/email/{template}.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [to]))


@transaction.atomic
def user_signup_confirm(*, uidb64: str, token: str) -> User | None:
    """Activate the pending sign-up the link names; return the user, or ``None`` for a bad,
    used or expired link (a confirmed or disabled account is never re-activated by it)."""
    user = signup_confirmation_user(uidb64=uidb64, token=token, lock=True)
    if user is None:
        return None
    user.signup_pending = False
    user.is_active = True
    user.save(update_fields=["signup_pending", "is_active"])
    return user


@transaction.atomic
def user_profile_update(*, user: User, name: str) -> User:
    """Change a user's display name (a new email address goes through
    ``user_email_change_request``)."""
    user.name = name
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name"])
    return user


EMAIL_CHANGE_SALT = "quantsite.accounts.email-change"


def user_email_change_request(*, user: User, email: str) -> None:
    """Ask to move ``user`` to the address ``email``, without telling whether another account
    has it: a free address gets a link that makes the change (``user_email_change_confirm``,
    valid for ``PASSWORD_RESET_TIMEOUT``); an address with an account gets a note that someone
    tried to use it. Nothing changes until the link is followed. Same address: nothing."""
    if email.lower() == user.email.lower():
        return
    owner = User.objects.filter(email__iexact=email).first()
    if owner is not None:
        _mail(owner.email, "email_change_attempt", {"user": owner})
        return
    token = signing.dumps(
        {"user": user.pk, "from": user.email, "to": email}, salt=EMAIL_CHANGE_SALT
    )
    link = settings.SITE_URL + reverse("email_change_confirm", kwargs={"token": token})
    _mail(email, "email_change_confirm", {"user": user, "link": link})


class EmailChangeRefused(Exception):
    """The link is bad, expired or used, or the address has been taken since."""


@transaction.atomic
def user_email_change_confirm(*, token: str) -> User:
    """Make the change a link from ``user_email_change_request`` asks for; returns the user.
    Raises ``EmailChangeRefused`` for a bad, expired or used link (one that no longer starts
    from the account's current address) or an address taken meanwhile."""
    try:
        change = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT
        )
    except signing.BadSignature:
        raise EmailChangeRefused("This link is not valid, or too old.") from None
    user = User.objects.select_for_update().filter(pk=change["user"], email=change["from"]).first()
    if user is None:
        raise EmailChangeRefused("This link was already used.")
    if User.objects.filter(email__iexact=change["to"]).exclude(pk=user.pk).exists():
        raise EmailChangeRefused("Another account has this address now.")
    user.email = change["to"]
    user.save(update_fields=["email"])
    return user


@transaction.atomic
@transaction.atomic
def user_disable(*, user: User) -> bool:
    """Disable an account now; returns whether it was active.

    The account can no longer log in; its site sessions stop at their next request (Django's
    ``ModelBackend`` refuses inactive users); every OAuth token, refresh token, ID token and
    pending authorization code it holds is deleted, so hubs and servers lose it at their next
    call (hub logins, notebook-server credentials). Hubs stop a disabled user's server at their
    next heartbeat (research discovery lists the user to stop). Idempotent.
    """
    was_active = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False) > 0
    user.is_active = False
    RefreshToken.objects.filter(user=user).delete()
    AccessToken.objects.filter(user=user).delete()
    IDToken.objects.filter(user=user).delete()
    Grant.objects.filter(user=user).delete()
    return was_active


def oauth_tokens_clear() -> None:
    """Delete expired and revoked access tokens, refresh tokens, grants and ID tokens.

    Also forgets which code gave which tokens (``AuthorizationCodeExchange``) once those
    tokens' refresh lifetime has passed. Idempotent, and safe to run twice at once: the
    library deletes in batches by expiry.
    """
    clear_expired()
    refresh_life = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]
    AuthorizationCodeExchange.objects.filter(
        created__lt=timezone.now() - dt.timedelta(seconds=refresh_life)
    ).delete()


@transaction.atomic
def application_enabled_set(*, application: AbstractApplication, enabled: bool) -> bool:
    """Enable or disable an OAuth application; returns whether that changed anything.

    A disabled application gets nothing by any grant (no code, token or refresh), authorizes
    nobody, and its remaining tokens are refused (``quantsite.accounts.oauth.OAuth2Validator``);
    its pending authorization codes are deleted. Existing tokens are not deleted here: the
    caller decides (the hub services revoke a disabled hub's). Idempotent.
    """
    policy, _ = ApplicationPolicy.objects.select_for_update().get_or_create(
        application=application,
        defaults={"allowed_scopes": " ".join(settings.OAUTH_DEFAULT_ALLOWED_SCOPES)},
    )
    if not enabled:
        Grant.objects.filter(application=application).delete()
    if policy.enabled == enabled:
        return False
    policy.enabled = enabled
    policy.save(update_fields=["enabled"])
    return True
