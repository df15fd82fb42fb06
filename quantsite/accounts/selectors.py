import functools
import hashlib

from django.conf import settings
from django.db import connection
from django.utils.http import urlsafe_base64_decode
from oauth2_provider.models import AbstractApplication, AccessToken

from quantsite.accounts.models import ApplicationPolicy, User
from quantsite.accounts.tokens import signup_confirmation_token
from quantsite.db.rows import column_names, concrete_names, instance_from_row


def application_allowed_scopes(*, application: AbstractApplication) -> list[str]:
    """The scopes ``application`` may be granted: its policy's, or the site's defaults.

    ``openid`` is left out for an application without a signing algorithm, which could not be
    issued an ID token: asking for it gets ``invalid_scope`` instead of a server error.
    """
    try:
        scopes = application.policy.allowed_scopes.split()
    except ApplicationPolicy.DoesNotExist:
        scopes = list(settings.OAUTH_DEFAULT_ALLOWED_SCOPES)
    if application.algorithm == AbstractApplication.NO_ALGORITHM:
        scopes = [scope for scope in scopes if scope != "openid"]
    return scopes


def application_allows_client_credentials(*, application: AbstractApplication) -> bool:
    """True if the application's policy adds the client-credentials grant (hubs)."""
    try:
        return application.policy.allows_client_credentials
    except ApplicationPolicy.DoesNotExist:
        return False


def application_enabled(*, application: AbstractApplication) -> bool:
    """False if staff (or the hub services) disabled the application: it gets nothing by any
    grant and its tokens stop working. An application without a policy is enabled."""
    try:
        return application.policy.enabled
    except ApplicationPolicy.DoesNotExist:
        return True


def application_is_resource_server(*, application: AbstractApplication) -> bool:
    """True if staff marked the application a resource server, which may introspect tokens."""
    try:
        return application.policy.resource_server
    except ApplicationPolicy.DoesNotExist:
        return False


def access_token_introspect(*, token: str) -> dict:
    """RFC 7662 facts about the raw access token ``token``.

    ``{"active": False}`` for an unknown, expired or revoked token, a token of a disabled
    account, or one of a disabled application; otherwise ``active``, ``scope``, ``exp``,
    ``client_id`` and, for a user's token, ``username`` and ``sub``.
    """
    checksum = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    found = (
        AccessToken.objects.select_related("user", "application", "application__policy")
        .filter(token_checksum=checksum)
        .first()
    )
    application = found.application if found is not None else None
    if (
        found is None
        or not found.is_valid()
        or (found.user is not None and not found.user.is_active)
        or (application is not None and not application_enabled(application=application))
    ):
        return {"active": False}
    data = {
        "active": True,
        "scope": found.scope,
        "exp": int(found.expires.timestamp()),
        "token_type": "Bearer",
    }
    if found.application is not None:
        data["client_id"] = found.application.client_id
    if found.user is not None:
        data["username"] = found.user.get_username()
        data["sub"] = str(found.user.pk)
    return data


def signup_confirmation_user(*, uidb64: str, token: str, lock: bool = False) -> User | None:
    """The pending sign-up a confirmation link names, or ``None`` for a bad, used or expired
    link. ``lock`` takes the row lock (inside the caller's transaction)."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    users = User.objects.filter(pk=pk, signup_pending=True)
    user = (users.select_for_update() if lock else users).first()
    if user is None or not signup_confirmation_token.check_token(user, token):
        return None
    return user


# What a request's bearer token carries into the request: the token (never its secret) and
# its user, whole (``request.user``).
TOKEN_FIELDS = ("id", "user_id", "application_id", "expires", "scope", "resource")


def access_token_with_user(*, raw_token: str) -> AccessToken | None:
    """The access token ``raw_token`` names, with its user as ``token.user`` (None for a
    client-credentials token), in one hand-written, prepared join (``token_lookup``); None for
    an unknown token or a disabled application's.

    Every API request with a bearer token starts here. django-oauth-toolkit's own lookup
    (``select_related`` of the application and the user) had the ORM compile and PostgreSQL plan
    a 2,000-character query on every request: 53 % of a sticky locate (bench/RESULTS.md).
    Expiry, scopes, audience and the user being active are judged by the caller
    (``quantsite.authentication.BearerTokenAuthentication``), as the library judges them.
    """
    row = token_lookup(raw_token=raw_token, columns=_with_user_columns(), joins=_WITH_USER)
    if row is None:
        return None
    split = len(TOKEN_FIELDS)
    token = instance_from_row(AccessToken, list(TOKEN_FIELDS), row[:split])
    if token.user_id is not None:
        token.user = instance_from_row(User, concrete_names(User), row[split:])
    return token


_WITH_USER = (f'LEFT JOIN "{User._meta.db_table}" u ON u."id" = t."user_id"',)


@functools.cache
def _with_user_columns() -> tuple[str, ...]:
    return (
        *column_names(AccessToken, "t", list(TOKEN_FIELDS)),
        *column_names(User, "u", concrete_names(User)),
    )


def token_lookup(
    *, raw_token: str, columns: tuple[str, ...], joins: tuple[str, ...] = ()
) -> tuple | None:
    """``columns`` of the access token ``raw_token`` names (alias ``t``) and of the tables
    ``joins`` add, in one prepared statement; None for an unknown token or one whose
    application staff disabled (``ApplicationPolicy.enabled``, alias ``p``).

    Every hand-written token read goes through here, so that the lookup by checksum and the
    disabled-application rule are written once. ``columns`` and ``joins`` are SQL built from
    model metadata, never from outside input; the token is a bound parameter.
    """
    with connection.cursor() as cursor:
        cursor.execute(_token_lookup_sql(columns, joins), [token_checksum(raw_token), True])
        return cursor.fetchone()


@functools.cache
def _token_lookup_sql(columns: tuple[str, ...], joins: tuple[str, ...]) -> str:
    token, policy = AccessToken._meta, ApplicationPolicy._meta
    return (
        f'SELECT {", ".join(columns)} FROM "{token.db_table}" t '  # noqa: S608
        f'LEFT JOIN "{policy.db_table}" p ON p."application_id" = t."application_id" '
        f"{' '.join(joins)} "
        f'WHERE t."token_checksum" = %s AND (p."enabled" IS NULL OR p."enabled" = %s)'
    )


def token_checksum(raw_token: str) -> str:
    """What django-oauth-toolkit stores a token under (``AccessToken.token_checksum``)."""
    return hashlib.sha256(raw_token.encode()).hexdigest()
