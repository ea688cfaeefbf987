from django.urls import path

from bureau import changes, views, views_coverage

app_name = "bureau"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("coverage/", views_coverage.coverage_lookup, name="coverage"),
    path("reminders/", views_coverage.reminders_send, name="reminders_send"),
    path("schools/<int:pk>/", views.school_detail, name="school"),
    path("reports/year-end/", views.report_start, name="report_start"),
    path("cards/export/", views.cards_export, name="cards_export"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("transfers/", changes.transfer_list, name="transfers"),
    path("transfers/<int:pk>/decide/", changes.transfer_decide, name="transfer_decide"),
    path("follow-ups/", changes.follow_up_list, name="follow_ups"),
    path("follow-ups/<int:pk>/", changes.follow_up_record, name="follow_up_record"),
]
