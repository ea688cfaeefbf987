from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BureauConfig(AppConfig):
    name = "bureau"
    verbose_name = _("经办机构")

    def ready(self):
        from bureau.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, dispatch_uid="bureau.ensure_role_groups")
