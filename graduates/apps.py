from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GraduatesConfig(AppConfig):
    name = "graduates"
    verbose_name = _("毕业生停保")

    def ready(self):
        # The core's roster review marks the students named in a feed; it asks
        # this app through the listing registered here instead of importing it.
        from enrollment.selectors import leaver_listing_register
        from graduates.selectors import feed_records_of_school

        leaver_listing_register(feed_records_of_school)

        from enrollment.todos import school_todo_provider_register
        from graduates.selectors import school_todos

        school_todo_provider_register(school_todos)
