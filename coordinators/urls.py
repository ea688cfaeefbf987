"""The coordinators' portal. Each area keeps its own URL list."""

from coordinators.urls_cards import urlpatterns as cards_urls
from coordinators.urls_documents import urlpatterns as documents_urls
from coordinators.urls_portal import urlpatterns as portal_urls

app_name = "portal"
urlpatterns = portal_urls + cards_urls + documents_urls
