"""Admin site for bureau staff. One module per area; each registers its own models."""

from enrollment.admin import reference, rules  # noqa: F401
