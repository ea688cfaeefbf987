from django.urls import path

from graduates import views

app_name = "graduates"
urlpatterns = [
    path("exceptions/", views.my_exceptions, name="my-exceptions"),
    path("schools/<int:school_id>/exceptions/", views.school_exceptions, name="school-exceptions"),
]
