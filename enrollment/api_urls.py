from enrollment.api.imports import urlpatterns as import_urls
from enrollment.api.resources import urlpatterns as resource_urls

urlpatterns = import_urls + resource_urls
