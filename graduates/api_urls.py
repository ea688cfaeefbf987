from django.urls import path

from graduates.api import GraduateFeedCreate

urlpatterns = [
    path("graduate-feeds/", GraduateFeedCreate.as_view(), name="graduate-feed-create"),
]
