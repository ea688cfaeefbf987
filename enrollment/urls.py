from django.urls import path

from enrollment import views_bureau

app_name = "bureau"
urlpatterns = [
    path("", views_bureau.dashboard, name="dashboard"),
    path("schools/<int:pk>/", views_bureau.school_detail, name="school"),
    path("reports/year-end/", views_bureau.report_start, name="report_start"),
    path("cards/export/", views_bureau.cards_export, name="cards_export"),
    path("jobs/<int:pk>/", views_bureau.job_detail, name="job"),
    path("jobs/<int:pk>/download/", views_bureau.job_download, name="job_download"),
]
