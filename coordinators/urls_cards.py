from django.urls import path

from coordinators.views import cards

urlpatterns = [
    path("cards/", cards.card_list, name="cards"),
    path("cards/students/<int:student_id>/photo/", cards.card_photo_upload, name="card_photo_upload"),
    path("cards/photos.zip/", cards.card_photos_zip, name="card_photos_zip"),
    path("cards/<int:pk>/picked-up/", cards.card_picked_up, name="card_picked_up"),
    path("cards/<int:pk>/photo.jpg", cards.card_photo, name="card_photo"),
]
