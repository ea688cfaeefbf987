from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("bureau/", include("enrollment.urls")),
    path("billing/", include("billing.urls")),
    path("graduates/", include("graduates.urls")),
    path("", include("coordinators.urls")),
]

if settings.DEBUG:
    urlpatterns += []
