from django.conf import settings
from oauth2_provider.models import AbstractApplication

from quantsite.accounts.models import ApplicationPolicy


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
