from enrollment.api.imports import urlpatterns as import_urls
from enrollment.api.resources import urlpatterns as resource_urls
from enrollment.api.transfers import urlpatterns as transfer_urls

urlpatterns = import_urls + resource_urls + transfer_urls
