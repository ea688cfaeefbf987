from django.urls import path

from coordinators.views import documents, notices

urlpatterns = [
    path("documents/", documents.documents, name="documents"),
    path("documents/generate/", documents.documents_generate, name="documents_generate"),
    path("documents/jobs/<int:pk>/", documents.documents_job, name="documents_job"),
    path("documents/jobs/<int:pk>/status.json", documents.documents_job_status, name="documents_job_status"),
    path("documents/jobs/<int:pk>/download/", documents.documents_download, name="documents_download"),
    path("documents/handouts/", documents.handout_record, name="handout_record"),
    path("manual/", documents.manual_index, name="manual"),
    path("manual/coordinator-manual.pdf", documents.manual_pdf, name="manual_pdf"),
    path("manual/screenshots/<str:name>", documents.manual_screenshot, name="manual_screenshot"),
    path("manual/<slug:slug>/", documents.manual_chapter, name="manual_chapter"),
    path("notices/", notices.notice_list, name="notices"),
    path("notices/read-all/", notices.notice_mark_all_read, name="notices_read_all"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/read/", notices.notice_mark_read, name="notice_read"),
]
