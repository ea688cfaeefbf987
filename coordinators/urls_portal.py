from django.contrib.auth import views as auth_views
from django.urls import path

from coordinators.views import changes, coverage, home, imports, registry, roster, students
from enrollment.lockout import LoginForm

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True,
                                                 authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", home.home, name="home"),
    path("contacts/", home.contacts, name="contacts"),
    path("students/", students.student_list, name="students"),
    path("students/add/", students.student_add, name="student_add"),
    path("students/<int:pk>/", students.student_edit, name="student_edit"),
    path("students/<int:pk>/status/", students.student_status, name="student_status"),
    path("coverage/", coverage.coverage_lookup, name="coverage"),
    path("export/<str:what>.xlsx", students.export, name="export"),
    path("import/", imports.import_start, name="import"),
    path("import/template.xlsx", imports.import_template, name="import_template"),
    path("import/jobs/<int:pk>/", imports.import_job, name="import_job"),
    path("import/jobs/<int:pk>/status.json", imports.import_job_status, name="import_job_status"),
    path("import/jobs/<int:pk>/errors.xlsx", imports.import_report, name="import_report"),
    path("roster/", roster.roster, name="roster"),
    path("roster/confirm/", roster.roster_confirm, name="roster_confirm"),
    path("roster/confirm-supplementary/", roster.roster_confirm_supplementary, name="roster_confirm_supplementary"),
    path("roster/remove/<int:pk>/", roster.roster_remove, name="roster_remove"),
    path("roster/restore/<int:pk>/", roster.roster_restore, name="roster_restore"),
    path("profile/", registry.profile, name="profile"),
    path("transfers/", changes.transfer_list, name="transfers"),
    path("transfers/<int:pk>/accept/", changes.transfer_accept, name="transfer_accept"),
    path("transfers/<int:pk>/refuse/", changes.transfer_refuse, name="transfer_refuse"),
    path("students/<int:pk>/leave/", changes.student_leave, name="student_leave"),
    path("students/<int:pk>/elsewhere/", changes.student_elsewhere, name="student_elsewhere"),
]
