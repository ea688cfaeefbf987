from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import health
from config.home import home

api_v1 = [
    path("", include("enrollment.api_urls")),
    path("", include("coordinators.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("graduates.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a separate script,
    # so the page runs under the CSP without inline scripts.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs/swagger_ui.html"),
        name="api-docs",
    ),
    path("health/", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("bureau/", include("bureau.urls")),
    path("billing/", include("billing.urls")),
    path("graduates/", include("graduates.urls")),
    # Before the portal's own "" route: staff signing in through the portal land on their dashboard.
    path("", home, name="home"),
    path("", include("coordinators.urls")),
]

if settings.DEBUG:
    urlpatterns += []
