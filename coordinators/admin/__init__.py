"""Admin pages of the portal side, one module per area."""

from coordinators.admin import notices, registry  # noqa: F401
