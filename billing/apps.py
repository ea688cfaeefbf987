from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("扣费与申报")

    def ready(self):
        # Failed debits appear on the school's to-do list; the core asks through this registration.
        from billing.selectors import school_todos
        from enrollment.todos import school_todo_provider_register

        school_todo_provider_register(school_todos)
