"""Admin site for bureau staff. One module per area; each registers its own models."""

from django.contrib import admin

from enrollment.admin import changes, reference, rules  # noqa: F401
from enrollment.lockout import AdminLoginForm

# A failed log-in says how many tries remain before the lockout.
admin.site.login_form = AdminLoginForm
