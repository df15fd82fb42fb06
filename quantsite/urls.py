from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from quantsite import health, metrics
from quantsite.accounts import views as account_views
from quantsite.accounts.api import MeApi

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # Browsers ask for /favicon.ico where a page names no icon (a rendered notebook, a file).
    path("favicon.ico", account_views.favicon, name="favicon"),
    path("accounts/", include("quantsite.accounts.urls")),
    path("o/", include("quantsite.accounts.oauth_urls", namespace="oauth2_provider")),
    path("api/me", MeApi.as_view(), name="api-me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("research.urls")),
    path("", include("community.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "quantsite.errors.bad_request"
handler404 = "quantsite.errors.page_not_found"
handler500 = "quantsite.errors.server_error"
