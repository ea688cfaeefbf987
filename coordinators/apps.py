from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoordinatorsConfig(AppConfig):
    name = "coordinators"
    verbose_name = _("协管员与门户")

    def ready(self):
        from coordinators.selectors import late_students_todos, transfer_todos
        from enrollment.todos import school_todo_provider_register

        school_todo_provider_register(late_students_todos)
        school_todo_provider_register(transfer_todos)
