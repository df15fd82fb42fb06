"""The OAuth2 / OpenID Connect endpoints the site serves, under ``/o/`` (namespace
``oauth2_provider``, the names the library's own views reverse).

Only these: the library's application-registration and authorized-token pages, its device
flow, dynamic client registration and RP-initiated logout are not mounted. Applications are
made by staff in the admin (or by ``register_hub``).
"""

from django.urls import path, re_path
from oauth2_provider import views as oauth_views

from quantsite.accounts import oauth_views as views

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("userinfo/", oauth_views.UserInfoView.as_view(), name="user-info"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(
        ".well-known/oauth-authorization-server",
        views.OAuthServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path(".well-known/jwks.json", oauth_views.JwksInfoView.as_view(), name="jwks-info"),
]
