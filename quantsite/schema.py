"""OpenAPI schema extensions (drf-spectacular), loaded when the apps are ready."""

from django.conf import settings
from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """Our bearer authentications (quantsite.authentication and its subclasses) are the
    library's OAuth2 scheme, with each view's required scopes."""

    target_class = "quantsite.authentication.BearerTokenAuthentication"


class HubTokenScheme(DjangoOAuthToolkitScheme):
    """Hubs' discovery credential: the client-credentials grant with scope ``discovery``."""

    target_class = "research.api.authentication.HubTokenAuthentication"
    name = "hubOAuth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A hub's own client-credentials token with scope `discovery`.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": settings.SPECTACULAR_SETTINGS["OAUTH2_TOKEN_URL"],
                    "scopes": {"discovery": settings.OAUTH_SCOPES["discovery"]},
                }
            },
        }
